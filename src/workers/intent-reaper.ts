import type { Logger } from '../logging.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { MetadataStore } from '../store/core/store.js';
import type { BackendHousekeeping } from '../backends/backend-client.js';
import { forEachBounded } from './bounded.js';
import type { WorkerJob } from './job-runner.js';

export interface IntentReaperOptions {
  readonly intervalMs: number;
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
 */
export function intentReaper(store: MetadataStore, clients: ReadonlyMap<string, BackendHousekeeping>, options: IntentReaperOptions, logger: Logger): WorkerJob {
  return {
    job: LEADER_JOBS.reaper,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const cutoff = new Date(store.context.clock.now().getTime() - options.minAgeMs);
      const intents = (await store.intents.listOlderThan(cutoff, options.batchSize)).filter((i) => clients.has(i.backendName));
      await forEachBounded(intents, options.concurrency, async (intent) => {
        if (signal.aborted || !isLeader()) return;
        let found: { sizeBytes: number; etag: string } | undefined;
        try {
          found = await clients.get(intent.backendName)!.head(intent.storageKey);
        } catch (err) {
          logger.warn({ intent: intent.intentId, backend: intent.backendName, err: (err as Error).message }, 'reaper: backend did not answer; retrying next tick');
          return;
        }
        const outcome = found ? await store.intents.promote(intent, found) : (await store.intents.drop(intent)) ? 'dropped' : 'gone';
        logger.info({ intent: intent.intentId, key: intent.objectKey, backend: intent.backendName, outcome }, 'reaper resolved an intent');
      });
      return intents.length;
    },
  };
}
