import type { BackendClient } from '../../backends/backend-client.js';
import type { AppConfig } from '../../config/types.js';
import type { Logger } from '../../logging.js';
import type { ObjectCopy } from '../../store/core/types.js';
import { S3Error } from '../errors.js';
import type { MonthlyUsageGuard } from './monthly-usage.js';
import { CircuitBreaker, DEFAULT_BREAKER, isBackendFailure, type BreakerOptions, type BreakerState } from './circuit-breaker.js';

/** Refused without a call: the backend's breaker is open. Counts as a backend failure for failover. */
export class BackendCircuitOpen extends Error {
  readonly code = 'ECIRCUITOPEN';
  constructor(readonly backendName: string) {
    super(`backend ${JSON.stringify(backendName)} is failing: its circuit breaker is open`);
    this.name = 'BackendCircuitOpen';
  }
}

/**
 * Which backends a request may use, and in what order (spec §5): writes go to the configured
 * backends this instance has a client for, skipping those whose breaker is open; reads try each copy
 * in turn, those on healthy backends first. Every backend call goes through `call`, which keeps the
 * breakers up to date.
 */
/** What `call` reports of each backend call (metrics): the client method called, how it ended, how long it took. */
export type BackendCallOutcome = 'success' | 'failure' | 'client_error' | 'refused';
export type BackendCallObserver = (backend: string, operation: string, outcome: BackendCallOutcome, seconds: number) => void;

export class BackendRouter {
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** Set by the gateway's metrics; undefined: calls are not observed. */
  observer: BackendCallObserver | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly clients: ReadonlyMap<string, BackendClient>,
    private readonly logger: Logger,
    private readonly usage: MonthlyUsageGuard | undefined = undefined,
    breaker: BreakerOptions = DEFAULT_BREAKER,
  ) {
    for (const name of clients.keys()) this.#breakers.set(name, new CircuitBreaker(breaker));
  }

  client(name: string): BackendClient {
    const client = this.clients.get(name);
    if (!client) throw new S3Error('ServiceUnavailable', 'The storage holding this object is not reachable from this gateway.');
    return client;
  }

  /**
   * Backends a new write may go to, in config order (the store's placement picks among them): not
   * failing, and not past a monthly limit.
   */
  writeCandidates(exclude: ReadonlySet<string> = new Set()): string[] {
    return this.config.backends
      .map((b) => b.name)
      .filter((name) => this.clients.has(name) && !exclude.has(name) && this.#breakers.get(name)!.available && !(this.usage?.exhausted(name, 'write') ?? false));
  }

  /**
   * The copies to try for a read: copies on healthy backends within their monthly limits first;
   * the others after (a failing or over-limit backend still serves when it holds the only copy).
   */
  readOrder(copies: readonly ObjectCopy[]): ObjectCopy[] {
    const usable = copies.filter((c) => this.clients.has(c.backendName));
    const preferred = (c: ObjectCopy) => this.#breakers.get(c.backendName)!.available && !(this.usage?.exhausted(c.backendName, 'read') ?? false);
    return [...usable.filter(preferred), ...usable.filter((c) => !preferred(c))];
  }

  /**
   * Runs one call on a backend through its breaker. `clientGone` tells a failure caused by the
   * client (it disconnected mid-upload) from one of the backend, which alone counts.
   */
  async call<T>(name: string, fn: (client: BackendClient) => Promise<T>, clientGone: () => boolean = () => false): Promise<T> {
    const breaker = this.#breakers.get(name);
    let client = this.client(name);
    const observer = this.observer;
    // The operation label is the first client method `fn` calls, seen through a proxy (callers stay as they are).
    let operation = 'unknown';
    if (observer) {
      const target = client;
      client = new Proxy(target, {
        get: (t, p, r) => {
          const value: unknown = Reflect.get(t, p, r);
          if (typeof value === 'function' && typeof p === 'string' && operation === 'unknown') operation = p;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
        },
      });
    }
    const started = observer ? performance.now() : 0;
    if (!breaker!.tryAcquire()) {
      observer?.(name, operation, 'refused', 0);
      throw new BackendCircuitOpen(name);
    }
    try {
      const result = await fn(client);
      if (breaker!.state !== 'closed') this.logger.info({ backend: name }, 'backend answers again: circuit breaker closed');
      breaker!.success();
      observer?.(name, operation, 'success', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      const failure = isBackendFailure(err) && !clientGone();
      if (failure) {
        const before = breaker!.state;
        breaker!.failure();
        if (before !== 'open' && breaker!.state !== 'closed') this.logger.warn({ backend: name, err: (err as Error).message }, 'backend failing: circuit breaker open');
      } else breaker!.neutral();
      observer?.(name, operation, failure ? 'failure' : 'client_error', (performance.now() - started) / 1000);
      throw err;
    }
  }

  /** Reads the month's usage totals now (they are otherwise re-read every few seconds). */
  async refreshUsage(): Promise<void> {
    await this.usage?.refresh();
  }

  states(): Record<string, BreakerState> {
    return Object.fromEntries([...this.#breakers].map(([name, b]) => [name, b.state]));
  }
}
