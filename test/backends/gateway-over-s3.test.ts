import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendClient } from '../../src/backends/backend-client.js';
import { Secret } from '../../src/config/secret.js';
import { defaultServerConfig } from '../../src/config/server.js';
import type { AppConfig, CredentialConfig } from '../../src/config/types.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { silentLogger } from '../../src/logging.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { appConfig, createTestDatabase } from '../support/engines.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { CountingS3Backend } from '../support/counting-s3-backend.js';

const MiB = 1024 * 1024;
const ADMIN = { accessKeyId: 'AKIDGATEWAYS3', secretAccessKey: 'gateway-over-s3-secret-01' };
const CREDENTIALS: CredentialConfig[] = [{ accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), buckets: '*', permission: 'admin' }];

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

describe('the gateway over one s3rver backend', () => {
  let s3rver: S3rver;
  let direct: S3Client;
  let backend: CountingS3Backend;
  let store: MetadataStore;
  let gateway: Gateway;
  let client: S3Client;
  let dir: string;

  beforeAll(async () => {
    s3rver = await startS3rver({ bucket: 'gateway-bytes' });
    direct = s3rver.client();
    dir = mkdtempSync(join(tmpdir(), 's3o-gw-s3-'));
    const database = await createTestDatabase('sqlite');
    const s3 = s3rver.backendConfig();
    const config: AppConfig = {
      ...appConfig(database, { backends: [{ name: 'remote', bytesLimit: 0 }] }),
      backends: [{ name: 'remote', bytesLimit: 0, s3 }],
      server: { ...defaultServerConfig(dir), port: 0 },
      credentials: CREDENTIALS,
      buckets: ['photos'],
    };
    store = await openStore(config);
    backend = new CountingS3Backend('remote', s3);
    const backends = new Map<string, BackendClient>([['remote', backend]]);
    gateway = await startGateway({ store, config, backends, credentials: CREDENTIALS, logger: silentLogger });
    client = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: ADMIN, maxAttempts: 1 });
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    await gateway?.close(1000);
    await store?.close();
    backend?.destroy();
    await s3rver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function backendKeys(prefix: string): Promise<string[]> {
    const listed = await direct.send(new ListObjectsV2Command({ Bucket: s3rver.bucket, Prefix: prefix }));
    return (listed.Contents ?? []).map((c) => c.Key!).sort();
  }

  it('PutObject and GetObject: the bytes live on s3rver at the object\'s own storage key, without gateway headers', async () => {
    const bytes = randomBytes(3 * MiB + 5);
    const put = await client.send(
      new PutObjectCommand({ Bucket: 'photos', Key: 'summer/beach 1.jpg', Body: bytes, ContentType: 'image/jpeg', Metadata: { camera: 'x100' } }),
    );
    expect(put.ETag).toBe(`"${md5(bytes)}"`);
    const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'summer/beach 1.jpg' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(bytes)).toBe(true);
    expect(got.ContentType).toBe('image/jpeg');
    expect(got.Metadata).toEqual({ camera: 'x100' });

    const info = await store.objects.head('photos/summer/beach 1.jpg');
    expect(info.copies.map((c) => c.backendName)).toEqual(['remote']);
    const storageKey = info.copies[0]!.storageKey;
    expect(storageKey).toMatch(/^photos\/summer\/beach 1\.jpg!/);
    expect(await backendKeys('photos/summer/')).toEqual([storageKey]);
    // What s3rver holds is the bytes only: the client's type and metadata stay in the gateway's store.
    const raw = await direct.send(new GetObjectCommand({ Bucket: s3rver.bucket, Key: storageKey }));
    expect(Buffer.from(await raw.Body!.transformToByteArray()).equals(bytes)).toBe(true);
    expect(raw.Metadata).toEqual({});
    expect(raw.ContentType).not.toBe('image/jpeg');

    // An overwrite goes to a new storage key; the old one is queued for cleanup (not overwritten in place).
    const again = randomBytes(1000);
    await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'summer/beach 1.jpg', Body: again }));
    const newKey = (await store.objects.head('photos/summer/beach 1.jpg')).copies[0]!.storageKey;
    expect(newKey).not.toBe(storageKey);
    const reread = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'summer/beach 1.jpg' }));
    expect(Buffer.from(await reread.Body!.transformToByteArray()).equals(again)).toBe(true);
  });

  it('a multipart upload of 3 parts is a native upload on s3rver: one object at the storage key, no part objects, no byte read back', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(777)];
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: 'photos', Key: 'videos/clip.mp4', ContentType: 'video/mp4' }));
    const upload = await store.multipart.getUpload(created.UploadId!);
    expect(upload.backendName).toBe('remote');
    expect(upload.backendUploadId).toMatch(/.+/);
    expect(upload.backendUploadId).not.toBe(upload.uploadId);

    const etags: string[] = [];
    for (const [i, body] of parts.entries()) {
      const res = await client.send(new UploadPartCommand({ Bucket: 'photos', Key: 'videos/clip.mp4', UploadId: created.UploadId, PartNumber: i + 1, Body: body }));
      expect(res.ETag).toBe(`"${md5(body)}"`);
      etags.push(res.ETag!);
    }
    // Parts live inside the backend's upload, not as objects of their own.
    expect(await backendKeys('photos/videos/')).toEqual([]);

    const before = { gets: backend.gets, puts: backend.puts };
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'photos',
        Key: 'videos/clip.mp4',
        UploadId: created.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    expect({ gets: backend.gets, puts: backend.puts }).toEqual(before);
    const partMd5s = Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex')));
    expect(done.ETag).toBe(`"${md5(partMd5s)}-3"`);

    expect(await backendKeys('photos/videos/')).toEqual([upload.storageKey]);
    const info = await store.objects.head('photos/videos/clip.mp4');
    expect(info.copies.map((c) => c.storageKey)).toEqual([upload.storageKey]);
    expect(info.sizeBytes).toBe(10 * MiB + 777);

    const all = Buffer.concat(parts);
    const got = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'videos/clip.mp4' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(all)).toBe(true);
    expect(got.ContentType).toBe('video/mp4');
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'videos/clip.mp4', Range: `bytes=${5 * MiB - 3}-${5 * MiB + 2}` }));
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(all.subarray(5 * MiB - 3, 5 * MiB + 3))).toBe(true);
    await expect(store.multipart.getUpload(created.UploadId!)).rejects.toThrow();
  });
});
