import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import type { QueueDepth } from '../store/core/cleanup-queue.js';
import type { BackendQuota } from '../store/core/types.js';
import type { HealthProvider } from './health.js';
import type { BackendCallOutcome, BackendRouter } from './routing/backend-router.js';

/**
 * The gateway's Prometheus metrics (spec gateway.md §6). prom-client, with one Registry per gateway
 * rather than the library's global one: a process (a test file) can run several gateways, each with
 * its own counts. Request and backend-call metrics are counted as they happen; breaker states are
 * read from the router on each scrape (in memory); the store's figures (quota, queues, intents,
 * outbox) are read on a scrape at most once per `storeStatsTtlMs`, so scrapes stay cheap and never
 * add load to the database in proportion to the number of scrapers.
 */

export interface GatewayMetricsOptions {
  readonly store: StoreApi;
  readonly router: BackendRouter;
  readonly logger: Logger;
  readonly health?: HealthProvider | undefined;
  /** How long the store's figures are reused between scrapes (default 5 s). */
  readonly storeStatsTtlMs?: number;
  /** A store read slower than this leaves the previous figures in place (default 2 s). */
  readonly storeStatsTimeoutMs?: number;
  /** Default process metrics (CPU, memory, event loop lag, GC); default on. */
  readonly processMetrics?: boolean;
}

export interface RequestObservation {
  readonly operation: string;
  readonly status: number;
  readonly seconds: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

interface StoreStats {
  readonly quota: readonly BackendQuota[];
  readonly cleanup: readonly QueueDepth[];
  readonly outbox: { pending: number; failed: number; oldestPending: Date | null };
  readonly intents: { count: number; oldest: Date | null };
  readonly readAt: number;
}

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/** Seconds: from a cache hit (sub-millisecond) to a large upload or a slow backend. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #duration: Histogram<'operation'>;
  readonly #bytesIn: Counter<'operation'>;
  readonly #bytesOut: Counter<'operation'>;
  readonly #inFlight: Gauge;
  readonly #backendCalls: Counter<'backend' | 'operation' | 'outcome'>;
  readonly #backendDuration: Histogram<'backend' | 'operation'>;
  readonly #admissionRejections: Counter<'reason'>;
  /**
   * Bytes read back from backends while completing a multipart upload. Completion is metadata only
   * (the parts stay where they are; the object is their concatenation), so nothing ever adds to it:
   * it exists so that a test, or an operator, can see that it stays 0.
   */
  readonly multipartCompleteBytesRead: Counter;
  readonly #storeTtlMs: number;
  readonly #storeTimeoutMs: number;
  #stats: StoreStats | undefined;
  #statsUp = 0;
  #refreshing: Promise<void> | undefined;

