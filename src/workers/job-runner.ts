import type { Logger } from '../logging.js';
import type { Database, LeaderJob } from '../store/core/database.js';
import { errorChain } from './error-chain.js';

/** One kind of background work (spec §7). */
export interface WorkerJob {
  readonly job: LeaderJob;
  readonly intervalMs: number;
  /** Items per tick; a tick that handled a full batch is followed at once by the next. */
  readonly batchSize: number;
  /**
   * Does one batch and returns how many items it handled. `signal` aborts on shutdown: stop taking
   * new items, hand back claimed ones, return.
   */
  tick(signal: AbortSignal, isLeader: () => boolean): Promise<number>;
}

/** What a runner did since its stats were last taken (for serve's periodic summary). */
export interface JobStats {
  readonly ticks: number;
  readonly handled: number;
  readonly failedTicks: number;
}

export type TickOutcome = { readonly ran: true; readonly handled: number } | { readonly ran: false; readonly reason: 'not-leader' | 'stopped' };

/**
 * Runs a job on one instance at a time: every tick first tries the job's leader lock without
 * waiting; the instance that gets it runs the batch and releases it. Correctness of the queues does
 * not depend on the lock (row claims do that); the lock only keeps instances from doing the same
 * work at once.
 */
export class JobRunner {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TickOutcome> | undefined;
  readonly #stop = new AbortController();
  #stats = { ticks: 0, handled: 0, failedTicks: 0 };

  constructor(
    private readonly db: Pick<Database, 'tryLeaderLock'>,
    readonly work: WorkerJob,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // A random first delay keeps instances started together from ticking in step.
    this.#schedule(Math.floor(Math.random() * Math.min(this.work.intervalMs, 1000)));
  }

  /** One tick now (tests and operators); resolves with what happened. */
  async runOnce(): Promise<TickOutcome> {
    if (this.#stop.signal.aborted) return { ran: false, reason: 'stopped' };
    while (this.#running) await this.#running.catch(() => undefined);
    this.#running = this.#tick();
    try {
      return await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  /** The counts since the last call, and starts counting again. */
  takeStats(): JobStats {
    const stats = this.#stats;
    this.#stats = { ticks: 0, handled: 0, failedTicks: 0 };
    return stats;
  }

  /** Stops scheduling, aborts the tick in progress and waits for it to hand back its claims. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  async #tick(): Promise<TickOutcome> {
    const lock = await this.db.tryLeaderLock(this.work.job);
    if (!lock) return { ran: false, reason: 'not-leader' };
    try {
      const handled = await this.work.tick(this.#stop.signal, () => lock.isHeld());
      return { ran: true, handled };
    } finally {
      await lock.release();
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(async () => {
      let next = this.work.intervalMs;
      const started = performance.now();
      try {
        const outcome = await this.runOnce();
        if (outcome.ran && outcome.handled >= this.work.batchSize) next = 0; // more waiting: drain
        if (outcome.ran) {
          this.#stats.ticks++;
          this.#stats.handled += outcome.handled;
        }
        // A tick that did something is worth a line at info; idle ticks would drown the log.
        if (outcome.ran && outcome.handled > 0) {
          const ms = Math.round(performance.now() - started);
          this.logger.info({ job: this.work.job.name, handled: outcome.handled, ms }, `${this.work.job.name}: handled ${outcome.handled} in ${ms} ms`);
        }
      } catch (err) {
        this.#stats.failedTicks++;
        this.logger.warn({ job: this.work.job.name, err: errorChain(err) }, 'tick failed; retrying after the interval');
      }
      this.#schedule(next);
    }, delayMs);
    this.#timer.unref();
  }
}
