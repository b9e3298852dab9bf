import { pipeline } from 'node:stream/promises';
import type { ObjectInfo } from '../../store/core/types.js';
import { partByteRange, partCount } from '../../store/core/part-sizes.js';
import { PreconditionFailedError } from '../../store/core/errors.js';
import { openCopy, readCopyWhole, streamOf, writeWithFailover } from '../backend-io.js';
import { checkConditions, parseRange, unquote, type ResolvedRange } from '../conditions.js';
import type { S3Context, VerifiedBody } from '../context.js';
import { readWhole, type WholeBody } from '../body/request-body.js';
import { ReplayableBody } from '../routing/replayable-body.js';
import { S3Error } from '../errors.js';
import { metadataFromRequest, metadataHeaders, RESPONSE_OVERRIDES } from '../object-metadata.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXmlBody } from '../xml.js';

/** S3's limit on one DeleteObjects request. */
const MAX_DELETE_KEYS = 1000;

/** PutObject: admission from the declared length before any body byte is read, then stream, verify, commit. */
export async function putObject(ctx: S3Context): Promise<void> {
  const { store, buckets, config } = ctx.deps;
  await buckets.require(ctx.bucket);
  const size = ctx.declaredLength();
  if (size > config.server.maxObjectBytes) {
    throw new S3Error('EntityTooLarge', undefined, { extra: { ProposedSize: String(size), MaxSizeAllowed: String(config.server.maxObjectBytes) } });
  }
  const { contentType, userMetadata } = metadataFromRequest(ctx.req.headers);
  const condition = await putCondition(ctx);
  // A small body is read and verified whole before the backend sees a byte: a single write, no
  // replay machinery (a quarter of a 4 KiB PUT's own CPU), every failover possible, and a body that
  // fails verification never reaches a backend. A large one streams through its replay window.
  const whole = size <= WHOLE_BODY_BYTES;
  let body: VerifiedBody | undefined;
  let wholeBody: Promise<WholeBody> | undefined;
  let replay: ReplayableBody | undefined;
  const { copy, checksums } = await writeWithFailover(
    ctx.deps,
    {
      begin: async (candidates) => {
        const intent = await store.objects.beginWrite({ objectKey: ctx.objectKey, sizeBytes: size, contentType, userMetadata, candidates });
        // Admitted: only now may a client that sent Expect: 100-continue send its body.
        body ??= ctx.openBody(size);
        if (whole && !wholeBody) {
          wholeBody = readWhole(body);
          // Awaited only in `write`, which a refused backend call never reaches: handled here.
          wholeBody.catch(() => {});
        }
        else replay ??= new ReplayableBody(body.stream);
        return intent;
      },
      write: async (backend, intent) => backend.put(intent.storageKey, whole ? streamOf((await wholeBody!).bytes) : replay!.attempt(), size),
      commit: async (intent) => {
        const digest = await body!.done;
        try {
          const { copy } = await store.objects.commitWrite(intent, { etag: `"${digest.md5Hex}"`, ...(condition ? { condition } : {}) });
          return { copy, checksums: digest.checksums };
        } catch (err) {
          if (err instanceof PreconditionFailedError) throw new S3Error('PreconditionFailed', undefined, { cause: err });
          throw err;
        }
      },
    },
    ctx.clientGone,
    () => whole || (replay?.replayable ?? true),
  );
  ctx.deps.outage?.rememberWrite(copy);
  const headers: Record<string, string> = { ETag: copy.etag };
  for (const [algorithm, value] of Object.entries(checksums)) headers[`x-amz-checksum-${algorithm}`] = value;
  sendEmpty(ctx.res, 200, headers);
}

/**
 * PUT conditionals. Checked once before the body is read (a doomed upload should not send its
 * bytes) and again in the commit transaction under the key's lock (the race-safe check).
 */
