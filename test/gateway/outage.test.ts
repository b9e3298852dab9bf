import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import { Secret } from '../../src/config/secret.js';
import { defaultServerConfig } from '../../src/config/server.js';
import type { AppConfig, PostgresConfig } from '../../src/config/types.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { DatabaseBreaker } from '../../src/gateway/outage/index.js';
import { silentLogger } from '../../src/logging.js';
import { DatabaseBusyError, DatabaseUnavailableError } from '../../src/store/core/errors.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { bodyOf, StoppablePostgres, waitFor } from '../fleet/support.js';
import { appConfig } from '../support/engines.js';
import { ADMIN } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

/**
 * Spec gateway.md §6 database circuit breaker and issue 12 item 5, against a PostgreSQL server this
 * file owns and stops: while the database is down, GET/HEAD of recently seen objects are served once
 * the backends confirm the cached version is the only one they hold, anything they cannot confirm is
 * 503, writes and listings are 503 and never acknowledged; /health says degraded; the probe closes
 * the breaker when the server is back, without restarting the gateway.
 */

describe('DatabaseBreaker', () => {
  it('opens on DatabaseUnavailable only (never DatabaseBusy or other errors), and the probe closes it', async () => {
    let up = false;
    const breaker = new DatabaseBreaker(async () => {
      if (!up) throw new DatabaseUnavailableError('down');
    }, silentLogger, { failureThreshold: 3, windowMs: 10_000, probeIntervalMs: 50 });
    try {
      for (let i = 0; i < 20; i++) expect(breaker.observe(new DatabaseBusyError('pool busy'))).toBe(false);
      breaker.observe(new Error('deadlock detected'));
      expect(breaker.state).toBe('ok');
      breaker.observe(new DatabaseUnavailableError('a'));
      breaker.observe(new DatabaseUnavailableError('b'));
      expect(breaker.isOpen).toBe(false);
      breaker.observe(new DatabaseUnavailableError('c'));
      expect(breaker.state).toBe('degraded');
      await new Promise((r) => setTimeout(r, 200));
      expect(breaker.isOpen).toBe(true); // the probe keeps failing
      up = true;
      await waitFor('the probe to close the breaker', () => (breaker.isOpen ? undefined : true), 2000, 10);
    } finally {
      breaker.stop();
    }
  });
});

