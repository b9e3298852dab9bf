import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backendsWithoutClient, createBackendClients, hasClient, withoutClientWarning } from '../src/backends/backend-clients.js';
import { BackendUnavailableError } from '../src/backends/backend-unavailable.js';
import { DirectoryBackend } from '../src/backends/directory.js';
import {
  checkDirectoryBackends,
  databaseIdentity,
  DirectoryBackendsUnavailable,
  MARKER_FILE,
  prepareDirectoryRoot,
} from '../src/backends/directory-identity.js';
import type { BackendConfig } from '../src/config/types.js';
import { sqliteConfig } from './support/engines.js';
import { closeStores, openTestStore } from './support/store.js';

/** Issue 9 item 1: a directory backend's identity marker, and "cannot verify" is never "absent". */

const dirs: string[] = [];
afterEach(closeStores);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-dir-'));
  dirs.push(dir);
  return dir;
}

const DB = 'sqlite:/srv/meta.db';

async function preparedBackend(name = 'alpha'): Promise<DirectoryBackend> {
  const root = join(tempDir(), name);
  expect(await prepareDirectoryRoot({ backendName: name, root, database: DB, isNew: true })).toBe('created');
  return new DirectoryBackend(name, root);
}

async function unavailableReason(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendUnavailableError);
  return (err as BackendUnavailableError).message;
}

describe('the identity marker', () => {
  it('first use of a new root creates it (0700) with a marker naming the backend and the database', async () => {
    const backend = await preparedBackend('eu-1');
    const marker = JSON.parse(readFileSync(join(backend.root, MARKER_FILE), 'utf8'));
    expect(marker).toMatchObject({ format: 1, backend: 'eu-1', database: DB });
    expect(marker.id).toMatch(/^[0-9a-f-]{36}$/);
    // The next start finds it and changes nothing.
    expect(await prepareDirectoryRoot({ backendName: 'eu-1', root: backend.root, database: DB, isNew: false })).toBe('ready');
    expect(JSON.parse(readFileSync(join(backend.root, MARKER_FILE), 'utf8')).id).toBe(marker.id);
  });

  it('an empty existing root gets a marker on first use', async () => {
    const root = tempDir();
    expect(await prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: true })).toBe('created');
    expect(JSON.parse(readFileSync(join(root, MARKER_FILE), 'utf8')).backend).toBe('a');
  });

  it('instances of a fleet starting together on a new root all come up (another one\'s marker in progress is not foreign data)', async () => {
    const root = join(tempDir(), 'shared');
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: true })));
    expect(outcomes).toContain('created');
    expect(JSON.parse(readFileSync(join(root, MARKER_FILE), 'utf8'))).toMatchObject({ backend: 'a', database: DB });
    // Only a temporary marker present (a writer caught between write and rename): still new.
    const other = tempDir();
    writeFileSync(join(other, `${MARKER_FILE}.0f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10.tmp`), '{"backend":"a"}');
    expect(await prepareDirectoryRoot({ backendName: 'a', root: other, database: DB, isNew: true })).toBe('created');
  });

  it('a missing or empty root is unavailable when the database records bytes on the backend (never silently recreated)', async () => {
    const root = join(tempDir(), 'gone');
    expect(await unavailableReason(prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: false }))).toBe(
      `backend "a" is unavailable: ${root} does not exist, but the database records bytes on this backend (a wrong path, or a volume that is not mounted?)`,
    );
    mkdirSync(root);
    expect(await unavailableReason(prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: false }))).toMatch(/is empty, but the database records bytes/);
    expect(() => readFileSync(join(root, MARKER_FILE))).toThrow(/ENOENT/);
  });

  it('a non-empty root without a marker is unavailable, and says how to adopt it; an adopted marker is completed', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'objects'));
    const reason = await unavailableReason(prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: true }));
    expect(reason).toContain(`${root} holds files but no ${MARKER_FILE}`);
    expect(reason).toContain(`write {"backend": "a"} to ${join(root, MARKER_FILE)}`);
    writeFileSync(join(root, MARKER_FILE), '{"backend": "a"}');
    expect(await prepareDirectoryRoot({ backendName: 'a', root, database: DB, isNew: false })).toBe('ready');
    expect(JSON.parse(readFileSync(join(root, MARKER_FILE), 'utf8'))).toMatchObject({ backend: 'a', database: DB });
  });

  it('a marker of another backend or another database, or an unreadable one, makes the backend unavailable', async () => {
    const backend = await preparedBackend('alpha');
    expect(await unavailableReason(prepareDirectoryRoot({ backendName: 'beta', root: backend.root, database: DB, isNew: true }))).toContain('belongs to backend "alpha"');
    expect(await unavailableReason(prepareDirectoryRoot({ backendName: 'alpha', root: backend.root, database: 'sqlite:/other.db', isNew: true }))).toContain(
      `belongs to database "${DB}", not "sqlite:/other.db"`,
    );
    writeFileSync(join(backend.root, MARKER_FILE), 'not json');
    expect(await unavailableReason(prepareDirectoryRoot({ backendName: 'alpha', root: backend.root, database: DB, isNew: true }))).toContain(`unreadable ${MARKER_FILE}`);
  });

  it('the database identity is the SQLite file, or the PostgreSQL database name (not the host)', () => {
    expect(databaseIdentity(sqliteConfig('/var/lib/s3o/meta.db'))).toBe('sqlite:/var/lib/s3o/meta.db');
    const pg = { driver: 'postgres', host: 'db-a', database: 'meta' } as const;
    expect(databaseIdentity(pg as never)).toBe(databaseIdentity({ ...pg, host: '10.0.0.5' } as never));
  });
});

