import { createHash, randomUUID } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/**
 * Object keys are "{bucket}/{key}": S3 allows 1024 bytes of key and 63 of bucket name, so 1088 bytes
 * of UTF-8 in all. A key must be well-formed Unicode (a lone surrogate has no UTF-8 form, so its byte
 * order is undefined) and contain no NUL (PostgreSQL text cannot hold one).
 */
export const MAX_OBJECT_KEY_BYTES = 1088;
/** Backends take keys up to 1024 bytes; storage keys stay within that. */
export const MAX_STORAGE_KEY_BYTES = 1024;

export function validateObjectKey(key: unknown, field = 'objectKey'): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(field, 'must be a non-empty string');
  if (!key.isWellFormed()) throw new InvalidArgumentError(field, 'contains a lone surrogate (not valid Unicode)');
  if (key.includes('\u0000')) throw new InvalidArgumentError(field, 'contains a NUL character');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES) throw new InvalidArgumentError(field, `is ${bytes} bytes of UTF-8; the limit is ${MAX_OBJECT_KEY_BYTES}`);
  return key;
}

/** A prefix or marker: like a key, but may be empty. */
export function validateKeyFragment(value: unknown, field: string): string {
  if (value === undefined || value === '') return '';
  return validateObjectKey(value, field);
}

export function validateSize(value: unknown, field = 'sizeBytes'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(field, `must be a whole number of bytes between 0 and ${Number.MAX_SAFE_INTEGER}, got ${String(value)}`);
  }
  return value;
}

export function newId(): string {
  return randomUUID();
}

/**
 * Each write gets its own storage key, so a new write never overwrites the bytes of the copy that is
 * current until its metadata commits (lessons.md #6). The forms, in order of preference:
 * - `{key}!{id}`, readable, when every backend can store the key as it is;
 * - `~esc/{escaped key}!{id}` when a segment before the last is empty, `.` or `..` (`a//b`, `/a`,
 *   `a/../b`): S3 services that map keys onto file paths fold or refuse those (s3rver answers `a//b`
 *   with an error and stores `a/../b` as `b`). Reversible (objectKeyOfStorageKey), so `backends
 *   check` can still tell which object such bytes belong to (objectKeyOfVersionPrefix);
 * - `~long/{sha256 of the key}!{id}` when the readable or escaped form would be longer than a
 *   backend takes, or a path segment longer than a file name can be.
 * The id's suffix (`.partN`) follows it in every form.
 */
export function storageKeyFor(objectKey: string, id: string, suffix = ''): string {
  return `${versionPrefixOf(objectKey, `!${id}${suffix}`)}${id}${suffix}`;
}

/**
 * Every prefix a version of `objectKey` may be stored under, whichever form wrote it (a key written
 * before the escaped form existed is under its readable prefix, later versions under the escaped
 * one). Outage mode lists them all, so an older or a newer version under another form is never
 * missed.
 */
export function versionPrefixes(objectKey: string): string[] {
  const fits = (prefix: string) => Buffer.byteLength(prefix, 'utf8') + 36 <= MAX_STORAGE_KEY_BYTES;
  const segments = objectKey.split('/');
  const forms = [`${objectKey}!`, `${ESCAPED}${escapeSegments(segments)}!`].filter(fits);
  return [...new Set([...forms, hashedPrefix(objectKey)])];
}

/** The object key of a version prefix (`…!`), when its form says (readable or escaped); undefined for a hashed one. */
export function objectKeyOfVersionPrefix(prefixOfVersion: string): string | undefined {
  if (!prefixOfVersion.endsWith('!')) return undefined;
  const body = prefixOfVersion.slice(0, -1);
  if (body.startsWith(HASHED)) return undefined;
  if (!body.startsWith(ESCAPED)) return body;
  const segments = body.slice(ESCAPED.length).split('/');
  return segments.map((s) => (s === '%' ? '' : s.replace(/%(25|2E)/g, (_m, hex: string) => (hex === '25' ? '%' : '.')))).join('/');
}

const ESCAPED = '~esc/';
const HASHED = '~long/';
/** A file name's limit on the file systems s3rver-like services store keys on. */
const MAX_SEGMENT_BYTES = 255;

function versionPrefixOf(objectKey: string, longestTail: string): string {
  const segments = objectKey.split('/');
  const last = segments.length - 1;
  const tooLongSegment = segments.some((seg, i) => Buffer.byteLength(seg, 'utf8') + (i === last ? Buffer.byteLength(longestTail) : 0) > MAX_SEGMENT_BYTES);
  const plain = segments.every((seg, i) => i === last || (seg !== '' && seg !== '.' && seg !== '..'));
  const prefix = plain ? `${objectKey}!` : `${ESCAPED}${escapeSegments(segments)}!`;
  if (!tooLongSegment && Buffer.byteLength(prefix, 'utf8') + Buffer.byteLength(longestTail) - 1 <= MAX_STORAGE_KEY_BYTES) return prefix;
  return hashedPrefix(objectKey);
}

/** `%` → `%25` everywhere; an empty segment before the last → `%`, `.` → `%2E`, `..` → `%2E%2E`. */
function escapeSegments(segments: readonly string[]): string {
  const last = segments.length - 1;
  return segments
    .map((seg, i) => {
      const text = seg.replaceAll('%', '%25');
      if (i === last) return text;
      return text === '' ? '%' : text === '.' ? '%2E' : text === '..' ? '%2E%2E' : text;
    })
    .join('/');
}

function hashedPrefix(objectKey: string): string {
  return `${HASHED}${createHash('sha256').update(objectKey).digest('hex')}!`;
}

/**
 * The smallest string greater than every string that starts with `prefix`, in UTF-8 byte order (=
 * code point order), or undefined when there is none. Used as the exclusive upper bound of a range scan.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1; // skip the surrogate range
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** The smallest key strictly greater than `key` (keys contain no NUL, so the next is key + U+0001). */
export function keyAfter(key: string): string {
  return `${key}\u0001`;
}

/** Orders keys as the database does: by UTF-8 bytes (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
