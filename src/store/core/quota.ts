import type { StoreContext } from './context.js';
import { pickStripe } from './context.js';
import { InvalidArgumentError, NoSpaceError } from './errors.js';
import type { IListQuotaTotalsResult, TxQueries } from './generated/queries.js';
import type { BackendQuota } from './types.js';

export interface LedgerDrift {
  readonly backendName: string;
  readonly counter: 'bytes_used' | 'orphan_bytes' | 'inflight_bytes';
  readonly recorded: number;
  readonly actual: number;
}

export interface ReconcileReport {
  readonly checkedBackends: number;
  readonly drifts: readonly LedgerDrift[];
  /** False for an audit (report only), true when the drifts were corrected. */
  readonly fixed: boolean;
}

/** Admits `sizeBytes` of in-flight bytes on `backendName`, or throws NoSpace. */
export type Admit = (backendName: string, sizeBytes: number) => Promise<void>;

/** The fast path was refused: start over with a rebalance (see withAdmission). */
class RebalanceNeeded extends Error {}

interface Counters {
  used: number;
  orphan: number;
  inflight: number;
}

/**
 * The quota ledger: per-backend byte limits and counters, with escrow stripes (migration 0002).
 *
 * For a backend with a limit L, the backend row and its stripes always satisfy
 *   Σ(bytes_used + orphan_bytes + inflight_bytes + free_bytes) = L,  every stripe's free_bytes >= 0.
 * An admission takes its bytes from one stripe's free share (`admitOnStripe`), so bytes_used +
 * orphan_bytes + in-flight can never pass L (I2). When the share is too small, `rebalance` locks the
 * backend row and all its stripes, and either refuses (NoSpace) or redistributes what is left.
 */
