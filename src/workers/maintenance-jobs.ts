import type { BackendClient } from '../backends/backend-client.js';
import type { Logger } from '../logging.js';
import { NotFoundError } from '../store/core/errors.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { StoreApi } from '../store/core/store.js';
import type { WorkerJob } from './job-runner.js';

/**
 * Writes the usage counters. Each instance has its own counters in memory, so the lock is held only
 * while flushing: instances take turns instead of one of them flushing for all (it could not).
 */
export function usageFlush(store: StoreApi, options: { intervalMs: number }): WorkerJob {
  return {
    job: LEADER_JOBS.usageFlush,
    intervalMs: options.intervalMs,
    batchSize: Number.POSITIVE_INFINITY,
    tick: () => store.usage.flush(),
  };
}

/** What the expiry needs from a backend: dropping its side of an upload (S3: AbortMultipartUpload). */
export type MultipartAborter = Pick<BackendClient, 'abortMultipart'>;

function canAbortMultipart(client: object | undefined): client is MultipartAborter {
  return typeof (client as Partial<MultipartAborter> | undefined)?.abortMultipart === 'function';
}

/**
 * Aborts multipart uploads older than `maxAgeMs`: first the backend's side (an S3 backend's native
 * upload holds the parts' bytes), then the store's (the parts' storage keys go to the cleanup queue).
 * An upload whose backend cannot be reached, or has no client here while it holds a backend upload,
 * stays for a later tick: dropping it from the store would leave the backend's parts behind for good.
 */
export function multipartExpiry(
  store: StoreApi,
  options: { intervalMs: number; batchSize: number; maxAgeMs: number },
  logger: Logger,
  clients: ReadonlyMap<string, object> = new Map(),
): WorkerJob {
  return {
    job: LEADER_JOBS.multipartExpiry,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const cutoff = new Date(store.context.clock.now().getTime() - options.maxAgeMs);
      const stale = await store.multipart.listStaleUploads(cutoff, options.batchSize);
      let expired = 0;
      for (const upload of stale) {
        if (signal.aborted || !isLeader()) break;
        const client = clients.get(upload.backendName);
        if (upload.backendUploadId !== null) {
          if (!canAbortMultipart(client)) {
            logger.warn({ upload: upload.uploadId, backend: upload.backendName }, 'a stale multipart upload waits: its backend has no client here');
            continue;
          }
          try {
            const outcome = await client.abortMultipart({ storageKey: upload.storageKey, backendUploadId: upload.backendUploadId });
            if (outcome === 'unsupported') {
              logger.warn({ upload: upload.uploadId, backend: upload.backendName }, "the backend service cannot abort multipart uploads: this stale upload's parts stay there, outside the byte quota, until its lifecycle rule removes them");
            }
          } catch (err) {
            logger.warn({ upload: upload.uploadId, backend: upload.backendName, err: (err as Error).message }, 'a stale multipart upload waits: its backend could not abort it');
            continue;
          }
        }
        try {
          const { parts, bytes } = await store.multipart.abortUpload(upload.uploadId);
          expired++;
          logger.info({ upload: upload.uploadId, key: upload.objectKey, parts, bytes }, 'expired a stale multipart upload');
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err; // completed or aborted meanwhile
        }
      }
      // Only uploads dealt with count: a page of uploads waiting for their backend must not make the
      // runner tick again at once.
      return expired;
    },
  };
}

/** Recomputes the ledger from the rows, fixes drift, and folds the quota stripes into their backends. */
export function ledgerReconcile(store: StoreApi, options: { intervalMs: number }, logger: Logger): WorkerJob {
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
