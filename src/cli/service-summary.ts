import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import type { Workers } from '../workers/index.js';
import { formatAge } from './output.js';

/**
 * Every `intervalMs`, one info line saying the service is alive and what it did: items each job
 * handled since the last summary (and failed ticks), and the depth of every queue.
 */
export function startSummary(store: StoreApi, workers: Workers, logger: Logger, intervalMs: number): { stop(): void } {
  const timer = setInterval(() => {
    void summarise(store, workers, logger, intervalMs).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'summary: could not read the queues'));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function summarise(store: StoreApi, workers: Workers, logger: Logger, intervalMs: number): Promise<void> {
  const jobs: Record<string, { handled: number; ticks: number; failedTicks: number }> = {};
  for (const runner of workers.runners) jobs[runner.work.job.name] = runner.takeStats();
  const [depths, intents, outbox] = await Promise.all([store.cleanup.depths(), store.intents.summary(), store.outbox.summary()]);
  const queues = {
    cleanupRows: depths.reduce((n, d) => n + d.queueRows, 0),
    deadLetters: depths.reduce((n, d) => n + d.deadLetterRows, 0),
    intents: intents.count,
    outboxPending: outbox.pending,
    outboxFailed: outbox.failed,
  };
  const handled = Object.entries(jobs)
    .map(([name, s]) => `${name} ${s.handled}${s.failedTicks > 0 ? ` (${s.failedTicks} failed ticks)` : ''}`)
    .join(', ');
  logger.info(
    { summary: { periodMs: intervalMs, jobs, queues } },
    `last ${formatAge(intervalMs)}: handled ${handled}; queues: cleanup ${queues.cleanupRows}, dead letters ${queues.deadLetters}, intents ${queues.intents}, outbox ${queues.outboxPending} pending / ${queues.outboxFailed} failed`,
  );
}
