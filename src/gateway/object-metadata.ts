import type { IncomingHttpHeaders } from 'node:http';
import type { UserMetadata } from '../store/core/types.js';
import { S3Error } from './errors.js';

/**
 * Headers S3 stores with an object and answers on GET/HEAD. They travel in the store's user
 * metadata under a `:` prefix: `:` cannot start an HTTP header name, so they never collide with
 * the client's own `x-amz-meta-*` names.
 */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
const SYSTEM_PREFIX = ':';
/** S3's limit for user-defined metadata. */
const MAX_USER_METADATA_BYTES = 2048;

export interface ObjectMetadataInput {
  readonly contentType: string | undefined;
  readonly userMetadata: UserMetadata;
}

/** What a PutObject / CreateMultipartUpload / CopyObject (REPLACE) request says about the object. */
export function metadataFromRequest(headers: IncomingHttpHeaders): ObjectMetadataInput {
  const meta: Record<string, string> = {};
  let userBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    const key = name.slice('x-amz-meta-'.length);
    meta[key] = text;
    userBytes += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (userBytes > MAX_USER_METADATA_BYTES) throw new S3Error('MetadataTooLarge', `Your metadata headers are ${userBytes} bytes; the limit is ${MAX_USER_METADATA_BYTES}.`);
  for (const name of STORED_HEADERS) {
    let value = headers[name];
    if (typeof value !== 'string') continue;
    if (name === 'content-encoding') {
      // aws-chunked describes the transfer, not the object.
      value = value.split(',').map((s) => s.trim()).filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked').join(', ');
      if (value === '') continue;
    }
    meta[SYSTEM_PREFIX + name] = value;
  }
  const contentType = typeof headers['content-type'] === 'string' && headers['content-type'] !== '' ? headers['content-type'] : undefined;
  return { contentType, userMetadata: meta };
}

/** GET/HEAD response headers from the stored metadata (never from the copy that serves the bytes). */
export function metadataHeaders(userMetadata: UserMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(userMetadata)) {
    if (key.startsWith(SYSTEM_PREFIX)) out[key.slice(SYSTEM_PREFIX.length)] = value;
    else out[`x-amz-meta-${key}`] = value;
  }
  return out;
}

/** `response-*` query overrides of a GET (S3 allows them on signed requests). */
export const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};
