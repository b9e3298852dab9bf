import http from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryBackend } from '../../src/backends/directory.js';
import type { BackendClient } from '../../src/backends/backend-client.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import { defaultServerConfig } from '../../src/config/server.js';
import type { AppConfig } from '../../src/config/types.js';
import type { HealthProvider } from '../../src/gateway/health.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { silentLogger } from '../../src/logging.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appConfig, createTestDatabase } from '../support/engines.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { openRequest, signedHeaders, signedPutHeaders, waitUntil } from './ops-support.js';

/**
 * Issue 12 item 1: /health (liveness: ok or degraded) and /health/ready (503 while starting and
 * stopping), unauthenticated, answered before SigV4 and from memory.
 */

afterEach(closeGateways);

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Counts calls to the store's database and to the backends' clients. */
function countTouches(tg: TestGateway): { readonly count: () => number } {
  let calls = 0;
  const db = tg.store.db as unknown as Record<string, unknown>;
  for (const name of ['read', 'transaction']) {
    const original = db[name] as (...args: unknown[]) => unknown;
    db[name] = (...args: unknown[]) => {
      calls++;
      return original.apply(tg.store.db, args);
    };
  }
  for (const backend of tg.backends.values()) {
    const b = backend as unknown as Record<string, unknown>;
    for (const name of ['get', 'put', 'head', 'delete', 'list']) {
      const original = b[name] as (...args: unknown[]) => unknown;
      b[name] = (...args: unknown[]) => {
        calls++;
        return original.apply(backend, args);
      };
    }
  }
  return { count: () => calls };
}

