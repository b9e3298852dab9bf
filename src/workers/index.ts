import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import type { BackendHousekeeping } from '../backends/backend-client.js';
import { BackendAvailability } from './backend-availability.js';
import { cleanupWorker } from './cleanup-worker.js';
import { intentReaper } from './intent-reaper.js';
import { JobRunner } from './job-runner.js';
import { ledgerReconcile, multipartExpiry, usageFlush } from './maintenance-jobs.js';
import { outboxDelivery } from './outbox-delivery.js';

export interface Workers {
  readonly runners: readonly JobRunner[];
  /** Stops every job, waits for ticks in progress to hand back their claims. */
  stop(): Promise<void>;
}

/** A name for this process in claimed_by columns: host, pid and a random part. */
export function workerIdentity(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/** Builds the six leader-run jobs of spec §7 from the config. `start` schedules them. */
export function createWorkers(
  store: StoreApi,
  config: AppConfig,
  clients: ReadonlyMap<string, BackendHousekeeping>,
  logger: Logger,
  options: { workerId?: string; fetch?: typeof fetch } = {},
): Workers {
  const workerId = options.workerId ?? workerIdentity();
  const w = config.workers;
  // One view of which backends are up, so that an outage is logged once, not once per job.
  const availability = new BackendAvailability(clients, logger);
  const jobs = [
    cleanupWorker(store, clients, { workerId, ...w.cleanup }, logger.child({ job: 'cleanup' }), availability),
    intentReaper(store, clients, w.reaper, logger.child({ job: 'reaper' }), availability),
    outboxDelivery(
      store,
      { workerId, ...w.outbox, source: config.notifications.source, endpoints: config.notifications.endpoints, ...(options.fetch ? { fetch: options.fetch } : {}) },
      logger.child({ job: 'outbox' }),
    ),
    usageFlush(store, w.usageFlush),
    multipartExpiry(store, w.multipartExpiry, logger.child({ job: 'multipart-expiry' }), clients),
    ledgerReconcile(store, w.reconcile, logger.child({ job: 'reconcile' })),
  ];
  const runners = jobs.map((job) => new JobRunner(store.db, job, logger));
  return {
    runners,
    stop: async () => {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}

export function startWorkers(...args: Parameters<typeof createWorkers>): Workers {
  const workers = createWorkers(...args);
  for (const r of workers.runners) r.start();
  return workers;
}
