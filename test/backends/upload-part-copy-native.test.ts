import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import type { ByteRange, MultipartHandle } from '../../src/backends/backend-client.js';
import type { S3BackendConfig } from '../../src/config/types.js';
import { describeEngines } from '../support/engines.js';
import { closeGateways, s3BackendConfigOf, startTestGateway, type TestGateway } from '../support/gateway.js';
import { closeS3rvers, startS3rver } from '../support/s3rver.js';
import { expectLedgerConsistent } from '../support/store.js';
import { CountingS3Backend } from '../support/counting-s3-backend.js';

afterEach(async () => {
  await closeGateways();
  await closeS3rvers();
});

const MiB = 1024 * 1024;

/** A backend whose copied parts come back with ETags that are not the MD5 of their bytes. */
class OddEtagS3Backend extends CountingS3Backend {
  readonly etags: string[] = [];
  override async copyPart(upload: MultipartHandle, partNumber: number, source: { readonly storageKey: string; readonly range?: ByteRange }): Promise<{ etag: string } | 'unsupported'> {
    const answer = await super.copyPart(upload, partNumber, source);
    const etag = this.etags.shift();
    return answer === 'unsupported' || etag === undefined ? answer : { etag };
  }
}

function counting(name: string, s3: S3BackendConfig): CountingS3Backend {
  return new CountingS3Backend(name, s3);
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

function compositeEtag(parts: Buffer[]): string {
  return `"${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))}-${parts.length}"`;
}

async function body(s3: S3Client, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function failure(p: Promise<unknown>): Promise<{ name?: string; status?: number }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return { name: err?.name, status: err?.$metadata?.httpStatusCode };
}

/** The `x-amz-copy-source` of an object of bucket "bkt" (the key percent-encoded, as S3 wants it). */
function copySource(key: string): string {
  return `bkt/${encodeURIComponent(key)}`;
}

/** Completes `uploadId` with the parts' ETags in order; answers the object's ETag. */
async function complete(s3: S3Client, key: string, uploadId: string, etags: string[]): Promise<string> {
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: 'bkt', Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  return done.ETag!;
}

/** How many UploadPartCopy requests a gateway answered with `status`, from its own metrics. */
async function answered(tg: TestGateway, operation: string, status: number): Promise<number> {
  const { body: text } = await tg.gateway.metrics.text();
  const line = text.split('\n').find((l) => l.startsWith('s3o_requests_total{') && l.includes(`operation="${operation}"`) && l.includes(`status="${status}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describeEngines('UploadPartCopy on an s3 backend', (engine) => {
  it(`a source on the upload's backend is copied by the backend (UploadPartCopy): whole and a range, no byte through the gateway [${engine}]`, async () => {
    // The backend is a second gateway used as an S3 service: it implements UploadPartCopy.
    const inner = await startTestGateway('sqlite', { buckets: ['inner-bytes'], directoryOnly: true });
    const s3config = s3BackendConfigOf(inner, 'inner-bytes');
    const backend = counting('remote', s3config);
    const tg = await startTestGateway(engine, { backends: [{ name: 'remote', bytesLimit: 0, s3: s3config, client: backend }], buckets: ['bkt'] });
    const s3 = tg.client();
    // A key with characters CopySource must escape (its storage key has them too).
    const srcKey = 'src/ob j+ü#1';
    const src = randomBytes(6 * MiB + 17);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: srcKey, Body: src }));
    expect((await tg.store.objects.lookup(`bkt/${srcKey}`)).map((c) => c.backendName)).toEqual(['remote']);

    const before = backend.counts();
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'dst/joined.bin' }));
    const uploadId = created.UploadId!;
    const whole = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst/joined.bin', UploadId: uploadId, PartNumber: 1, CopySource: copySource(srcKey) }));
    expect(whole.CopyPartResult?.ETag).toBe(`"${md5(src)}"`);
    const slice = src.subarray(1000, 1000 + 3 * MiB + 5);
    const ranged = await s3.send(
      new UploadPartCopyCommand({
        Bucket: 'bkt',
        Key: 'dst/joined.bin',
        UploadId: uploadId,
        PartNumber: 2,
        CopySource: copySource(srcKey),
        CopySourceRange: `bytes=1000-${1000 + slice.length - 1}`,
      }),
    );
    expect(ranged.CopyPartResult?.ETag).toBe(`"${md5(slice)}"`);

    // The backend copied both parts itself: not a byte was read or streamed through this gateway.
    expect(backend.counts()).toEqual({ ...before, copyParts: before.copyParts + 2 });
    expect(backend.copyParts).toEqual(['etag', 'etag']);
    expect(await answered(inner, 'UploadPartCopy', 200)).toBe(2);
    // The parts are recorded as a streamed copy records them: sizes and MD5 ETags.
    const listed = await s3.send(new ListPartsCommand({ Bucket: 'bkt', Key: 'dst/joined.bin', UploadId: uploadId }));
    expect(listed.Parts!.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, src.length, `"${md5(src)}"`],
      [2, slice.length, `"${md5(slice)}"`],
    ]);

    // The source conditions and the range are still checked, before the backend is asked anything.
    const copies = backend.copyParts.length;
    expect(
      await failure(s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst/joined.bin', UploadId: uploadId, PartNumber: 3, CopySource: copySource(srcKey), CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }))),
    ).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect(
      await failure(s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst/joined.bin', UploadId: uploadId, PartNumber: 3, CopySource: copySource(srcKey), CopySourceRange: `bytes=0-${src.length}` }))),
    ).toMatchObject({ name: 'InvalidRange', status: 416 });
    expect(backend.copyParts).toHaveLength(copies);

    // Completion sends the backend the ETags it gave the parts; the object reads back whole.
    const etag = await complete(s3, 'dst/joined.bin', uploadId, [whole.CopyPartResult!.ETag!, ranged.CopyPartResult!.ETag!]);
    const joined = Buffer.concat([src, slice]);
    expect(etag).toBe(compositeEtag([src, slice]));
    expect((await body(s3, 'dst/joined.bin')).equals(joined)).toBe(true);

    // A source that is itself a multipart object on the backend: copied there too, its part's ETag
    // the MD5 of the bytes (the service's answer; the source's composite ETag says nothing of it).
    const again = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'dst/again.bin' }));
    const fromMultipart = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst/again.bin', UploadId: again.UploadId, PartNumber: 1, CopySource: copySource('dst/joined.bin') }));
    expect(fromMultipart.CopyPartResult?.ETag).toBe(`"${md5(joined)}"`);
    expect(backend.copyParts).toEqual(['etag', 'etag', 'etag']);
    expect(await complete(s3, 'dst/again.bin', again.UploadId!, [fromMultipart.CopyPartResult!.ETag!])).toBe(compositeEtag([joined]));
    expect((await body(s3, 'dst/again.bin')).equals(joined)).toBe(true);

    // Only the GETs above read bytes through this gateway.
    expect(backend.getBytes - before.getBytes).toBe(2 * joined.length);
    expect(backend.putParts).toBe(before.putParts);
    const quota = (await tg.store.quota.totals()).find((q) => q.backendName === 'remote')!;
    expect(quota.bytesUsed).toBe(src.length + 2 * joined.length);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`a copied part whose ETag cannot be the MD5 of its bytes is streamed instead, replacing it on the backend [${engine}]`, async () => {
    const inner = await startTestGateway('sqlite', { buckets: ['inner-bytes'], directoryOnly: true });
    const s3config = s3BackendConfigOf(inner, 'inner-bytes');
    const backend = new OddEtagS3Backend('remote', s3config);
    const tg = await startTestGateway(engine, { backends: [{ name: 'remote', bytesLimit: 0, s3: s3config, client: backend }], buckets: ['bkt'] });
    const s3 = tg.client();
    const src = randomBytes(5 * MiB + 9);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    const before = backend.counts();
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'dst.bin' }));
    const uploadId = created.UploadId!;
    // Whole single-part source: an MD5-formed ETag that is not the source's. A range: not an MD5 at all.
    backend.etags.push(`"${'f'.repeat(32)}"`, '"0123456789abcdef0123456789abcdef-2"');
    const whole = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst.bin', UploadId: uploadId, PartNumber: 1, CopySource: copySource('src.bin') }));
    const slice = src.subarray(100, 200);
    const ranged = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst.bin', UploadId: uploadId, PartNumber: 2, CopySource: copySource('src.bin'), CopySourceRange: 'bytes=100-199' }));
    expect([whole.CopyPartResult?.ETag, ranged.CopyPartResult?.ETag]).toEqual([`"${md5(src)}"`, `"${md5(slice)}"`]);
    expect(backend.counts()).toEqual({ ...before, gets: before.gets + 2, getBytes: before.getBytes + src.length + slice.length, putParts: before.putParts + 2, copyParts: 2 });
    // The streamed parts replaced the copied ones: the backend accepts their MD5s at completion.
    expect(await complete(s3, 'dst.bin', uploadId, [whole.CopyPartResult!.ETag!, ranged.CopyPartResult!.ETag!])).toBe(compositeEtag([src, slice]));
    expect((await body(s3, 'dst.bin')).equals(Buffer.concat([src, slice]))).toBe(true);
    await expectLedgerConsistent(tg.store);
  });

  it(`a service without UploadPartCopy (s3rver: 501): the copy streams through the gateway, asked once per backend [${engine}]`, async () => {
    const server = await startS3rver({ bucket: 'copy-bytes' });
    const backend = counting('remote', server.backendConfig());
    const tg = await startTestGateway(engine, { backends: [{ name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: backend }], buckets: ['bkt'] });
    const s3 = tg.client();
    const src = randomBytes(5 * MiB + 333);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));

    const before = backend.counts();
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'dst.bin' }));
    const uploadId = created.UploadId!;
    const whole = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst.bin', UploadId: uploadId, PartNumber: 1, CopySource: copySource('src.bin') }));
    expect(whole.CopyPartResult?.ETag).toBe(`"${md5(src)}"`);
    const slice = src.subarray(7, 7 + 4096);
    const ranged = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst.bin', UploadId: uploadId, PartNumber: 2, CopySource: copySource('src.bin'), CopySourceRange: 'bytes=7-4102' }));
    expect(ranged.CopyPartResult?.ETag).toBe(`"${md5(slice)}"`);

    // Asked once; the 501 is remembered, so the second copy streamed without asking.
    expect(backend.copyParts).toEqual(['unsupported']);
    expect(backend.counts()).toEqual({ ...before, gets: before.gets + 2, getBytes: before.getBytes + src.length + slice.length, putParts: before.putParts + 2, copyParts: 1 });
    // A 501 is an answer, not a failing backend.
    expect(tg.gateway.deps.router.states().remote).toBe('closed');

    expect(await complete(s3, 'dst.bin', uploadId, [whole.CopyPartResult!.ETag!, ranged.CopyPartResult!.ETag!])).toBe(compositeEtag([src, slice]));
    expect((await body(s3, 'dst.bin')).equals(Buffer.concat([src, slice]))).toBe(true);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it(`a source on another backend than the upload streams from it, even when both backends copy parts [${engine}]`, async () => {
    const inner = await startTestGateway('sqlite', { buckets: ['inner-a', 'inner-b'], directoryOnly: true });
    const configA = s3BackendConfigOf(inner, 'inner-a');
    const configB = s3BackendConfigOf(inner, 'inner-b');
    const a = counting('a', configA);
    const b = counting('b', configB);
    // spread: the source goes to the first of two empty backends, the upload to the emptier one.
    const tg = await startTestGateway(engine, {
      placement: 'spread',
      backends: [
        { name: 'a', bytesLimit: 0, s3: configA, client: a },
        { name: 'b', bytesLimit: 0, s3: configB, client: b },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    const src = randomBytes(5 * MiB + 1);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'src.bin', Body: src }));
    expect((await tg.store.objects.lookup('bkt/src.bin')).map((c) => c.backendName)).toEqual(['a']);

    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'dst.bin' }));
    expect((await tg.store.multipart.getUpload(created.UploadId!)).backendName).toBe('b');
    const beforeA = a.counts();
    const beforeB = b.counts();
    const part = await s3.send(new UploadPartCopyCommand({ Bucket: 'bkt', Key: 'dst.bin', UploadId: created.UploadId, PartNumber: 1, CopySource: copySource('src.bin') }));
    expect(part.CopyPartResult?.ETag).toBe(`"${md5(src)}"`);
    // Read from a, streamed into b; neither was asked to copy.
    expect(a.counts()).toEqual({ ...beforeA, gets: beforeA.gets + 1, getBytes: beforeA.getBytes + src.length });
    expect(b.counts()).toEqual({ ...beforeB, putParts: beforeB.putParts + 1 });
    expect(await answered(inner, 'UploadPartCopy', 200)).toBe(0);

    expect(await complete(s3, 'dst.bin', created.UploadId!, [part.CopyPartResult!.ETag!])).toBe(compositeEtag([src]));
    expect((await body(s3, 'dst.bin')).equals(src)).toBe(true);
    await expectLedgerConsistent(tg.store);
  });
});
