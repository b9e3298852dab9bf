import { InvalidArgumentError } from './errors.js';
import type { UserMetadata } from './types.js';

/** S3 limits user metadata to 2 KB; the same bound keeps rows small. */
export const MAX_USER_METADATA_BYTES = 2048;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export function validateContentType(value: unknown): string {
  if (value === undefined) return DEFAULT_CONTENT_TYPE;
  if (typeof value !== 'string' || value.length === 0 || value.length > 255 || /[\u0000-\u001f]/.test(value)) {
    throw new InvalidArgumentError('contentType', 'must be 1-255 printable characters');
  }
  return value;
}

/** Returns the metadata as the JSON text stored in the database. */
export function validateUserMetadata(value: unknown): string {
  if (value === undefined) return '{}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('userMetadata', 'must be an object of string values');
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`userMetadata.${k}`, 'must be a string');
  }
  const text = JSON.stringify(value as UserMetadata);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_USER_METADATA_BYTES) throw new InvalidArgumentError('userMetadata', `is ${bytes} bytes as JSON; the limit is ${MAX_USER_METADATA_BYTES}`);
  return text;
}

export function validateEtag(value: unknown, field = 'etag'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) throw new InvalidArgumentError(field, 'must be a non-empty string of at most 1024 characters');
  return value;
}

export function validateOptionalText(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) throw new InvalidArgumentError(field, 'must be a non-empty string of at most 1024 characters');
  return value;
}

/** A page size or batch size: a whole number from 1 to `max`. */
export function validateLimit(value: unknown, field = 'limit', max = 10_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(field, `must be a whole number from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A paging cursor (an id or a part number to continue after): a whole number >= 0. */
export function validateCursor(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(field, `must be a whole number >= 0, got ${String(value)}`);
  }
  return value;
}

export function validateDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new InvalidArgumentError(field, 'must be a valid Date');
  return value;
}
