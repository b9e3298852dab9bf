import type { Logger } from '../logging.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { StoreApi } from '../store/core/store.js';
import type { BackendHousekeeping } from '../backends/backend-client.js';
import { BackendUnavailableError } from '../backends/backend-unavailable.js';
import { BackendAvailability } from './backend-availability.js';
import { forEachBounded } from './bounded.js';
import type { WorkerJob } from './job-runner.js';

export interface CleanupWorkerOptions {
  readonly workerId: string;
  readonly intervalMs: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly claimGraceMs: number;
}

/**
 * Drains the cleanup queue: claims due rows of the backends it has clients for and that are
 * available, deletes the bytes, completes the row (a 404 counts as done), or records the failure
 * (retry with backoff, dead-letter after the last attempt). A backend found unavailable mid-batch
 * gets its rows handed back unchanged: "cannot reach" is neither done nor a failed attempt.
 */
export function cleanupWorker(
  store: StoreApi,
  clients: ReadonlyMap<string, BackendHousekeeping>,
  options: CleanupWorkerOptions,
  logger: Logger,
  availability: BackendAvailability = new BackendAvailability(clients, logger),
): WorkerJob {
  return {
    job: LEADER_JOBS.cleanup,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const usable = await availability.usable();
      if (usable.length === 0) return 0;
      const tasks = await store.cleanup.claim(options.workerId, options.batchSize, options.claimGraceMs, usable);
      const untouched = new Set(tasks.map((t) => t.id));
      await forEachBounded(tasks, options.concurrency, async (task) => {
        if (signal.aborted || !isLeader()) return; // handed back below
        untouched.delete(task.id);
        let outcome: 'deleted' | 'not-found';
        try {
          outcome = await clients.get(task.backendName)!.delete(task.storageKey);
        } catch (err) {
          if (err instanceof BackendUnavailableError) {
            availability.reportUnavailable(err);
            untouched.add(task.id); // handed back below, no attempt spent
            return;
          }
          const result = await store.cleanup.fail(task, options.workerId, `delete failed: ${(err as Error).message}`);
          logger.warn({ id: task.id, backend: task.backendName, attempts: task.attempts + 1, result, err: (err as Error).message }, 'cleanup delete failed');
          return;
        }
        await store.cleanup.complete(task.id);
        logger.debug({ id: task.id, backend: task.backendName, outcome }, 'cleanup done');
      });
      await store.cleanup.release([...untouched], options.workerId);
      return tasks.length - untouched.size; // the ones handed back were not handled
    },
  };
}
