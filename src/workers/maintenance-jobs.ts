import type { Logger } from '../logging.js';
import { NotFoundError } from '../store/core/errors.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { MetadataStore } from '../store/core/store.js';
import type { WorkerJob } from './job-runner.js';

/**
 * Writes the usage counters. Each instance has its own counters in memory, so the lock is held only
 * while flushing: instances take turns instead of one of them flushing for all (it could not).
 */
export function usageFlush(store: MetadataStore, options: { intervalMs: number }): WorkerJob {
  return {
    job: LEADER_JOBS.usageFlush,
    intervalMs: options.intervalMs,
    batchSize: Number.POSITIVE_INFINITY,
    tick: () => store.usage.flush(),
  };
}

/** Aborts multipart uploads older than `maxAgeMs` (their parts' bytes go to the cleanup queue). */
export function multipartExpiry(store: MetadataStore, options: { intervalMs: number; batchSize: number; maxAgeMs: number }, logger: Logger): WorkerJob {
  return {
    job: LEADER_JOBS.multipartExpiry,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const cutoff = new Date(store.context.clock.now().getTime() - options.maxAgeMs);
      const stale = await store.multipart.listStaleUploads(cutoff, options.batchSize);
      for (const upload of stale) {
        if (signal.aborted || !isLeader()) break;
        try {
          const { parts, bytes } = await store.multipart.abortUpload(upload.uploadId);
          logger.info({ upload: upload.uploadId, key: upload.objectKey, parts, bytes }, 'expired a stale multipart upload');
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err; // completed or aborted meanwhile
        }
      }
      return stale.length;
    },
  };
}

/** Recomputes the ledger from the rows, fixes drift, and folds the quota stripes into their backends. */
export function ledgerReconcile(store: MetadataStore, options: { intervalMs: number }, logger: Logger): WorkerJob {
  return {
    job: LEADER_JOBS.reconcile,
    intervalMs: options.intervalMs,
    batchSize: Number.POSITIVE_INFINITY,
    async tick() {
      const report = await store.quota.reconcile({ fix: true });
      for (const drift of report.drifts) logger.warn({ ...drift }, 'ledger drift fixed');
      return report.drifts.length;
    },
  };
}
