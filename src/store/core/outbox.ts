import { backoffMs, OUTBOX_BACKOFF } from './backoff.js';
import { pageSize, validateWorker } from './cleanup-queue.js';
import { validateCursor, validateLimit } from './object-input.js';
import type { StoreContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { toOutboxEvent } from './rows.js';
import type { OutboxEvent } from './types.js';

export type EventFailureOutcome = 'retry' | 'failed' | 'lost';

/**
 * The notification outbox (spec §6). Events are written by the transactions that make the changes
 * (LedgerChanges.event); this side serves the delivery worker and operators.
 */
export class Outbox {
  constructor(private readonly ctx: StoreContext) {}

  /** Claims due events; as with the cleanup queue, claims are disjoint and taken over after `graceMs`. */
  async claim(worker: string, limit: number, graceMs: number): Promise<OutboxEvent[]> {
    validateWorker(worker);
    validateLimit(limit);
    validateCursor(graceMs, 'graceMs');
    const now = this.ctx.clock.now();
    const rows = await this.ctx.db.transaction((q) => q.claimOutbox({ now, claimUntil: new Date(now.getTime() + graceMs), worker, limit }));
    return rows.map(toOutboxEvent).sort((a, b) => a.id - b.id);
  }

  /** Hands claimed events back (a stopping worker that did not get to them): due again at once. */
  async release(ids: readonly number[], worker: string): Promise<number> {
    if (ids.length === 0) return 0;
    const now = this.ctx.clock.now();
    return this.ctx.db.transaction((q) => q.releaseOutboxClaims({ ids: [...ids], worker, now }));
  }

  /** Delivered (a 2xx answer): the row goes. */
  async markDelivered(id: number): Promise<boolean> {
    return (await this.ctx.db.transaction((q) => q.deleteOutboxEvent({ id }))) === 1;
  }

  /**
   * Delivery failed: retry with capped exponential backoff, or once `maxAttempts` deliveries failed,
   * mark the event failed. Failed events are kept for operators (list, requeue, purge).
   */
  async fail(event: Pick<OutboxEvent, 'id' | 'attempts'>, worker: string, error: string, maxAttempts: number): Promise<EventFailureOutcome> {
    const now = this.ctx.clock.now();
    const lastError = error.slice(0, 2000);
    return this.ctx.db.transaction(async (q) => {
      if (event.attempts + 1 >= maxAttempts) {
        return (await q.failOutboxEvent({ id: event.id, worker, lastError, now })) === 1 ? 'failed' : 'lost';
      }
      const nextRetry = new Date(now.getTime() + backoffMs(event.attempts, OUTBOX_BACKOFF.baseMs, OUTBOX_BACKOFF.capMs));
      return (await q.retryOutboxEvent({ id: event.id, worker, lastError, nextRetry })).length === 1 ? 'retry' : 'lost';
    });
  }

  async list(options: { state?: 'pending' | 'failed'; afterId?: number; limit?: number } = {}): Promise<OutboxEvent[]> {
    const failed = options.state === undefined ? null : options.state === 'failed';
    const rows = await this.ctx.db.read((q) => q.listOutboxEvents({ failed, afterId: validateCursor(options.afterId ?? 0, 'afterId'), limit: pageSize(options.limit) }));
    return rows.map(toOutboxEvent);
  }

  /** Failed events back to pending with a fresh budget: one (`id`) or all. */
  async requeueFailed(selector: { id: number } | { all: true }): Promise<number[]> {
    const id = selectorId(selector);
    const now = this.ctx.clock.now();
    const rows = await this.ctx.db.transaction((q) => q.requeueFailedOutbox({ id, now }));
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  async purgeFailed(selector: { id: number } | { all: true }): Promise<number[]> {
    const id = selectorId(selector);
    const rows = await this.ctx.db.transaction((q) => q.purgeFailedOutbox({ id }));
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  async summary(): Promise<{ pending: number; failed: number; oldestPending: Date | null }> {
    const [row] = await this.ctx.db.read((q) => q.outboxSummary());
    return { pending: row?.pending ?? 0, failed: row?.failed ?? 0, oldestPending: row?.oldest_pending ?? null };
  }
}

function selectorId(selector: { id: number } | { all: true }): number | null {
  if ('id' in selector) {
    if (!Number.isSafeInteger(selector.id) || selector.id < 1) throw new InvalidArgumentError('id', 'must be a positive whole number');
    return selector.id;
  }
  if (selector.all === true) return null;
  throw new InvalidArgumentError('selector', 'give an id or all: true');
}
