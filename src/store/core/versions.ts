import type { TxQueries } from './generated/queries.js';
import type { LedgerChanges } from './ledger-changes.js';
import { toCopy } from './rows.js';
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
}

/**
 * Makes `version` the current version of its key, in the caller's transaction, after the caller took
 * the key lock: the current copies are deleted and their bytes queued for cleanup, the new copy row
 * goes in, its bytes count as used, and an ObjectCreated event is recorded. The caller releases the
 * in-flight bytes that the version was admitted as (an intent, or multipart parts).
 * Shared by commit write, the reaper's promote and multipart completion.
 */
export async function installVersion(q: TxQueries, changes: LedgerChanges, version: NewVersion): Promise<CommitResult> {
  const displaced = (await q.replaceVersion({ ...version, now: changes.now })).map(toCopy);
  changes.used(version.backendName, version.sizeBytes);
  for (const old of displaced) changes.used(old.backendName, -old.sizeBytes).enqueueCleanup(old, 'overwritten');
  const copy: ObjectCopy = { ...version, userMetadata: JSON.parse(version.userMetadata), createdAt: changes.now };
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
