import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { ByteRange } from '../../src/backends/backend-client.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { prepareDirectoryRoot } from '../../src/backends/directory-identity.js';
import type { DatabaseConfig } from '../../src/config/types.js';
import { describeEngines, type EngineName } from '../support/engines.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

const MiB = 1024 * 1024;
const BUCKET = 'multipart';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
/** AWS's composite ETag: MD5 of the concatenated binary part MD5s, "-N". */
const compositeEtag = (parts: readonly Buffer[]): string => `"${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))}-${parts.length}"`;

async function setUp(engine: EngineName): Promise<{ tg: TestGateway; s3: S3Client }> {
  const tg = await startTestGateway(engine);
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return { tg, s3 };
}

/** The S3 error a call fails with: HTTP status and code. */
async function failure(call: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode, code: err.name };
    throw err;
  }
  return { status: 200, code: 'no error' };
}

async function getBytes(s3: S3Client, key: string, extra: { Range?: string; PartNumber?: number } = {}) {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ...extra }));
  return { bytes: Buffer.from(await r.Body!.transformToByteArray()), r };
}

/**
 * What the backends hold: every file below a directory backend's objects/ directory, every key of an
 * s3 backend's bucket (the mixed project spreads objects over both kinds), as `backend:entry`.
 */
async function backendFiles(tg: TestGateway): Promise<string[]> {
  const out: string[] = [];
  for (const b of tg.config.backends) {
    if (b.directory === undefined) {
      for (const key of await tg.backends.get(b.name)!.list('')) out.push(`${b.name}:${key}`);
      continue;
    }
    const root = join(b.directory, 'objects');
    const walk = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else out.push(`${b.name}:${relative(root, join(dir, e.name))}`);
      }
    };
    walk(root);
  }
  return out.sort();
}

/**
 * How many entries a completed object of `parts` parts leaves on the backend holding it: a directory
 * backend keeps each part's file and the part list; an s3 backend's native upload is one object.
 */
async function entriesOfCompleted(tg: TestGateway, key: string, parts: number): Promise<number> {
  const [copy] = (await tg.store.objects.head(`${BUCKET}/${key}`)).copies;
  const onDirectory = tg.config.backends.find((b) => b.name === copy!.backendName)!.directory !== undefined;
  return onDirectory ? parts + 1 : 1;
}

/** What the cleanup worker does: delete each queued storage key from its backend, then drop the row. */
async function runCleanup(tg: TestGateway): Promise<number> {
  const tasks = await tg.store.cleanup.list({ limit: 1000 });
  for (const t of tasks) {
    await tg.backends.get(t.backendName)!.delete(t.storageKey);
    expect(await tg.store.cleanup.complete(t.id)).toBe(true);
  }
  return tasks.length;
}

