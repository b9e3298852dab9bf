import { S3Error } from './errors.js';

/** Every S3 operation the gateway answers. */
export type Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'ListObjectVersions'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts';

export interface Route {
  readonly operation: Operation;
  /** Undefined only for ListBuckets. */
  readonly bucket: string | undefined;
  /** The object key (decoded), for object operations. */
  readonly key: string | undefined;
  /** Query parameters, decoded. */
  readonly query: URLSearchParams;
}

/** S3's longest key, in bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/**
 * Sub-resources S3 knows and this gateway does not implement: a request naming one must get 501,
 * never fall through to a data operation (a PUT ?acl must not overwrite the object).
 */
const UNSUPPORTED_SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'logging', 'metadataConfiguration', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy',
  'policyStatus', 'publicAccessBlock', 'renameObject', 'replication', 'requestPayment', 'restore', 'retention', 'select',
  'session', 'tagging', 'torrent', 'website',
]);

/**
 * Turns method + path + query into an operation (Garage's router.rs habit). `rawPath` is the path as
 * it came on the wire; `hostBucket` is the bucket named by a virtual-hosted-style Host header.
 */
export function route(method: string, rawPath: string, rawQuery: string, hostBucket: string | undefined): Route {
  const query = new URLSearchParams(rawQuery);
  let bucket: string | undefined;
  let key: string | undefined;
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (hostBucket !== undefined) {
    bucket = hostBucket;
    key = path === '' ? undefined : decode(path);
  } else if (path !== '') {
    const slash = path.indexOf('/');
    bucket = decode(slash < 0 ? path : path.slice(0, slash));
    const rest = slash < 0 ? '' : path.slice(slash + 1);
    key = rest === '' ? undefined : decode(rest);
  }
  if (key !== undefined && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', `Your key is ${Buffer.byteLength(key, 'utf8')} bytes; the limit is ${MAX_KEY_BYTES}.`);
  for (const name of query.keys()) {
    if (UNSUPPORTED_SUBRESOURCES.has(name)) throw new S3Error('NotImplemented', `The ${name} sub-resource is not implemented by this gateway.`);
  }
  if (query.has('versionId') && query.get('versionId') !== 'null') {
    throw new S3Error('NoSuchVersion', 'This gateway keeps one version per key; the only version id is "null".');
  }
  const has = (name: string) => query.has(name);
  const operation = pick();
  return { operation, bucket, key, query };

  function pick(): Operation {
    if (bucket === undefined) {
      if (method === 'GET') return 'ListBuckets';
      throw new S3Error('MethodNotAllowed');
    }
    if (key === undefined) {
      switch (method) {
        case 'PUT':
          if (has('versioning')) throw new S3Error('NotImplemented', 'Versioning is not implemented: buckets are always unversioned.');
          return 'CreateBucket';
        case 'HEAD':
          return 'HeadBucket';
        case 'DELETE':
          return 'DeleteBucket';
        case 'POST':
          if (has('delete')) return 'DeleteObjects';
          break;
        case 'GET':
          if (has('location')) return 'GetBucketLocation';
          if (has('versioning')) return 'GetBucketVersioning';
          if (has('versions')) return 'ListObjectVersions';
          if (has('uploads')) return 'ListMultipartUploads';
          if (query.get('list-type') === '2') return 'ListObjectsV2';
          return 'ListObjects';
      }
      throw new S3Error('MethodNotAllowed');
    }
    switch (method) {
      case 'PUT':
        if (has('uploadId') || has('partNumber')) return 'UploadPart';
        return 'PutObject';
      case 'GET':
        if (has('uploadId')) return 'ListParts';
        return 'GetObject';
      case 'HEAD':
        return 'HeadObject';
      case 'DELETE':
        if (has('uploadId')) return 'AbortMultipartUpload';
        return 'DeleteObject';
      case 'POST':
        if (has('uploads')) return 'CreateMultipartUpload';
        if (has('uploadId')) return 'CompleteMultipartUpload';
        break;
    }
    throw new S3Error('MethodNotAllowed');
  }
}

/** Copy operations are PUTs that name a source: decided from the header, after routing. */
export function withCopySource(r: Route, copySource: string | undefined): Route {
  if (copySource === undefined) return r;
  if (r.operation === 'PutObject') return { ...r, operation: 'CopyObject' };
  if (r.operation === 'UploadPart') return { ...r, operation: 'UploadPartCopy' };
  return r;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidURI');
  }
}
