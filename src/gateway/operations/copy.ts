import { pipeline } from 'node:stream/promises';
import { NoSpaceError } from '../../store/core/errors.js';
import type { BeginWriteInput } from '../../store/core/objects.js';
import type { CommitResult, ObjectInfo } from '../../store/core/types.js';
import { md5Tap, openCopy, writePinned, writeWithFailover } from '../backend-io.js';
import type { BackendClient, ByteRange, MultipartHandle } from '../../backends/backend-client.js';
import type { Readable } from 'node:stream';
import { BackendCircuitOpen } from '../routing/backend-router.js';
import { isBackendFailure } from '../routing/circuit-breaker.js';
import { checkConditions } from '../conditions.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { metadataFromRequest } from '../object-metadata.js';
import { sendXml } from '../respond.js';
import { beginPartFor, handleOf, uploadOf } from './multipart.js';

interface CopySource {
  readonly bucket: string;
  readonly key: string;
  readonly info: ObjectInfo;
}

/** `x-amz-copy-source: [/]bucket/key[?versionId=null]`, URL-encoded. */
function parseCopySource(text: string): { bucket: string; key: string } {
  let value = text;
  const q = value.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(value.slice(q + 1));
    const version = params.get('versionId');
    if (version !== null && version !== 'null') throw new S3Error('NoSuchVersion');
    value = value.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding.', { extra: { ArgumentName: 'x-amz-copy-source' } });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.', { extra: { ArgumentName: 'x-amz-copy-source' } });
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/** The source object, readable by the credential, with the x-amz-copy-source-if-* conditions checked. */
async function copySource(ctx: S3Context): Promise<CopySource> {
  const { bucket, key } = parseCopySource(ctx.header('x-amz-copy-source')!);
  ctx.deps.access.authorizeRead(ctx.credential, bucket);
  await ctx.deps.buckets.require(bucket);
  const info = await ctx.deps.store.objects.head(`${bucket}/${key}`);
  // Every failed copy-source condition is 412, never 304 (S3).
  checkConditions(
    {
      ifMatch: ctx.header('x-amz-copy-source-if-match'),
      ifNoneMatch: ctx.header('x-amz-copy-source-if-none-match'),
      ifModifiedSince: ctx.header('x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: ctx.header('x-amz-copy-source-if-unmodified-since'),
    },
    { etag: info.etag, lastModified: info.createdAt },
    'PreconditionFailed',
    false,
  );
  return { bucket, key, info };
}

/** Streams a source copy (or a range of it) into `store`, returning the MD5 of the bytes. */
async function copyBytes(ctx: S3Context, source: ObjectInfo, range: ByteRange | undefined, store: (stream: Readable) => Promise<void>): Promise<string> {
  const { stream } = await openCopy(ctx.deps, source.copies, range);
  const tap = md5Tap();
  const piping = pipeline(stream, tap.stream);
  piping.catch(() => {});
  await store(tap.stream);
  await piping;
  return tap.hex();
}

/**
 * CopyObject: a new object (a new write, with its own storage key) holding the source's bytes. When
 * the source has a copy on a backend that can copy objects itself and has room, that backend copies
 * them (copyOnSourceBackend) and no byte flows through the gateway; otherwise the bytes stream from
 * the source's first readable copy to whichever backend the placement picks. Either way the write is
 * admitted (quota) and committed by the store, and its ETag is the MD5 of the bytes.
 */
export async function copyObject(ctx: S3Context): Promise<void> {
  const { store, buckets, config } = ctx.deps;
  await buckets.require(ctx.bucket);
  const source = await copySource(ctx);
  const directive = (ctx.header('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { extra: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive } });
  }
  if (directive === 'COPY' && source.bucket === ctx.bucket && source.key === ctx.key) {
    throw new S3Error(
      'InvalidRequest',
      'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.',
    );
  }
  if (source.info.sizeBytes > config.server.maxObjectBytes) {
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${config.server.maxObjectBytes}`);
  }
  const meta = directive === 'REPLACE' ? metadataFromRequest(ctx.req.headers) : { contentType: source.info.contentType, userMetadata: source.info.userMetadata };
  const write = { objectKey: ctx.objectKey, sizeBytes: source.info.sizeBytes, contentType: meta.contentType, userMetadata: meta.userMetadata };
  const onSource = await copyOnSourceBackend(ctx, source.info, write);
  let copy = onSource.committed?.copy;
  if (copy === undefined) {
    // A backend whose server-side copy just failed is not offered the streamed copy again.
    const failed = onSource.failedBackend;
    let md5 = '';
    // Each attempt re-reads the source, so a failing destination backend can always be replaced.
    ({ copy } = await writeWithFailover(
      ctx.deps,
      {
        begin: (offered) => {
          const candidates = offered.filter((name) => name !== failed);
          if (candidates.length === 0) throw noBackendForWrite();
          return store.objects.beginWrite({ ...write, candidates });
        },
        write: async (backend, intent) => {
          md5 = await copyBytes(ctx, source.info, undefined, (stream) => backend.put(intent.storageKey, stream, source.info.sizeBytes));
        },
        commit: (intent) => store.objects.commitWrite(intent, { etag: `"${md5}"` }),
      },
      ctx.clientGone,
    ));
  }
  ctx.deps.outage?.rememberWrite(copy);
  sendXml(ctx.res, 200, 'CopyObjectResult', { LastModified: copy.createdAt, ETag: copy.etag });
}

/** As writeWithFailover answers when no backend is left to try. */
function noBackendForWrite(): S3Error {
  return new S3Error('ServiceUnavailable', 'No backend can take this write right now; please retry.', { headers: { 'Retry-After': '5' } });
}

/**
 * Backend clients whose service answered that it does not implement copyObject: every later
 * CopyObject streams at once, without asking them again (until the gateway restarts). Kept apart
 * from the part copies' memory: a service may implement one call and not the other.
 */
const objectStreamOnly = new WeakSet<BackendClient>();

/**
 * CopyObject by the backend itself: when the source has a copy on a backend that can copy objects
 * server-side (copyObject: S3 CopyObject), may take writes now (breaker, monthly limits) and has
 * room for the new object, the write is admitted pinned to that backend and the backend copies the
 * bytes, so none flows through the gateway. The new object's ETag is the one the streamed path
 * records, the MD5 of the bytes; so only a source whose ETag is that MD5 (single-part) is copied
 * this way, and only when the backend's ETag of the copy is that same MD5. Otherwise, or when the
 * backend cannot copy (remembered), refuses the copy with a 4xx, or lost the source's bytes, the
 * bytes stream through the gateway into the same admitted write, as UploadPartCopy does.
 *
 * Answers the committed write, or nothing when the caller must copy with the normal placement and
 * streaming: no such backend, none with room (NoSpace), or the backend failed (`failedBackend`:
 * the write admitted on it was aborted, its storage key queued for cleanup). Any other failure,
 * the commit's included, aborts the write and is thrown, as the streamed path throws it.
 */
async function copyOnSourceBackend(
  ctx: S3Context,
  source: ObjectInfo,
  write: Omit<BeginWriteInput, 'backendName' | 'candidates'>,
): Promise<{ committed?: CommitResult; failedBackend?: string }> {
  const sourceMd5 = PLAIN_MD5.exec(source.etag)?.[1]?.toLowerCase();
  // A multipart source: the streamed path records the MD5 of its bytes, which nothing here knows.
  if (sourceMd5 === undefined) return {};
  const { router, store } = ctx.deps;
  const writable = new Set(router.writeCandidates());
  for (const sourceCopy of source.copies) {
    const backendName = sourceCopy.backendName;
    if (!writable.has(backendName)) continue;
    // The router's own client, not the one a call gets (a proxy that labels the call by the first method looked up).
    const client = router.client(backendName);
    if (client.copyObject === undefined || objectStreamOnly.has(client)) continue;
    let intent;
    try {
      intent = await store.objects.beginWrite({ ...write, backendName });
    } catch (err) {
      if (err instanceof NoSpaceError) continue;
      throw err;
    }
    let etag = '';
    try {
      const committed = await writePinned(
        ctx.deps,
        intent,
        async (backend) => {
          if (await copyObjectOnBackend(ctx, backendName, backend, client, sourceCopy.storageKey, intent.storageKey, sourceMd5)) {
            etag = `"${sourceMd5}"`;
            return { ingressBytes: 0 };
          }
          const md5 = await copyBytes(ctx, source, undefined, (stream) => backend.put(intent.storageKey, stream, source.sizeBytes));
          etag = `"${md5}"`;
          return undefined;
        },
        () => store.objects.commitWrite(intent, { etag }),
        ctx.clientGone,
      );
      return { committed };
    } catch (err) {
      const backendFailed = err instanceof BackendCircuitOpen || (isBackendFailure(err) && !ctx.clientGone());
      if (!backendFailed) throw err;
      ctx.deps.logger.warn({ backend: backendName, err: (err as Error).message }, "the copy failed on its source's backend; copying it to another backend");
      return { failedBackend: backendName };
    }
  }
  return {};
}

/**
 * Asks `backend` to copy the bytes at `sourceKey` to `destKey` itself. True when it did and its ETag
 * of the copy is `md5` (the source's, which the new object records); false when the bytes must be
 * streamed instead: the backend cannot copy (remembered), the source's copy is missing or the
 * service refused the copy with a 4xx, or its ETag is another (streaming replaces what it made at
 * `destKey`). A backend failure (5xx, unreachable) is thrown.
 */
async function copyObjectOnBackend(
  ctx: S3Context,
  backendName: string,
  backend: BackendClient,
  client: BackendClient,
  sourceKey: string,
  destKey: string,
  md5: string,
): Promise<boolean> {
  const log = { backend: backendName, storageKey: sourceKey };
  const answer = await askServerSideCopy(ctx, 'object', objectStreamOnly, client, log, () => backend.copyObject!(sourceKey, destKey));
  if (answer === undefined) return false;
  if (PLAIN_MD5.exec(answer.etag)?.[1]?.toLowerCase() !== md5) {
    ctx.deps.logger.warn({ ...log, etag: answer.etag }, "the backend's ETag of a copied object is not the source's MD5; streaming the object through the gateway instead");
    return false;
  }
  return true;
}

/**
 * UploadPartCopy: a part made of (a range of) an existing object. When the source has a copy on the
 * upload's own backend and that backend can copy a part itself (copyPart: S3 UploadPartCopy), the
 * backend copies it and no byte flows through the gateway; otherwise the bytes stream from the
 * first copy that answers into putPart. Either way the part is admitted (quota) and committed by
 * the store, and its ETag is the MD5 of its bytes.
 */
export async function uploadPartCopy(ctx: S3Context): Promise<void> {
  const upload = await uploadOf(ctx);
  const source = await copySource(ctx);
  const range = copyRange(ctx.header('x-amz-copy-source-range'), source.info.sizeBytes);
  const size = range ? range.end - range.start + 1 : source.info.sizeBytes;
  const intent = await beginPartFor(ctx, size, upload);
  const handle = handleOf(upload);
  const partNumber = intent.partNumber!;
  let etag = '';
  const part = await writePinned(
    ctx.deps,
    intent,
    async (backend) => {
      const copied = await copyPartOnBackend(ctx, upload.backendName, backend, handle, partNumber, source.info, range);
      if (copied !== undefined) {
        etag = copied;
        return { ingressBytes: 0 };
      }
      const md5 = await copyBytes(ctx, source.info, range, (stream) => backend.putPart(handle, { partNumber, storageKey: intent.storageKey, sizeBytes: size }, stream));
      etag = `"${md5}"`;
      return undefined;
    },
    () => ctx.deps.store.multipart.commitPart(intent, { etag }),
    ctx.clientGone,
  );
  sendXml(ctx.res, 200, 'CopyPartResult', { LastModified: part.createdAt, ETag: part.etag });
}

/**
 * Backend clients whose service answered that it does not implement copyPart: every later part
 * copy to them streams at once, without asking again (until the gateway restarts). Keyed by the
 * client object, so two gateways in one process (tests) each learn for themselves.
 */
const partStreamOnly = new WeakSet<BackendClient>();

const PLAIN_MD5 = /^"?([0-9a-fA-F]{32})"?$/;

/**
 * Asks the upload's backend to make the part itself from the source's copy there. Answers the
 * part's ETag (quoted, as the store records it), or undefined when the bytes must be streamed:
 * the source has no copy on this backend, the backend cannot copy (remembered), the source's copy
 * is missing or the service refused the copy with a 4xx, or its ETag cannot stand for the MD5 of
 * the part's bytes. Only the last is checked against the metadata: for a whole single-part source
 * the part's MD5 is the source's ETag; for a range or a multipart source nothing the gateway holds
 * says what the MD5 is, and the service's MD5-formed ETag is taken (S3 gives a copied part the MD5
 * of its bytes, as it does an uploaded one). Whatever ETag is recorded is also the one completion
 * sends the backend, so it must be the backend's own. A backend failure (5xx, unreachable) is thrown:
 * streaming to the same backend would fail too.
 */
async function copyPartOnBackend(
  ctx: S3Context,
  backendName: string,
  backend: BackendClient,
  handle: MultipartHandle,
  partNumber: number,
  source: ObjectInfo,
  range: ByteRange | undefined,
): Promise<string | undefined> {
  const copy = source.copies.find((c) => c.backendName === backendName);
  // The router's own client, not `backend` (a proxy that labels the call by the first method looked up).
  const client = ctx.deps.router.client(backendName);
  if (copy === undefined || client.copyPart === undefined || partStreamOnly.has(client)) return undefined;
  const log = { backend: backendName, storageKey: copy.storageKey, partNumber };
  const answer = await askServerSideCopy(ctx, 'part', partStreamOnly, client, log, () => backend.copyPart!(handle, partNumber, { storageKey: copy.storageKey, ...(range ? { range } : {}) }));
  if (answer === undefined) return undefined;
  const md5 = PLAIN_MD5.exec(answer.etag)?.[1]?.toLowerCase();
  const whole = range === undefined || (range.start === 0 && range.end === source.sizeBytes - 1);
  const sourceMd5 = PLAIN_MD5.exec(source.etag)?.[1]?.toLowerCase();
  if (md5 === undefined || (whole && sourceMd5 !== undefined && md5 !== sourceMd5)) {
    // Streaming the part replaces the one the backend made under the same number.
    ctx.deps.logger.warn({ ...log, etag: answer.etag }, "the backend's ETag of a copied part is not the MD5 of its bytes; streaming the part through the gateway instead");
    return undefined;
  }
  return `"${md5}"`;
}

/**
 * One server-side copy call (copyObject or copyPart) and what its answer means for the caller:
 * the backend's ETag, or undefined when the bytes must be streamed instead — the service does not
 * implement the call (remembered in `unable`, so it is not asked again), or it refused this copy
 * with a 4xx or lost the source's bytes. A backend failure (5xx, unreachable) is thrown: streaming
 * to the same backend would fail too.
 */
async function askServerSideCopy(
  ctx: S3Context,
  what: 'object' | 'part',
  unable: WeakSet<BackendClient>,
  client: BackendClient,
  log: Record<string, unknown>,
  call: () => Promise<{ etag: string } | 'unsupported'>,
): Promise<{ etag: string } | undefined> {
  let answer: { etag: string } | 'unsupported';
  try {
    answer = await call();
  } catch (err) {
    if (isBackendFailure(err)) throw err;
    ctx.deps.logger.warn({ ...log, err: (err as Error).message }, `the backend did not copy the ${what} itself; streaming it through the gateway`);
    return undefined;
  }
  if (answer === 'unsupported') {
    unable.add(client);
    ctx.deps.logger.info({ backend: log.backend }, `the backend does not copy ${what}s itself (not implemented); ${what} copies to it stream through the gateway`);
    return undefined;
  }
  return answer;
}

function copyRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!m || Number(m[2]) < Number(m[1])) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      extra: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end >= size) throw new S3Error('InvalidRange', undefined, { extra: { ActualObjectSize: String(size) } });
  return { start, end };
}