async function putCondition(ctx: S3Context): Promise<{ ifNoneMatch: '*' } | { ifMatch: string } | undefined> {
  const ifNoneMatch = ctx.header('if-none-match');
  const ifMatch = ctx.header('if-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a PUT accepts only "*".');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  const current = await ctx.deps.store.objects.lookup(ctx.objectKey);
  if (ifNoneMatch !== undefined) {
    if (current.length > 0) throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: 'If-None-Match' } });
    return { ifNoneMatch: '*' };
  }
  if (current.length === 0) throw new S3Error('NoSuchKey');
  if (unquote(current[0]!.etag) !== unquote(ifMatch!.trim())) throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: 'If-Match' } });
  return { ifMatch: ifMatch!.trim() };
}

/**
 * A GET body up to this size is read whole before the response starts: one write instead of a
 * stream pipeline (half of a 4 KiB GET's CPU went to the pipeline's machinery), and a copy that
 * fails halfway can still be replaced by another. Bounded: at most this much per request in flight.
 * PUT bodies up to the same size are read whole too (putObject).
 */
const WHOLE_BODY_BYTES = 64 * 1024;

/** GetObject and HeadObject share the metadata and condition logic; only GET streams bytes. */
export async function getObject(ctx: S3Context): Promise<void> {
  await readObject(ctx, true);
}

export async function headObject(ctx: S3Context): Promise<void> {
  await readObject(ctx, false);
}