describeEngines('gateway multipart uploads', (engine) => {
  it('create, parts, replace, list, complete errors, complete: composite ETag, bytes, partNumber, ranges, cleanup', async () => {
    const { tg, s3 } = await setUp(engine);
    const key = 'big/obj ü+%.bin';
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ContentType: 'application/x-test', Metadata: { color: 'blue' } }));
    expect(created.Bucket).toBe(BUCKET);
    expect(created.Key).toBe(key);
    const uploadId = created.UploadId!;
    expect(uploadId).toMatch(/^[0-9a-f-]{36}$/);

    const p1 = randomBytes(5 * MiB);
    const p2old = randomBytes(1024);
    const p2 = randomBytes(5 * MiB);
    const p3 = Buffer.from('z');
    const p4 = Buffer.from('unused part');
    const up = (n: number, body: Buffer) => s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: n, Body: body }));
    expect((await up(1, p1)).ETag).toBe(`"${md5(p1)}"`);
    const old2 = await up(2, p2old);
    expect(old2.ETag).toBe(`"${md5(p2old)}"`);
    expect((await up(3, p3)).ETag).toBe(`"${md5(p3)}"`);
    expect((await up(4, p4)).ETag).toBe(`"${md5(p4)}"`);
    // Re-uploading part 2 replaces it.
    expect((await up(2, p2)).ETag).toBe(`"${md5(p2)}"`);

    // ListParts, one part a page, with part-number-marker.
    const listed: { n: number; etag: string; size: number }[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: 1, PartNumberMarker: marker }));
      expect(r.UploadId).toBe(uploadId);
      expect(r.MaxParts).toBe(1);
      expect(r.Parts!.length).toBe(1);
      listed.push(...r.Parts!.map((p) => ({ n: p.PartNumber!, etag: p.ETag!, size: p.Size! })));
      expect(r.IsTruncated).toBe(listed.length < 4);
      if (!r.IsTruncated) break;
      expect(r.NextPartNumberMarker).toBe(String(listed.at(-1)!.n));
      marker = r.NextPartNumberMarker;
    }
    expect(listed).toEqual([
      { n: 1, etag: `"${md5(p1)}"`, size: 5 * MiB },
      { n: 2, etag: `"${md5(p2)}"`, size: 5 * MiB },
      { n: 3, etag: `"${md5(p3)}"`, size: 1 },
      { n: 4, etag: `"${md5(p4)}"`, size: p4.length },
    ]);
    const after2 = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumberMarker: '2' }));
    expect(after2.Parts!.map((p) => p.PartNumber)).toEqual([3, 4]);
    expect(after2.IsTruncated).toBe(false);

    // The replaced part's bytes are queued for cleanup already, or the ledger would drift.
    await expectLedgerConsistent(tg.store);

    const complete = (parts: CompletedPart[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    const e = (n: number, body: Buffer): CompletedPart => ({ PartNumber: n, ETag: `"${md5(body)}"` });
    expect(await failure(complete([e(2, p2), e(1, p1), e(3, p3)]))).toEqual({ status: 400, code: 'InvalidPartOrder' });
    expect(await failure(complete([e(1, p1), e(1, p1), e(3, p3)]))).toEqual({ status: 400, code: 'InvalidPartOrder' });
    expect(await failure(complete([e(1, p1), e(2, p2old), e(3, p3)]))).toEqual({ status: 400, code: 'InvalidPart' });
    expect(await failure(complete([e(1, p1), e(2, p2), e(5, p3)]))).toEqual({ status: 400, code: 'InvalidPart' });
    expect(await failure(complete([e(1, p1), { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }]))).toEqual({ status: 400, code: 'InvalidPart' });
    expect(await failure(complete([e(1, p1), e(2, p2), e(3, p3), e(4, p4)]))).toEqual({ status: 400, code: 'EntityTooSmall' });
    expect(await failure(complete([]))).toEqual({ status: 400, code: 'MalformedXML' });
    // Nothing of that changed the upload.
    expect((await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }))).Parts).toHaveLength(4);
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).toEqual({ status: 404, code: 'NotFound' });

    // Unquoted ETags are accepted, as S3 does.
    const done = await complete([{ PartNumber: 1, ETag: md5(p1) }, e(2, p2), e(3, p3)]);
    const whole = Buffer.concat([p1, p2, p3]);
    expect(done.ETag).toBe(compositeEtag([p1, p2, p3]));
    expect(done.Key).toBe(key);
    expect(done.Bucket).toBe(BUCKET);

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(whole.length);
    expect(head.ETag).toBe(done.ETag);
    expect(head.ContentType).toBe('application/x-test');
    expect(head.Metadata).toEqual({ color: 'blue' });
    const got = await getBytes(s3, key);
    expect(got.bytes.equals(whole)).toBe(true);
    expect(got.r.ETag).toBe(done.ETag);

    // partNumber: each part's bytes, the part count, 206 with the part's range.
    const bounds = [
      [0, p1],
      [p1.length, p2],
      [p1.length + p2.length, p3],
    ] as const;
    for (let n = 1; n <= 3; n++) {
      const [start, body] = bounds[n - 1]!;
      const part = await getBytes(s3, key, { PartNumber: n });
      expect(part.r.$metadata.httpStatusCode).toBe(206);
      expect(part.r.PartsCount).toBe(3);
      expect(part.r.ContentLength).toBe(body.length);
      expect(part.r.ContentRange).toBe(`bytes ${start}-${start + body.length - 1}/${whole.length}`);
      expect(part.bytes.equals(body), `part ${n}`).toBe(true);
    }
    expect(await failure(getBytes(s3, key, { PartNumber: 4 }))).toEqual({ status: 416, code: 'InvalidPartNumber' });
    const headPart = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: 2 }));
    expect(headPart.PartsCount).toBe(3);
    expect(headPart.ContentLength).toBe(p2.length);

    // Ranges across part boundaries.
    for (const [a, b] of [
      [5 * MiB - 10, 5 * MiB + 9],
      [10 * MiB - 2, 10 * MiB],
      [1, 10 * MiB],
    ] as const) {
      const r = await getBytes(s3, key, { Range: `bytes=${a}-${b}` });
      expect(r.r.$metadata.httpStatusCode).toBe(206);
      expect(r.r.ContentRange).toBe(`bytes ${a}-${b}/${whole.length}`);
      expect(r.bytes.equals(whole.subarray(a, b + 1)), `bytes=${a}-${b}`).toBe(true);
    }
    const suffix = await getBytes(s3, key, { Range: 'bytes=-3' });
    expect(suffix.bytes.equals(whole.subarray(whole.length - 3))).toBe(true);

    // The upload is gone; every call on it says so.
    expect(await failure(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })))).toEqual({ status: 404, code: 'NoSuchUpload' });
    expect(await failure(complete([e(1, p1), e(2, p2), e(3, p3)]))).toEqual({ status: 404, code: 'NoSuchUpload' });

    // Ledger exact; the replaced part 2 and the part 4 left out are queued, the used parts are not.
    await expectLedgerConsistent(tg.store);
    const queued = await tg.store.cleanup.list({ limit: 1000 });
    expect(queued.map((t) => t.sizeBytes).sort((a, b) => a - b)).toEqual([p4.length, p2old.length].sort((a, b) => a - b));
    expect(await runCleanup(tg)).toBe(2);
    // Cleaning those up leaves the object whole.
    expect((await getBytes(s3, key)).bytes.equals(whole)).toBe(true);
    const filesOfObject = await backendFiles(tg);
    expect(filesOfObject.length).toBe(await entriesOfCompleted(tg, key, 3));
    await expectLedgerConsistent(tg.store);

    // Overwrite: the completed object's storage key is queued; its cleanup removes every file of it.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'small now' }));
    const displaced = await tg.store.cleanup.list({ limit: 1000 });
    expect(displaced).toHaveLength(1);
    expect(displaced[0]!.sizeBytes).toBe(whole.length);
    await expectLedgerConsistent(tg.store);
    expect(await runCleanup(tg)).toBe(1);
    const left = await backendFiles(tg);
    expect(left).toHaveLength(1);
    for (const f of filesOfObject) expect(left).not.toContain(f);
    expect((await getBytes(s3, key)).bytes.toString()).toBe('small now');
    await expectLedgerConsistent(tg.store);
  });

  it('abort: every later call on the upload is NoSuchUpload, parts queued for cleanup, ledger exact', async () => {
    const { tg, s3 } = await setUp(engine);
    const key = 'aborted/key';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const parts = [randomBytes(1000), randomBytes(2000)];
    for (const [i, body] of parts.entries()) await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    await expectLedgerConsistent(tg.store);
    const aborted = await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(aborted.$metadata.httpStatusCode).toBe(204);

    const noSuch = { status: 404, code: 'NoSuchUpload' };
    expect(await failure(s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId })))).toEqual(noSuch);
    expect(await failure(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId })))).toEqual(noSuch);
    expect(await failure(s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 3, Body: 'late' })))).toEqual(noSuch);
    expect(
      await failure(s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: `"${md5(parts[0]!)}"` }] } }))),
    ).toEqual(noSuch);
    // Unknown ids and an id used under another key are NoSuchUpload too.
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'other' }));
    expect(await failure(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: other.UploadId })))).toEqual(noSuch);
    expect(await failure(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: 'not-an-upload-id' })))).toEqual(noSuch);
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).toEqual({ status: 404, code: 'NotFound' });

    const queued = await tg.store.cleanup.list({ limit: 1000 });
    expect(queued.map((t) => t.sizeBytes).sort((a, b) => a - b)).toEqual([1000, 2000]);
    expect(queued.every((t) => t.objectKey === `${BUCKET}/${key}`)).toBe(true);
    await expectLedgerConsistent(tg.store);
    expect(await runCleanup(tg)).toBe(2);
    expect(await backendFiles(tg)).toEqual([]);
    await expectLedgerConsistent(tg.store);
  });

  it('an object completed from parts and then deleted: its storage key is queued and cleanup leaves no file of it', async () => {
    const { tg, s3 } = await setUp(engine);
    const key = 'to-delete';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const p1 = randomBytes(5 * MiB);
    const p2 = randomBytes(10);
    const e1 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: p1 }));
    const e2 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: p2 }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }),
    );
    expect(done.ETag).toBe(compositeEtag([p1, p2]));
    expect(await tg.store.cleanup.list()).toEqual([]);
    expect((await backendFiles(tg)).length).toBe(await entriesOfCompleted(tg, key, 2));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const queued = await tg.store.cleanup.list();
    expect(queued).toHaveLength(1);
    expect(queued[0]!.sizeBytes).toBe(p1.length + p2.length);
    await expectLedgerConsistent(tg.store);
    expect(await runCleanup(tg)).toBe(1);
    expect(await backendFiles(tg)).toEqual([]);
    await expectLedgerConsistent(tg.store);
  });
});

