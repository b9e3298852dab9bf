import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { processSQLQueryIR } from '@pgtyped/runtime';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConfig, SqliteConfig } from '../src/config/types.js';
import { isValidBucketName, validateBucketName } from '../src/store/core/buckets.js';
import { BucketNotEmptyError, InvalidArgumentError, NotFoundError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { bucketKeyRange } from '../src/store/core/buckets.js';
import { generatedQueries } from '../src/store/postgres/generated/index.js';
import { openStore } from '../src/store/open.js';
import { SCHEMA_VERSION } from '../src/store/sqlite/schema.js';
import { appConfig, createTestDatabase, describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

async function put(store: MetadataStore, objectKey: string, sizeBytes: number, backendName?: string) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, ...(backendName ? { backendName } : {}) });
  return store.objects.commitWrite(intent, { etag: `"etag-${sizeBytes}"` });
}

describe('bucket names (S3 rules)', () => {
  it.each([
    'abc',
    'my-bucket',
    'my.bucket.name',
    'bucket1',
    '1bucket',
    '123',
    'a'.repeat(63),
    'a-b.c-d',
    '192.168.5',
    '192.168.5.4a',
    'xn-bucket',
    'bucket-s3alia',
  ])('accepts %j', (name) => {
    expect(validateBucketName(name)).toBe(name);
  });

  it.each([
    ['ab', /is 2 characters long/],
    ['', /is 0 characters long/],
    ['a'.repeat(64), /is 64 characters long/],
    ['MyBucket', /contains "M"/],
    ['my_bucket', /contains "_"/],
    ['my bucket', /contains " "/],
    ['bucket/key', /contains "\/"/],
    ['café', /contains "é"/],
    ['-bucket', /start and end/],
    ['bucket-', /start and end/],
    ['.bucket', /start and end/],
    ['bucket.', /start and end/],
    ['my..bucket', /'\.\.'/],
    ['192.168.5.4', /IP address/],
    ['10.0.0.1', /IP address/],
    ['xn--bucket', /reserved prefix "xn--"/],
    ['sthree-bucket', /reserved prefix "sthree-"/],
    ['sthree-configurator', /reserved prefix "sthree-"/],
    ['bucket-s3alias', /reserved suffix "-s3alias"/],
    ['bucket--ol-s3', /reserved suffix "--ol-s3"/],
  ])('refuses %j', (name, reason) => {
    let caught: unknown;
    try {
      validateBucketName(name);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as InvalidArgumentError).field).toBe('bucket');
    expect((caught as Error).message).toContain(JSON.stringify(name));
    expect((caught as Error).message).toMatch(reason);
  });

  it('isValidBucketName answers the same without throwing', () => {
    expect(isValidBucketName('good-name')).toBe(true);
    expect(isValidBucketName('Bad_Name')).toBe(false);
    expect(isValidBucketName(7)).toBe(false);
  });

  it('refuses a value that is not a string', () => {
    expect(() => validateBucketName(42)).toThrow(/bucket: must be a string, got number/);
    expect(() => validateBucketName(undefined)).toThrow(InvalidArgumentError);
  });
});

