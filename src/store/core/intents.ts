import type { StoreContext } from './context.js';
import type { TxQueries } from './generated/queries.js';
import { validateDate, validateEtag, validateLimit } from './object-input.js';
import { LedgerChanges } from './ledger-changes.js';
import { commitPartInTx } from './multipart.js';
import { cleanupItem, commitCopyInTx } from './objects.js';
import { toIntent } from './rows.js';
import type { WriteIntent } from './types.js';
import { installVersion } from './versions.js';

/** What the backend said about an intent's storage key. */
export interface FoundBytes {
  readonly sizeBytes: number;
  readonly etag: string;
}

export type PromoteOutcome =
  /** The bytes became the object (write), a copy (copy) or a part (part). */
  | 'committed'
  /** Something newer won meanwhile (a later write or delete of the key, another version, a finished upload): bytes queued for deletion. */
  | 'superseded'
  /** The bytes on the backend are not what was admitted (size or ETag differs): queued for deletion. */
  | 'discarded'
  /** The intent was already resolved by someone else. */
  | 'gone';

/**
 * The store side of the crash-safe write (spec §6, pending intents). An intent outlives its write
 * only when the writer crashed or failed between begin and commit; the reaper lists old intents,
 * asks the backend whether the bytes are there, and promotes or drops each one.
 */
export class IntentOperations {
  constructor(private readonly ctx: StoreContext) {}

  /** Intents created before `cutoff`, oldest first. */
  async listOlderThan(cutoff: Date, limit: number): Promise<WriteIntent[]> {
    validateDate(cutoff, 'cutoff');
    validateLimit(limit);
    const rows = await this.ctx.db.read((q) => q.listIntentsCreatedBefore({ cutoff, limit }));
    return rows.map(toIntent);
  }

  /**
   * The reaper's page of one backend: its intents created before `cutoff`, oldest first, without the
   * write intents that wait for a newer pending write of their key (resolved first: newest wins).
   */
  async listReapable(backendName: string, cutoff: Date, limit: number): Promise<WriteIntent[]> {
    validateDate(cutoff, 'cutoff');
    validateLimit(limit);
    const rows = await this.ctx.db.read((q) => q.listReapableIntents({ backendName, cutoff, limit }));
    return rows.map(toIntent);
  }

  async summary(): Promise<{ count: number; oldest: Date | null }> {
    const [row] = await this.ctx.db.read((q) => q.intentSummary());
    return { count: row?.count ?? 0, oldest: row?.oldest ?? null };
  }

  /**
   * The bytes are on the backend: finish what the writer could not. A write intent is committed
   * unless a write of the same key committed after the intent was created (then that newer write
   * stays current and these bytes are queued for deletion).
   */
  async promote(intent: WriteIntent, found: FoundBytes): Promise<PromoteOutcome> {
    const etag = validateEtag(found.etag, 'found.etag');
    return this.ctx.db.transaction(async (q) => {
      let row: Awaited<ReturnType<TxQueries['takeIntent']>>[number] | undefined;
      if (intent.kind === 'part') {
        await q.lockUpload({ uploadId: intent.uploadId! });
        [row] = await q.deleteIntent({ intentId: intent.intentId });
      } else {
        [row] = await q.takeIntent({ intentId: intent.intentId, objectKey: intent.objectKey });
      }
      if (!row) return 'gone';
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const outcome = await this.#promote(q, changes, row, found.sizeBytes, etag);
      await changes.apply(q);
      return outcome;
    });
  }

  /** The bytes are not on the backend: forget the intent and return its bytes to the free budget. */
  async drop(intent: Pick<WriteIntent, 'intentId'>): Promise<boolean> {
    return this.ctx.db.transaction(async (q) => {
      const [row] = await q.deleteIntent({ intentId: intent.intentId });
      if (!row) return false;
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      changes.inflight(row.backend_name, -row.size_bytes);
      await changes.apply(q);
      return true;
    });
  }

  async #promote(q: TxQueries, changes: LedgerChanges, row: Parameters<typeof toIntent>[0], foundSize: number, etag: string): Promise<PromoteOutcome> {
    const expected = row.kind === 'part' ? null : row.etag;
    if (foundSize !== row.size_bytes || (expected !== null && unquote(expected) !== unquote(etag))) {
      changes.inflight(row.backend_name, -row.size_bytes).enqueueCleanup(cleanupItem(row), 'size-mismatch');
      return 'discarded';
    }
    if (row.kind === 'copy') return (await commitCopyInTx(q, changes, row)).status;
    if (row.kind === 'part') return (await commitPartInTx(q, changes, row, etag)).status === 'committed' ? 'committed' : 'superseded';

    const current = await q.lookupCopies({ objectKey: row.object_key });
    changes.inflight(row.backend_name, -row.size_bytes);
    // A newer version won: one that ended the version current when this intent began (the statement
    // that ended it stamped superseded_at; this also covers a newer write that was deleted since), or
    // a current copy committed after the intent's creation. The crashed write was never acknowledged.
    if (row.superseded_at !== null || current.some((c) => c.created_at.getTime() > row.created_at.getTime())) {
      changes.enqueueCleanup(cleanupItem(row), 'superseded');
      return 'superseded';
    }
    await installVersion(q, changes, {
      objectKey: row.object_key,
      backendName: row.backend_name,
      storageKey: row.storage_key,
      sizeBytes: row.size_bytes,
      etag,
      contentType: row.content_type,
      userMetadata: row.user_metadata,
      contentHash: row.content_hash,
    });
    return 'committed';
  }
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}