describe('/health and /health/ready', () => {
  it('answer 200 ok and 200 ready without credentials, touching neither the database nor a backend', async () => {
    const tg = await startTestGateway('sqlite', { storeThread: false });
    const touches = countTouches(tg);
    for (let i = 0; i < 20; i++) {
      const health = await get(`${tg.url}/health`);
      expect(health).toMatchObject({ status: 200, body: 'ok' });
      expect(health.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await get(`${tg.url}/health/ready`)).toMatchObject({ status: 200, body: 'ready' });
    }
    const head = await get(`${tg.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(touches.count()).toBe(0);
    // An unsigned request elsewhere is still refused by SigV4: the exemption is these paths only.
    expect((await get(`${tg.url}/healthz`)).status).toBe(403);
    expect((await get(`${tg.url}/health`, { method: 'DELETE' })).status).toBe(403);
  });

  it('a signed request to /health is S3: ListObjects of a bucket named "health"', async () => {
    const tg = await startTestGateway('sqlite');
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'health' }));
    await s3.send(new PutObjectCommand({ Bucket: 'health', Key: 'ready', Body: 'a real object' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'health' }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['ready']);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'health', Key: 'ready' }));
    expect(await got.Body!.transformToString()).toBe('a real object');
    expect((await get(`${tg.url}/health/ready`)).body).toBe('ready');
  });

  it('/health says degraded while the database provider says unavailable, and ok again after', async () => {
    let database: 'ok' | 'unavailable' = 'ok';
    const health: HealthProvider = { database: () => database };
    const tg = await startTestGateway('sqlite', { health });
    expect((await get(`${tg.url}/health`)).body).toBe('ok');
    database = 'unavailable';
    expect(await get(`${tg.url}/health`)).toMatchObject({ status: 200, body: 'degraded' });
    // Liveness, not readiness: the instance still serves what it can.
    expect((await get(`${tg.url}/health/ready`)).status).toBe(200);
    database = 'ok';
    expect((await get(`${tg.url}/health`)).body).toBe('ok');
  });

  it('/health says degraded while a backend circuit breaker is open', async () => {
    const tg = await startTestGateway('sqlite', { breaker: { failureThreshold: 1, openMs: 60_000 }, directoryOnly: true });
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'brk' }));
    await s3.send(new PutObjectCommand({ Bucket: 'brk', Key: 'k', Body: 'x' }));
    const local = tg.backends.get('local') as DirectoryBackend;
    local.get = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    await expect(s3.send(new GetObjectCommand({ Bucket: 'brk', Key: 'k' }))).rejects.toThrow();
    expect(tg.gateway.deps.router.states()).toEqual({ local: 'open' });
    expect((await get(`${tg.url}/health`)).body).toBe('degraded');
  });

  it('readiness goes off when shutdown begins; responses then close their connections; the metrics listener says 503 while requests drain', async () => {
    const tg = await startTestGateway('sqlite', { server: { metricsListen: { host: '127.0.0.1', port: 0 } } });
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    const metricsUrl = tg.gateway.metricsUrl!;
    expect(await get(`${metricsUrl}/health/ready`)).toMatchObject({ status: 200, body: 'ready' });

    // A PUT in flight: headers and half of the body sent.
    const headers = await signedPutHeaders(tg.url, '/drain/slow', 10);
    const { req: inFlight, response } = openRequest(tg.url, 'PUT', '/drain/slow', headers);
    inFlight.write('12345');
    await waitUntil(() => tg.gateway.admission.inFlight === 1);

    tg.gateway.beginShutdown();
    const ready = await get(`${tg.url}/health/ready`);
    expect(ready).toMatchObject({ status: 503, body: 'stopping' });
    expect(ready.headers.get('retry-after')).toBe('1');
    expect((await get(`${tg.url}/health`)).body).toBe('ok');
    // An S3 request on a kept-alive connection is answered, and told to close the connection.
    const agent = new http.Agent({ keepAlive: true });
    const list = openRequest(tg.url, 'GET', '/', await signedHeaders(tg.url, 'GET', '/', 0), agent);
    list.req.end();
    expect((await list.response).status).toBe(200);
    expect((await list.response).headers.connection).toBe('close');
    agent.destroy();

    const closed = tg.gateway.close(10_000);
    // The S3 listener no longer accepts; the metrics listener still answers, with 503.
    await waitUntil(async () => (await get(`${tg.url}/health`).catch(() => undefined)) === undefined);
    expect(await get(`${metricsUrl}/health/ready`)).toMatchObject({ status: 503, body: 'stopping' });

    inFlight.end('67890');
    expect((await response).status).toBe(200);
    await closed;
    await expect(get(`${metricsUrl}/health/ready`)).rejects.toThrow();
  });

  it('/health/ready answers 503 starting on the metrics listener until start-up finishes', async () => {
    const database = await createTestDatabase('sqlite');
    const dir = mkdtempSync(join(tmpdir(), 's3o-ready-'));
    const metricsPort = await freePort();
    const base = appConfig(database, { backends: [{ name: 'local', bytesLimit: 0 }] });
    const config: AppConfig = {
      ...base,
      backends: [{ name: 'local', bytesLimit: 0, directory: join(dir, 'backend') }],
      server: { ...defaultServerConfig(dir), port: 0, metricsListen: { host: '127.0.0.1', port: metricsPort } },
      buckets: ['configured'],
    };
    const store = await openStore(config);
    let gateway: Gateway | undefined;
    try {
      await checkDirectoryBackends(config, store);
      // Start-up is held at the creation of the config's bucket.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const create = store.buckets.create.bind(store.buckets);
      store.buckets.create = async (...args) => {
        await held;
        return create(...args);
      };
      const backends = new Map<string, BackendClient>([['local', new DirectoryBackend('local', join(dir, 'backend'))]]);
      const starting = startGateway({ store: store as MetadataStore, config, backends, credentials: [], logger: silentLogger });
      const metricsUrl = `http://127.0.0.1:${metricsPort}`;
      await waitUntil(async () => (await get(`${metricsUrl}/health/ready`).catch(() => undefined))?.status === 503);
      expect(await get(`${metricsUrl}/health/ready`)).toMatchObject({ status: 503, body: 'starting' });
      expect((await get(`${metricsUrl}/health`)).status).toBe(200);
      release();
      gateway = await starting;
      expect(await get(`${metricsUrl}/health/ready`)).toMatchObject({ status: 200, body: 'ready' });
      expect(await get(`${gateway.url}/health/ready`)).toMatchObject({ status: 200, body: 'ready' });
      // The metrics listener answers its paths only.
      expect((await get(`${metricsUrl}/anything`)).status).toBe(404);
    } finally {
      await gateway?.close(1000);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
