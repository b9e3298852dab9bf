import type { ListObjectsResult } from '../../store/core/types.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { sendXml } from '../respond.js';
import { encodingOf, intParam } from './multipart.js';

/** `encoding-type=url`: keys percent-encoded (`/` kept), decodable by every SDK (also unquote_plus). */
export function encodeKey(key: string, urlEncoded: boolean): string {
  return urlEncoded ? encodeURIComponent(key).replaceAll('%2F', '/') : key;
}

/** Buckets have one owner per gateway: the credential's key id is not exposed to others. */
export function owner(ctx: S3Context): { ID: string; DisplayName: string } {
  return { ID: 's3-orchestrator', DisplayName: ctx.credential.accessKeyId };
}

interface ListParams {
  readonly prefix: string;
  readonly delimiter: string;
  readonly maxKeys: number;
  readonly urlEncoded: boolean;
}

function listParams(ctx: S3Context): ListParams {
  const q = ctx.route.query;
  const maxKeysText = q.get('max-keys');
  if (maxKeysText !== null && maxKeysText !== '' && !/^\d{1,9}$/.test(maxKeysText)) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { extra: { ArgumentName: 'max-keys', ArgumentValue: maxKeysText } });
  }
  return { prefix: q.get('prefix') ?? '', delimiter: q.get('delimiter') ?? '', maxKeys: intParam(ctx, 'max-keys', 1000, 1000), urlEncoded: encodingOf(ctx) };
}

/**
 * One page from the store, with the bucket's part of each key taken off. `after` is an exclusive
 * start key within the bucket; when `afterPrefix` is set it names a common prefix, and every key
 * under it is skipped (a v1 NextMarker can be a common prefix).
 */
async function page(ctx: S3Context, p: ListParams, position: { token?: string; after?: string; afterPrefix?: boolean }): Promise<ListObjectsResult> {
  const base = `${ctx.bucket}/`;
  const result = await ctx.deps.store.listing.list({
    prefix: base + p.prefix,
    delimiter: p.delimiter === '' ? undefined : p.delimiter,
    maxKeys: p.maxKeys,
    ...(position.token !== undefined ? { continuationToken: position.token } : {}),
    ...(position.after ? { startAfter: base + position.after, startAfterRolledUp: position.afterPrefix === true } : {}),
  });
  return {
    ...result,
    objects: result.objects.map((o) => ({ ...o, objectKey: o.objectKey.slice(base.length) })),
    commonPrefixes: result.commonPrefixes.map((c) => c.slice(base.length)),
  };
}

function contents(ctx: S3Context, result: ListObjectsResult, urlEncoded: boolean, withOwner: boolean) {
  const o = withOwner ? owner(ctx) : undefined;
  return result.objects.map((obj) => ({ Key: encodeKey(obj.objectKey, urlEncoded), LastModified: obj.createdAt, ETag: obj.etag, Size: obj.sizeBytes, Owner: o, StorageClass: 'STANDARD' }));
}

export async function listObjectsV2(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const p = listParams(ctx);
  const q = ctx.route.query;
  const token = q.get('continuation-token') ?? undefined;
  const startAfter = q.get('start-after') ?? '';
  if (token === '') throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { extra: { ArgumentName: 'continuation-token' } });
  const result = await page(ctx, p, token !== undefined ? { token } : { after: startAfter });
  sendXml(ctx.res, 200, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: encodeKey(p.prefix, p.urlEncoded),
    Delimiter: p.delimiter === '' ? undefined : encodeKey(p.delimiter, p.urlEncoded),
    MaxKeys: p.maxKeys,
    EncodingType: p.urlEncoded ? 'url' : undefined,
    KeyCount: result.objects.length + result.commonPrefixes.length,
    IsTruncated: result.isTruncated,
    ContinuationToken: token,
    NextContinuationToken: result.nextContinuationToken,
    StartAfter: startAfter === '' ? undefined : encodeKey(startAfter, p.urlEncoded),
    Contents: contents(ctx, result, p.urlEncoded, q.get('fetch-owner') === 'true'),
    CommonPrefixes: result.commonPrefixes.map((c) => ({ Prefix: encodeKey(c, p.urlEncoded) })),
  });
}

/** The position a v1 marker names: a common prefix when it is one under this prefix and delimiter. */
function markerPosition(p: ListParams, marker: string): { after?: string; afterPrefix?: boolean } {
  if (marker === '') return {};
  const rolledUp = p.delimiter !== '' && marker.startsWith(p.prefix) && marker.indexOf(p.delimiter, p.prefix.length) === marker.length - p.delimiter.length;
  return { after: marker, afterPrefix: rolledUp };
}

export async function listObjects(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const p = listParams(ctx);
  const marker = ctx.route.query.get('marker') ?? '';
  const result = await page(ctx, p, markerPosition(p, marker));
  const lastKey = result.objects.at(-1)?.objectKey;
  const lastPrefix = result.commonPrefixes.at(-1);
  const next = [lastKey, lastPrefix].filter((k): k is string => k !== undefined).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).at(-1);
  sendXml(ctx.res, 200, 'ListBucketResult', {
    Name: ctx.bucket,
    Prefix: encodeKey(p.prefix, p.urlEncoded),
    Marker: encodeKey(marker, p.urlEncoded),
    NextMarker: result.isTruncated && next !== undefined ? encodeKey(next, p.urlEncoded) : undefined,
    Delimiter: p.delimiter === '' ? undefined : encodeKey(p.delimiter, p.urlEncoded),
    MaxKeys: p.maxKeys,
    EncodingType: p.urlEncoded ? 'url' : undefined,
    IsTruncated: result.isTruncated,
    Contents: contents(ctx, result, p.urlEncoded, true),
    CommonPrefixes: result.commonPrefixes.map((c) => ({ Prefix: encodeKey(c, p.urlEncoded) })),
  });
}

/** Unversioned buckets: every object is its only version, `null` (tools use this to empty a bucket). */
export async function listObjectVersions(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const p = listParams(ctx);
  const q = ctx.route.query;
  const keyMarker = q.get('key-marker') ?? '';
  const result = await page(ctx, p, markerPosition(p, keyMarker));
  const o = owner(ctx);
  const lastKey = result.objects.at(-1)?.objectKey;
  const lastPrefix = result.commonPrefixes.at(-1);
  const next = [lastKey, lastPrefix].filter((k): k is string => k !== undefined).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).at(-1);
  sendXml(ctx.res, 200, 'ListVersionsResult', {
    Name: ctx.bucket,
    Prefix: encodeKey(p.prefix, p.urlEncoded),
    KeyMarker: encodeKey(keyMarker, p.urlEncoded),
    VersionIdMarker: q.get('version-id-marker') ?? '',
    NextKeyMarker: result.isTruncated && next !== undefined ? encodeKey(next, p.urlEncoded) : undefined,
    NextVersionIdMarker: result.isTruncated ? 'null' : undefined,
    Delimiter: p.delimiter === '' ? undefined : encodeKey(p.delimiter, p.urlEncoded),
    MaxKeys: p.maxKeys,
    EncodingType: p.urlEncoded ? 'url' : undefined,
    IsTruncated: result.isTruncated,
    Version: result.objects.map((obj) => ({
      Key: encodeKey(obj.objectKey, p.urlEncoded),
      VersionId: 'null',
      IsLatest: true,
      LastModified: obj.createdAt,
      ETag: obj.etag,
      Size: obj.sizeBytes,
      Owner: o,
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: result.commonPrefixes.map((c) => ({ Prefix: encodeKey(c, p.urlEncoded) })),
  });
}