  constructor(private readonly options: GatewayMetricsOptions) {
    const registers = [this.registry];
    this.#storeTtlMs = options.storeStatsTtlMs ?? 5_000;
    this.#storeTimeoutMs = options.storeStatsTimeoutMs ?? 2_000;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.#requests = new Counter({ name: 's3o_requests_total', help: 'S3 requests answered, by operation and HTTP status', labelNames: ['operation', 'status'], registers });
    this.#duration = new Histogram({
      name: 's3o_request_duration_seconds',
      help: 'Time from the request headers to the end of the response, by operation',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#bytesIn = new Counter({ name: 's3o_request_body_bytes_total', help: 'Request body bytes received (bytes in), by operation', labelNames: ['operation'], registers });
    this.#bytesOut = new Counter({ name: 's3o_response_body_bytes_total', help: 'Response body bytes sent (bytes out), by operation', labelNames: ['operation'], registers });
    this.#inFlight = new Gauge({ name: 's3o_requests_in_flight', help: 'S3 requests being served now', registers });
    this.#backendCalls = new Counter({
      name: 's3o_backend_calls_total',
      help: 'Calls to the backends, by backend, client method and outcome (success, failure: counts against the breaker, client_error: a 4xx answer or the client went away, refused: breaker open)',
      labelNames: ['backend', 'operation', 'outcome'],
      registers,
    });
    this.#backendDuration = new Histogram({
      name: 's3o_backend_call_duration_seconds',
      help: 'Duration of the backend calls that were made, by backend and client method',
      labelNames: ['backend', 'operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#admissionRejections = new Counter({ name: 's3o_admission_rejections_total', help: 'Requests refused with 503 before their body was read, by reason', labelNames: ['reason'], registers });
    this.multipartCompleteBytesRead = new Counter({
      name: 's3o_multipart_complete_bytes_read_total',
      help: 'Bytes read back from backends to complete multipart uploads (0 by design: completion never copies parts)',
      registers,
    });

    const router = options.router;
    const breaker = new Gauge({
      name: 's3o_backend_breaker_state',
      help: "Each backend's circuit breaker: 1 for its current state (closed, half-open, open), 0 for the others",
      labelNames: ['backend', 'state'],
      registers,
      collect() {
        for (const [backend, state] of Object.entries(router.states())) {
          for (const s of BREAKER_STATES) breaker.set({ backend, state: s }, s === state ? 1 : 0);
        }
      },
    });
    const health = options.health;
    const database = new Gauge({
      name: 's3o_database_available',
      help: "1 while the metadata database answers (the gateway's own view; 0 in database outage mode)",
      registers,
      collect() {
        database.set(health === undefined || health.database() === 'ok' ? 1 : 0);
      },
    });

    // The store's figures: every gauge below reads the same cached snapshot.
    const stats = () => this.#storeStats();
    const perBackend = <T>(name: string, help: string, rows: (s: StoreStats) => readonly T[], label: (row: T) => string, value: (row: T) => number) => {
      const gauge: Gauge<'backend'> = new Gauge({
        name,
        help,
        labelNames: ['backend'],
        registers,
        async collect() {
          const s = await stats();
          gauge.reset();
          if (s) for (const row of rows(s)) gauge.set({ backend: label(row) }, value(row));
        },
      });
    };
    const single = (name: string, help: string, value: (s: StoreStats) => number) => {
      const gauge = new Gauge({
        name,
        help,
        registers,
        async collect() {
          const s = await stats();
          gauge.reset();
          if (s) gauge.set(value(s));
        },
      });
    };
    const quota = (s: StoreStats) => s.quota;
    const quotaName = (q: BackendQuota) => q.backendName;
    perBackend('s3o_quota_used_bytes', 'Bytes of committed objects and parts on each backend', quota, quotaName, (q) => q.bytesUsed);
    perBackend('s3o_quota_limit_bytes', "Each backend's byte limit (0 = unlimited)", quota, quotaName, (q) => q.bytesLimit);
    perBackend('s3o_quota_orphan_bytes', 'Bytes on each backend waiting for cleanup (displaced or deleted, still counted)', quota, quotaName, (q) => q.orphanBytes);
    perBackend('s3o_quota_inflight_bytes', 'Bytes reserved on each backend by writes in progress', quota, quotaName, (q) => q.inflightBytes);
    const cleanup = (s: StoreStats) => s.cleanup;
    const cleanupName = (d: QueueDepth) => d.backendName;
    perBackend('s3o_cleanup_queue_rows', 'Storage keys waiting to be deleted from each backend', cleanup, cleanupName, (d) => d.queueRows);
    perBackend('s3o_cleanup_queue_bytes', 'Bytes waiting to be deleted from each backend', cleanup, cleanupName, (d) => d.queueBytes);
    perBackend('s3o_dead_letter_rows', 'Cleanup rows that gave up (dead letters), per backend', cleanup, cleanupName, (d) => d.deadLetterRows);
    perBackend('s3o_dead_letter_bytes', 'Bytes held by dead letters, per backend', cleanup, cleanupName, (d) => d.deadLetterBytes);
    single('s3o_outbox_pending', 'Notifications waiting for delivery', (s) => s.outbox.pending);
    single('s3o_outbox_failed', 'Notifications that gave up', (s) => s.outbox.failed);
    single('s3o_outbox_oldest_pending_age_seconds', 'Age of the oldest notification waiting (0 when none)', (s) => ageSeconds(s.outbox.oldestPending, s.readAt));
    single('s3o_intents_open', 'Write intents not yet committed or aborted (uploads in progress, or left by a dead instance)', (s) => s.intents.count);
    single('s3o_intents_oldest_age_seconds', 'Age of the oldest open intent (0 when none)', (s) => ageSeconds(s.intents.oldest, s.readAt));
    const up = new Gauge({
      name: 's3o_store_stats_up',
      help: "1 when the last read of the store's figures succeeded; 0 when the gauges above are stale or empty",
      registers,
      collect: async () => {
        await stats();
        up.set(this.#statsUp);
      },
    });
    const age = new Gauge({
      name: 's3o_store_stats_age_seconds',
      help: "How old the store's figures in this scrape are",
      registers,
      collect: async () => {
        const s = await stats();
        age.set(s ? (Date.now() - s.readAt) / 1000 : 0);
      },
    });
  }

  /** One S3 request, answered (or abandoned by its client). */
  request(o: RequestObservation): void {
    const operation = o.operation;
    this.#requests.inc({ operation, status: String(o.status) });
    this.#duration.observe({ operation }, o.seconds);
    if (o.bytesIn > 0) this.#bytesIn.inc({ operation }, o.bytesIn);
    if (o.bytesOut > 0) this.#bytesOut.inc({ operation }, o.bytesOut);
  }

  inFlight(delta: 1 | -1): void {
    this.#inFlight.inc(delta);
  }

  admissionRejected(reason: string): void {
    this.#admissionRejections.inc({ reason });
  }

  /** The router's observer: every backend call, by client method and outcome. */
  readonly backendCall = (backend: string, operation: string, outcome: BackendCallOutcome, seconds: number): void => {
    this.#backendCalls.inc({ backend, operation, outcome });
    if (outcome !== 'refused') this.#backendDuration.observe({ backend, operation }, seconds);
  };

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The cached snapshot, read again when older than the TTL; one read at a time, bounded in time. */
  async #storeStats(): Promise<StoreStats | undefined> {
    if (this.#stats && Date.now() - this.#stats.readAt < this.#storeTtlMs) return this.#stats;
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    await this.#refreshing;
    return this.#stats;
  }

  async #refresh(): Promise<void> {
    const { store } = this.options;
    if (this.options.health?.database() === 'unavailable') {
      this.#statsUp = 0;
      return;
    }
    const read = Promise.all([store.quota.totals(), store.cleanup.depths(), store.outbox.summary(), store.intents.summary()]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#storeTimeoutMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([read, timeout]);
      if (result === 'timeout') {
        read.catch(() => {});
        this.#statsUp = 0;
        this.options.logger.warn({ timeoutMs: this.#storeTimeoutMs }, 'metrics: reading the store figures timed out; the previous values are served');
        return;
      }
      const [quota, cleanup, outbox, intents] = result;
      this.#stats = { quota, cleanup, outbox, intents, readAt: Date.now() };
      this.#statsUp = 1;
    } catch (err) {
      this.#statsUp = 0;
      this.options.logger.warn({ err: (err as Error).message }, 'metrics: reading the store figures failed; the previous values are served');
    } finally {
      clearTimeout(timer);
    }
  }
}

function ageSeconds(since: Date | null, now: number): number {
  return since === null ? 0 : Math.max(0, (now - since.getTime()) / 1000);
}
