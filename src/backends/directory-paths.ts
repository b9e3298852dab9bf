import { createHash } from 'node:crypto';

/** File names longer than this (bytes) are replaced by their hash: file systems stop at 255. */
const MAX_SEGMENT_BYTES = 200;

/**
 * The relative file path of a storage key. Storage keys are S3 keys plus a suffix, so they may hold
 * empty segments (`a//b`), `.` and `..` segments and very long segments; each must map to its own
 * file, inside the directory. The mapping is injective: `%` is escaped as `%25`, so the forms that
 * start with `%` and are not `%25` (`%` for an empty segment, `%2E`, `%2E%2E`, `%H<sha256>`) can
 * only come from the special cases.
 */
export function storageKeyPath(storageKey: string): string {
  if (storageKey.length === 0) throw new Error('a storage key must not be empty');
  return storageKey.split('/').map(segmentName).join('/');
}

/** The file name of one segment of a storage key (see storageKeyPath). */
export function storageKeySegment(segment: string): string {
  return segmentName(segment);
}

/** The segment a file name stands for, or undefined when the name is a hash (it cannot be reversed). */
export function storageKeySegmentOf(name: string): string | undefined {
  if (name === '%') return '';
  if (name === '%2E') return '.';
  if (name === '%2E%2E') return '..';
  if (name.startsWith('%H')) return undefined;
  return name.replaceAll('%25', '%');
}

function segmentName(segment: string): string {
  if (segment === '') return '%';
  if (segment === '.') return '%2E';
  if (segment === '..') return '%2E%2E';
  const escaped = segment.replaceAll('%', '%25');
  if (Buffer.byteLength(escaped, 'utf8') > MAX_SEGMENT_BYTES) return `%H${createHash('sha256').update(segment).digest('hex')}`;
  return escaped;
}
