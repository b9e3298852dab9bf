import { monthlyLimitsOf } from '../../config/backends.js';
import type { AppConfig } from '../../config/types.js';
import type { Logger } from '../../logging.js';
import type { StoreApi } from '../../store/core/store.js';
import { utcMonth } from '../../store/core/usage-meter.js';
import type { BackendUsage } from '../../store/core/types.js';

/** How often the month's totals are read again from the database (other instances add to them). */
const REFRESH_MS = 5_000;

export type UsageDirection = 'write' | 'read';

/**
 * Monthly usage limits per backend (spec §5): the month's totals from `backend_usage` (written by
 * every instance's usage flush) plus this instance's unflushed counters. A backend past its API
 * request limit is skipped for everything it can be spared; past its ingress limit, for writes;
 * past its egress limit, for reads that have another copy. Deletes are never blocked.
 */
export class MonthlyUsageGuard {
  #totals = new Map<string, BackendUsage>();
  #period = '';
  #timer: NodeJS.Timeout | undefined;
  readonly #limited: boolean;

  constructor(
    private readonly store: StoreApi,
    private readonly config: AppConfig,
    private readonly logger: Logger,
  ) {
    this.#limited = config.backends.some((b) => {
      const l = monthlyLimitsOf(b);
      return l.apiRequests > 0 || l.egressBytes > 0 || l.ingressBytes > 0;
    });
  }

  /** Reads the totals now and then every few seconds (only when some backend has a limit). */
  async start(): Promise<void> {
    if (!this.#limited) return;
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'monthly usage could not be read; the last totals stay in force'));
    }, REFRESH_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    const period = utcMonth(new Date());
    const rows = await this.store.usage.totals(period);
    this.#period = period;
    this.#totals = new Map(rows.map((r) => [r.backendName, r]));
  }

  /** Whether `backend` has used up a monthly limit that matters for this direction. */
  exhausted(backend: string, direction: UsageDirection): boolean {
    if (!this.#limited) return false;
    const config = this.config.backends.find((b) => b.name === backend);
    if (!config) return false;
    const limits = monthlyLimitsOf(config);
    const used = this.#used(backend);
    if (limits.apiRequests > 0 && used.apiRequests >= limits.apiRequests) return true;
    if (direction === 'write') return limits.ingressBytes > 0 && used.ingressBytes >= limits.ingressBytes;
    return limits.egressBytes > 0 && used.egressBytes >= limits.egressBytes;
  }

  #used(backend: string): { apiRequests: number; egressBytes: number; ingressBytes: number } {
    const period = utcMonth(new Date());
    // A new month starts from zero even before the next refresh.
    const stored = period === this.#period ? this.#totals.get(backend) : undefined;
    const used = { apiRequests: stored?.apiRequests ?? 0, egressBytes: stored?.egressBytes ?? 0, ingressBytes: stored?.ingressBytes ?? 0 };
    for (const p of this.store.usage.pending()) {
      if (p.backendName !== backend || p.period !== period) continue;
      used.apiRequests += p.apiRequests;
      used.egressBytes += p.egressBytes;
      used.ingressBytes += p.ingressBytes;
    }
    return used;
  }
}
