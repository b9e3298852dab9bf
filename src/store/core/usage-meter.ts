import type { StoreContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { BackendUsage, UsageDelta } from './types.js';

interface Pending {
  backendName: string;
  period: string;
  apiRequests: number;
  egressBytes: number;
  ingressBytes: number;
}

/**
 * Per-backend request and traffic counters (spec §6, usage). Requests add to memory only; a flush
 * writes the deltas as additive upserts for their UTC month, so flushes from several instances add
 * up. A failed flush keeps its deltas for the next one; closing the store flushes.
 */
export class UsageMeter {
  #pending = new Map<string, Pending>();
  #flushing: Promise<number> | undefined;

  constructor(private readonly ctx: StoreContext) {}

  record(backendName: string, delta: UsageDelta): void {
    const { period, apiRequests, egressBytes, ingressBytes } = usageRowOf(this.ctx.backends, backendName, delta, this.ctx.clock.now());
    const key = `${backendName}\u0000${period}`;
    let p = this.#pending.get(key);
    if (!p) this.#pending.set(key, (p = { backendName, period, apiRequests: 0, egressBytes: 0, ingressBytes: 0 }));
    p.apiRequests += apiRequests;
    p.egressBytes += egressBytes;
    p.ingressBytes += ingressBytes;
  }

  /** Deltas not yet written, for status and tests. */
  pending(): BackendUsage[] {
    return [...this.#pending.values()].map((p) => ({ ...p }));
  }

  /** Writes the accumulated deltas; returns how many (backend, month) rows were written. */
  async flush(): Promise<number> {
    // One flush at a time: a second caller waits for the first and then flushes what came since.
    while (this.#flushing) await this.#flushing.catch(() => {});
    this.#flushing = this.#flushOnce();
    try {
      return await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  async totals(period: string): Promise<BackendUsage[]> {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) throw new InvalidArgumentError('period', `must be a UTC month as YYYY-MM, got ${JSON.stringify(period)}`);
    const rows = await this.ctx.db.read((q) => q.getUsageForPeriod({ period }));
    return rows.map((r) => ({
      backendName: r.backend_name,
      period: r.period,
      apiRequests: r.api_requests,
      egressBytes: r.egress_bytes,
      ingressBytes: r.ingress_bytes,
    }));
  }

  async #flushOnce(): Promise<number> {
    if (this.#pending.size === 0) return 0;
    const batch = this.#pending;
    this.#pending = new Map();
    const rows = [...batch.values()].sort((a, b) => (a.backendName + a.period < b.backendName + b.period ? -1 : 1));
    try {
      const now = this.ctx.clock.now();
      await this.ctx.db.transaction(async (q) => {
        for (const r of rows) await q.addUsage({ ...r, now });
      });
      return rows.length;
    } catch (err) {
      // Keep the deltas: add them back to whatever was recorded meanwhile.
      for (const [key, r] of batch) {
        const p = this.#pending.get(key);
        if (!p) this.#pending.set(key, r);
        else {
          p.apiRequests += r.apiRequests;
          p.egressBytes += r.egressBytes;
          p.ingressBytes += r.ingressBytes;
        }
      }
      throw err;
    }
  }
}

export function utcMonth(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** A delta checked (a known backend, whole numbers >= 0) and dated to its UTC month. */
export function usageRowOf(backends: { has(name: string): boolean }, backendName: string, delta: UsageDelta, now: Date): BackendUsage {
  if (!backends.has(backendName)) throw new InvalidArgumentError('backendName', `unknown backend ${JSON.stringify(backendName)}`);
  return {
    backendName,
    period: utcMonth(now),
    apiRequests: count(delta.apiRequests, 'apiRequests'),
    egressBytes: count(delta.egressBytes, 'egressBytes'),
    ingressBytes: count(delta.ingressBytes, 'ingressBytes'),
  };
}

function count(value: number | undefined, field: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(field, `must be a whole number >= 0, got ${String(value)}`);
  return value;
}
