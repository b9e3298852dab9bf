import type { MultipartHandle } from '../../backends/backend-client.js';
import type { MultipartUpload, WriteIntent } from '../../store/core/types.js';
import { InvalidArgumentError, NotFoundError } from '../../store/core/errors.js';
import { writePinned } from '../backend-io.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { metadataFromRequest } from '../object-metadata.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXmlBody } from '../xml.js';
import { encodeKey, owner } from './listing.js';

const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_BYTES = 5 * 1024 ** 3;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function createMultipartUpload(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const { contentType, userMetadata } = metadataFromRequest(ctx.req.headers);
  const upload = await ctx.deps.store.multipart.createUpload({ objectKey: ctx.objectKey, contentType, userMetadata, candidates: ctx.deps.router.writeCandidates() });
  // The directory backend needs no backend-side upload ('' id); S3 backends open a native one here,
  // and its id is recorded for the parts, the completion and the abort.
  let backendUploadId = '';
  try {
    backendUploadId = await ctx.deps.router.call(upload.backendName, (backend) => backend.createMultipart(upload.storageKey));
    if (backendUploadId !== '') await ctx.deps.store.multipart.recordBackendUpload(upload.uploadId, backendUploadId);
  } catch (err) {
    const handle = { storageKey: upload.storageKey, backendUploadId };
    if (backendUploadId !== '') await ctx.deps.router.call(upload.backendName, (backend) => backend.abortMultipart(handle)).catch(() => {});
    await ctx.deps.store.multipart.abortUpload(upload.uploadId).catch(() => {});
    throw err;
  }
  sendXml(ctx.res, 200, 'InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: upload.uploadId });
}

/**
 * The upload named by `?uploadId`, which must belong to the URL's bucket and key: a credential
 * scoped to one bucket must not reach another bucket's upload by its id (spec §4, Auth).
 */
export async function uploadOf(ctx: S3Context): Promise<MultipartUpload> {
  const uploadId = ctx.route.query.get('uploadId') ?? '';
  if (!UPLOAD_ID.test(uploadId)) throw new S3Error('NoSuchUpload');
  await ctx.deps.buckets.require(ctx.bucket);
  try {
    const upload = await ctx.deps.store.multipart.getUpload(uploadId);
    if (upload.objectKey !== ctx.objectKey) throw new S3Error('NoSuchUpload');
    return upload;
  } catch (err) {
    if (err instanceof NotFoundError) throw new S3Error('NoSuchUpload', undefined, { cause: err });
    throw err;
  }
}

function partNumberOf(ctx: S3Context): number {
  const text = ctx.route.query.get('partNumber') ?? '';
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { extra: { ArgumentName: 'partNumber', ArgumentValue: text } });
  }
  return Number(text);
}

/** Admits a part of `size` bytes for the URL's upload and part number. */
export async function beginPartFor(ctx: S3Context, size: number, upload: MultipartUpload): Promise<WriteIntent> {
  const partNumber = partNumberOf(ctx);
  if (size > MAX_PART_BYTES) throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: String(size), MaxSizeAllowed: String(MAX_PART_BYTES) } });
  try {
    return await ctx.deps.store.multipart.beginPart({ uploadId: upload.uploadId, partNumber, sizeBytes: size });
  } catch (err) {
    if (err instanceof NotFoundError) throw new S3Error('NoSuchUpload', undefined, { cause: err });
    throw err;
  }
}

export async function uploadPart(ctx: S3Context): Promise<void> {
  const size = ctx.declaredLength();
  const upload = await uploadOf(ctx);
  const intent = await beginPartFor(ctx, size, upload);
  const body = ctx.openBody(size);
  const { part, checksums } = await writePinned(
    ctx.deps,
    intent,
    (backend) => backend.putPart(handleOf(upload), { partNumber: intent.partNumber!, storageKey: intent.storageKey, sizeBytes: size }, body.stream),
    async () => {
      const digest = await body.done;
      try {
        return { part: await ctx.deps.store.multipart.commitPart(intent, { etag: `"${digest.md5Hex}"` }), checksums: digest.checksums };
      } catch (err) {
        if (err instanceof NotFoundError) throw new S3Error('NoSuchUpload', undefined, { cause: err });
        throw err;
      }
    },
    ctx.clientGone,
  );
  const headers: Record<string, string> = { ETag: part.etag };
  for (const [algorithm, value] of Object.entries(checksums)) headers[`x-amz-checksum-${algorithm}`] = value;
  sendEmpty(ctx.res, 200, headers);
}