export class QuotaLedger {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Upserts the configured limits (counters untouched), creates the stripes, and folds the stripes into
   * the backend row with the free budget recomputed from the (possibly new) limit.
   */
  async syncLimits(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const [backendName, bytesLimit] of [...this.ctx.backends].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      await this.ctx.db.transaction(async (q) => {
        await q.upsertBackendQuota({ backendName, bytesLimit, now });
        for (let stripe = 0; stripe < this.ctx.quotaStripes; stripe++) await q.insertQuotaStripe({ backendName, stripe });
        const locked = await this.#lock(q, backendName);
        await this.#fold(q, backendName, locked.limit, locked.recorded, now);
      });
    }
  }

  /**
   * Runs `fn` in a transaction whose admission (the `admit` it is given) takes bytes from one stripe's
   * share. When that share is too small, the whole transaction is rolled back and `fn` runs again in a
   * fresh one where `admit` rebalances: it locks the backend row, then every stripe. Rolling back first
   * matters on Postgres: a refused UPDATE can keep a row lock on its stripe (the re-check after a
   * concurrent update locks the newest version even when it no longer matches), and a stripe lock
   * held while waiting for the backend row could deadlock with another rebalance.
   * `fn` must be safe to run twice up to its admission, and admit at most once.
   */
  async withAdmission<T>(fn: (q: TxQueries, admit: Admit) => Promise<T>): Promise<T> {
    try {
      return await this.ctx.db.transaction((q) =>
        fn(q, async (backendName, sizeBytes) => {
          const stripe = pickStripe(this.ctx);
          if ((await q.admitOnStripe({ backendName, stripe, sizeBytes })).length === 1) return;
          throw new RebalanceNeeded();
        }),
      );
    } catch (err) {
      if (!(err instanceof RebalanceNeeded)) throw err;
    }
    return this.ctx.db.transaction((q) => fn(q, (backendName, sizeBytes) => this.admitByRebalance(q, backendName, sizeBytes)));
  }

  /**
   * The slow path of an admission: locks the backend row, then all its stripes, and admits or throws
   * NoSpace. Must be the first lock its transaction takes on quota rows (see withAdmission).
   */
  admitByRebalance(q: TxQueries, backendName: string, sizeBytes: number): Promise<void> {
    return this.#rebalance(q, backendName, sizeBytes, pickStripe(this.ctx));
  }

  /** How many copies each backend holds (backends without any are absent). */
  async copyCounts(): Promise<Map<string, number>> {
    const rows = await this.ctx.db.read((q) => q.sumCopiesByBackend());
    return new Map(rows.map((r) => [r.backend_name, Number(r.copies)]));
  }

  async totals(): Promise<BackendQuota[]> {
    const rows = await this.ctx.db.read((q) => q.listQuotaTotals());
    return rows.map(toBackendQuota);
  }

  /**
   * Recomputes every counter from the rows (copies, cleanup rows, intents and parts), reports each
   * drift, and with `fix` corrects it. Runs in one transaction holding every quota row, so the sums
   * and the counters describe the same moment even while writers run.
   */
  async reconcile(options: { fix: boolean }): Promise<ReconcileReport> {
    const now = this.ctx.clock.now();
    return this.ctx.db.transaction(async (q) => {
      const names = (await q.listQuotaTotals()).map((r) => r.backend_name).sort();
      const locked = new Map<string, { limit: number; recorded: Counters }>();
      for (const name of names) locked.set(name, await this.#lock(q, name));

      const actual = new Map<string, Counters>(names.map((n) => [n, { used: 0, orphan: 0, inflight: 0 }]));
      for (const r of await q.sumCopiesByBackend()) actual.get(r.backend_name)!.used += r.bytes;
      for (const r of await q.cleanupDepths()) actual.get(r.backend_name)!.orphan += r.bytes;
      for (const r of await q.sumIntentsByBackend()) actual.get(r.backend_name)!.inflight += r.bytes;
      for (const r of await q.sumPartsByBackend()) actual.get(r.backend_name)!.inflight += r.bytes;

      const drifts: LedgerDrift[] = [];
      for (const name of names) {
        const { limit, recorded } = locked.get(name)!;
        const truth = actual.get(name)!;
        const compare = (counter: LedgerDrift['counter'], r: number, a: number) => {
          if (r !== a) drifts.push({ backendName: name, counter, recorded: r, actual: a });
        };
        compare('bytes_used', recorded.used, truth.used);
        compare('orphan_bytes', recorded.orphan, truth.orphan);
        compare('inflight_bytes', recorded.inflight, truth.inflight);
        if (options.fix) await this.#fold(q, name, limit, truth, now);
      }
      return { checkedBackends: names.length, drifts, fixed: options.fix };
    });
  }

  /** Locks the backend row, then all its stripes (always this order), and sums the counters. */
  async #lock(
    q: TxQueries,
    backendName: string,
  ): Promise<{ limit: number; free: number; base: Counters; recorded: Counters; stripes: number[] }> {
    const [base] = await q.lockQuotaBase({ backendName });
    if (!base) throw new InvalidArgumentError('backend', `unknown backend ${JSON.stringify(backendName)}`);
    const stripes = await q.lockQuotaStripes({ backendName });
    const recorded = { used: base.bytes_used, orphan: base.orphan_bytes, inflight: base.inflight_bytes };
    let free = base.free_bytes;
    for (const s of stripes) {
      recorded.used += s.bytes_used;
      recorded.orphan += s.orphan_bytes;
      recorded.inflight += s.inflight_bytes;
      free += s.free_bytes;
    }
    return {
      limit: base.bytes_limit,
      free,
      base: { used: base.bytes_used, orphan: base.orphan_bytes, inflight: base.inflight_bytes },
      recorded,
      stripes: stripes.map((s) => s.stripe),
    };
  }

  /** Moves every counter into the backend row and the whole free budget with them. Call under #lock. */
  async #fold(q: TxQueries, backendName: string, limit: number, counters: Counters, now: Date): Promise<void> {
    await q.resetStripeCounters({ backendName });
    await q.setQuotaBase({
      backendName,
      bytesUsed: counters.used,
      orphanBytes: counters.orphan,
      inflightBytes: counters.inflight,
      freeBytes: limit === 0 ? 0 : limit - counters.used - counters.orphan - counters.inflight,
      now,
    });
  }

  async #rebalance(q: TxQueries, backendName: string, sizeBytes: number, stripe: number): Promise<void> {
    let locked = await this.#lock(q, backendName);
    if (!locked.stripes.includes(stripe)) {
      // A backend this instance has not synced yet (another instance's config): give it stripes.
      for (let s = 0; s < this.ctx.quotaStripes; s++) await q.insertQuotaStripe({ backendName, stripe: s });
      locked = await this.#lock(q, backendName);
    }
    if (locked.limit > 0) {
      if (locked.free < sizeBytes) throw new NoSpaceError(sizeBytes, [backendName]);
      // What is left is split evenly over the stripes; the remainder of the division stays with the
      // backend row. All counters keep their values: only the free budget moves.
      const remaining = locked.free - sizeBytes;
      const share = Math.floor(remaining / locked.stripes.length);
      await q.setStripesFree({ backendName, freeBytes: share });
      await q.setQuotaBase({
        backendName,
        bytesUsed: locked.base.used,
        orphanBytes: locked.base.orphan,
        inflightBytes: locked.base.inflight,
        freeBytes: remaining - share * locked.stripes.length,
        now: this.ctx.clock.now(),
      });
    }
    await q.addStripeDeltas({ backendName, stripe, usedDelta: 0, orphanDelta: 0, inflightDelta: sizeBytes });
  }
}

export function toBackendQuota(r: IListQuotaTotalsResult): BackendQuota {
  return {
    backendName: r.backend_name,
    bytesLimit: r.bytes_limit,
    bytesUsed: r.bytes_used,
    orphanBytes: r.orphan_bytes,
    inflightBytes: r.inflight_bytes,
    freeBytes: r.bytes_limit === 0 ? Number.POSITIVE_INFINITY : r.bytes_limit - r.bytes_used - r.orphan_bytes - r.inflight_bytes,
    stripes: r.stripes,
    updatedAt: r.updated_at,
  };
}
