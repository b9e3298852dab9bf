import { CLEANUP_BACKOFF, backoffMs } from './backoff.js';
import type { StoreContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { LedgerChanges } from './ledger-changes.js';
import { validateCursor, validateLimit } from './object-input.js';
import { toCleanupTask, toDeadLetter } from './rows.js';
import type { CleanupTask, DeadLetter } from './types.js';

export type CleanupFailureOutcome = 'retry' | 'dead-letter' | 'lost';

export interface QueueDepth {
  readonly backendName: string;
  readonly queueRows: number;
  readonly queueBytes: number;
  readonly deadLetterRows: number;
  readonly deadLetterBytes: number;
}

/** Which dead letters an operator command acts on: one row, one backend's rows, or all. */
export type DeadLetterSelector = { readonly id: number } | { readonly backendName: string } | { readonly all: true };

/**
 * The cleanup queue and its dead-letter table (spec §6). Rows hold bytes still on a backend that no
 * object references; their sizes are the backends' orphan_bytes (I3) until deleted or written off.
 */
export class CleanupQueue {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Claims up to `limit` due rows for `worker`, of the given backends (default: all configured).
   * Concurrent claimers get disjoint rows; a claim not completed within `graceMs` (a worker that
   * died) comes due again and is taken over.
   */
  async claim(worker: string, limit: number, graceMs: number, backendNames: readonly string[] = [...this.ctx.backends.keys()]): Promise<CleanupTask[]> {
    validateWorker(worker);
    validateLimit(limit);
    validateCursor(graceMs, 'graceMs');
    const now = this.ctx.clock.now();
    const rows = await this.ctx.db.transaction((q) =>
      q.claimCleanup({ now, claimUntil: new Date(now.getTime() + graceMs), worker, limit, backendNames: [...backendNames] }),
    );
    return rows.map(toCleanupTask).sort((a, b) => a.id - b.id);
  }

  /** Hands claimed rows back (a stopping worker that did not get to them): due again at once. */
  async release(ids: readonly number[], worker: string): Promise<number> {
    if (ids.length === 0) return 0;
    const now = this.ctx.clock.now();
    return this.ctx.db.transaction((q) => q.releaseCleanupClaims({ ids: [...ids], worker, now }));
  }

  /** The bytes are gone from the backend (a 404 counts): the row goes and its orphan bytes are credited. Idempotent. */
  async complete(id: number): Promise<boolean> {
    return this.ctx.db.transaction(async (q) => {
      const [row] = await q.deleteCleanupRow({ id });
      if (!row) return false;
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      changes.orphanGone(row.backend_name, row.size_bytes);
      await changes.apply(q);
      return true;
    });
  }

  /**
   * A delete failed: retry after min(1 min × 2^attempts, 24 h), or after the last allowed attempt move
   * the row to the dead-letter table (its bytes stay orphaned: they are still on the backend).
   * `lost` means the claim had been taken over by another worker, which now owns the row.
   */
  async fail(task: Pick<CleanupTask, 'id' | 'attempts'>, worker: string, error: string): Promise<CleanupFailureOutcome> {
    const now = this.ctx.clock.now();
    const lastError = error.slice(0, 2000);
    return this.ctx.db.transaction(async (q) => {
      if (task.attempts + 1 >= this.ctx.cleanupMaxAttempts) {
        const moved = await q.moveCleanupToDlq({ id: task.id, worker, lastError, now });
        return moved.length === 1 ? 'dead-letter' : 'lost';
      }
      const nextRetry = new Date(now.getTime() + backoffMs(task.attempts, CLEANUP_BACKOFF.baseMs, CLEANUP_BACKOFF.capMs));
      const retried = await q.retryCleanup({ id: task.id, worker, lastError, nextRetry });
      return retried.length === 1 ? 'retry' : 'lost';
    });
  }

  async list(options: { backendName?: string; afterId?: number; limit?: number } = {}): Promise<CleanupTask[]> {
    const rows = await this.ctx.db.read((q) =>
      q.listCleanupRows({ backendName: options.backendName ?? null, afterId: validateCursor(options.afterId ?? 0, 'afterId'), limit: pageSize(options.limit) }),
    );
    return rows.map(toCleanupTask);
  }

  async listDeadLetters(options: { backendName?: string; afterId?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const rows = await this.ctx.db.read((q) =>
      q.listDlqRows({ backendName: options.backendName ?? null, afterId: validateCursor(options.afterId ?? 0, 'afterId'), limit: pageSize(options.limit) }),
    );
    return rows.map(toDeadLetter);
  }

  /** Moves dead letters back to the queue with a fresh retry budget. Counters do not change. */
  async requeueDeadLetters(selector: DeadLetterSelector): Promise<number[]> {
    const filter = toFilter(selector);
    const now = this.ctx.clock.now();
    const rows = await this.ctx.db.transaction((q) => q.requeueDlq({ ...filter, now }));
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /**
   * Writes dead letters off after an operator removed the bytes by hand: the rows go and their bytes
   * leave orphan_bytes (back to the free budget).
   */
  async purgeDeadLetters(selector: DeadLetterSelector): Promise<{ rows: number; bytes: number }> {
    const filter = toFilter(selector);
    return this.ctx.db.transaction(async (q) => {
      const purged = await q.purgeDlq(filter);
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      let bytes = 0;
      for (const row of purged) {
        changes.orphanGone(row.backend_name, row.size_bytes);
        bytes += row.size_bytes;
      }
      await changes.apply(q);
      return { rows: purged.length, bytes };
    });
  }

  async depths(): Promise<QueueDepth[]> {
    const rows = await this.ctx.db.read((q) => q.cleanupDepths());
    const byBackend = new Map<string, { queueRows: number; queueBytes: number; deadLetterRows: number; deadLetterBytes: number }>();
    for (const r of rows) {
      let d = byBackend.get(r.backend_name);
      if (!d) byBackend.set(r.backend_name, (d = { queueRows: 0, queueBytes: 0, deadLetterRows: 0, deadLetterBytes: 0 }));
      if (r.place === 'queue') {
        d.queueRows += r.rows;
        d.queueBytes += r.bytes;
      } else {
        d.deadLetterRows += r.rows;
        d.deadLetterBytes += r.bytes;
      }
    }
    return [...byBackend].map(([backendName, d]) => ({ backendName, ...d })).sort((a, b) => (a.backendName < b.backendName ? -1 : 1));
  }
}

function toFilter(selector: DeadLetterSelector): { id: number | null; backendName: string | null } {
  if ('id' in selector) {
    if (!Number.isSafeInteger(selector.id) || selector.id < 1) throw new InvalidArgumentError('id', 'must be a positive whole number');
    return { id: selector.id, backendName: null };
  }
  if ('backendName' in selector) return { id: null, backendName: selector.backendName };
  if (selector.all === true) return { id: null, backendName: null };
  throw new InvalidArgumentError('selector', 'give an id, a backendName, or all: true');
}

export function pageSize(limit: number | undefined): number {
  return validateLimit(limit ?? 100);
}

export function validateWorker(worker: unknown): string {
  if (typeof worker !== 'string' || worker.length === 0 || worker.length > 200) throw new InvalidArgumentError('worker', 'must be a worker name of 1-200 characters');
  return worker;
}
