import { statSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseInUseError, SchemaTooNewError } from '../src/store/core/errors.js';
import { openStore } from '../src/store/open.js';
import { SCHEMA_VERSION } from '../src/store/sqlite/schema.js';
import { appConfig, createTestDatabase } from './support/engines.js';
import { exited, runTs, startTs } from './support/processes.js';
import { closeStores } from './support/store.js';
import type { SqliteConfig } from '../src/config/types.js';

afterEach(closeStores);

async function freshPath(): Promise<SqliteConfig> {
  return (await createTestDatabase('sqlite')) as SqliteConfig;
}

describe('SQLite start-up', () => {
  it('creates the parent directory and a 0600 database file, with WAL and its -wal/-shm also 0600', async () => {
    const db = await freshPath();
    expect(existsSync(dirname(db.path))).toBe(false);
    const store = await openStore(appConfig(db));
    await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1 }); // forces a write through the WAL
    for (const file of [db.path, `${db.path}-wal`, `${db.path}-shm`]) {
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    }
    await store.close();
  });

  it('sets WAL, foreign keys, busy timeout and the configured synchronous level', async () => {
    const db = { ...(await freshPath()), synchronous: 'full' as const, busyTimeoutMs: 2500 };
    const store = await openStore(appConfig(db));
    const raw = (store.db as unknown as { connection: Sqlite.Database }).connection;
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(raw.pragma('busy_timeout', { simple: true })).toBe(2500);
    expect(raw.pragma('synchronous', { simple: true })).toBe(2); // FULL
    await store.close();
  });

  it('applies the schema idempotently and stamps its version', async () => {
    const db = await freshPath();
    await (await openStore(appConfig(db))).close();
    const store = await openStore(appConfig(db)); // second start: nothing to do, nothing fails
    expect(await store.db.schemaStatus()).toEqual({ current: `sqlite schema ${SCHEMA_VERSION}`, applied: [`sqlite schema ${SCHEMA_VERSION}`], pending: [] });
    await store.close();
    const raw = new Sqlite(db.path);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();
  });

  it('upgrades a file of schema version 1 (before intents could be superseded) in place', async () => {
    const db = await freshPath();
    const { mkdirSync, readFileSync } = await import('node:fs');
    mkdirSync(dirname(db.path), { recursive: true });
    const v1 = readFileSync(new URL('../schema.sql', import.meta.url), 'utf8')
      .replace(/\n\s*superseded_at INTEGER,/, '')
      .replace(/CREATE INDEX IF NOT EXISTS pending_objects_by_key[^;]*;/, '')
      .replace(/PRAGMA user_version = \d+;/, 'PRAGMA user_version = 1;');
    const raw = new Sqlite(db.path);
    raw.exec(v1);
    raw.prepare(`INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at) VALUES ('alpha', 0, 0)`).run();
    expect((raw.pragma('table_info(pending_objects)') as { name: string }[]).map((c) => c.name)).not.toContain('superseded_at');
    raw.close();
    const store = await openStore(appConfig(db));
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1 });
    expect(intent.supersededAt).toBeNull();
    await store.close();
    const after = new Sqlite(db.path);
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((after.pragma('table_info(pending_objects)') as { name: string }[]).map((c) => c.name)).toContain('superseded_at');
    after.close();
  });

  it('refuses a file written by a newer version, before touching it', async () => {
    const db = await freshPath();
    await (await openStore(appConfig(db))).close();
    const raw = new Sqlite(db.path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const opening = openStore(appConfig(db));
    await expect(opening).rejects.toBeInstanceOf(SchemaTooNewError);
    await expect(opening).rejects.toThrow(/written by a newer version/);
    const after = new Sqlite(db.path);
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    after.close();
  });

  it('refuses a second serving store on the same file in this process, and allows it after close', async () => {
    const db = await freshPath();
    const first = await openStore(appConfig(db));
    const second = openStore(appConfig(db));
    await expect(second).rejects.toBeInstanceOf(DatabaseInUseError);
    await expect(second).rejects.toThrow(/SQLite supports a single instance.*driver: postgres/);
    await first.close();
    await (await openStore(appConfig(db))).close();
  });

  it('refuses a second process at once with a message pointing to postgres', async () => {
    const db = await freshPath();
    const first = await openStore(appConfig(db));
    const started = Date.now();
    const child = runTs('test/fixtures/open-sqlite-store.ts', [db.path]);
    expect(child.status).toBe(3);
    const error = JSON.parse(child.stdout.trim()) as { code: string; message: string };
    expect(error.code).toBe('DatabaseInUse');
    expect(error.message).toMatch(/single instance/);
    expect(error.message).toMatch(/postgres/);
    expect(Date.now() - started).toBeLessThan(20_000); // fails fast instead of waiting on a lock
    await first.close();
    expect(runTs('test/fixtures/open-sqlite-store.ts', [db.path]).stdout).toContain('opened');
  });

  it('takes over the file after the serving process died without closing (the OS lock goes with it)', async () => {
    const db = await freshPath();
    const child = await startTs('test/fixtures/open-sqlite-store.ts', [db.path, '60000'], 'opened');
    await expect(openStore(appConfig(db))).rejects.toBeInstanceOf(DatabaseInUseError);
    child.kill('SIGKILL');
    await exited(child);
    const store = await openStore(appConfig(db));
    expect(await store.objects.lookup('b/k')).toEqual([]);
    await store.close();
  });

  it('two stores on one file in one process share the writer: overlapping transactions do not deadlock', async () => {
    const db = { ...(await freshPath()), busyTimeoutMs: 20_000 };
    const serving = await openStore(appConfig(db));
    const inspecting = await openStore(appConfig(db), { role: 'inspect' });
    const started = Date.now();
    const slow = serving.db.transaction(async (q) => {
      await q.upsertBackendQuota({ backendName: 'gamma', bytesLimit: 1, now: new Date() });
      await new Promise((r) => setTimeout(r, 50)); // holds the write lock across an await
    });
    const other = inspecting.db.transaction((q) => q.upsertBackendQuota({ backendName: 'delta', bytesLimit: 1, now: new Date() }));
    await Promise.all([slow, other]);
    expect(Date.now() - started).toBeLessThan(5_000); // not a busy_timeout spent waiting on ourselves
    expect((await inspecting.quota.totals()).map((t) => t.backendName)).toEqual(expect.arrayContaining(['gamma', 'delta']));
    await inspecting.close();
    await serving.close();
  });

  it('lets an inspecting operator command open the file beside the serving instance', async () => {
    const db = await freshPath();
    const serving = await openStore(appConfig(db));
    const w = await serving.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 5 });
    await serving.objects.commitWrite(w, { etag: 'e' });
    const inspecting = await openStore(appConfig(db), { role: 'inspect' });
    expect((await inspecting.objects.head('b/k')).sizeBytes).toBe(5);
    await inspecting.close();
    await serving.close();
  });
});