describe('head and delete never answer "absent" for a root they cannot verify', () => {
  it('with the marker in place: put, head, delete, and a missing key is absent', async () => {
    const backend = await preparedBackend();
    await backend.put('b/k#1', Readable.from([Buffer.from('hello')]), 5);
    expect(await backend.head('b/k#1')).toEqual({ sizeBytes: 5, etag: '"5d41402abc4b2a76b9719d911017c592"' });
    expect(await backend.head('b/none')).toBeUndefined();
    expect(await backend.delete('b/k#1')).toBe('deleted');
    expect(await backend.delete('b/k#1')).toBe('not-found');
  });

  it('a root that disappears (moved away) makes head and delete throw BackendUnavailableError; back in place, they answer again', async () => {
    const backend = await preparedBackend();
    await backend.put('b/k#1', Readable.from([Buffer.from('bytes')]), 5);
    const away = `${backend.root}-unmounted`;
    renameSync(backend.root, away);
    expect(await unavailableReason(backend.head('b/k#1'))).toContain(`backend "alpha" is unavailable: ${backend.root} has no ${MARKER_FILE}`);
    await unavailableReason(backend.delete('b/k#1'));
    await unavailableReason(backend.checkAvailable());
    renameSync(away, backend.root);
    expect((await backend.head('b/k#1'))?.sizeBytes).toBe(5);
    expect(await backend.delete('b/k#1')).toBe('deleted');
  });

  it('a root whose marker was removed (another directory mounted there) is unavailable too', async () => {
    const backend = await preparedBackend();
    rmSync(join(backend.root, MARKER_FILE));
    await unavailableReason(backend.head('b/x'));
    await unavailableReason(backend.delete('b/x'));
  });
});

describe('checkDirectoryBackends (serve start-up)', () => {
  it('creates the roots of a new store, and later refuses a missing root with one line naming the backend and the path', async () => {
    const { store } = await openTestStore('sqlite', { backends: [{ name: 'alpha', bytesLimit: 0 }, { name: 'remote', bytesLimit: 0 }] });
    const base = tempDir();
    const config = {
      database: sqliteConfig(join(base, 'meta.db')),
      backends: [
        { name: 'alpha', bytesLimit: 0, directory: join(base, 'alpha') },
        { name: 'remote', bytesLimit: 0 },
      ],
    };
    expect(await checkDirectoryBackends(config, store)).toEqual({ ready: [], created: ['alpha'] });
    expect(await checkDirectoryBackends(config, store)).toEqual({ ready: ['alpha'], created: [] });

    // The backend now holds bytes; its root goes missing (a wrong path): start-up is refused.
    const w = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 3, backendName: 'alpha' });
    await store.objects.commitWrite(w, { etag: 'e' });
    renameSync(join(base, 'alpha'), join(base, 'elsewhere'));
    const err = await checkDirectoryBackends(config, store).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DirectoryBackendsUnavailable);
    expect((err as Error).message).toBe(
      `backend "alpha" is unavailable: ${join(base, 'alpha')} does not exist, but the database records bytes on this backend (a wrong path, or a volume that is not mounted?)`,
    );
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  it('queued deletes alone count as records: the root is not recreated', async () => {
    const { store } = await openTestStore('sqlite', { backends: [{ name: 'alpha', bytesLimit: 0 }] });
    const w = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 0, backendName: 'alpha' });
    await store.objects.commitWrite(w, { etag: 'e' });
    await store.objects.deleteObject('b/k'); // a zero-byte copy: the queued delete is the only trace
    const root = join(tempDir(), 'alpha');
    await expect(checkDirectoryBackends({ database: sqliteConfig('/x.db'), backends: [{ name: 'alpha', bytesLimit: 0, directory: root }] }, store)).rejects.toThrow(
      /does not exist, but the database records bytes/,
    );
  });
});

describe('backends without a client', () => {
  it('are the backends without a directory; createBackendClients builds exactly the others', async () => {
    const backends: BackendConfig[] = [
      { name: 'disk', bytesLimit: 0, directory: '/srv/disk' },
      { name: 's3-eu', bytesLimit: 100 },
      { name: 's3-us', bytesLimit: 0 },
    ];
    expect(backendsWithoutClient(backends).map((b) => b.name)).toEqual(['s3-eu', 's3-us']);
    expect(backends.map(hasClient)).toEqual([true, false, false]);
    expect([...(await createBackendClients(backends)).keys()]).toEqual(['disk']);
    expect(withoutClientWarning(backends[1]!)).toBe(
      'backend "s3-eu" has no client (neither `directory` nor `endpoint` is set): its cleanup rows and intents wait',
    );
  });
});
