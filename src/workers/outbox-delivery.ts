import type { NotificationEndpoint } from '../config/types.js';
import type { Logger } from '../logging.js';
import { LEADER_JOBS } from '../store/core/leader-jobs.js';
import type { StoreApi } from '../store/core/store.js';
import type { OutboxEvent } from '../store/core/types.js';
import { forEachBounded } from './bounded.js';
import { errorChain } from './error-chain.js';
import { CLOUD_EVENT_CONTENT_TYPE, SIGNATURE_HEADER, signBody, toCloudEvent } from './cloud-event.js';
import type { WorkerJob } from './job-runner.js';

export interface OutboxDeliveryOptions {
  readonly workerId: string;
  readonly intervalMs: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly claimGraceMs: number;
  /** CloudEvents `source`. */
  readonly source: string;
  readonly endpoints: readonly NotificationEndpoint[];
  /** The HTTP client (Node's fetch); replaceable for tests that inject failures. */
  readonly fetch?: typeof fetch;
}

export interface OutboxDeliveryJob extends WorkerJob {
  /** From the next event on, delivers to these endpoints with this CloudEvents source (config reload). */
  reconfigure(settings: { readonly source: string; readonly endpoints: readonly NotificationEndpoint[] }): void;
}

export function isOutboxDeliveryJob(job: WorkerJob): job is OutboxDeliveryJob {
  return job.job === LEADER_JOBS.outbox && typeof (job as Partial<OutboxDeliveryJob>).reconfigure === 'function';
}

/**
 * Delivers outbox events at least once: claims due events, POSTs each as a CloudEvent to its
 * endpoint (signed when the endpoint has a secret), deletes it on a 2xx answer, otherwise retries it
 * with capped exponential backoff until the endpoint's retry budget is spent, then marks it failed
 * (kept for operators). A crash between the POST and the mark means the claim expires and the same
 * event id is delivered again.
 */
export function outboxDelivery(store: StoreApi, options: OutboxDeliveryOptions, logger: Logger): OutboxDeliveryJob {
  let endpoints = new Map(options.endpoints.map((e) => [e.name, e]));
  let source = options.source;
  const post = options.fetch ?? fetch;
  return {
    reconfigure(settings) {
      endpoints = new Map(settings.endpoints.map((e) => [e.name, e]));
      source = settings.source;
    },
    job: LEADER_JOBS.outbox,
    intervalMs: options.intervalMs,
    batchSize: options.batchSize,
    async tick(signal, isLeader) {
      const events = await store.outbox.claim(options.workerId, options.batchSize, options.claimGraceMs);
      const untouched = new Set(events.map((e) => e.id));
      await forEachBounded(events, options.concurrency, async (event) => {
        if (signal.aborted || !isLeader()) return;
        untouched.delete(event.id);
        const endpoint = endpoints.get(event.endpoint);
        if (!endpoint) {
          await store.outbox.fail(event, options.workerId, `endpoint ${JSON.stringify(event.endpoint)} is not configured`, 1);
          return;
        }
        const error = await deliver(event, endpoint, source, post, signal);
        if (error === undefined) {
          await store.outbox.markDelivered(event.id);
        } else if (signal.aborted) {
          untouched.add(event.id); // shutting down: not the endpoint's fault, hand it back
        } else {
          const result = await store.outbox.fail(event, options.workerId, error, endpoint.maxAttempts);
          logger.warn({ event: event.eventId, endpoint: endpoint.name, attempts: event.attempts + 1, result, err: error }, 'webhook delivery failed');
        }
      });
      await store.outbox.release([...untouched], options.workerId);
      return events.length - untouched.size; // the ones handed back were not handled
    },
  };
}

/** POSTs one event; undefined on a 2xx answer, else what went wrong (with every cause). */
export async function deliver(
  event: OutboxEvent,
  endpoint: NotificationEndpoint,
  source: string,
  post: typeof fetch,
  stop?: AbortSignal,
): Promise<string | undefined> {
  const body = JSON.stringify(toCloudEvent(event, source));
  const headers: Record<string, string> = { 'content-type': CLOUD_EVENT_CONTENT_TYPE, 'user-agent': 's3-orchestrator' };
  const secret = endpoint.secret?.reveal();
  if (secret) headers[SIGNATURE_HEADER] = signBody(body, secret);
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  try {
    const response = await post(endpoint.url, { method: 'POST', body, headers, signal: stop ? AbortSignal.any([timeout, stop]) : timeout });
    await response.body?.cancel().catch(() => {});
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (err) {
    if (timeout.aborted) return `no answer within ${endpoint.timeoutMs} ms`;
    // fetch's own message is only "fetch failed"; the reason (refused, DNS, TLS) is in its causes.
    return errorChain(err);
  }
}
