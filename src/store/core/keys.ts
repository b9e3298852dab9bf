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
 * current until its metadata commits (lessons.md #6). Readable when it fits and every backend can
 * store it: `{key}!{id}`; otherwise the key's hash stands in for it.
 */
export function storageKeyFor(objectKey: string, id: string, suffix = ''): string {
  const readable = `${objectKey}!${id}${suffix}`;
  if (Buffer.byteLength(readable, 'utf8') <= MAX_STORAGE_KEY_BYTES && pathSafe(objectKey)) return readable;
  return `~long/${createHash('sha256').update(objectKey).digest('hex')}!${id}${suffix}`;
}

/**
 * Whether S3-compatible services that map keys onto file paths keep the key as it is: an empty,
 * `.` or `..` segment before the last (`a//b`, `/a`, `a/./b`) is folded or rejected by some (s3rver
 * answers `a//b` with an error and stores `a/../b` as `b`). The last segment is always safe: the id
 * follows it.
 */
function pathSafe(objectKey: string): boolean {
  const segments = objectKey.split('/');
  segments.pop();
  return segments.every((s) => s !== '' && s !== '.' && s !== '..');
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
