import { pipeline } from 'node:stream/promises';
import type { ObjectInfo } from '../../store/core/types.js';
import { md5Tap, openCopy, writePinned, writeWithFailover } from '../backend-io.js';
import type { ByteRange } from '../../backends/backend-client.js';
import type { Readable } from 'node:stream';
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
  let md5 = '';
  // Each attempt re-reads the source, so a failing destination backend can always be replaced.
  const { copy } = await writeWithFailover(
    ctx.deps,
    {
      begin: (candidates) =>
        store.objects.beginWrite({ objectKey: ctx.objectKey, sizeBytes: source.info.sizeBytes, contentType: meta.contentType, userMetadata: meta.userMetadata, candidates }),
      write: async (backend, intent) => {
        md5 = await copyBytes(ctx, source.info, undefined, (stream) => backend.put(intent.storageKey, stream, source.info.sizeBytes));
      },
      commit: (intent) => store.objects.commitWrite(intent, { etag: `"${md5}"` }),
    },
    ctx.clientGone,
  );
  ctx.deps.outage?.rememberWrite(copy);
  sendXml(ctx.res, 200, 'CopyObjectResult', { LastModified: copy.createdAt, ETag: copy.etag });
}

/** UploadPartCopy: a part made of (a range of) an existing object. */
export async function uploadPartCopy(ctx: S3Context): Promise<void> {
  const upload = await uploadOf(ctx);
  const source = await copySource(ctx);
  const range = copyRange(ctx.header('x-amz-copy-source-range'), source.info.sizeBytes);
  const size = range ? range.end - range.start + 1 : source.info.sizeBytes;
  const intent = await beginPartFor(ctx, size, upload);
  let md5 = '';
  const part = await writePinned(
    ctx.deps,
    intent,
    async (backend) => {
      md5 = await copyBytes(ctx, source.info, range, (stream) =>
        backend.putPart(handleOf(upload), { partNumber: intent.partNumber!, storageKey: intent.storageKey, sizeBytes: size }, stream),
      );
    },
    () => ctx.deps.store.multipart.commitPart(intent, { etag: `"${md5}"` }),
    ctx.clientGone,
  );
  sendXml(ctx.res, 200, 'CopyPartResult', { LastModified: part.createdAt, ETag: part.etag });
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
