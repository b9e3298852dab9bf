import type { Logger } from '../../logging.js';
import { DatabaseUnavailableError } from '../../store/core/errors.js';

export interface DatabaseBreakerOptions {
  /** DatabaseUnavailable errors within `windowMs` that open the breaker (default 3). */
  readonly failureThreshold?: number;
  /** Default 10 s. */
  readonly windowMs?: number;
  /** While open, how often the probe asks the database (default 2 s). */
  readonly probeIntervalMs?: number;
}

export type DatabaseState = 'ok' | 'degraded';

/**
 * The database circuit breaker (spec §6). Only DatabaseUnavailableError counts: a busy pool, a
 * deadlock or a serialisation failure is not an outage (lessons.md #3, #15), so DatabaseBusyError
 * and every other error are ignored. `failureThreshold` unavailable errors within `windowMs` open
 * it; while open a probe (one cheap read) runs every `probeIntervalMs`, and its first success closes it.
 */
export class DatabaseBreaker {
  #open = false;
  #failures: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  #stopped = false;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #probeMs: number;

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly logger: Logger,
    options: DatabaseBreakerOptions = {},
  ) {
    this.#threshold = Math.max(1, options.failureThreshold ?? 3);
    this.#windowMs = options.windowMs ?? 10_000;
    this.#probeMs = options.probeIntervalMs ?? 2000;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get state(): DatabaseState {
    return this.#open ? 'degraded' : 'ok';
  }

  /** Counts `err` when it says the database cannot be reached; returns whether it did. */
  observe(err: unknown): boolean {
    if (!(err instanceof DatabaseUnavailableError)) return false;
    if (this.#open || this.#stopped) return true;
    const now = Date.now();
    this.#failures = this.#failures.filter((t) => now - t < this.#windowMs);
    this.#failures.push(now);
    if (this.#failures.length >= this.#threshold) this.#trip(err);
    return true;
  }

  /** Stops the probe (shutdown). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #trip(err: DatabaseUnavailableError): void {
    this.#open = true;
    this.#failures = [];
    this.logger.error({ err: err.message }, 'database unavailable: outage mode on (reads of recently seen objects only; writes and listings answer 503)');
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#runProbe();
    }, this.#probeMs);
    this.#timer.unref();
  }

  async #runProbe(): Promise<void> {
    if (this.#probing || this.#stopped) return;
    this.#probing = true;
    try {
      await this.probe();
      this.#open = false;
      this.logger.info({}, 'database reachable again: outage mode off');
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'database probe failed; outage mode stays on');
      this.#schedule();
    } finally {
      this.#probing = false;
    }
  }
}