describeEngines('buckets', (engine) => {
  it('creates a bucket, reads it back, and a second create finds the existing one', async () => {
    const { store, clock } = await openTestStore(engine);
    const at = clock.now();
    const first = await store.buckets.create({ name: 'photos', owner: 'AKIAEXAMPLE' });
    expect(first).toEqual({ created: true, bucket: { name: 'photos', owner: 'AKIAEXAMPLE', createdAt: at } });
    expect(await store.buckets.get('photos')).toEqual({ name: 'photos', owner: 'AKIAEXAMPLE', createdAt: at });

    clock.advance(60_000);
    const again = await store.buckets.create({ name: 'photos', owner: 'someone-else' });
    // Idempotent: the existing bucket, with its original owner and creation time.
    expect(again).toEqual({ created: false, bucket: { name: 'photos', owner: 'AKIAEXAMPLE', createdAt: at } });
    expect(await store.buckets.list()).toHaveLength(1);
  });

  it('concurrent creates of one name: exactly one creates it', async () => {
    const { store } = await openTestStore(engine);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.buckets.create({ name: 'race', owner: `owner-${i}` })));
    const created = results.filter((r) => r.created);
    expect(created).toHaveLength(1);
    for (const r of results) expect(r.bucket.owner).toBe(created[0]!.bucket.owner);
    expect((await store.buckets.list()).map((b) => b.name)).toEqual(['race']);
  });

  it('get answers undefined for a bucket that does not exist', async () => {
    const { store } = await openTestStore(engine);
    expect(await store.buckets.get('nothing-here')).toBeUndefined();
  });

  it('lists buckets by name in byte order', async () => {
    const { store } = await openTestStore(engine);
    for (const name of ['zeta', 'alpha', 'a.b', 'a-b', 'a1b', 'beta']) await store.buckets.create({ name, owner: 'admin' });
    // '-' (0x2d) < '.' (0x2e) < '1' (0x31) < letters
    expect((await store.buckets.list()).map((b) => b.name)).toEqual(['a-b', 'a.b', 'a1b', 'alpha', 'beta', 'zeta']);
  });

  it('create validates the name and the owner', async () => {
    const { store } = await openTestStore(engine);
    await expect(store.buckets.create({ name: 'Bad_Name', owner: 'admin' })).rejects.toThrow(InvalidArgumentError);
    await expect(store.buckets.create({ name: 'good-name', owner: '' })).rejects.toThrow(/owner: must be 1-255 printable characters/);
    expect(await store.buckets.list()).toEqual([]);
  });

  it('deletes an empty bucket; deleting it again is NotFound', async () => {
    const { store } = await openTestStore(engine);
    await store.buckets.create({ name: 'gone', owner: 'admin' });
    await store.buckets.create({ name: 'kept', owner: 'admin' });
    await store.buckets.delete('gone');
    expect(await store.buckets.get('gone')).toBeUndefined();
    expect((await store.buckets.list()).map((b) => b.name)).toEqual(['kept']);
    const err = await store.buckets.delete('gone').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'NotFound', httpStatus: 404, resource: 'bucket', id: 'gone' });
  });

  it('refuses to delete a bucket holding an object, and deletes it once the object is gone', async () => {
    const { store } = await openTestStore(engine);
    await store.buckets.create({ name: 'full', owner: 'admin' });
    await put(store, 'full/deep/key.txt', 10);
    const err = await store.buckets.delete('full').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BucketNotEmptyError);
    expect(err).toMatchObject({ code: 'BucketNotEmpty', httpStatus: 409, bucket: 'full', holds: { objects: true, uploads: false } });
    expect(await store.buckets.get('full')).toBeDefined();

    await store.objects.deleteObject('full/deep/key.txt');
    await store.buckets.delete('full');
    expect(await store.buckets.get('full')).toBeUndefined();
    await expectLedgerConsistent(store);
  });

  it('refuses to delete a bucket with an open multipart upload, and deletes it once the upload is aborted', async () => {
    const { store } = await openTestStore(engine);
    await store.buckets.create({ name: 'uploading', owner: 'admin' });
    const upload = await store.multipart.createUpload({ objectKey: 'uploading/big.bin' });
    await expect(store.buckets.delete('uploading')).rejects.toMatchObject({ code: 'BucketNotEmpty', holds: { objects: false, uploads: true } });
    await store.multipart.abortUpload(upload.uploadId);
    await store.buckets.delete('uploading');
    expect(await store.buckets.list()).toEqual([]);
  });

  it('only keys under "{name}/" count: neighbours sharing the name as a prefix do not', async () => {
    const { store } = await openTestStore(engine);
    for (const name of ['logs', 'logs-old', 'logs.archive']) await store.buckets.create({ name, owner: 'admin' });
    // Keys that sort right before and right after the range ["logs/", "logs0"), and a bare "logs" key.
    await put(store, 'logs-old/a', 1);
    await put(store, 'logs.archive/a', 1);
    await put(store, 'logs0', 1);
    await put(store, 'logs', 1);
    await store.multipart.createUpload({ objectKey: 'logs-old/b' });
    await store.buckets.delete('logs');
    expect((await store.buckets.list()).map((b) => b.name)).toEqual(['logs-old', 'logs.archive']);
    await expect(store.buckets.delete('logs-old')).rejects.toBeInstanceOf(BucketNotEmptyError);
  });

  it('stats: objects and bytes per bucket, each object once however many copies it has', async () => {
    const { store } = await openTestStore(engine);
    for (const name of ['empty', 'pics', 'docs']) await store.buckets.create({ name, owner: 'admin' });
    await put(store, 'pics/a.jpg', 100, 'alpha');
    await put(store, 'pics/b.jpg', 250, 'alpha');
    const copy = await store.objects.beginCopy({ objectKey: 'pics/a.jpg', backendName: 'beta' });
    expect(await store.objects.commitCopy(copy)).toMatchObject({ status: 'committed' });
    await put(store, 'docs/readme', 7);
    await put(store, 'docsx/not-in-docs', 1000);
    await put(store, 'unbucketed', 1000);
    expect(await store.buckets.stats()).toEqual([
      { name: 'docs', objects: 1, bytes: 7 },
      { name: 'empty', objects: 0, bytes: 0 },
      { name: 'pics', objects: 2, bytes: 350 },
    ]);
    await expectLedgerConsistent(store);
  });

  it('get and delete of a name S3 would refuse find nothing (it cannot have been created)', async () => {
    const { store } = await openTestStore(engine);
    expect(await store.buckets.get('UPPER')).toBeUndefined();
    expect(await store.buckets.get('a..b')).toBeUndefined();
    await expect(store.buckets.delete('a..b')).rejects.toMatchObject({ code: 'NotFound', resource: 'bucket', id: 'a..b' });
  });
});

