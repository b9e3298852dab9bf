import type { StoreContext } from './context.js';
import { pickStripe } from './context.js';
import type { TxQueries } from './generated/queries.js';
import { newId } from './keys.js';
import type { EventType } from './types.js';

interface Deltas {
  used: number;
  orphan: number;
  inflight: number;
}

export interface CleanupItem {
  readonly backendName: string;
  readonly storageKey: string;
  readonly objectKey: string;
  readonly sizeBytes: number;
}

/**
 * Everything a transaction does to the counters, the cleanup queue and the outbox, collected while
 * its rows change and written by `apply` at the end, inside the same transaction. Queueing bytes for
 * cleanup always adds them to orphan_bytes here, so the two cannot drift apart (I3); quota rows are
 * written in backend-name order, so concurrent transactions cannot deadlock (lessons.md #3).
 */
export class LedgerChanges {
  readonly #deltas = new Map<string, Deltas>();
  readonly #cleanup = new Map<string, CleanupItem[]>();
  readonly #events: { type: EventType; payload: string }[] = [];

  constructor(
    private readonly ctx: StoreContext,
    readonly now: Date,
  ) {}

  used(backendName: string, bytes: number): this {
    this.#delta(backendName).used += bytes;
    return this;
  }

  inflight(backendName: string, bytes: number): this {
    this.#delta(backendName).inflight += bytes;
    return this;
  }

  /** Queues the bytes for deletion from their backend and counts them as orphaned until then. */
  enqueueCleanup(item: CleanupItem, reason: string): this {
    this.#delta(item.backendName).orphan += item.sizeBytes;
    let list = this.#cleanup.get(reason);
    if (!list) this.#cleanup.set(reason, (list = []));
    list.push(item);
    return this;
  }

  /** Orphaned bytes that left the backend (deleted, or written off by an operator). */
  orphanGone(backendName: string, bytes: number): this {
    this.#delta(backendName).orphan -= bytes;
    return this;
  }

  event(type: EventType, payload: Record<string, unknown>): this {
    this.#events.push({ type, payload: JSON.stringify(payload) });
    return this;
  }

  async apply(q: TxQueries): Promise<void> {
    const stripe = pickStripe(this.ctx);
    for (const backendName of [...this.#deltas.keys()].sort()) {
      const d = this.#deltas.get(backendName)!;
      if (d.used === 0 && d.orphan === 0 && d.inflight === 0) continue;
      const net = d.used + d.orphan + d.inflight;
      // Growth must go through an admission (QuotaLedger.admit); anything else would bypass I2.
      if (net > 0) throw new Error(`internal error: ${backendName} would grow by ${net} bytes without an admission`);
      const params = { backendName, usedDelta: d.used, orphanDelta: d.orphan, inflightDelta: d.inflight };
      // Bytes that moved between counters stay on the writers' stripe; bytes that left the backend
      // go to the backend row, which returns them to the free budget.
      if (net === 0 && (await q.addStripeDeltas({ ...params, stripe })) === 1) continue;
      if ((await q.addBaseDeltas({ ...params, now: this.now })) !== 1) throw new Error(`internal error: no quota row for backend ${backendName}`);
    }
    for (const [reason, items] of this.#cleanup) {
      await q.enqueueCleanup({
        reason,
        now: this.now,
        backendNames: items.map((i) => i.backendName),
        storageKeys: items.map((i) => i.storageKey),
        objectKeys: items.map((i) => i.objectKey),
        sizes: items.map((i) => i.sizeBytes),
      });
    }
    if (this.#events.length > 0) {
      const rows = this.#events.flatMap((e) =>
        this.ctx.notificationTargets.filter((t) => t.events.includes(e.type)).map((t) => ({ ...e, endpoint: t.name })),
      );
      if (rows.length > 0) {
        await q.insertOutboxEvents({
          now: this.now,
          eventIds: rows.map(() => newId()),
          eventTypes: rows.map((r) => r.type),
          payloads: rows.map((r) => r.payload),
          endpoints: rows.map((r) => r.endpoint),
        });
      }
    }
  }

  #delta(backendName: string): Deltas {
    let d = this.#deltas.get(backendName);
    if (!d) this.#deltas.set(backendName, (d = { used: 0, orphan: 0, inflight: 0 }));
    return d;
  }
}
