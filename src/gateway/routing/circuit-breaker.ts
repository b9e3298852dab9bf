import { BackendObjectMissing } from '../../backends/backend-client.js';
import { BackendUnavailableError } from '../../backends/backend-unavailable.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long an open breaker waits before letting one probe through (± 20 % jitter). */
  readonly openMs: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 3, openMs: 10_000 };

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EIO', 'ENOSPC', 'EROFS']);

/**
 * Whether an error says the backend is failing (spec §5: connection errors, timeouts, 5xx), as
 * opposed to an answer about one object: a 404 or another 4xx never opens a breaker.
 */
export function isBackendFailure(err: unknown): boolean {
  if (err instanceof BackendObjectMissing) return false;
  if (err instanceof BackendUnavailableError) return true;
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  if (e.code !== undefined && NETWORK_ERRORS.has(e.code)) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'AbortError') return true;
  return e.cause !== undefined && e.cause !== err && isBackendFailure(e.cause);
}

/**
 * One backend's circuit breaker. Closed: every call goes through. Open: calls are refused without
 * touching the backend, until a jittered timeout (so a fleet's instances do not probe in step);
 * then half-open: one call is let through as the probe, and its outcome closes or re-opens it.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #reopenAt = 0;
  #probing = false;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() >= this.#reopenAt) return 'half-open';
    return this.#state;
  }

  /** Whether a call may go to the backend now; in half-open, only one probe at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** Whether the backend looks usable (no side effect: for ordering candidates). */
  get available(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.#probing);
  }

  success(): void {
    this.#state = 'closed';
    this.#failures = 0;
    this.#probing = false;
  }

  failure(): void {
    this.#probing = false;
    this.#failures += 1;
    if (this.#state !== 'closed' || this.#failures >= this.options.failureThreshold) {
      this.#state = 'open';
      const jitter = 0.8 + 0.4 * this.#random();
      this.#reopenAt = this.#now() + this.options.openMs * jitter;
    }
  }

  /** The call ended with an answer that says nothing about the backend's health (a 404). */
  neutral(): void {
    this.#probing = false;
    if (this.#state !== 'closed') this.success();
  }
}