describe('gateway multipart protocol details [sqlite]', () => {
  it('UploadPartCopy with and without x-amz-copy-source-range; a range past the end is InvalidRange', async () => {
    const { tg, s3 } = await setUp('sqlite');
    const source = randomBytes(5 * MiB + 100);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'src/ob j+', Body: source }));
    const key = 'copied';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const whole = await s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, CopySource: `${BUCKET}/${encodeURIComponent('src/ob j+')}` }));
    expect(whole.CopyPartResult?.ETag).toBe(`"${md5(source)}"`);
    expect(whole.CopyPartResult?.LastModified).toBeInstanceOf(Date);
    const ranged = await s3.send(
      new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, CopySource: `${BUCKET}/${encodeURIComponent('src/ob j+')}`, CopySourceRange: 'bytes=10-109' }),
    );
    expect(ranged.CopyPartResult?.ETag).toBe(`"${md5(source.subarray(10, 110))}"`);
    const last = source.length - 1;
    expect(
      await failure(s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 3, CopySource: `${BUCKET}/src/ob%20j%2B`, CopySourceRange: `bytes=0-${last + 1}` }))),
    ).toEqual({ status: 416, code: 'InvalidRange' });
    expect(
      await failure(s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 3, CopySource: `${BUCKET}/src/ob%20j%2B`, CopySourceRange: `bytes=${last + 1}-${last + 5}` }))),
    ).toEqual({ status: 416, code: 'InvalidRange' });
    expect(
      await failure(s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 3, CopySource: `${BUCKET}/no-such-source` }))),
    ).toEqual({ status: 404, code: 'NoSuchKey' });
    const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(parts.Parts!.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, source.length],
      [2, 100],
    ]);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: whole.CopyPartResult!.ETag }, { PartNumber: 2, ETag: ranged.CopyPartResult!.ETag }] },
      }),
    );
    const expected = Buffer.concat([source, source.subarray(10, 110)]);
    expect(done.ETag).toBe(compositeEtag([source, source.subarray(10, 110)]));
    expect((await getBytes(s3, key)).bytes.equals(expected)).toBe(true);
    await expectLedgerConsistent(tg.store);
  });

  it('ListMultipartUploads: prefix, delimiter, key-marker/upload-id-marker paging, max-uploads', async () => {
    const { tg, s3 } = await setUp('sqlite');
    const keys = ['a/1', 'a/2', 'a/2', 'b/x/1', 'c', 'c', 'c', 'd e+%', 'uni/😀', 'uni/\uE000'];
    const uploads: { key: string; id: string }[] = [];
    for (const key of keys) {
      const r = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      uploads.push({ key, id: r.UploadId! });
    }
    const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

    const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(all.IsTruncated).toBe(false);
    expect(all.MaxUploads).toBe(1000);
    const listedAll = all.Uploads!.map((u) => ({ key: u.Key!, id: u.UploadId! }));
    expect(listedAll.map((u) => u.key)).toEqual([...keys].sort(byteOrder));
    expect(new Set(listedAll.map((u) => u.id))).toEqual(new Set(uploads.map((u) => u.id)));
    for (const u of all.Uploads!) expect(u.Initiated).toBeInstanceOf(Date);

    const underA = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'a/' }));
    expect(underA.Prefix).toBe('a/');
    expect(underA.Uploads!.map((u) => u.Key)).toEqual(['a/1', 'a/2', 'a/2']);

    const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Delimiter: '/' }));
    expect(rolled.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['a/', 'b/', 'uni/']);
    expect(rolled.Uploads!.map((u) => u.Key)).toEqual(['c', 'c', 'c', 'd e+%']);
    const rolledB = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'b/', Delimiter: '/' }));
    expect(rolledB.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['b/x/']);
    expect(rolledB.Uploads ?? []).toEqual([]);

    // One upload a page: every upload exactly once, in the same order as the full listing.
    for (const maxUploads of [1, 3]) {
      const paged: { key: string; id: string }[] = [];
      let keyMarker: string | undefined;
      let idMarker: string | undefined;
      for (let i = 0; i < 50; i++) {
        const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, MaxUploads: maxUploads, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
        expect(r.MaxUploads).toBe(maxUploads);
        paged.push(...(r.Uploads ?? []).map((u) => ({ key: u.Key!, id: u.UploadId! })));
        expect(r.IsTruncated).toBe(paged.length < keys.length);
        if (!r.IsTruncated) break;
        expect(r.Uploads).toHaveLength(maxUploads);
        expect(r.NextKeyMarker).toBe(paged.at(-1)!.key);
        expect(r.NextUploadIdMarker).toBe(paged.at(-1)!.id);
        keyMarker = r.NextKeyMarker;
        idMarker = r.NextUploadIdMarker;
      }
      expect(paged).toEqual(listedAll);
    }
    // A key-marker alone skips every upload of that key.
    const afterC = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, KeyMarker: 'c' }));
    expect(afterC.Uploads!.map((u) => u.Key)).toEqual(['d e+%', 'uni/\uE000', 'uni/😀']);

    // Paging with a delimiter: a page ending on a common prefix is not repeated by the next one.
    const pagedRolled: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (let i = 0; i < 50; i++) {
      const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Delimiter: '/', MaxUploads: 1, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      pagedRolled.push(...(r.CommonPrefixes ?? []).map((p) => `P:${p.Prefix}`), ...(r.Uploads ?? []).map((u) => `U:${u.Key}`));
      if (!r.IsTruncated) break;
      expect(r.NextKeyMarker, `page ${i}`).toBeDefined();
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
    }
    expect(pagedRolled).toEqual(['P:a/', 'P:b/', 'U:c', 'U:c', 'U:c', 'U:d e+%', 'P:uni/']);

    expect(await failure(s3.send(new ListMultipartUploadsCommand({ Bucket: 'no-such-bucket' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
    await expectLedgerConsistent(tg.store);
  });
});

/**
 * A directory backend that cannot tell a multipart object's part boundaries, as an S3-compatible
 * service that ignores HeadObject's PartNumber (s3rver): partRange answers nothing unless `blind` is
 * off. Counts the calls, so a test can show the gateway did not need it.
 */
class PartBlindBackend extends DirectoryBackend {
  blind = true;
  partRangeCalls = 0;

  override async partRange(storageKey: string, partNumber: number): Promise<ByteRange | undefined> {
    this.partRangeCalls++;
    return this.blind ? undefined : super.partRange(storageKey, partNumber);
  }
}

const blindRoots: string[] = [];
afterEach(() => {
  for (const root of blindRoots.splice(0)) rmSync(root, { recursive: true, force: true });
});

async function partBlindGateway(engine: EngineName): Promise<{ tg: TestGateway; s3: S3Client; backend: PartBlindBackend }> {
  const root = mkdtempSync(join(tmpdir(), 's3o-part-blind-'));
  blindRoots.push(root);
  await prepareDirectoryRoot({ backendName: 'local', root, database: 'part-blind test', isNew: true });
  const backend = new PartBlindBackend('local', root);
  const tg = await startTestGateway(engine, { backends: [{ name: 'local', bytesLimit: 0, client: backend }] });
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return { tg, s3, backend };
}

/** Three parts of unequal sizes, completed: the object's bytes and each part's [start, body]. */
async function threePartObject(s3: S3Client, key: string) {
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB + 321), randomBytes(777)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const completed: CompletedPart[] = [];
  for (const [i, body] of parts.entries()) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    completed.push({ PartNumber: i + 1, ETag });
  }
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: completed } }));
  expect(done.ETag).toBe(compositeEtag(parts));
  let start = 0;
  const bounds = parts.map((body) => {
    const b = { start, body };
    start += body.length;
    return b;
  });
  return { whole: Buffer.concat(parts), bounds, etag: done.ETag! };
}