async function readObject(ctx: S3Context, withBody: boolean): Promise<void> {
  const load = async () => {
    await ctx.deps.buckets.require(ctx.bucket);
    return ctx.deps.store.objects.head(ctx.objectKey);
  };
  // Outage mode: while the database is unreachable, a recently seen object the backends confirm.
  const info = ctx.deps.outage ? await ctx.deps.outage.objectInfo(ctx.objectKey, load) : await load();
  checkConditions(
    { ifMatch: ctx.header('if-match'), ifNoneMatch: ctx.header('if-none-match'), ifModifiedSince: ctx.header('if-modified-since'), ifUnmodifiedSince: ctx.header('if-unmodified-since') },
    { etag: info.etag, lastModified: info.createdAt },
  );
  const partNumberText = ctx.route.query.get('partNumber');
  let range: ResolvedRange | undefined;
  /** A 0-byte part (a last part may be empty): no bytes, so no Content-Range to give. */
  let emptyPart = false;
  const headers: Record<string, string | number> = objectHeaders(info);
  if (partNumberText !== null) {
    if (ctx.header('range') !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.');
    const r = await partRange(ctx, info, partNumberText);
    range = r.range && r.range.end >= r.range.start ? r.range : undefined;
    emptyPart = r.range !== undefined && range === undefined;
    if (r.partsCount > 1) headers['x-amz-mp-parts-count'] = r.partsCount;
  } else if (ifRangeHolds(ctx.header('if-range'), info)) {
    range = parseRange(ctx.header('range'), info.sizeBytes);
  }
  for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const value = ctx.route.query.get(param);
    if (value !== null) headers[header] = value;
  }
  const length = range ? range.end - range.start + 1 : emptyPart ? 0 : info.sizeBytes;
  headers['Content-Length'] = length;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.sizeBytes}`;
  const status = range ? 206 : 200;
  if (!withBody || length === 0) {
    ctx.res.writeHead(status, headers);
    ctx.res.end();
    return;
  }
  if (length <= WHOLE_BODY_BYTES) {
    const body = await readCopyWhole(ctx.deps, info.copies, length, range);
    ctx.res.writeHead(status, headers);
    ctx.res.end(body);
    return;
  }
  const { stream } = await openCopy(ctx.deps, info.copies, range);
  ctx.res.writeHead(status, headers);
  await pipeline(stream, ctx.res);
}

function objectHeaders(info: ObjectInfo): Record<string, string | number> {
  return {
    'Content-Type': info.contentType,
    ETag: info.etag,
    'Last-Modified': info.createdAt.toUTCString(),
    'Accept-Ranges': 'bytes',
    ...metadataHeaders(info.userMetadata),
  };
}

/** If-Range: the range applies only while the object is still the one the client saw. */
function ifRangeHolds(ifRange: string | undefined, info: ObjectInfo): boolean {
  if (ifRange === undefined) return true;
  const t = ifRange.trim();
  if (t.startsWith('"') || t.startsWith('W/')) return unquote(t.replace(/^W\//, '')) === unquote(info.etag);
  const since = Date.parse(t);
  return !Number.isNaN(since) && Math.floor(info.createdAt.getTime() / 1000) <= Math.floor(since / 1000);
}

/**
 * `?partNumber=N`: the byte range of part N of a multipart object (the whole object is part 1
 * otherwise). From the part sizes the store kept at completion; only an object completed before the
 * store kept them (or whose stored sizes do not match its ETag's part count) asks a backend.
 */
async function partRange(ctx: S3Context, info: ObjectInfo, text: string): Promise<{ range: ResolvedRange | undefined; partsCount: number }> {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { extra: { ArgumentName: 'partNumber', ArgumentValue: text } });
  }
  const partNumber = Number(text);
  const m = /-(\d+)"?$/.exec(info.etag);
  const partsCount = m ? Number(m[1]) : 1;
  if (partNumber > partsCount) throw new S3Error('InvalidPartNumber');
  if (partsCount === 1) return { range: info.sizeBytes === 0 ? undefined : { start: 0, end: info.sizeBytes - 1 }, partsCount };
  if (info.partSizes && partCount(info.partSizes) === partsCount) {
    const range = partByteRange(info.partSizes, partNumber);
    if (range) return { range, partsCount };
  }
  for (const copy of info.copies) {
    const backend = ctx.deps.backends.get(copy.backendName);
    if (!backend) continue;
    const range = await backend.partRange(copy.storageKey, partNumber).catch(() => undefined);
    if (range) return { range, partsCount };
  }
  throw new S3Error('ServiceUnavailable', 'The part boundaries of this object could not be read right now; please retry.');
}

/** DeleteObject: deleting a key that does not exist succeeds, as in S3. */
export async function deleteObject(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  ctx.deps.outage?.forget(ctx.objectKey);
  try {
    await ctx.deps.store.objects.deleteObject(ctx.objectKey);
  } catch (err) {
    if ((err as { code?: string }).code !== 'NotFound') throw err;
  }
  sendEmpty(ctx.res, 204);
}

/** DeleteObjects: up to 1000 keys in one transaction; missing keys count as deleted (S3 semantics). */
export async function deleteObjects(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  if (ctx.header('content-md5') === undefined && !Object.keys(ctx.req.headers).some((h) => h.startsWith('x-amz-checksum-')) && ctx.header('x-amz-sdk-checksum-algorithm') === undefined && !ctx.isChunked) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*.');
  }
  const doc = parseXmlBody(await ctx.bodyText(), 'Delete');
  const objects = Array.isArray(doc.Object) ? (doc.Object as Record<string, unknown>[]) : [];
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML', `A Delete request lists 1 to ${MAX_DELETE_KEYS} objects; this one lists ${objects.length}.`);
  const quiet = String(doc.Quiet ?? '').trim().toLowerCase() === 'true';
  const keys: string[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    const key = typeof o.Key === 'string' ? o.Key : undefined;
    if (key === undefined || key === '') throw new S3Error('MalformedXML', 'Every <Object> needs a <Key>.');
    if (o.VersionId !== undefined && o.VersionId !== 'null') {
      errors.push({ Key: key, Code: 'NoSuchVersion', Message: 'The specified version does not exist.' });
      continue;
    }
    if (Buffer.byteLength(key) > 1024) {
      errors.push({ Key: key, Code: 'KeyTooLongError', Message: 'Your key is too long' });
      continue;
    }
    keys.push(key);
  }
  const unique = [...new Set(keys)];
  for (const k of unique) ctx.deps.outage?.forget(`${ctx.bucket}/${k}`);
  if (unique.length > 0) await ctx.deps.store.objects.deleteObjects(unique.map((k) => `${ctx.bucket}/${k}`));
  sendXml(ctx.res, 200, 'DeleteResult', {
    Deleted: quiet ? undefined : unique.map((k) => ({ Key: k })),
    Error: errors,
  });
}