describe('bucket delete check on PostgreSQL with realistic statistics', () => {
  it('probes the key indexes, also for a bucket the statistics still believe full', async () => {
    const db = (await createTestDatabase('postgres')) as PostgresConfig;
    await (await openStore(appConfig(db))).close();
    const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
    await client.connect();
    try {
      // Many keys in a few busy buckets. A bucket whose objects were just deleted still looks full to
      // the planner until the next ANALYZE; with the estimate "plenty of matches" a bare EXISTS picks a
      // sequential scan expecting an early hit, and then reads the whole table finding none.
      await client.query(`INSERT INTO object_locations
        SELECT 'busy' || (i % 5) || '/k' || i, 'alpha', 's' || i, 1, 'e', 't', '{}', NULL, now() FROM generate_series(1, 50000) i`);
      await client.query(`INSERT INTO multipart_uploads
        SELECT 'u' || i, 'busy' || (i % 5) || '/k' || i, 'alpha', 's' || i, 't', '{}', now() FROM generate_series(1, 10000) i`);
      await client.query('ANALYZE');
      const ir = (generatedQueries.bucketContents.query as unknown as { queryIR: Parameters<typeof processSQLQueryIR>[0] }).queryIR;
      const { query, mapping } = processSQLQueryIR(ir);
      const range = bucketKeyRange('busy2');
      const values = [...mapping]
        .sort((a, b) => (a as unknown as { assignedIndex: number }).assignedIndex - (b as unknown as { assignedIndex: number }).assignedIndex)
        .map((m) => pg.escapeLiteral(range[m.name as keyof typeof range]));
      await client.query(`PREPARE probe AS ${query}`);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) EXECUTE probe(${values.join(', ')})`);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).not.toMatch(/Seq Scan/);
      expect(plan).toMatch(/Index (Only )?Scan using object_locations_pkey/);
      expect(plan).toMatch(/Index (Only )?Scan using multipart_uploads_by_key/);
    } finally {
      await client.end();
    }
  });
});

describe('SQLite upgrade to the schema with buckets', () => {
  it('a file of schema version 2 (before buckets) gains the table when opened', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    mkdirSync(dirname(db.path), { recursive: true });
    const v2 = readFileSync(new URL('../schema.sql', import.meta.url), 'utf8')
      .replace(/CREATE TABLE IF NOT EXISTS buckets \([^;]*;/, '')
      .replace(/PRAGMA user_version = \d+;/, 'PRAGMA user_version = 2;');
    const raw = new Sqlite(db.path);
    raw.exec(v2);
    expect(raw.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'buckets'`).get()).toEqual({ n: 0 });
    raw.close();

    const store = await openStore(appConfig(db));
    expect((await store.buckets.create({ name: 'after-upgrade', owner: 'admin' })).created).toBe(true);
    await store.close();
    const after = new Sqlite(db.path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(3);
    after.close();
  });
});