/** Sets a copy row's part_sizes through the engine's own driver, as a row written before migration 0006 looks. */
async function forgetPartSizes(db: DatabaseConfig, objectKey: string): Promise<void> {
  if (db.driver === 'sqlite') {
    const raw = new Sqlite(db.path);
    try {
      raw.prepare('UPDATE object_locations SET part_sizes = NULL WHERE object_key = ?').run(objectKey);
    } finally {
      raw.close();
    }
    return;
  }
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
  await client.connect();
  try {
    await client.query('UPDATE object_locations SET part_sizes = NULL WHERE object_key = $1', [objectKey]);
  } finally {
    await client.end();
  }
}

describeEngines('gateway ?partNumber from the part sizes in the metadata', (engine) => {
  it('HEAD and GET ?partNumber=N answer part N of a 3-part object of unequal parts without asking the backend', async () => {
    const { tg, s3, backend } = await partBlindGateway(engine);
    const key = 'parts/unequal.bin';
    const { whole, bounds, etag } = await threePartObject(s3, key);
    expect((await tg.store.objects.head(`${BUCKET}/${key}`)).partSizes).toEqual([
      [5 * MiB, 1],
      [5 * MiB + 321, 1],
      [777, 1],
    ]);

    for (const [i, { start, body }] of bounds.entries()) {
      const n = i + 1;
      const range = `bytes ${start}-${start + body.length - 1}/${whole.length}`;
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: n }));
      expect(head.$metadata.httpStatusCode, `HEAD part ${n}`).toBe(206);
      expect(head.ContentRange, `HEAD part ${n}`).toBe(range);
      expect(head.ContentLength, `HEAD part ${n}`).toBe(body.length);
      expect(head.PartsCount).toBe(3);
      expect(head.ETag).toBe(etag);
      const got = await getBytes(s3, key, { PartNumber: n });
      expect(got.r.$metadata.httpStatusCode, `GET part ${n}`).toBe(206);
      expect(got.r.ContentRange, `GET part ${n}`).toBe(range);
      expect(got.r.ContentLength, `GET part ${n}`).toBe(body.length);
      expect(got.r.PartsCount).toBe(3);
      expect(got.bytes.equals(body), `GET part ${n} bytes`).toBe(true);
    }
    expect(await failure(getBytes(s3, key, { PartNumber: 4 }))).toEqual({ status: 416, code: 'InvalidPartNumber' });
    expect(backend.partRangeCalls).toBe(0);
  });

  it('?partNumber of an empty last part: 200 with no bytes and no Content-Range (a range of 0 bytes cannot be written)', async () => {
    const { s3 } = await partBlindGateway(engine);
    const key = 'parts/empty-last.bin';
    const first = randomBytes(5 * MiB);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const e1 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: first }));
    const e2 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: Buffer.alloc(0) }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: 2 }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    expect(head.ContentLength).toBe(0);
    expect(head.ContentRange).toBeUndefined();
    expect(head.PartsCount).toBe(2);
    const got = await getBytes(s3, key, { PartNumber: 2 });
    expect(got.bytes.length).toBe(0);
    const one = await getBytes(s3, key, { PartNumber: 1 });
    expect(one.r.ContentRange).toBe(`bytes 0-${first.length - 1}/${first.length}`);
    expect(one.bytes.equals(first)).toBe(true);
  });

  it('a copy of a multipart object (CopyObject) is a single-part object: its part 1 is the whole object', async () => {
    const { tg, s3, backend } = await partBlindGateway(engine);
    const { whole } = await threePartObject(s3, 'parts/source.bin');
    const copied = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'parts/copy.bin', CopySource: `${BUCKET}/parts/source.bin` }));
    // The copy's ETag is the MD5 of its bytes, not a multipart ETag: it has no part sizes either.
    expect(copied.CopyObjectResult!.ETag).toBe(`"${md5(whole)}"`);
    expect('partSizes' in (await tg.store.objects.head(`${BUCKET}/parts/copy.bin`))).toBe(false);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'parts/copy.bin', PartNumber: 1 }));
    expect(head.ContentRange).toBe(`bytes 0-${whole.length - 1}/${whole.length}`);
    expect(head.PartsCount).toBeUndefined();
    expect(await failure(getBytes(s3, 'parts/copy.bin', { PartNumber: 2 }))).toEqual({ status: 416, code: 'InvalidPartNumber' });
    expect(backend.partRangeCalls).toBe(0);
  });

  it('an object whose row has no part sizes (completed before migration 0006) asks the backend; one that cannot tell is 503', async () => {
    const { tg, s3, backend } = await partBlindGateway(engine);
    const key = 'parts/old.bin';
    const { whole, bounds } = await threePartObject(s3, key);
    await forgetPartSizes(tg.config.database, `${BUCKET}/${key}`);
    expect('partSizes' in (await tg.store.objects.head(`${BUCKET}/${key}`))).toBe(false);

    backend.blind = false;
    const { start, body } = bounds[1]!;
    const got = await getBytes(s3, key, { PartNumber: 2 });
    expect(got.r.ContentRange).toBe(`bytes ${start}-${start + body.length - 1}/${whole.length}`);
    expect(got.bytes.equals(body)).toBe(true);
    expect(backend.partRangeCalls).toBe(1);

    backend.blind = true;
    expect(await failure(getBytes(s3, key, { PartNumber: 2 }))).toEqual({ status: 503, code: 'ServiceUnavailable' });
    expect(backend.partRangeCalls).toBe(2);
  });
});
