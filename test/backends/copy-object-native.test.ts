import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../src/backends/backend-unavailable.js';
import type { S3BackendConfig } from '../../src/config/types.js';
import { describeEngines } from '../support/engines.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { closeS3rvers, startS3rver } from '../support/s3rver.js';
import { expectLedgerConsistent } from '../support/store.js';
import { CountingS3Backend } from '../support/counting-s3-backend.js';

afterEach(async () => {
  await closeGateways();
  await closeS3rvers();
});

const KiB = 1024;

/**
 * A service without CopyObject, as the backend client reports it (S3 501 NotImplemented): s3rver and
 * a second gateway both implement CopyObject, so the answer is the subclass's, after the call it
 * stands for is counted. Everything else is the real s3rver.
 */
class NoCopyObjectS3Backend extends CountingS3Backend {
  override async copyObject(): Promise<{ etag: string } | 'unsupported'> {
    this.copyObjects.push('unsupported');
    return 'unsupported';
  }
}

/** A service that fails while copying (as a 5xx would): the backend's copy must go elsewhere. */
class FailingCopyObjectS3Backend extends CountingS3Backend {
  override async copyObject(): Promise<{ etag: string } | 'unsupported'> {
    this.copyObjects.push('error');
    throw new BackendUnavailableError(this.name, 'a test service', 'answered 503 to CopyObject');
  }
}

/** A backend whose copied objects come back with an ETag that is not the MD5 of their bytes. */
class OddEtagS3Backend extends CountingS3Backend {
  override async copyObject(sourceStorageKey: string, destStorageKey: string): Promise<{ etag: string } | 'unsupported'> {
    const answer = await super.copyObject(sourceStorageKey, destStorageKey);
    return answer === 'unsupported' ? answer : { etag: `"${'f'.repeat(32)}"` };
  }
}

