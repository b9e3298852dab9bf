import type { StoreContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { compareKeys, keyAfter, prefixEnd, validateKeyFragment } from './keys.js';
import type { ListedObject, ListObjectsInput, ListObjectsResult } from './types.js';

export const MAX_LIST_KEYS = 1000;

interface Position {
  /** The last element returned. */
  readonly after: string;
  /** Whether it was a common prefix (then everything under it was rolled into it). */
  readonly rolledUp: boolean;
}

/**
 * ListObjectsV2 semantics: keys in UTF-8 byte order (the database compares them as bytes), each key
 * once however many copies it has, keys under a common prefix (prefix + ... + delimiter) rolled
 * into one entry, pages of at most maxKeys entries resumed by an opaque continuation token.
 */
export class ObjectListing {
  constructor(private readonly ctx: StoreContext) {}

  async list(input: ListObjectsInput = {}): Promise<ListObjectsResult> {
    const prefix = validateKeyFragment(input.prefix, 'prefix');
    const delimiter = input.delimiter === undefined || input.delimiter === '' ? undefined : validateKeyFragment(input.delimiter, 'delimiter');
    const maxKeys = input.maxKeys ?? MAX_LIST_KEYS;
    if (!Number.isInteger(maxKeys) || maxKeys < 0 || maxKeys > MAX_LIST_KEYS) {
      throw new InvalidArgumentError('maxKeys', `must be a whole number from 0 to ${MAX_LIST_KEYS}, got ${String(maxKeys)}`);
    }
    // As S3: a continuation token wins over start-after.
    const position: Position | undefined =
      input.continuationToken !== undefined
        ? decodeToken(input.continuationToken)
        : input.startAfter
          ? { after: validateKeyFragment(input.startAfter, 'startAfter'), rolledUp: input.startAfterRolledUp === true }
          : undefined;

    const objects: ListedObject[] = [];
    const commonPrefixes: string[] = [];
    if (maxKeys === 0) return { objects, commonPrefixes, isTruncated: false, nextContinuationToken: undefined };

    const end = prefixEnd(prefix);
    let from = prefix;
    if (position) {
      const resume = position.rolledUp ? prefixEnd(position.after) : keyAfter(position.after);
      if (resume === undefined) return { objects, commonPrefixes, isTruncated: false, nextContinuationToken: undefined };
      if (compareKeys(resume, from) > 0) from = resume;
    }
    let last: Position | undefined;
    let truncated = false;

    scan: while (true) {
      const want = maxKeys - objects.length - commonPrefixes.length + 1;
      const rows = await this.ctx.db.read((q) =>
        end === undefined ? q.listObjectsFrom({ fromKey: from, limit: want }) : q.listObjectsRange({ fromKey: from, toKey: end, limit: want }),
      );
      for (const row of rows) {
        const element = rollUp(row.object_key, prefix, delimiter);
        if (objects.length + commonPrefixes.length === maxKeys) {
          truncated = true;
          break scan;
        }
        if (element !== undefined) {
          commonPrefixes.push(element);
          last = { after: element, rolledUp: true };
          // Skip every key under this common prefix: query again from just past it.
          const next = prefixEnd(element);
          if (next === undefined) break scan;
          from = next;
          continue scan;
        }
        objects.push({ objectKey: row.object_key, sizeBytes: row.size_bytes, etag: row.etag, createdAt: row.created_at });
        last = { after: row.object_key, rolledUp: false };
      }
      if (rows.length < want) break;
      from = keyAfter(rows[rows.length - 1]!.object_key);
    }
    return { objects, commonPrefixes, isTruncated: truncated, nextContinuationToken: truncated && last ? encodeToken(last) : undefined };
  }
}

/** The common prefix `key` rolls into, or undefined when it is listed as itself. */
function rollUp(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (delimiter === undefined) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

function encodeToken(position: Position): string {
  return Buffer.from(JSON.stringify({ a: position.after, r: position.rolledUp ? 1 : 0 }), 'utf8').toString('base64url');
}

function decodeToken(token: string): Position {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { a?: unknown; r?: unknown };
    if (typeof value.a === 'string' && value.a.length > 0 && (value.r === 0 || value.r === 1)) {
      return { after: validateKeyFragment(value.a, 'continuationToken'), rolledUp: value.r === 1 };
    }
  } catch {
    // reported below
  }
  throw new InvalidArgumentError('continuationToken', 'is not a token this store issued');
}
