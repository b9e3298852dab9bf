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
    const changed = [...this.#deltas.keys()].sort().filter((b) => {
      const d = this.#deltas.get(b)!;
      return d.used !== 0 || d.orphan !== 0 || d.inflight !== 0;
    });
    // Bytes that moved between counters stay on the writers' stripe; bytes that left the backend go
    // to the backend row, which returns them to the free budget. Growth must go through an admission
    // (QuotaLedger): anything else would bypass I2.
    const onStripe = (b: string) => {
      const d = this.#deltas.get(b)!;
      const net = d.used + d.orphan + d.inflight;
      if (net > 0) throw new Error(`internal error: ${b} would grow by ${net} bytes without an admission`);
      return net === 0;
    };
    // The last backend (in name order), when it stays on a stripe, is written by the same statement
    // as the cleanup rows and the events: one round trip for the common single-backend change.
    const last = changed.at(-1);
    const combined = last !== undefined && onStripe(last) ? last : undefined;
    for (const backendName of changed) {
      if (backendName === combined) continue;
      await this.#write(q, backendName, onStripe(backendName), stripe);
    }
    const items = [...this.#cleanup].flatMap(([reason, list]) => list.map((i) => ({ ...i, reason })));
    const events = this.#events.flatMap((e) =>
      this.ctx.notificationTargets.filter((t) => t.events.includes(e.type)).map((t) => ({ ...e, endpoint: t.name })),
    );
    if (combined === undefined && items.length === 0 && events.length === 0) return;
    const d = combined === undefined ? { used: 0, orphan: 0, inflight: 0 } : this.#deltas.get(combined)!;
    const [result] = await q.recordChanges({
      backendName: combined ?? null,
      stripe,
      usedDelta: d.used,
      orphanDelta: d.orphan,
      inflightDelta: d.inflight,
      now: this.now,
      cleanupBackends: items.map((i) => i.backendName),
      cleanupStorageKeys: items.map((i) => i.storageKey),
      cleanupObjectKeys: items.map((i) => i.objectKey),
      cleanupReasons: items.map((i) => i.reason),
      cleanupSizes: items.map((i) => i.sizeBytes),
      eventIds: events.map(() => newId()),
      eventTypes: events.map((e) => e.type),
      eventPayloads: events.map((e) => e.payload),
      eventEndpoints: events.map((e) => e.endpoint),
    });
    // A backend without stripes (not synced by this instance's config): its row takes the deltas.
    if (combined !== undefined && result?.stripes_updated !== 1) await this.#write(q, combined, false, stripe);
  }

  async #write(q: TxQueries, backendName: string, onStripe: boolean, stripe: number): Promise<void> {
    const d = this.#deltas.get(backendName)!;
    const params = { backendName, usedDelta: d.used, orphanDelta: d.orphan, inflightDelta: d.inflight };
    if (onStripe && (await q.addStripeDeltas({ ...params, stripe })) === 1) return;
    if ((await q.addBaseDeltas({ ...params, now: this.now })) !== 1) throw new Error(`internal error: no quota row for backend ${backendName}`);
  }

  #delta(backendName: string): Deltas {
    let d = this.#deltas.get(backendName);
    if (!d) this.#deltas.set(backendName, (d = { used: 0, orphan: 0, inflight: 0 }));
    return d;
  }
}
