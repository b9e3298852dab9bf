import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import type { BackendClient } from '../../src/backends/backend-client.js';
import { createBackendClients } from '../../src/backends/backend-clients.js';
import { storageKeyPath } from '../../src/backends/directory-paths.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import { loadConfig } from '../../src/config/load.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { closeS3rvers, startS3rver, type S3rver } from '../support/s3rver.js';
import { expectLedgerConsistent } from '../support/store.js';

/**
 * `s3-orchestrator backends check`, the built binary as a real process, against a directory backend
 * and an s3rver bucket: bytes put there by hand are reported and imported, a copy whose file was
 * removed by hand is reported as gone, and a clean pair of backends exits 0.
 */

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const dirs: string[] = [];
const opened: { store: MetadataStore; clients: Map<string, BackendClient> }[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close().catch(() => {});
    for (const c of o.clients.values()) (c as { destroy?: () => void }).destroy?.();
  }
  await closeS3rvers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], cwd: string): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'DATABASE_URL' && !k.startsWith('PG')) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The program's own stderr lines: the AWS SDK (loaded for the s3 backend) adds a Node-version
 * deprecation warning of its own on Node 20, which is not this command's output.
 */
function errors(r: Result): string {
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('error:') || l.startsWith('warning:'))
    .join('\n');
}

interface Setup {
  readonly cwd: string;
  readonly dataDir: string;
  readonly s3: S3rver;
  readonly store: MetadataStore;
  readonly clients: Map<string, BackendClient>;
}

async function setUp(): Promise<Setup> {
  const cwd = mkdtempSync(join(tmpdir(), 's3o-bcheck-'));
  dirs.push(cwd);
  const s3 = await startS3rver();
  const dataDir = join(cwd, 'disk');
  writeFileSync(
    join(cwd, 's3-orchestrator.yaml'),
    [
      'database:',
      '  driver: sqlite',
      `  path: ${JSON.stringify(join(cwd, 'store.db'))}`,
      'backends:',
      '  - name: disk',
      `    directory: ${JSON.stringify(dataDir)}`,
      '    bytes_limit: 10MiB',
      '  - name: cloud',
      `    endpoint: ${s3.endpoint}`,
      '    region: us-east-1',
      `    bucket: ${s3.bucket}`,
      '    access_key_id: S3RVER',
      '    secret_access_key: S3RVER',
      '    force_path_style: true',
      '    bytes_limit: 0',
      '',
    ].join('\n'),
  );
  expect((await cli(['migrate'], cwd)).code).toBe(0);
  const { config } = loadConfig(join(cwd, 's3-orchestrator.yaml'), {});
  const store = await openStore(config, { role: 'inspect' });
  await store.quota.syncLimits();
  await checkDirectoryBackends(config, store);
  const clients = await createBackendClients(config.backends);
  opened.push({ store, clients });
  return { cwd, dataDir, s3, store, clients };
}

async function write(setup: Setup, backendName: string, objectKey: string, text: string) {
  const client = setup.clients.get(backendName)!;
  const intent = await setup.store.objects.beginWrite({ objectKey, sizeBytes: Buffer.byteLength(text), backendName });
  await client.put(intent.storageKey, Readable.from([Buffer.from(text)]), Buffer.byteLength(text));
  return (await setup.store.objects.commitWrite(intent, { etag: (await client.head(intent.storageKey))!.etag })).copy;
}

/** A multipart object on the directory backend: its part files stay files of their own after completion. */
async function writeMultipart(setup: Setup, objectKey: string) {
  const client = setup.clients.get('disk')!;
  const upload = await setup.store.multipart.createUpload({ objectKey, backendName: 'disk' });
  const handle = { storageKey: upload.storageKey, backendUploadId: '' };
  const sizes = [5 * 1024 * 1024, 1000];
  const parts = [];
  for (const [i, size] of sizes.entries()) {
    const intent = await setup.store.multipart.beginPart({ uploadId: upload.uploadId, partNumber: i + 1, sizeBytes: size });
    await client.putPart(handle, { partNumber: i + 1, storageKey: intent.storageKey, sizeBytes: size }, Readable.from([Buffer.alloc(size, i + 1)]));
    const part = await setup.store.multipart.commitPart(intent, { etag: (await client.head(intent.storageKey))!.etag });
    parts.push({ partNumber: part.partNumber, storageKey: part.storageKey, sizeBytes: part.sizeBytes, etag: part.etag });
  }
  await client.completeMultipart(handle, parts);
  await setup.store.multipart.completeUpload(upload.uploadId, parts);
}