export async function completeMultipartUpload(ctx: S3Context): Promise<void> {
  const upload = await uploadOf(ctx);
  const doc = parseXmlBody(await ctx.bodyText(), 'CompleteMultipartUpload');
  const listed = Array.isArray(doc.Part) ? (doc.Part as Record<string, unknown>[]) : [];
  if (listed.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
  const requested = listed.map((p) => {
    const n = String(p.PartNumber ?? '').trim();
    const etag = String(p.ETag ?? '').trim();
    if (!/^\d{1,5}$/.test(n) || etag === '') throw new S3Error('MalformedXML', 'Every <Part> needs a <PartNumber> and an <ETag>.');
    return { partNumber: Number(n), etag };
  });
  for (let i = 1; i < requested.length; i++) if (requested[i]!.partNumber <= requested[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');

  // Check the list against the stored parts first, for S3's error codes; the store checks again in
  // its transaction (a part may be replaced meanwhile).
  const stored = new Map<number, { etag: string; sizeBytes: number; storageKey: string }>();
  for (let after = 0; ; ) {
    const page = await ctx.deps.store.multipart.listParts(upload.uploadId, { afterPart: after, maxParts: 1000 });
    for (const p of page.parts) stored.set(p.partNumber, p);
    if (!page.isTruncated || page.parts.length === 0) break;
    after = page.parts.at(-1)!.partNumber;
  }
  const parts = requested.map((r, i) => {
    const p = stored.get(r.partNumber);
    if (!p || p.etag.replaceAll('"', '') !== r.etag.replaceAll('"', '')) throw new S3Error('InvalidPart', undefined, { extra: { PartNumber: String(r.partNumber) } });
    if (i < requested.length - 1 && p.sizeBytes < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', undefined, { extra: { PartNumber: String(r.partNumber), ProposedSize: String(p.sizeBytes), MinSizeAllowed: String(MIN_PART_BYTES) } });
    }
    return p;
  });
  // The backend makes the object out of its parts before the metadata names it.
  await ctx.deps.router.call(upload.backendName, (backend) =>
    backend.completeMultipart(
      handleOf(upload),
      parts.map((p, i) => ({ partNumber: requested[i]!.partNumber, storageKey: p.storageKey, sizeBytes: p.sizeBytes, etag: p.etag })),
    ),
  );
  let result;
  try {
    result = await ctx.deps.store.multipart.completeUpload(upload.uploadId, requested);
  } catch (err) {
    if (err instanceof NotFoundError) throw new S3Error('NoSuchUpload', undefined, { cause: err });
    if (err instanceof InvalidArgumentError) throw new S3Error('InvalidPart', err.message, { cause: err });
    throw err;
  }
  ctx.deps.outage?.rememberWrite(result.copy);
  sendXml(ctx.res, 200, 'CompleteMultipartUploadResult', {
    Location: `/${ctx.bucket}/${encodeURIComponent(ctx.key).replaceAll('%2F', '/')}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: result.copy.etag,
  });
}

export async function abortMultipartUpload(ctx: S3Context): Promise<void> {
  const upload = await uploadOf(ctx);
  const outcome = await ctx.deps.router.call(upload.backendName, (backend) => backend.abortMultipart(handleOf(upload)));
  try {
    const { parts, bytes } = await ctx.deps.store.multipart.abortUpload(upload.uploadId);
    if (outcome === 'unsupported') {
      // Those bytes leave the quota's books here while the service still holds them: say how many.
      ctx.deps.logger.warn(
        { upload: upload.uploadId, backend: upload.backendName, parts, bytes },
        "the backend service cannot abort multipart uploads: this upload's parts stay there, outside the byte quota, until its lifecycle rule removes them",
      );
    }
  } catch (err) {
    if (err instanceof NotFoundError) throw new S3Error('NoSuchUpload', undefined, { cause: err });
    throw err;
  }
  sendEmpty(ctx.res, 204);
}

export async function listParts(ctx: S3Context): Promise<void> {
  const upload = await uploadOf(ctx);
  const maxParts = intParam(ctx, 'max-parts', 1000, 1000);
  const marker = intParam(ctx, 'part-number-marker', 0, 10_000);
  const page = await ctx.deps.store.multipart.listParts(upload.uploadId, { afterPart: marker, maxParts: Math.max(1, maxParts) });
  const parts = maxParts === 0 ? [] : page.parts;
  const o = owner(ctx);
  sendXml(ctx.res, 200, 'ListPartsResult', {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: upload.uploadId,
    Initiator: o,
    Owner: o,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: parts.at(-1)?.partNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: maxParts === 0 ? page.parts.length > 0 : page.isTruncated,
    Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.createdAt, ETag: p.etag, Size: p.sizeBytes })),
  });
}

export async function listMultipartUploads(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const q = ctx.route.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const maxUploads = intParam(ctx, 'max-uploads', 1000, 1000);
  const urlEncoded = encodingOf(ctx);
  const base = `${ctx.bucket}/`;
  const uploads: MultipartUpload[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let nextKey: string | undefined = keyMarker === '' ? undefined : base + keyMarker;
  let nextUploadId: string | undefined = uploadIdMarker === '' ? undefined : uploadIdMarker;
  // A key-marker that is a common prefix (a previous page ended on it) skips every upload under it.
  const markerIsPrefix = delimiter !== '' && keyMarker !== '' && keyMarker.startsWith(prefix) && keyMarker.indexOf(delimiter, prefix.length) === keyMarker.length - delimiter.length;
  let lastEntry: { key: string; uploadId?: string } | undefined;
  // Uploads under a common prefix roll into it; page through the store until the page is full.
  while (uploads.length + prefixes.length < maxUploads) {
    const page = await ctx.deps.store.multipart.listUploads({ prefix: base + prefix, keyMarker: nextKey, uploadIdMarker: nextUploadId, maxUploads: maxUploads - uploads.length - prefixes.length });
    for (const u of page.uploads) {
      const key = u.objectKey.slice(base.length);
      if (markerIsPrefix && key.startsWith(keyMarker)) continue;
      const at = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
      if (at >= 0) {
        const p = key.slice(0, at + delimiter.length);
        if (prefixes.at(-1) !== p) prefixes.push(p);
        lastEntry = { key: p };
      } else {
        uploads.push(u);
        lastEntry = { key, uploadId: u.uploadId };
      }
    }
    truncated = page.isTruncated;
    if (!page.isTruncated) break;
    nextKey = page.nextKeyMarker;
    nextUploadId = page.nextUploadIdMarker;
  }
  const o = owner(ctx);
  // The page may end on a common prefix: the next page starts after it (no upload id then).
  sendXml(ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: ctx.bucket,
    KeyMarker: encodeKey(keyMarker, urlEncoded),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: truncated && lastEntry ? encodeKey(lastEntry.key, urlEncoded) : undefined,
    NextUploadIdMarker: truncated && lastEntry ? lastEntry.uploadId : undefined,
    Delimiter: delimiter === '' ? undefined : encodeKey(delimiter, urlEncoded),
    Prefix: encodeKey(prefix, urlEncoded),
    EncodingType: urlEncoded ? 'url' : undefined,
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    Upload: uploads.map((u) => ({ Key: encodeKey(u.objectKey.slice(base.length), urlEncoded), UploadId: u.uploadId, Initiator: o, Owner: o, StorageClass: 'STANDARD', Initiated: u.createdAt })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: encodeKey(p, urlEncoded) })),
  });
}

/** How the backend names an upload (the directory backend needs no id). */
export function handleOf(upload: MultipartUpload): MultipartHandle {
  return { storageKey: upload.storageKey, backendUploadId: upload.backendUploadId ?? '' };
}

export function intParam(ctx: S3Context, name: string, fallback: number, max: number): number {
  const text = ctx.route.query.get(name);
  if (text === null || text === '') return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { extra: { ArgumentName: name, ArgumentValue: text } });
  return Math.min(Number(text), max);
}

export function encodingOf(ctx: S3Context): boolean {
  const t = ctx.route.query.get('encoding-type');
  if (t === null || t === '') return false;
  if (t.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { extra: { ArgumentName: 'encoding-type', ArgumentValue: t } });
  return true;
}
