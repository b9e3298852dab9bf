import { createHash } from 'node:crypto';
import { SIGV4_ALGORITHM } from './authorization-header.js';

export type RequestHeaders = Record<string, string | string[] | undefined>;

/**
 * A signed header's canonical value: several values joined with `,`, each trimmed and with inner
 * runs of whitespace collapsed to one space (as the official signers do). A signed header that is
 * absent canonicalises to '' (the signature then simply does not match).
 * Node joins repeated headers with ', ' in `req.headers`; pass `req.headersDistinct` to keep the
 * values apart as AWS joins them.
 */
export function canonicalHeaderValue(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const values = Array.isArray(value) ? value : [value];
  return values.map((one) => one.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim()).join(',');
}

export interface CanonicalRequestParts {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  readonly headers: RequestHeaders;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  let headerBlock = '';
  for (const name of parts.signedHeaders) headerBlock += `${name}:${canonicalHeaderValue(parts.headers[name])}\n`;
  return [parts.method, parts.canonicalUri, parts.canonicalQuery, headerBlock, parts.signedHeaders.join(';'), parts.payloadHash].join('\n');
}

/**
 * The canonical request's bytes. Everything in it is ASCII except header values, and Node hands
 * header values over as latin1 (one char per received byte): encoding as latin1 gives back the
 * bytes the client signed. A string holding chars above U+00FF did not come from the wire that
 * way (a caller built it), so it is taken as UTF-8, the encoding signers use.
 */
export function canonicalRequestBytes(canonical: string): Buffer {
  return Buffer.from(canonical, /[^\u0000-\u00ff]/.test(canonical) ? 'utf8' : 'latin1');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  const hashed = createHash('sha256').update(canonicalRequestBytes(canonical)).digest('hex');
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${hashed}`;
}