function putFileByHand(setup: Setup, storageKey: string, text: string): void {
  const file = join(setup.dataDir, 'objects', storageKeyPath(storageKey));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

const ID = '0f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10';

it('a clean directory and s3rver backend exit 0; keys put there by hand are reported, imported with --import --yes and readable; a copy removed by hand is reported as gone', async () => {
  const setup = await setUp();
  await write(setup, 'disk', 'docs/on-disk.txt', 'disk bytes');
  const lostCopy = await write(setup, 'disk', 'docs/lost.txt', 'soon lost');
  await write(setup, 'cloud', 'docs/in-cloud.txt', 'cloud bytes');
  await writeMultipart(setup, 'docs/multi.bin');

  const clean = await cli(['backends', 'check'], setup.cwd);
  expect(errors(clean)).toBe('');
  expect(clean.stdout).toContain('disk: 5 storage keys, 3 copies checked'); // the multipart object's two part files are listed too, and known through it
  expect(clean.stdout).toContain('cloud: 1 storage key, 1 copy checked');
  expect(clean.stdout).toContain('backends consistent with the metadata (2 backends checked)');
  expect(clean.code).toBe(0);

  // By hand, behind the gateway's back: two files on the disk, two objects in the bucket, one
  // unknown key whose object already exists, and one stored copy's file removed.
  putFileByHand(setup, `docs/found.txt!${ID}`, 'found on disk');
  putFileByHand(setup, 'loose/readme.md', '# readme');
  const bucket = setup.s3.client();
  await bucket.send(new PutObjectCommand({ Bucket: setup.s3.bucket, Key: `photos/cat.jpg!${ID}`, Body: 'meow bytes' }));
  await bucket.send(new PutObjectCommand({ Bucket: setup.s3.bucket, Key: `docs/on-disk.txt!${ID}`, Body: 'a rival' }));
  rmSync(join(setup.dataDir, 'objects', storageKeyPath(lostCopy.storageKey)));

  const found = await cli(['backends', 'check'], setup.cwd);
  expect(found.code).toBe(1);
  expect(errors(found)).toBe('error: backends check found 4 unknown keys, 1 copy whose bytes are gone');
  expect(found.stdout).toContain(`not in the metadata: docs/found.txt!${ID} (13 B, ETag "`);
  expect(found.stdout).toContain('-> object docs/found.txt');
  expect(found.stdout).toContain('not in the metadata: loose/readme.md (8 B');
  expect(found.stdout).toContain(`not in the metadata: photos/cat.jpg!${ID} (10 B`);
  expect(found.stdout).toContain(`bytes gone: object docs/lost.txt (storage key ${lostCopy.storageKey}, 9 B); remove it with: aws s3 rm s3://docs/lost.txt`);
  expect(found.stdout).toContain('4 unknown keys (dry run: nothing changed;');
  expect(await setup.store.objects.lookup('docs/found.txt')).toEqual([]);

  const json = await cli(['backends', 'check', '--json'], setup.cwd);
  expect(json.code).toBe(1);
  const report = JSON.parse(json.stdout) as { backends: { name: string; unknown: { storageKey: string; objectKey: string; sizeBytes: number }[]; gone: { objectKey: string }[] }[]; consistent: boolean; dryRun: boolean };
  expect(report.consistent).toBe(false);
  expect(report.dryRun).toBe(true);
  const disk = report.backends.find((b) => b.name === 'disk')!;
  const cloud = report.backends.find((b) => b.name === 'cloud')!;
  expect(disk.unknown.map((u) => [u.storageKey, u.objectKey, u.sizeBytes])).toEqual([
    [`docs/found.txt!${ID}`, 'docs/found.txt', 13],
    ['loose/readme.md', 'loose/readme.md', 8],
  ]);
  expect(disk.gone.map((g) => g.objectKey)).toEqual(['docs/lost.txt']);
  expect(cloud.unknown.map((u) => [u.storageKey, u.objectKey, u.sizeBytes])).toEqual([
    [`docs/on-disk.txt!${ID}`, 'docs/on-disk.txt', 7],
    [`photos/cat.jpg!${ID}`, 'photos/cat.jpg', 10],
  ]);
  expect(cloud.gone).toEqual([]);

  // Off a terminal, --import needs --yes: nothing is imported.
  const unconfirmed = await cli(['backends', 'check', '--import'], setup.cwd);
  expect(unconfirmed.code).toBe(2);
  expect(unconfirmed.stderr).toContain('pass --yes');
  expect(await setup.store.objects.lookup('photos/cat.jpg')).toEqual([]);

  const imported = await cli(['backends', 'check', '--import', '--yes'], setup.cwd);
  expect(imported.code).toBe(1);
  expect(imported.stdout).toContain(`imported: docs/found.txt!${ID} (13 B`);
  expect(imported.stdout).toContain(`imported: photos/cat.jpg!${ID} (10 B`);
  expect(imported.stdout).toContain('imported: loose/readme.md (8 B');
  expect(imported.stdout).toMatch(/skipped: docs\/on-disk\.txt!0f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10 \(7 B, ETag "[0-9a-f]+"\): object "docs\/on-disk\.txt" already exists/);
  expect(imported.stdout).toContain('3 objects imported, 1 skipped');

  // Readable through the store: the copies point at the bytes found, on the backend they were on.
  for (const [objectKey, backendName, storageKey, text] of [
    ['docs/found.txt', 'disk', `docs/found.txt!${ID}`, 'found on disk'],
    ['loose/readme.md', 'disk', 'loose/readme.md', '# readme'],
    ['photos/cat.jpg', 'cloud', `photos/cat.jpg!${ID}`, 'meow bytes'],
  ] as const) {
    const copies = await setup.store.objects.lookup(objectKey);
    expect(copies.map((c) => [c.backendName, c.storageKey, c.sizeBytes])).toEqual([[backendName, storageKey, Buffer.byteLength(text)]]);
    expect(await readAll(await setup.clients.get(backendName)!.get(copies[0]!.storageKey))).toBe(text);
  }
  const onDisk = await setup.store.objects.lookup('docs/on-disk.txt');
  expect(onDisk.map((c) => c.backendName)).toEqual(['disk']);
  const totals = await setup.store.quota.totals();
  expect(totals.find((t) => t.backendName === 'disk')!.bytesUsed).toBe(10 + 9 + 5 * 1024 * 1024 + 1000 + 13 + 8);
  expect(totals.find((t) => t.backendName === 'cloud')!.bytesUsed).toBe(11 + 10);
  await expectLedgerConsistent(setup.store);

  // Only what was left is reported again: the skipped key and the gone copy.
  const after = await cli(['backends', 'check'], setup.cwd);
  expect(after.code).toBe(1);
  expect(errors(after)).toBe('error: backends check found 1 unknown key, 1 copy whose bytes are gone');

  // Once the gone object is deleted and the rival removed, both backends are clean again.
  await setup.store.objects.deleteObject('docs/lost.txt');
  await bucket.send(new DeleteObjectCommand({ Bucket: setup.s3.bucket, Key: `docs/on-disk.txt!${ID}` }));
  const cleanAgain = await cli(['backends', 'check', '--backend', 'cloud'], setup.cwd);
  expect(cleanAgain.stdout).toContain('cloud: 2 storage keys, 2 copies checked');
  expect(cleanAgain.code).toBe(0);
  const both = await cli(['backends', 'check'], setup.cwd);
  expect(both.stdout).toContain('backends consistent with the metadata (2 backends checked)');
  expect(both.code).toBe(0);

  const badName = await cli(['backends', 'check', '--backend', 'nope'], setup.cwd);
  expect(badName.code).toBe(2);
  expect(errors(badName)).toBe('error: no backend named "nope" in the config (backends: disk, cloud)');
});

it('an s3 backend that cannot be reached is reported as not checked (exit 1), never as holding nothing', async () => {
  const setup = await setUp();
  await write(setup, 'cloud', 'docs/in-cloud.txt', 'cloud bytes');
  await setup.s3.stop();
  const r = await cli(['backends', 'check', '--backend', 'cloud', '--json'], setup.cwd);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as { backends: { name: string; status: string; gone: unknown[] }[] };
  expect(report.backends).toHaveLength(1);
  expect(report.backends[0]).toMatchObject({ name: 'cloud', status: 'unavailable', gone: [] });
  expect(errors(r)).toBe('error: backends check found 1 backend not checked');
});
