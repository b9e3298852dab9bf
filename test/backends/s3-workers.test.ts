import { Readable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3.js';
import { Secret } from '../../src/config/secret.js';
import { silentLogger } from '../../src/logging.js';
import { multipartExpiry } from '../../src/workers/maintenance-jobs.js';
import { ADMIN, closeGateways, startTestGateway } from '../support/gateway.js';
import { closeStores, openTestStore } from '../support/store.js';

afterEach(async () => {
  await closeStores();
  await closeGateways();
});

const HOUR = 3_600_000;
const tick = (job: ReturnType<typeof multipartExpiry>) => job.tick(new AbortController().signal, () => true);

it('multipart expiry aborts the S3 backend\'s native upload before the store\'s; an unreachable backend keeps its upload for a later tick', async () => {
  // The S3 service: a second gateway (it implements AbortMultipartUpload; s3rver does not).
  const service = await startTestGateway('sqlite', { buckets: ['bytes'] });
  const s3 = { region: 'us-east-1', bucket: 'bytes', accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), forcePathStyle: true, timeoutMs: 3000 };
  const reachable = new S3Backend('alpha', { ...s3, endpoint: service.url });
  const unreachable = new S3Backend('beta', { ...s3, endpoint: 'http://127.0.0.1:9' });
  try {
    const { store, clock } = await openTestStore('sqlite');
    const onAlpha = await store.multipart.createUpload({ objectKey: 'b/stale-a', backendName: 'alpha' });
    const nativeId = await reachable.createMultipart(onAlpha.storageKey);
    await store.multipart.recordBackendUpload(onAlpha.uploadId, nativeId);
    const handle = { storageKey: onAlpha.storageKey, backendUploadId: nativeId };
    await reachable.putPart(handle, { partNumber: 1, storageKey: `${onAlpha.storageKey}.part1`, sizeBytes: 10 }, Readable.from([Buffer.alloc(10, 1)]));
    const onBeta = await store.multipart.createUpload({ objectKey: 'b/stale-b', backendName: 'beta' });
    await store.multipart.recordBackendUpload(onBeta.uploadId, 'native-on-beta');
    clock.advance(2 * HOUR);

    const job = multipartExpiry(store, { intervalMs: 1000, batchSize: 10, maxAgeMs: HOUR }, silentLogger, new Map([['alpha', reachable], ['beta', unreachable]]));
    expect(await tick(job)).toBe(1);
    await expect(store.multipart.getUpload(onAlpha.uploadId)).rejects.toThrow();
    // The backend's upload is gone too: no part can be added to it.
    await expect(reachable.putPart(handle, { partNumber: 2, storageKey: `${onAlpha.storageKey}.part2`, sizeBytes: 1 }, Readable.from([Buffer.alloc(1)]))).rejects.toThrow();
    // beta could not abort: its upload stays (dropping it would leak the backend's parts for good).
    expect((await store.multipart.getUpload(onBeta.uploadId)).backendUploadId).toBe('native-on-beta');

    // Without a client for its backend, an upload with a backend id waits as well.
    const job2 = multipartExpiry(store, { intervalMs: 1000, batchSize: 10, maxAgeMs: HOUR }, silentLogger, new Map());
    expect(await tick(job2)).toBe(0);
    expect((await store.multipart.getUpload(onBeta.uploadId)).uploadId).toBe(onBeta.uploadId);

    // An upload without a backend id (a directory backend's) needs no client to expire.
    const plain = await store.multipart.createUpload({ objectKey: 'b/stale-c', backendName: 'alpha' });
    clock.advance(2 * HOUR);
    expect(await tick(job2)).toBe(1);
    await expect(store.multipart.getUpload(plain.uploadId)).rejects.toThrow();
  } finally {
    reachable.destroy();
    unreachable.destroy();
  }
});
