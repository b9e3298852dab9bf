import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import type { ObjectCopy } from '../../src/store/core/types.js';
import { describeEngines } from '../support/engines.js';
import { closeGateways, s3BackendConfigOf, startTestGateway, type TestGateway } from '../support/gateway.js';
import { closeS3rvers, startS3rver, type S3rver } from '../support/s3rver.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(async () => {
  await closeGateways();
  await closeS3rvers();
});

const MiB = 1024 * 1024;
const KINDS = ['s3rver', 'gateway', 'dir'] as const;

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

async function body(s3: S3Client, bucket: string, key: string, range?: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function statusOf(p: Promise<unknown>): Promise<{ name?: string; status?: number }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return { name: err?.name, status: err?.$metadata?.httpStatusCode };
}

/**
 * The bytes of a copy as its backend holds them, read behind the gateway's back: straight from the
 * s3rver process, from the inner gateway's bucket, or from the directory backend's files.
 */
async function rawBytes(copy: ObjectCopy, s3rver: S3rver, inner: TestGateway, outer: TestGateway): Promise<Buffer> {
  if (copy.backendName === 's3rver') return body(s3rver.client(), s3rver.bucket, copy.storageKey);
  if (copy.backendName === 'gateway') return body(inner.client(), 'inner-bytes', copy.storageKey);
  // The directory backend: the key's file below the root (its layout is the backend's own business,
  // so read it through the backend client, but also check a file is really there).
  const root = outer.config.backends.find((b) => b.name === 'dir')!.directory!;
  expect(existsSync(root)).toBe(true);
  const stream = await outer.backends.get('dir')!.get(copy.storageKey);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describeEngines('a gateway over an s3rver, a second gateway and a directory (spread)', (engine) => {
  it(`the protocol round: every backend kind holds objects, bytes equal end to end, the ledger consistent [${engine}]`, async () => {
    const s3rver = await startS3rver({ bucket: 'mixed-bytes' });
    const inner = await startTestGateway('sqlite', { buckets: ['inner-bytes'] });
    const tg = await startTestGateway(engine, {
      placement: 'spread',
      backends: [
        { name: 's3rver', bytesLimit: 64 * MiB, s3: s3rver.backendConfig() },
        { name: 'gateway', bytesLimit: 64 * MiB, s3: s3BackendConfigOf(inner, 'inner-bytes') },
        { name: 'dir', bytesLimit: 64 * MiB },
      ],
    });
    const s3 = tg.client();
    const expected = new Map<string, Buffer>(); // "bucket/key" -> bytes

    // Buckets.
    await s3.send(new CreateBucketCommand({ Bucket: 'mx-a' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'mx-b' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'mx-gone' }));
    await s3.send(new HeadBucketCommand({ Bucket: 'mx-gone' }));
    expect((await s3.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name).sort()).toEqual(['mx-a', 'mx-b', 'mx-gone']);
    await s3.send(new DeleteBucketCommand({ Bucket: 'mx-gone' }));
    expect(await statusOf(s3.send(new HeadBucketCommand({ Bucket: 'mx-gone' })))).toMatchObject({ status: 404 });

    // Small and 6 MiB objects: put, get, head, range.
    const put = async (bucket: string, key: string, bytes: Buffer, extra: { ContentType?: string; Metadata?: Record<string, string> } = {}) => {
      const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ...extra }));
      expect(res.ETag).toBe(`"${md5(bytes)}"`);
      expected.set(`${bucket}/${key}`, bytes);
    };
    for (let i = 0; i < 6; i++) await put('mx-a', `small/${i}.txt`, randomBytes(1000 + i), { ContentType: 'text/x-small', Metadata: { i: String(i) } });
    const big1 = randomBytes(6 * MiB);
    const big2 = randomBytes(6 * MiB + 123);
    await put('mx-a', 'big/one.bin', big1);
    await put('mx-b', 'big/two.bin', big2);
    for (const [bk, bytes] of expected) {
      const [bucket, ...rest] = bk.split('/');
      const key = rest.join('/');
      expect((await body(s3, bucket!, key)).equals(bytes), bk).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(bytes.length);
      expect(head.ETag).toBe(`"${md5(bytes)}"`);
    }
    const small3 = await s3.send(new GetObjectCommand({ Bucket: 'mx-a', Key: 'small/3.txt' }));
    expect(small3.ContentType).toBe('text/x-small');
    expect(small3.Metadata).toEqual({ i: '3' });
    await small3.Body!.transformToByteArray();
    expect((await body(s3, 'mx-a', 'big/one.bin', `bytes=${3 * MiB - 7}-${3 * MiB + 9}`)).equals(big1.subarray(3 * MiB - 7, 3 * MiB + 10))).toBe(true);
    expect((await body(s3, 'mx-b', 'big/two.bin', 'bytes=-100')).equals(big2.subarray(big2.length - 100))).toBe(true);

    // Copy across buckets.
    await s3.send(new CopyObjectCommand({ Bucket: 'mx-b', Key: 'copied/one.bin', CopySource: 'mx-a/big/one.bin' }));
    expected.set('mx-b/copied/one.bin', big1);
    expect((await body(s3, 'mx-b', 'copied/one.bin')).equals(big1)).toBe(true);
    await s3.send(new CopyObjectCommand({ Bucket: 'mx-b', Key: 'copied/small-2.txt', CopySource: 'mx-a/small/2.txt' }));
    expected.set('mx-b/copied/small-2.txt', expected.get('mx-a/small/2.txt')!);
    expect(await statusOf(s3.send(new CopyObjectCommand({ Bucket: 'mx-b', Key: 'x', CopySource: 'mx-a/no-such-key' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });

    // Two 3-part multipart uploads: spread pins them to different backends, at least one of them an
    // s3 backend (a native upload there); on the directory backend parts are files.
    const multipartOn: string[] = [];
    for (const key of ['multi/three.bin', 'multi/again.bin']) {
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1021)];
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mx-a', Key: key, ContentType: 'application/x-three' }));
      multipartOn.push((await tg.store.multipart.getUpload(created.UploadId!)).backendName);
      const etags: string[] = [];
      for (const [i, p] of parts.entries()) {
        const res = await s3.send(new UploadPartCommand({ Bucket: 'mx-a', Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: p }));
        expect(res.ETag).toBe(`"${md5(p)}"`);
        etags.push(res.ETag!);
      }
      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'mx-a',
          Key: key,
          UploadId: created.UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      expect(done.ETag).toBe(`"${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))}-3"`);
      const whole = Buffer.concat(parts);
      expected.set(`mx-a/${key}`, whole);
      expect((await body(s3, 'mx-a', key)).equals(whole)).toBe(true);
      expect((await body(s3, 'mx-a', key, `bytes=${5 * MiB - 2}-${10 * MiB + 1}`)).equals(whole.subarray(5 * MiB - 2, 10 * MiB + 2))).toBe(true);
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'mx-a', Key: key }))).ContentType).toBe('application/x-three');
    }
    expect(new Set(multipartOn).size, multipartOn.join()).toBe(2);
    expect(multipartOn.some((b) => b !== 'dir'), multipartOn.join()).toBe(true);

    // Placement: spread put objects on every backend kind, and each backend holds the very bytes.
    const placed = new Map<string, string>();
    for (const [bk, bytes] of expected) {
      const copies = await tg.store.objects.lookup(bk);
      expect(copies, bk).toHaveLength(1);
      placed.set(bk, copies[0]!.backendName);
      expect((await rawBytes(copies[0]!, s3rver, inner, tg)).equals(bytes), `${bk} as ${copies[0]!.backendName} holds it`).toBe(true);
    }
    expect(new Set(placed.values()), JSON.stringify(Object.fromEntries(placed))).toEqual(new Set(KINDS));

    // ListObjectsV2, paged by 2.
    const listed: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'mx-a', MaxKeys: 2, ...(token ? { ContinuationToken: token } : {}) }));
      listed.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    const inA = [...expected.keys()].filter((k) => k.startsWith('mx-a/')).map((k) => k.slice('mx-a/'.length)).sort();
    expect(listed).toEqual(inA);
    expect(pages).toBe(Math.ceil(inA.length / 2));
    const delimited = await s3.send(new ListObjectsV2Command({ Bucket: 'mx-a', Delimiter: '/' }));
    expect((delimited.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['big/', 'multi/', 'small/']);

    // Delete one, then DeleteObjects the rest of mx-a's small ones (and a key that never existed).
    const storageKeyOf = async (bk: string) => (await tg.store.objects.lookup(bk))[0]!;
    const deletedCopies = [await storageKeyOf('mx-a/small/0.txt'), await storageKeyOf('mx-a/small/1.txt'), await storageKeyOf('mx-a/small/2.txt')];
    await s3.send(new DeleteObjectCommand({ Bucket: 'mx-a', Key: 'small/0.txt' }));
    expect(await statusOf(s3.send(new HeadObjectCommand({ Bucket: 'mx-a', Key: 'small/0.txt' })))).toMatchObject({ status: 404 });
    const multi = await s3.send(
      new DeleteObjectsCommand({ Bucket: 'mx-a', Delete: { Objects: [{ Key: 'small/1.txt' }, { Key: 'small/2.txt' }, { Key: 'small/never' }] } }),
    );
    expect((multi.Deleted ?? []).map((d) => d.Key).sort()).toEqual(['small/1.txt', 'small/2.txt', 'small/never']);
    expect(multi.Errors ?? []).toEqual([]);
    for (const k of ['small/1.txt', 'small/2.txt']) expect(await statusOf(s3.send(new GetObjectCommand({ Bucket: 'mx-a', Key: k })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    // The copy of small/2 in mx-b is its own object: still there.
    expect((await body(s3, 'mx-b', 'copied/small-2.txt')).equals(expected.get('mx-a/small/2.txt')!)).toBe(true);
    // The deleted versions' bytes wait in the cleanup queue, each on its own backend.
    const queued = (await tg.store.cleanup.list()).map((t) => `${t.backendName}:${t.storageKey}`);
    for (const c of deletedCopies) expect(queued).toContain(`${c.backendName}:${c.storageKey}`);

    // A non-empty bucket refuses deletion; an emptied one goes.
    expect(await statusOf(s3.send(new DeleteBucketCommand({ Bucket: 'mx-b' })))).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
    const rest = await s3.send(new ListObjectsV2Command({ Bucket: 'mx-b' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: 'mx-b', Delete: { Objects: rest.Contents!.map((c) => ({ Key: c.Key! })) } }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'mx-b' }));

    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
    await expectLedgerConsistent(inner.store);
  }, 120_000);
});
