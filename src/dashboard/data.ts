import { backendKind, monthlyLimitsOf } from '../config/backends.js';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import { mayUseBucket } from '../gateway/access.js';
import type { BreakerState } from '../gateway/routing/circuit-breaker.js';
import type { CleanupTask, DeadLetter, OutboxEvent, WriteIntent } from '../store/core/types.js';
import type { StoreApi } from '../store/core/store.js';
import { utcMonth } from '../store/core/usage-meter.js';
import type { ActivityRecorder, RateSlot, RecentChange } from './activity.js';

/**
 * The figures of each page, read from the store's public API (docs/store-api.md), the router's
 * breaker states and the config. A page and its JSON endpoint share one view model: the page
 * renders it, the refresh re-renders it on the server and swaps the markup in.
 */

export interface DataSources {
  readonly store: StoreApi;
  readonly config: AppConfig;
  readonly breakers: () => Record<string, BreakerState>;
  readonly activity: ActivityRecorder;
  readonly now: () => number;
}

export interface MonthlyFigure {
  readonly used: number;
  /** 0 = no limit. */
  readonly limit: number;
}

export interface BackendView {
  readonly name: string;
  readonly kind: 'directory' | 's3' | 'none';
  /** 0 = unlimited. */
  readonly limit: number;
  readonly used: number;
  readonly inflight: number;
  readonly orphan: number;
  /** null when unlimited. */
  readonly free: number | null;
  readonly copies: number;
  readonly breaker: BreakerState | 'unknown';
  readonly monthly: { readonly requests: MonthlyFigure; readonly ingress: MonthlyFigure; readonly egress: MonthlyFigure };
}

export interface BackendsView {
  readonly month: string;
  readonly backends: readonly BackendView[];
  readonly totals: {
    /** null when some backend is unlimited. */
    readonly limit: number | null;
    readonly used: number;
    readonly inflight: number;
    readonly orphan: number;
    readonly free: number | null;
    readonly copies: number;
    readonly objects: number;
    readonly openBreakers: number;
  };
}

/** Copies per backend scan every location row: read at most this often. */
const COPY_COUNT_TTL_MS = 15_000;

export class DashboardData {
  #copies: { at: number; value: Promise<Map<string, number>> } | undefined;

  constructor(private readonly src: DataSources) {}