function md5(bytes: Buffer | string): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** The `x-amz-copy-source` of an object (the key percent-encoded, as S3 wants it). */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key)}`;
}

async function read(s3: S3Client, bucket: string, key: string): Promise<{ bytes: Buffer; etag?: string; contentType?: string; metadata?: Record<string, string>; cacheControl?: string }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { bytes: Buffer.from(await out.Body!.transformToByteArray()), etag: out.ETag, contentType: out.ContentType, metadata: out.Metadata, cacheControl: out.CacheControl };
}

async function failure(p: Promise<unknown>): Promise<{ name?: string; status?: number }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return { name: err?.name, status: err?.$metadata?.httpStatusCode };
}

/** One backend's usage this month, as the store holds it once the gateway's counters are flushed. */
async function usageOf(tg: TestGateway, backend: string): Promise<{ apiRequests: number; egressBytes: number; ingressBytes: number }> {
  await tg.store.usage.flush();
  const row = (await tg.store.usage.totals(new Date().toISOString().slice(0, 7))).find((u) => u.backendName === backend);
  return { apiRequests: row?.apiRequests ?? 0, egressBytes: row?.egressBytes ?? 0, ingressBytes: row?.ingressBytes ?? 0 };
}

async function backendsOf(tg: TestGateway, objectKey: string): Promise<string[]> {
  return (await tg.store.objects.lookup(objectKey)).map((c) => c.backendName);
}

function s3Backend(name: string, config: S3BackendConfig, kind: typeof CountingS3Backend = CountingS3Backend): CountingS3Backend {
  return new kind(name, config);
}

describeEngines('CopyObject on an s3 backend', (engine) => {
  it(`a source on an s3 backend with room is copied by that backend (CopyObject): COPY, REPLACE, conditions; no byte through the gateway [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig());
    // spread: the source goes to the first of two empty backends; a streamed copy would then go to
    // the emptier directory backend, so a copy on "remote" is the pinned one.
    const tg = await startTestGateway(engine, {
      placement: 'spread',
      backends: [
        { name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote },
        { name: 'local', bytesLimit: 0 },
      ],
      buckets: ['bkt', 'other'],
    });
    const s3 = tg.client();
    // A key with characters CopySource must escape (its storage key has them too). s3rver decodes
    // CopySource with decodeURI, so a `+`, `#` or `?` would not be found there (see the last test).
    const srcKey = "src/dir with space/ünï (1)!*'~%.bin";
    const src = randomBytes(300 * KiB + 7);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: srcKey, Body: src, ContentType: 'application/x-test', Metadata: { origin: 'src' }, CacheControl: 'max-age=9' }));
    expect(await backendsOf(tg, `bkt/${srcKey}`)).toEqual(['remote']);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'bkt', Key: srcKey }));

    const before = remote.counts();
    const usageBefore = await usageOf(tg, 'remote');
    // COPY, across buckets, to a hard key too.
    const copied = await s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'dst/cöpy one.bin', CopySource: copySource('bkt', srcKey) }));
    expect(copied.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    expect(copied.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    // REPLACE, within the bucket, over an existing object (spread puts it on the emptier "local").
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'replaced.bin', Body: 'old bytes' }));
    expect(await backendsOf(tg, 'bkt/replaced.bin')).toEqual(['local']);
    const replaced = await s3.send(
      new CopyObjectCommand({ Bucket: 'bkt', Key: 'replaced.bin', CopySource: copySource('bkt', srcKey), MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { fresh: 'yes' } }),
    );
    expect(replaced.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    // Conditions: a failing one is 412 before any backend is asked; a holding one copies.
    const asked = remote.copyObjects.length;
    for (const condition of [{ CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }, { CopySourceIfNoneMatch: head.ETag! }, { CopySourceIfModifiedSince: new Date(head.LastModified!.getTime() + 3600_000) }]) {
      expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'refused', CopySource: copySource('bkt', srcKey), ...condition })))).toEqual({ name: 'PreconditionFailed', status: 412 });
    }
    expect(remote.copyObjects).toHaveLength(asked);
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'other', Key: 'refused' })))).toMatchObject({ status: 404 });
    await s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'conditional', CopySource: copySource('bkt', srcKey), CopySourceIfMatch: head.ETag! }));

    // The backend copied all three: not a byte was read or streamed through the gateway.
    expect(remote.copyObjects).toEqual(['etag', 'etag', 'etag']);
    expect(remote.counts()).toEqual({ ...before, copyObjects: 3 });
    // Each copy is on the source's backend, where the placement alone would not have put it.
    for (const key of ['other/dst/cöpy one.bin', 'bkt/replaced.bin', 'other/conditional']) expect(await backendsOf(tg, key)).toEqual(['remote']);
    // Usage: one request per copy, no byte in or out.
    expect(await usageOf(tg, 'remote')).toEqual({ ...usageBefore, apiRequests: usageBefore.apiRequests + 3 });

    // Bytes, ETag and headers read back from the metadata, as for a streamed copy.
    const one = await read(s3, 'other', 'dst/cöpy one.bin');
    expect(one.bytes.equals(src)).toBe(true);
    expect(one).toMatchObject({ etag: `"${md5(src)}"`, contentType: 'application/x-test', metadata: { origin: 'src' }, cacheControl: 'max-age=9' });
    const two = await read(s3, 'bkt', 'replaced.bin');
    expect(two.bytes.equals(src)).toBe(true);
    expect(two).toMatchObject({ etag: `"${md5(src)}"`, contentType: 'text/plain', metadata: { fresh: 'yes' } });
    expect(two.cacheControl).toBeUndefined();
    expect((await read(s3, 'other', 'conditional')).bytes.equals(src)).toBe(true);
    expect((await read(s3, 'bkt', srcKey)).bytes.equals(src)).toBe(true);

    // The quota holds each copy once; the replaced version waits for deletion; nothing in flight.
    const quota = await tg.store.quota.totals();
    expect(quota.find((q) => q.backendName === 'remote')).toMatchObject({ bytesUsed: 4 * src.length, orphanBytes: 0 });
    expect(quota.find((q) => q.backendName === 'local')).toMatchObject({ bytesUsed: 0, orphanBytes: 'old bytes'.length });
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`the source's backend without room for the copy: it goes where the placement puts it, streamed [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig());
    const src = randomBytes(200 * KiB + 3);
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'remote', bytesLimit: src.length + 100 * KiB, s3: server.backendConfig(), client: remote },
        { name: 'local', bytesLimit: 0 },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    expect(await backendsOf(tg, 'bkt/src.bin')).toEqual(['remote']);
    const before = remote.counts();
    const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'dst.bin', CopySource: copySource('bkt', 'src.bin') }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    expect(await backendsOf(tg, 'bkt/dst.bin')).toEqual(['local']);
    // Not asked to copy; the bytes were read from it once.
    expect(remote.counts()).toEqual({ ...before, gets: before.gets + 1, getBytes: before.getBytes + src.length });
    expect((await read(s3, 'bkt', 'dst.bin')).bytes.equals(src)).toBe(true);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`a source on a directory backend streams as before [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig());
    // spread: the source goes to "local" (the first of two empty backends), the copy to "remote".
    const tg = await startTestGateway(engine, {
      placement: 'spread',
      backends: [
        { name: 'local', bytesLimit: 0 },
        { name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    const src = randomBytes(100 * KiB + 1);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    expect(await backendsOf(tg, 'bkt/src.bin')).toEqual(['local']);
    const before = remote.counts();
    const usageBefore = await usageOf(tg, 'remote');
    const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'dst.bin', CopySource: copySource('bkt', 'src.bin') }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    expect(await backendsOf(tg, 'bkt/dst.bin')).toEqual(['remote']);
    expect(remote.counts()).toEqual({ ...before, puts: before.puts + 1 });
    expect(await usageOf(tg, 'remote')).toEqual({ ...usageBefore, apiRequests: usageBefore.apiRequests + 1, ingressBytes: usageBefore.ingressBytes + src.length });
    expect((await read(s3, 'bkt', 'dst.bin')).bytes.equals(src)).toBe(true);
    await expectLedgerConsistent(tg.store);
  });

  it(`a service without CopyObject (501): the copy streams through the gateway, asked once per backend [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig(), NoCopyObjectS3Backend);
    const tg = await startTestGateway(engine, { backends: [{ name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote }], buckets: ['bkt'] });
    const s3 = tg.client();
    const src = randomBytes(150 * KiB + 5);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src, Metadata: { k: 'v' } }));
    const before = remote.counts();
    for (const key of ['one.bin', 'two.bin']) {
      const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: key, CopySource: copySource('bkt', 'src.bin') }));
      expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    }
    // Asked once; the answer is remembered, so the second copy streamed without asking.
    expect(remote.copyObjects).toEqual(['unsupported']);
    expect(remote.counts()).toEqual({ ...before, gets: before.gets + 2, getBytes: before.getBytes + 2 * src.length, puts: before.puts + 2, copyObjects: 1 });
    // A 501 is an answer, not a failing backend.
    expect(tg.gateway.deps.router.states().remote).toBe('closed');
    for (const key of ['one.bin', 'two.bin']) {
      const got = await read(s3, 'bkt', key);
      expect(got.bytes.equals(src)).toBe(true);
      expect(got).toMatchObject({ etag: `"${md5(src)}"`, metadata: { k: 'v' } });
    }
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`a multipart source is streamed (its copy's ETag is the MD5 of the bytes, which only streaming computes) [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig());
    const tg = await startTestGateway(engine, { backends: [{ name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote }], buckets: ['bkt'] });
    const s3 = tg.client();
    const src = randomBytes(64 * KiB + 9);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'src.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'bkt', Key: 'src.bin', UploadId: created.UploadId, PartNumber: 1, Body: src }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: 'bkt', Key: 'src.bin', UploadId: created.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    expect(done.ETag).toMatch(/-1"$/);
    const before = remote.counts();
    const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'dst.bin', CopySource: copySource('bkt', 'src.bin') }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    expect(remote.counts()).toEqual({ ...before, gets: before.gets + 1, getBytes: before.getBytes + src.length, puts: before.puts + 1, copyObjects: 0 });
    expect((await read(s3, 'bkt', 'dst.bin')).bytes.equals(src)).toBe(true);
    await expectLedgerConsistent(tg.store);
  });

  it(`a copy whose ETag is not the source's MD5, or a source the service cannot find, is streamed into the same write instead [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig(), OddEtagS3Backend);
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote },
        { name: 'local', bytesLimit: 0 },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    const src = randomBytes(80 * KiB + 1);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    const before = remote.counts();
    const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'dst.bin', CopySource: copySource('bkt', 'src.bin') }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    // Asked, then streamed over what it made, on the same backend (the write admitted there).
    expect(remote.counts()).toEqual({ ...before, gets: before.gets + 1, getBytes: before.getBytes + src.length, puts: before.puts + 1, copyObjects: 1 });
    expect(await backendsOf(tg, 'bkt/dst.bin')).toEqual(['remote']);
    expect((await read(s3, 'bkt', 'dst.bin')).bytes.equals(src)).toBe(true);

    // s3rver decodes CopySource with decodeURI, which keeps `%2B`: it answers NoSuchKey for a key
    // with a `+`. That is no failing backend: the bytes stream into the same write.
    const plusKey = 'a+b.bin';
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: plusKey, Body: src }));
    const beforePlus = remote.counts();
    const plus = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'plus-copy.bin', CopySource: copySource('bkt', plusKey) }));
    expect(plus.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    expect(remote.copyObjects.at(-1)).toBe('error');
    expect(remote.counts()).toEqual({ ...beforePlus, gets: beforePlus.gets + 1, getBytes: beforePlus.getBytes + src.length, puts: beforePlus.puts + 1, copyObjects: beforePlus.copyObjects + 1 });
    expect(await backendsOf(tg, 'bkt/plus-copy.bin')).toEqual(['remote']);
    expect((await read(s3, 'bkt', 'plus-copy.bin')).bytes.equals(src)).toBe(true);
    expect(tg.gateway.deps.router.states().remote).toBe('closed');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`a backend failing the copy: the write admitted there is aborted (its key queued for cleanup) and the copy streams to another backend [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const remote = s3Backend('remote', server.backendConfig(), FailingCopyObjectS3Backend);
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: remote },
        { name: 'local', bytesLimit: 0 },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    const src = randomBytes(50 * KiB + 11);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    const before = remote.counts();
    const out = await s3.send(new CopyObjectCommand({ Bucket: 'bkt', Key: 'dst.bin', CopySource: copySource('bkt', 'src.bin') }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(src)}"`);
    // pack would have put it on "remote" again: the failed backend is not offered the streamed copy.
    expect(await backendsOf(tg, 'bkt/dst.bin')).toEqual(['local']);
    expect(remote.counts()).toEqual({ ...before, gets: before.gets + 1, getBytes: before.getBytes + src.length, puts: before.puts, copyObjects: 1 });
    expect((await read(s3, 'bkt', 'dst.bin')).bytes.equals(src)).toBe(true);
    const queued = await tg.store.cleanup.list({ backendName: 'remote' });
    expect(queued.map((t) => t.storageKey)).toEqual([expect.stringMatching(/^bkt\/dst\.bin!/)]);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });
});
