import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseConfig, PostgresConfig } from '../src/config/types.js';
import { decodePartSizes, encodePartSizes, partByteRange, partCount, partSizeRuns, type PartSizes } from '../src/store/core/part-sizes.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { MIGRATIONS_DIR } from '../src/paths.js';
import { applyMigrations, localMigrations } from '../src/store/postgres/migrations.js';
import { openStore } from '../src/store/open.js';
import { SCHEMA_VERSION } from '../src/store/sqlite/schema.js';
import { appConfig, createTestDatabase, describeEngines, type EngineName } from './support/engines.js';
import { expectLedgerConsistent } from './support/store.js';

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;

const opened: MetadataStore[] = [];
const scratchDirs: string[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => {});
  for (const d of scratchDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const etagOf = (label: string) => `"${createHash('md5').update(label).digest('hex')}"`;

async function openOn(db: DatabaseConfig): Promise<MetadataStore> {
  const store = await openStore(appConfig(db, { backends: [{ name: 'alpha', bytesLimit: 0 }, { name: 'beta', bytesLimit: 0 }] }));
  opened.push(store);
  return store;
}

async function open(engine: EngineName): Promise<{ store: MetadataStore; db: DatabaseConfig }> {
  const db = await createTestDatabase(engine);
  return { store: await openOn(db), db };
}

/** One statement through the engine's own driver, beside the store (to read or plant a raw value). */
async function rawQuery<T>(db: DatabaseConfig, sql: string, params: unknown[] = []): Promise<T[]> {
  if (db.driver === 'sqlite') {
    const raw = new Sqlite(db.path);
    try {
      const stmt = raw.prepare(sql.replace(/\$\d+/g, '?'));
      return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
    } finally {
      raw.close();
    }
  }
  const client = pgClient(db);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

function pgClient(db: PostgresConfig): pg.Client {
  return new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
}

async function storedPartSizes(db: DatabaseConfig, objectKey: string): Promise<(string | null)[]> {
  const rows = await rawQuery<{ part_sizes: string | null }>(db, 'SELECT part_sizes FROM object_locations WHERE object_key = $1 ORDER BY backend_name', [objectKey]);
  return rows.map((r) => r.part_sizes);
}

/** Uploads parts of the given sizes (numbered 1..n) and completes the upload with `use` (default: all). */
async function multipartObject(store: MetadataStore, objectKey: string, sizes: readonly number[], use?: readonly number[], backendName = 'alpha') {
  const up = await store.multipart.createUpload({ objectKey, backendName });
  for (const [i, sizeBytes] of sizes.entries()) {
    const intent = await store.multipart.beginPart({ uploadId: up.uploadId, partNumber: i + 1, sizeBytes });
    await store.multipart.commitPart(intent, { etag: etagOf(`${objectKey}-${i + 1}`) });
  }
  const numbers = use ?? sizes.map((_, i) => i + 1);
  return store.multipart.completeUpload(
    up.uploadId,
    numbers.map((n) => ({ partNumber: n, etag: etagOf(`${objectKey}-${n}`) })),
  );
}

async function plainObject(store: MetadataStore, objectKey: string, sizeBytes: number) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName: 'alpha' });
  return store.objects.commitWrite(intent, { etag: etagOf(objectKey) });
}

/** Every part's [start, end] from the runs, part 1 first, then what lies past the last part. */
function rangesOf(runs: PartSizes): ({ start: number; end: number } | undefined)[] {
  return Array.from({ length: partCount(runs) + 1 }, (_, i) => partByteRange(runs, i + 1));
}