describe('database outage mode through the S3 endpoint', () => {
  let pgServer: StoppablePostgres;
  let dir: string;
  let store: MetadataStore;
  let gateway: Gateway;
  let s3: S3Client;
  let backend: DirectoryBackend;

  beforeAll(async () => {
    pgServer = await StoppablePostgres.start();
    dir = mkdtempSync(join(tmpdir(), 's3o-outage-'));
    const database: PostgresConfig = {
      driver: 'postgres',
      host: '127.0.0.1',
      port: pgServer.port,
      database: 's3o_outage',
      user: 'postgres',
      password: new Secret(pgServer.password),
      sslMode: 'disable',
      sslRootCert: undefined,
      maxConns: 10,
      minConns: 0,
      maxConnLifetimeMs: 30 * 60_000,
      quotaStripes: 4,
    };
    const base = appConfig(database, { backends: [{ name: 'local', bytesLimit: 0 }] });
    const config: AppConfig = {
      ...base,
      backends: [{ name: 'local', bytesLimit: 0, directory: join(dir, 'backend') }],
      server: { ...defaultServerConfig(dir), port: 0 },
      buckets: ['data'],
    };
    store = await openStore(config);
    await checkDirectoryBackends(config, store);
    backend = new DirectoryBackend('local', join(dir, 'backend'));
    const credentials = [{ accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), buckets: '*' as const, permission: 'admin' as const }];
    gateway = await startGateway({ store, config, backends: new Map([['local', backend]]), credentials, logger: silentLogger, outage: { failureThreshold: 1, probeIntervalMs: 300 } });
    s3 = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: ADMIN, maxAttempts: 1 });
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    await gateway?.close(1000);
    await store?.close();
    await pgServer?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const put = (key: string, body: Buffer, contentType = 'application/octet-stream') => s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: body, ContentType: contentType, Metadata: { origin: 'outage-test' } }));
  const get = async (key: string) => bodyOf((await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }))).Body);
  const health = async () => (await (await fetch(`${gateway.url}/health`)).text()).trim();
  async function s3Status(p: Promise<unknown>): Promise<{ status: number; code: string }> {
    try {
      await p;
    } catch (err) {
      if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode ?? 0, code: err.name };
      throw err;
    }
    return { status: 200, code: 'OK' };
  }

  it('serves confirmed cached reads, refuses what it cannot confirm, answers 503 to writes and listings, and recovers by itself', async () => {
    const seen = randomBytes(200_000);
    const headed = randomBytes(1000);
    await put('seen.bin', seen, 'image/png');
    await put('headed.txt', headed);
    await s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'headed.txt' }));
    // Overwritten: the displaced version's bytes wait for cleanup (no worker runs here), so a backend
    // listing shows two versions and the newest cannot be told from the storage keys alone.
    await put('twice.txt', Buffer.from('first'));
    await put('twice.txt', Buffer.from('second'));
    // Written behind this gateway's back (as another instance would): never seen here.
    const foreign = await store.objects.beginWrite({ objectKey: 'data/foreign.txt', sizeBytes: 3 });
    await backend.put(foreign.storageKey, (await import('node:stream')).Readable.from([Buffer.from('abc')]), 3);
    await store.objects.commitWrite(foreign, { etag: '"900150983cd24fb0d6963f7d28e17f72"' });
    // Seen here, then overwritten by "another instance" and the old bytes already cleaned up: the
    // cached storage key is gone from the backend, so the cache must not be trusted.
    await put('moved.txt', Buffer.from('old'));
    const moved = await store.objects.beginWrite({ objectKey: 'data/moved.txt', sizeBytes: 3 });
    await backend.put(moved.storageKey, (await import('node:stream')).Readable.from([Buffer.from('new')]), 3);
    const { displaced } = await store.objects.commitWrite(moved, { etag: '"22af645d1859cb5ca6da0c484f1f37ea"' });
    for (const d of displaced) await backend.delete(d.storageKey);
    expect(await health()).toBe('ok');

    await pgServer.stop();
    try {
      // The first request that needs the database opens the breaker; a read of a seen object is still served.
      expect((await get('seen.bin')).equals(seen)).toBe(true);
      expect(await health()).toBe('degraded');
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'seen.bin' }));
      expect(head).toMatchObject({ ContentLength: seen.length, ContentType: 'image/png', Metadata: { origin: 'outage-test' } });
      const ranged = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'seen.bin', Range: 'bytes=10-19' }));
      expect((await bodyOf(ranged.Body)).equals(seen.subarray(10, 20))).toBe(true);
      expect((await get('headed.txt')).equals(headed)).toBe(true);

      // What cannot be confirmed is 503, never a guess.
      expect(await s3Status(get('twice.txt'))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(get('foreign.txt'))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(get('moved.txt'))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(get('never-existed.txt'))).toEqual({ status: 503, code: 'ServiceUnavailable' });

      // Writes, deletes and listings: 503, nothing acknowledged.
      expect(await s3Status(put('during.txt', Buffer.from('lost?')))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(put('seen.bin', Buffer.from('overwrite?')))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'headed.txt' })))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      expect(await s3Status(s3.send(new ListObjectsV2Command({ Bucket: 'data' })))).toEqual({ status: 503, code: 'ServiceUnavailable' });
      // The failed overwrite left the cached version alone: still served.
      expect((await get('seen.bin')).equals(seen)).toBe(true);
    } finally {
      await pgServer.restart();
    }

    // The probe closes the breaker: no gateway restart.
    await waitFor('the breaker to close', async () => ((await health()) === 'ok' ? true : undefined), 20_000, 100);
    await put('after.txt', Buffer.from('after'));
    expect((await get('after.txt')).toString()).toBe('after');
    expect((await get('foreign.txt')).toString()).toBe('abc');
    expect((await get('moved.txt')).toString()).toBe('new');
    expect((await get('twice.txt')).toString()).toBe('second');
    expect((await get('headed.txt')).equals(headed)).toBe(true);
    // Nothing written during the outage exists; the overwrite attempt changed nothing.
    expect(await s3Status(get('during.txt'))).toEqual({ status: 404, code: 'NoSuchKey' });
    expect((await get('seen.bin')).equals(seen)).toBe(true);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'data' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['after.txt', 'foreign.txt', 'headed.txt', 'moved.txt', 'seen.bin', 'twice.txt']);
    // The failed writes' intents were aborted or are left for the reaper: either way the ledger is exact.
    await waitFor('no intents left', async () => ((await store.intents.summary()).count === 0 ? true : undefined), 5000).catch(() => undefined);
    await expectLedgerConsistent(store);
  });
});
