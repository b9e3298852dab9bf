import { S3Error } from './errors.js';

export interface Validators {
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ConditionHeaders {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
}

/**
 * GET/HEAD conditionals, in the order S3 evaluates them (RFC 7232 §6): a failed If-Match or
 * If-Unmodified-Since is 412; a matched If-None-Match or an unchanged If-Modified-Since is 304.
 * If-Unmodified-Since is ignored when If-Match is given (and If-Modified-Since when If-None-Match is).
 * Evaluated from the metadata, before any backend call.
 */
export function checkConditions(h: ConditionHeaders, v: Validators, failCode: 'PreconditionFailed' = 'PreconditionFailed', notModified = true): void {
  if (h.ifMatch !== undefined) {
    if (!etagListMatches(h.ifMatch, v.etag)) throw new S3Error(failCode, undefined, { extra: { Condition: 'If-Match' } });
  } else if (h.ifUnmodifiedSince !== undefined) {
    const since = parseHttpDate(h.ifUnmodifiedSince);
    if (since !== undefined && seconds(v.lastModified) > seconds(since)) throw new S3Error(failCode, undefined, { extra: { Condition: 'If-Unmodified-Since' } });
  }
  // Made only when thrown: an Error captures a stack, and every GET and HEAD passes here.
  const unchanged = () => (notModified ? notModifiedError(v) : new S3Error(failCode));
  if (h.ifNoneMatch !== undefined) {
    if (etagListMatches(h.ifNoneMatch, v.etag)) throw unchanged();
  } else if (h.ifModifiedSince !== undefined) {
    const since = parseHttpDate(h.ifModifiedSince);
    if (since !== undefined && seconds(v.lastModified) <= seconds(since)) throw unchanged();
  }
}

function notModifiedError(v: Validators): S3Error {
  return new S3Error('NotModified', undefined, { headers: { ETag: v.etag, 'Last-Modified': v.lastModified.toUTCString() } });
}

/** `*`, or a comma-separated list of (possibly weak, possibly unquoted) ETags. */
export function etagListMatches(list: string, etag: string): boolean {
  const want = unquote(etag);
  return list.split(',').some((item) => {
    const t = item.trim();
    return t === '*' || unquote(t.replace(/^W\//, '')) === want;
  });
}

export function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

export function parseHttpDate(text: string): Date | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** HTTP dates have one-second precision. */
function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

export interface ResolvedRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A single `Range: bytes=a-b | a- | -n`. Undefined for no range or one S3 ignores (a syntax it does
 * not parse, several ranges); InvalidRange when it cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): ResolvedRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw rangeError(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined; // syntactically invalid: ignored, as RFC 7233 says
  }
  if (start >= size || size === 0) throw rangeError(size);
  return { start, end };
}

function rangeError(size: number): S3Error {
  return new S3Error('InvalidRange', undefined, { headers: { 'Content-Range': `bytes */${size}` }, extra: { ActualObjectSize: String(size) } });
}
