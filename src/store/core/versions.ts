import { InvalidArgumentError, PreconditionFailedError } from './errors.js';
import type { TxQueries } from './generated/queries.js';
import type { LedgerChanges } from './ledger-changes.js';
import { encodePartSizes, type PartSizes } from './part-sizes.js';
import { toCopy, withPartSizes } from './rows.js';
import type { CommitResult, ObjectCopy } from './types.js';

export interface NewVersion {
  readonly objectKey: string;
  readonly backendName: string;
  readonly storageKey: string;
  readonly sizeBytes: number;
  readonly etag: string;
  readonly contentType: string;
  /** JSON text, as stored. */
  readonly userMetadata: string;
  readonly contentHash: string | null;
  /** A multipart completion's part sizes (runs, in part order); none for other versions. */
  readonly partSizes?: PartSizes;
}

/**
 * Makes `version` the current version of its key, in the caller's transaction, after the caller took
 * the key lock: the current copies are deleted and their bytes queued for cleanup, the new copy row
 * goes in, its bytes count as used, and an ObjectCreated event is recorded. The caller releases the
 * in-flight bytes that the version was admitted as (an intent, or multipart parts).
 * Shared by commit write, the reaper's promote and multipart completion.
 */
export async function installVersion(q: TxQueries, changes: LedgerChanges, version: NewVersion): Promise<CommitResult> {
  const { partSizes, ...fields } = version;
  const displaced = (await q.replaceVersion({ ...fields, partSizes: partSizes ? encodePartSizes(partSizes) : null, now: changes.now })).map(toCopy);
  changes.used(version.backendName, version.sizeBytes);
  for (const old of displaced) changes.used(old.backendName, -old.sizeBytes).enqueueCleanup(old, 'overwritten');
  const copy: ObjectCopy = { ...fields, userMetadata: JSON.parse(version.userMetadata), createdAt: changes.now, ...withPartSizes(partSizes) };
  changes.event('ObjectCreated', {
    objectKey: copy.objectKey,
    sizeBytes: copy.sizeBytes,
    etag: copy.etag,
    contentType: copy.contentType,
    contentHash: copy.contentHash,
    backends: [copy.backendName],
    createdAt: copy.createdAt.toISOString(),
    replaced: displaced.length > 0,
  });
  return { copy, displaced };
}

/**
 * A condition on the key's current version for a commit (S3's conditional PUT): `ifNoneMatch: '*'`
 * holds when the key has no current version; `ifMatch` holds when it has one whose ETag equals the
 * given one, compared without surrounding quotes (`ifMatch: '*'` holds for any current version).
 */
export type WriteCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string };

export function validateWriteCondition(value: unknown): WriteCondition | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError('condition', 'must be { ifNoneMatch: "*" } or { ifMatch: etag }');
  const c = value as Record<string, unknown>;
  const keys = Object.keys(c).filter((k) => c[k] !== undefined);
  if (keys.length !== 1 || (keys[0] !== 'ifNoneMatch' && keys[0] !== 'ifMatch')) {
    throw new InvalidArgumentError('condition', `must have exactly one of ifNoneMatch, ifMatch; got ${JSON.stringify(keys)}`);
  }
  if (keys[0] === 'ifNoneMatch') {
    if (c.ifNoneMatch !== '*') throw new InvalidArgumentError('condition.ifNoneMatch', `must be "*", got ${JSON.stringify(c.ifNoneMatch)}`);
    return { ifNoneMatch: '*' };
  }
  const ifMatch = c.ifMatch;
  if (typeof ifMatch !== 'string' || unquote(ifMatch).length === 0 || ifMatch.length > 1024) {
    throw new InvalidArgumentError('condition.ifMatch', `must be a non-empty ETag of at most 1024 characters, got ${JSON.stringify(ifMatch)}`);
  }
  return { ifMatch };
}

/**
 * Checks `condition` against the key's current version, in the caller's transaction and after the
 * caller took the key lock (so the answer holds until the commit). Returns the PreconditionFailed
 * error to throw when it does not hold (the caller decides what its transaction keeps), else undefined.
 */
export async function checkWriteCondition(q: TxQueries, objectKey: string, condition: WriteCondition): Promise<PreconditionFailedError | undefined> {
  const [current] = await q.lookupCopies({ objectKey });
  if ('ifNoneMatch' in condition) {
    if (!current) return undefined;
    return new PreconditionFailedError(`If-None-Match: * failed: object ${JSON.stringify(objectKey)} already exists (ETag ${current.etag})`, 'if-none-match');
  }
  if (!current) return new PreconditionFailedError(`If-Match failed: object ${JSON.stringify(objectKey)} does not exist`, 'if-match');
  if (condition.ifMatch !== '*' && unquote(condition.ifMatch) !== unquote(current.etag)) {
    return new PreconditionFailedError(`If-Match failed: object ${JSON.stringify(objectKey)} has ETag ${current.etag}, not ${condition.ifMatch}`, 'if-match');
  }
  return undefined;
}

/** An ETag without its surrounding double quotes: clients send them either way. */
function unquote(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}