describeEngines('multipart: the part sizes kept with the object', (engine) => {
  it('completion records the sizes of the completed parts in their order; head, lookup and the copies return them', async () => {
    const { store, db } = await open(engine);
    const key = 'bkt/parts';
    // Part 3 is left out of the completion: its 7 MiB must not appear (with it, 7 MiB would be a run of 2).
    const sizes = [MIN_PART, MIN_PART, 7 * MiB, 7 * MiB, 6 * MiB, 123];
    const { copy } = await multipartObject(store, key, sizes, [1, 2, 4, 5, 6]);
    const expected: PartSizes = [
      [MIN_PART, 2],
      [7 * MiB, 1],
      [6 * MiB, 1],
      [123, 1],
    ];
    expect(copy.etag).toMatch(/-5"$/);
    expect(copy.partSizes).toEqual(expected);

    const head = await store.objects.head(key);
    expect(head.partSizes).toEqual(expected);
    expect(head.copies.map((c) => c.partSizes)).toEqual([expected]);
    expect((await store.objects.lookup(key)).map((c) => c.partSizes)).toEqual([expected]);
    // Stored run-length encoded, as the migration describes.
    expect(await storedPartSizes(db, key)).toEqual([`[[${MIN_PART},2],[${7 * MiB},1],[${6 * MiB},1],[123,1]]`]);

    // The ranges: consecutive, covering the object exactly.
    expect(rangesOf(head.partSizes!)).toEqual([
      { start: 0, end: MIN_PART - 1 },
      { start: MIN_PART, end: 2 * MIN_PART - 1 },
      { start: 2 * MIN_PART, end: 2 * MIN_PART + 7 * MiB - 1 },
      { start: 2 * MIN_PART + 7 * MiB, end: 2 * MIN_PART + 13 * MiB - 1 },
      { start: 2 * MIN_PART + 13 * MiB, end: 2 * MIN_PART + 13 * MiB + 122 },
      undefined,
    ]);
    expect(head.sizeBytes).toBe(2 * MIN_PART + 13 * MiB + 123);
    await expectLedgerConsistent(store);
  });

  it('an object that is not multipart has none; a plain overwrite drops them; the displaced and deleted copies carry theirs', async () => {
    const { store, db } = await open(engine);
    const plain = await plainObject(store, 'bkt/plain', 10);
    expect('partSizes' in plain.copy).toBe(false);
    const head = await store.objects.head('bkt/plain');
    expect('partSizes' in head).toBe(false);
    expect('partSizes' in head.copies[0]!).toBe(false);
    expect(await storedPartSizes(db, 'bkt/plain')).toEqual([null]);

    const key = 'bkt/mp';
    await multipartObject(store, key, [MIN_PART, 1]);
    const over = await plainObject(store, key, 4);
    expect(over.displaced.map((c) => c.partSizes)).toEqual([[[MIN_PART, 1], [1, 1]]]);
    expect('partSizes' in (await store.objects.head(key))).toBe(false);
    expect(await storedPartSizes(db, key)).toEqual([null]);

    // A multipart object replacing a plain one gets its sizes; deleting it returns them.
    await multipartObject(store, key, [MIN_PART, MIN_PART, MIN_PART]);
    expect((await store.objects.head(key)).partSizes).toEqual([[MIN_PART, 3]]);
    expect((await store.objects.deleteObject(key)).map((c) => c.partSizes)).toEqual([[[MIN_PART, 3]]]);
    await multipartObject(store, key, [MIN_PART, 2]);
    const many = await store.objects.deleteObjects([key, 'bkt/plain']);
    expect(many.deleted.map((d) => d.copies.map((c) => c.partSizes ?? null))).toEqual([[[[MIN_PART, 1], [2, 1]]], [null]]);
    await expectLedgerConsistent(store);
  });

  it('a copy on another backend (replication) is the same version: it keeps the multipart ETag and the part sizes', async () => {
    const { store, db } = await open(engine);
    const key = 'bkt/replicated';
    const { copy } = await multipartObject(store, key, [MIN_PART, 6 * MiB, 99]);
    const intent = await store.objects.beginCopy({ objectKey: key, backendName: 'beta' });
    const committed = await store.objects.commitCopy(intent);
    const expected: PartSizes = [[MIN_PART, 1], [6 * MiB, 1], [99, 1]];
    expect(committed).toMatchObject({ status: 'committed', copy: { backendName: 'beta', etag: copy.etag, partSizes: expected } });
    const head = await store.objects.head(key);
    expect(head.copies.map((c) => [c.backendName, c.etag, c.partSizes])).toEqual([
      ['alpha', copy.etag, expected],
      ['beta', copy.etag, expected],
    ]);
    expect(await storedPartSizes(db, key)).toEqual([encodePartSizes(expected), encodePartSizes(expected)]);
    // The backend check pages copies with them too; removing a copy returns them.
    expect((await store.backendCheck.copiesOf('beta')).copies.map((c) => c.partSizes)).toEqual([expected]);
    expect((await store.objects.removeCopy({ objectKey: key, backendName: 'alpha' })).partSizes).toEqual(expected);
    await expectLedgerConsistent(store);
  });

  it('many equal parts stay one run (a few bytes, not one number per part)', async () => {
    const { store, db } = await open(engine);
    const key = 'bkt/equal';
    const sizes = [...Array.from({ length: 40 }, () => MIN_PART), 7];
    const { copy } = await multipartObject(store, key, sizes);
    expect(copy.partSizes).toEqual([[MIN_PART, 40], [7, 1]]);
    expect(await storedPartSizes(db, key)).toEqual([`[[${MIN_PART},40],[7,1]]`]);
    expect(partByteRange(copy.partSizes!, 40)).toEqual({ start: 39 * MIN_PART, end: 40 * MIN_PART - 1 });
    expect(partByteRange(copy.partSizes!, 41)).toEqual({ start: 40 * MIN_PART, end: 40 * MIN_PART + 6 });
  });

  it('a malformed stored value is treated as absent, never as a wrong range or an error', async () => {
    const { store, db } = await open(engine);
    const key = 'bkt/damaged';
    const { copy } = await multipartObject(store, key, [MIN_PART, 10]);
    const bad = [
      'not json',
      '{"runs":1}',
      '[]',
      '[[5242880]]',
      '[[5242880,1,0],[10,1]]',
      '[[-1,1],[5242891,1]]',
      '[[5242880,0],[5242890,1]]',
      '[[5242880.5,2],[9,1]]',
      '[["5242880",1],[10,1]]',
      '[[5242880,1],[11,1]]', // sums to another size than the object's
      '[[0,10001],[5242890,1]]', // more parts than S3 allows
      'null',
    ];
    for (const value of bad) {
      await rawQuery(db, 'UPDATE object_locations SET part_sizes = $1 WHERE object_key = $2', [value, key]);
      const head = await store.objects.head(key);
      expect('partSizes' in head, value).toBe(false);
      expect(head.etag).toBe(copy.etag);
    }
    await rawQuery(db, 'UPDATE object_locations SET part_sizes = $1 WHERE object_key = $2', [encodePartSizes([[MIN_PART, 1], [10, 1]]), key]);
    expect((await store.objects.head(key)).partSizes).toEqual([[MIN_PART, 1], [10, 1]]);
  });

  it('an object completed before migration 0006 has none; the upgrade adds the column and new completions record them', async () => {
    const db = await databaseBefore0006(engine);
    // What an earlier version wrote: a multipart object, without part sizes.
    await rawQuery(
      db,
      `INSERT INTO object_locations (object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at)
       VALUES ($1, 'alpha', $2, $3, $4, 'application/octet-stream', '{}', NULL, $5)`,
      ['bkt/old', 'bkt/old!u1', MIN_PART + 1, '"0123456789abcdef0123456789abcdef-2"', engine === 'sqlite' ? 1_700_000_000_000 : new Date(1_700_000_000_000)],
    );
    const store = await openOn(db);
    const old = await store.objects.head('bkt/old');
    expect(old).toMatchObject({ sizeBytes: MIN_PART + 1, etag: '"0123456789abcdef0123456789abcdef-2"' });
    expect('partSizes' in old).toBe(false);
    expect(await storedPartSizes(db, 'bkt/old')).toEqual([null]);
    const { copy } = await multipartObject(store, 'bkt/new', [MIN_PART, 3]);
    expect(copy.partSizes).toEqual([[MIN_PART, 1], [3, 1]]);
    expect((await store.objects.head('bkt/new')).partSizes).toEqual([[MIN_PART, 1], [3, 1]]);
  });
});

/**
 * A database as the release before migration 0006 left it, with backend "alpha" known. SQLite: a file
 * of schema version 4 (schema.sql without part_sizes); PostgreSQL: migrations 0001-0005 applied.
 */
async function databaseBefore0006(engine: EngineName): Promise<DatabaseConfig> {
  if (engine === 'sqlite') {
    const db = await createTestDatabase('sqlite');
    if (db.driver !== 'sqlite') throw new Error('expected sqlite');
    mkdirSync(dirname(db.path), { recursive: true });
    const v4 = readFileSync(new URL('../schema.sql', import.meta.url), 'utf8')
      .replace(/\n\s*-- A multipart object's part sizes[^\n]*\n[^\n]*\n\s*part_sizes\s+TEXT,/, '')
      .replace(/PRAGMA user_version = \d+;/, 'PRAGMA user_version = 4;');
    expect(v4).not.toContain('part_sizes');
    const raw = new Sqlite(db.path);
    raw.exec(v4);
    raw.prepare(`INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at) VALUES ('alpha', 0, 0)`).run();
    expect((raw.pragma('table_info(object_locations)') as { name: string }[]).map((c) => c.name)).not.toContain('part_sizes');
    raw.close();
    return db;
  }
  const db = await createTestDatabase('postgres', { empty: true });
  if (db.driver !== 'postgres') throw new Error('expected postgres');
  const dir = mkdtempSync(join(tmpdir(), 's3o-migrations-'));
  scratchDirs.push(dir);
  const before = localMigrations().filter((m) => Number(m.split('_')[0]) < 6);
  expect(before.at(-1)).toBe('0005_multipart_backend_upload_id');
  for (const m of before) copyFileSync(join(MIGRATIONS_DIR, `${m}.sql`), join(dir, `${m}.sql`));
  const client = pgClient(db);
  await client.connect();
  try {
    await applyMigrations(client, {}, dir);
    await client.query(`INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at) VALUES ('alpha', 0, now())`);
    const columns = await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'object_locations'`);
    expect(columns.rows.map((c) => c.column_name)).not.toContain('part_sizes');
  } finally {
    await client.end();
  }
  return db;
}

it('sqlite: the upgraded file is stamped with the current schema version and has the column', async () => {
  const db = await databaseBefore0006('sqlite');
  await (await openOn(db)).close();
  if (db.driver !== 'sqlite') throw new Error('expected sqlite');
  const after = new Sqlite(db.path);
  try {
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(5);
    expect((after.pragma('table_info(object_locations)') as { name: string }[]).map((c) => c.name)).toContain('part_sizes');
  } finally {
    after.close();
  }
});

describe('part sizes: encoding and ranges', () => {
  it('merges consecutive equal sizes into runs, in part order', () => {
    expect(partSizeRuns([5, 5, 5, 2])).toEqual([[5, 3], [2, 1]]);
    expect(partSizeRuns([5, 2, 5])).toEqual([[5, 1], [2, 1], [5, 1]]);
    expect(partSizeRuns([0])).toEqual([[0, 1]]);
    expect(encodePartSizes(partSizeRuns(Array.from({ length: 10_000 }, () => MIN_PART)))).toBe(`[[${MIN_PART},10000]]`);
  });

  it('decodes what it encodes when the sizes add up to the object; part N of runs; nothing past the last part', () => {
    const runs = partSizeRuns([MIN_PART, MIN_PART, 3 * MiB, 0]);
    expect(decodePartSizes(encodePartSizes(runs), 2 * MIN_PART + 3 * MiB)).toEqual(runs);
    expect(decodePartSizes(encodePartSizes(runs), 2 * MIN_PART + 3 * MiB + 1)).toBeUndefined();
    expect(decodePartSizes(null, 0)).toBeUndefined();
    expect(partCount(runs)).toBe(4);
    expect(partByteRange(runs, 2)).toEqual({ start: MIN_PART, end: 2 * MIN_PART - 1 });
    expect(partByteRange(runs, 3)).toEqual({ start: 2 * MIN_PART, end: 2 * MIN_PART + 3 * MiB - 1 });
    // A last part of 0 bytes is an empty range at the end (as the directory backend answers it).
    expect(partByteRange(runs, 4)).toEqual({ start: 2 * MIN_PART + 3 * MiB, end: 2 * MIN_PART + 3 * MiB - 1 });
    expect(partByteRange(runs, 5)).toBeUndefined();
    expect(partByteRange(runs, 0)).toBeUndefined();
    // 10,000 parts of 5 GiB: offsets past 2^32 stay exact.
    const huge = [[5 * 1024 * MiB, 10_000]] as const;
    expect(decodePartSizes(encodePartSizes(huge), 10_000 * 5 * 1024 * MiB)).toEqual(huge);
    expect(partByteRange(huge, 10_000)).toEqual({ start: 9_999 * 5 * 1024 * MiB, end: 10_000 * 5 * 1024 * MiB - 1 });
  });
});
