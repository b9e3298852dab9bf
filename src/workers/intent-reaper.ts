import type { Logger } from '../logging.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { StoreApi } from '../store/core/store.js';
import type { BackendHousekeeping } from '../backends/backend-client.js';
import { BackendUnavailableError } from '../backends/backend-unavailable.js';
import { BackendAvailability } from './backend-availability.js';
import { forEachBounded } from './bounded.js';
import type { WorkerJob } from './job-runner.js';

export interface IntentReaperOptions {
  readonly intervalMs: number;
  /** Intents per backend per tick. */
  readonly batchSize: number;
  readonly concurrency: number;
  /**
   * Intents younger than this are left alone: their writer may still be at work. It must be longer
   * than the longest upload, or a slow writer's intent could be dropped under it.
   */
  readonly minAgeMs: number;
}

/**
 * Resolves intents whose writer crashed or failed between begin and commit: asks the backend whether
 * the bytes are there; found → promote (commit, unless a newer write won), absent → drop, backend
 * error → leave it for the next tick.
 *
 * It pages per backend it can reach and that is available, so intents of other backends never fill
 * its batch (issue 9: `batch_size` intents of an unreachable backend used to block every other
 * backend's). Of several unacknowledged writes of one key whose bytes all arrived, the newest is
 * resolved first and wins (the store's listReapable holds the older ones back until then).
 */
export function intentReaper(
  store: StoreApi,
  clients: ReadonlyMap<string, BackendHousekeeping>,
  options: IntentReaperOptions,
  logger: Logger,
  availability: BackendAvailability = new BackendAvailability(clients, logger),
): WorkerJob {
  return {
    job: LEADER_JOBS.reaper,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const cutoff = new Date(store.context.clock.now().getTime() - options.minAgeMs);
      let resolved = 0;
      for (const backendName of await availability.usable()) {
        if (signal.aborted || !isLeader()) break;
        const client = clients.get(backendName)!;
        const intents = await store.intents.listReapable(backendName, cutoff, options.batchSize);
        let unavailable = false;
        await forEachBounded(intents, options.concurrency, async (intent) => {
          if (unavailable || signal.aborted || !isLeader()) return;
          let found: { sizeBytes: number; etag: string } | undefined;
          try {
            found = await client.head(intent.storageKey);
          } catch (err) {
            if (err instanceof BackendUnavailableError) {
              unavailable = true; // the rest of this backend's page waits too
              availability.reportUnavailable(err);
              return;
            }
            logger.warn({ intent: intent.intentId, backend: backendName, err: (err as Error).message }, 'reaper: backend did not answer; retrying next tick');
            return;
          }
          const outcome = found ? await store.intents.promote(intent, found) : (await store.intents.drop(intent)) ? 'dropped' : 'gone';
          resolved++;
          logger.info({ intent: intent.intentId, key: intent.objectKey, backend: backendName, outcome }, 'reaper resolved an intent');
        });
      }
      // Only resolved intents count: a batch of intents the backend could not answer for must not
      // make the runner tick again at once.
      return resolved;
    },
  };
}