  async backends(): Promise<BackendsView> {
    const { store, config } = this.src;
    const month = utcMonth(new Date(this.src.now()));
    const [quota, usageRows, copies, bucketStats] = await Promise.all([store.quota.totals(), store.usage.totals(month), this.#copyCounts(), store.buckets.stats()]);
    const usage = new Map(usageRows.map((u) => [u.backendName, { ...u }]));
    // This instance's counters not yet flushed count too (as the monthly-limit guard counts them).
    for (const p of store.usage.pending()) {
      if (p.period !== month) continue;
      const u = usage.get(p.backendName) ?? { backendName: p.backendName, period: month, apiRequests: 0, egressBytes: 0, ingressBytes: 0 };
      usage.set(p.backendName, { ...u, apiRequests: u.apiRequests + p.apiRequests, egressBytes: u.egressBytes + p.egressBytes, ingressBytes: u.ingressBytes + p.ingressBytes });
    }
    const breakers = this.src.breakers();
    const quotaByName = new Map(quota.map((q) => [q.backendName, q]));
    const names = [...config.backends.map((b) => b.name), ...quota.map((q) => q.backendName).filter((n) => !config.backends.some((b) => b.name === n))];
    const backends = names.map((name): BackendView => {
      const q = quotaByName.get(name);
      const b = config.backends.find((c) => c.name === name);
      const limits = b ? monthlyLimitsOf(b) : { apiRequests: 0, egressBytes: 0, ingressBytes: 0 };
      const u = usage.get(name);
      const limit = q?.bytesLimit ?? b?.bytesLimit ?? 0;
      return {
        name,
        kind: b ? backendKind(b) : 'none',
        limit,
        used: q?.bytesUsed ?? 0,
        inflight: q?.inflightBytes ?? 0,
        orphan: q?.orphanBytes ?? 0,
        free: limit === 0 ? null : (q?.freeBytes ?? limit),
        copies: copies.get(name) ?? 0,
        breaker: breakers[name] ?? 'unknown',
        monthly: {
          requests: { used: u?.apiRequests ?? 0, limit: limits.apiRequests },
          ingress: { used: u?.ingressBytes ?? 0, limit: limits.ingressBytes },
          egress: { used: u?.egressBytes ?? 0, limit: limits.egressBytes },
        },
      };
    });
    const sum = (f: (b: BackendView) => number) => backends.reduce((s, b) => s + f(b), 0);
    const unlimited = backends.some((b) => b.limit === 0);
    return {
      month,
      backends,
      totals: {
        limit: unlimited ? null : sum((b) => b.limit),
        used: sum((b) => b.used),
        inflight: sum((b) => b.inflight),
        orphan: sum((b) => b.orphan),
        free: unlimited ? null : sum((b) => Math.max(0, b.free ?? 0)),
        copies: sum((b) => b.copies),
        objects: bucketStats.reduce((s, b) => s + b.objects, 0),
        openBreakers: backends.filter((b) => b.breaker !== 'closed' && b.breaker !== 'unknown').length,
      },
    };
  }

  async buckets(credential: CredentialConfig): Promise<BucketsView> {
    const [list, stats] = await Promise.all([this.src.store.buckets.list(), this.src.store.buckets.stats()]);
    const byName = new Map(stats.map((s) => [s.name, s]));
    const buckets = list
      .filter((b) => mayUseBucket(credential, b.name))
      .map((b) => ({ name: b.name, owner: b.owner, createdAt: b.createdAt.toISOString(), objects: byName.get(b.name)?.objects ?? 0, bytes: byName.get(b.name)?.bytes ?? 0 }));
    return { buckets, totals: { objects: buckets.reduce((s, b) => s + b.objects, 0), bytes: buckets.reduce((s, b) => s + b.bytes, 0) } };
  }

  async browse(bucket: string, input: { prefix: string; delimiter: string; token?: string | undefined; pageSize: number }): Promise<BrowseView> {
    const base = `${bucket}/`;
    const page = await this.src.store.listing.list({
      prefix: base + input.prefix,
      ...(input.delimiter !== '' ? { delimiter: input.delimiter } : {}),
      ...(input.token ? { continuationToken: input.token } : {}),
      maxKeys: input.pageSize,
    });
    return {
      bucket,
      prefix: input.prefix,
      delimiter: input.delimiter,
      token: input.token ?? null,
      prefixes: page.commonPrefixes.map((p) => p.slice(base.length)),
      objects: page.objects.map((o) => ({ key: o.objectKey.slice(base.length), size: o.sizeBytes, etag: o.etag, modified: o.createdAt.toISOString() })),
      next: page.isTruncated ? (page.nextContinuationToken ?? null) : null,
    };
  }

  async queues(): Promise<QueuesView> {
    const { store, config } = this.src;
    const minAgeMs = config.workers.reaper.minAgeMs;
    const cutoff = new Date(this.src.now() - minAgeMs);
    const [depths, cleanup, deadLetters, outboxSummary, pending, failed, intentSummary, oldIntents] = await Promise.all([
      store.cleanup.depths(),
      store.cleanup.list({ limit: 50 }),
      store.cleanup.listDeadLetters({ limit: 100 }),
      store.outbox.summary(),
      store.outbox.list({ state: 'pending', limit: 50 }),
      store.outbox.list({ state: 'failed', limit: 50 }),
      store.intents.summary(),
      store.intents.listOlderThan(cutoff, 50),
    ]);
    const sum = (f: (d: (typeof depths)[number]) => number) => depths.reduce((s, d) => s + f(d), 0);
    return {
      cleanup: {
        depths: depths.map((d) => ({ ...d })),
        rows: sum((d) => d.queueRows),
        bytes: sum((d) => d.queueBytes),
        first: cleanup.map(cleanupRow),
      },
      deadLetters: { rows: sum((d) => d.deadLetterRows), bytes: sum((d) => d.deadLetterBytes), first: deadLetters.map(deadLetterRow) },
      outbox: {
        pending: outboxSummary.pending,
        failed: outboxSummary.failed,
        oldestPending: outboxSummary.oldestPending?.toISOString() ?? null,
        firstPending: pending.map(eventRow),
        firstFailed: failed.map(eventRow),
      },
      intents: { open: intentSummary.count, oldest: intentSummary.oldest?.toISOString() ?? null, minAgeMs, olderThanMinAge: oldIntents.map(intentRow) },
    };
  }

  async activity(minutes: number): Promise<ActivityView> {
    const { store } = this.src;
    const [summary, pending, failed] = await Promise.all([store.outbox.summary(), store.outbox.list({ state: 'pending', limit: 20 }), store.outbox.list({ state: 'failed', limit: 20 })]);
    const slots = this.src.activity.rates(minutes);
    const window = (m: number) => slots.slice(-Math.ceil((m * 60) / 10));
    const rate = (ss: RateSlot[]) => {
      const requests = ss.reduce((s, x) => s + x.requests, 0);
      const errors = ss.reduce((s, x) => s + x.serverErrors, 0);
      const clientErrors = ss.reduce((s, x) => s + x.clientErrors, 0);
      return { requests, perSecond: requests / (ss.length * 10), serverErrors: errors, clientErrors, errorRate: requests === 0 ? 0 : errors / requests };
    };
    return {
      minutes,
      slots,
      lastMinute: rate(window(1)),
      lastFiveMinutes: rate(window(5)),
      window: rate(slots),
      recent: this.src.activity.recent(25),
      outbox: { pending: summary.pending, failed: summary.failed, events: [...failed, ...pending].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map(eventRow) },
    };
  }

  #copyCounts(): Promise<Map<string, number>> {
    const now = this.src.now();
    if (this.#copies && now - this.#copies.at < COPY_COUNT_TTL_MS) return this.#copies.value;
    const value = this.src.store.quota.copyCounts();
    this.#copies = { at: now, value };
    value.catch(() => (this.#copies = undefined));
    return value;
  }

  /** Forgets the cached copy counts (after an action, so the next page shows fresh figures). */
  invalidate(): void {
    this.#copies = undefined;
  }
}

export interface BucketsView {
  readonly buckets: readonly { name: string; owner: string; createdAt: string; objects: number; bytes: number }[];
  readonly totals: { objects: number; bytes: number };
}

export interface BrowseView {
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter: string;
  readonly token: string | null;
  readonly prefixes: readonly string[];
  readonly objects: readonly { key: string; size: number; etag: string; modified: string }[];
  readonly next: string | null;
}

export interface CleanupRow {
  readonly id: number;
  readonly backend: string;
  readonly objectKey: string;
  readonly reason: string;
  readonly size: number;
  readonly attempts: number;
  readonly nextRetry: string;
  readonly lastError: string | null;
}

export interface DeadLetterRow {
  readonly id: number;
  readonly backend: string;
  readonly objectKey: string;
  readonly storageKey: string;
  readonly reason: string;
  readonly size: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly movedAt: string;
}

export interface EventRow {
  readonly id: number;
  readonly type: string;
  readonly endpoint: string;
  readonly objectKey: string | null;
  readonly attempts: number;
  readonly createdAt: string;
  readonly nextRetry: string;
  readonly lastError: string | null;
  readonly failed: boolean;
}

export interface IntentRow {
  readonly id: string;
  readonly kind: string;
  readonly objectKey: string;
  readonly backend: string;
  readonly size: number;
  readonly createdAt: string;
}

export interface QueuesView {
  readonly cleanup: { depths: readonly { backendName: string; queueRows: number; queueBytes: number; deadLetterRows: number; deadLetterBytes: number }[]; rows: number; bytes: number; first: readonly CleanupRow[] };
  readonly deadLetters: { rows: number; bytes: number; first: readonly DeadLetterRow[] };
  readonly outbox: { pending: number; failed: number; oldestPending: string | null; firstPending: readonly EventRow[]; firstFailed: readonly EventRow[] };
  readonly intents: { open: number; oldest: string | null; minAgeMs: number; olderThanMinAge: readonly IntentRow[] };
}

export interface RateSummary {
  readonly requests: number;
  readonly perSecond: number;
  readonly serverErrors: number;
  readonly clientErrors: number;
  /** Server errors per request (0..1). */
  readonly errorRate: number;
}

export interface ActivityView {
  readonly minutes: number;
  readonly slots: readonly RateSlot[];
  readonly lastMinute: RateSummary;
  readonly lastFiveMinutes: RateSummary;
  readonly window: RateSummary;
  readonly recent: readonly RecentChange[];
  readonly outbox: { pending: number; failed: number; events: readonly EventRow[] };
}

function cleanupRow(t: CleanupTask): CleanupRow {
  return { id: t.id, backend: t.backendName, objectKey: t.objectKey, reason: t.reason, size: t.sizeBytes, attempts: t.attempts, nextRetry: t.nextRetry.toISOString(), lastError: t.lastError };
}

function deadLetterRow(d: DeadLetter): DeadLetterRow {
  return {
    id: d.id,
    backend: d.backendName,
    objectKey: d.objectKey,
    storageKey: d.storageKey,
    reason: d.reason,
    size: d.sizeBytes,
    attempts: d.attempts,
    lastError: d.lastError,
    movedAt: d.movedAt.toISOString(),
  };
}

function eventRow(e: OutboxEvent): EventRow {
  const key = typeof e.payload.objectKey === 'string' ? e.payload.objectKey : null;
  return {
    id: e.id,
    type: e.eventType,
    endpoint: e.endpoint,
    objectKey: key,
    attempts: e.attempts,
    createdAt: e.createdAt.toISOString(),
    nextRetry: e.nextRetry.toISOString(),
    lastError: e.lastError,
    failed: e.failedAt !== null,
  };
}

function intentRow(i: WriteIntent): IntentRow {
  return { id: i.intentId, kind: i.kind, objectKey: i.objectKey, backend: i.backendName, size: i.sizeBytes, createdAt: i.createdAt.toISOString() };
}
