import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  upsertBackendQuota: `INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (backend_name) DO UPDATE
    SET bytes_limit = excluded.bytes_limit,
        updated_at = CASE WHEN backend_quotas.bytes_limit = excluded.bytes_limit
                          THEN backend_quotas.updated_at ELSE excluded.updated_at END`,
  insertQuotaStripe: `INSERT INTO backend_quota_stripes (backend_name, stripe) VALUES (?, ?) ON CONFLICT (backend_name, stripe) DO NOTHING`,
  listQuotaTotals: `SELECT q.backend_name, q.bytes_limit,
           q.bytes_used + coalesce(sum(s.bytes_used), 0) AS bytes_used,
           q.orphan_bytes + coalesce(sum(s.orphan_bytes), 0) AS orphan_bytes,
           q.inflight_bytes + coalesce(sum(s.inflight_bytes), 0) AS inflight_bytes,
           q.free_bytes + coalesce(sum(s.free_bytes), 0) AS free_bytes,
           count(s.stripe) AS stripes,
           q.updated_at
    FROM backend_quotas q
    LEFT JOIN backend_quota_stripes s ON s.backend_name = q.backend_name
    GROUP BY q.backend_name
    ORDER BY q.backend_name`,
  lockQuotaBase: `SELECT backend_name, bytes_limit, bytes_used, orphan_bytes, inflight_bytes, free_bytes
    FROM backend_quotas WHERE backend_name = ?`,
  lockQuotaStripes: `SELECT stripe, bytes_used, orphan_bytes, inflight_bytes, free_bytes
    FROM backend_quota_stripes WHERE backend_name = ? ORDER BY stripe`,
  admitOnStripe: `UPDATE backend_quota_stripes AS s
    SET inflight_bytes = s.inflight_bytes + @sizeBytes,
        free_bytes = CASE WHEN q.bytes_limit = 0 THEN s.free_bytes ELSE s.free_bytes - @sizeBytes END
    FROM backend_quotas AS q
    WHERE q.backend_name = @backendName AND s.backend_name = q.backend_name AND s.stripe = @stripe
      AND (q.bytes_limit = 0 OR s.free_bytes >= @sizeBytes)
    RETURNING stripe`,
  addStripeDeltas: `UPDATE backend_quota_stripes
    SET bytes_used = bytes_used + ?, orphan_bytes = orphan_bytes + ?, inflight_bytes = inflight_bytes + ?
    WHERE backend_name = ? AND stripe = ?`,
  recordChangesCleanup: `INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, created_at)
    VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
  recordChangesEvent: `INSERT INTO notification_outbox (event_id, event_type, payload, endpoint, attempts, next_retry, created_at)
    VALUES (?, ?, json(?), ?, 0, ?, ?)`,
  addBaseDeltas: `UPDATE backend_quotas
    SET bytes_used = bytes_used + @used, orphan_bytes = orphan_bytes + @orphan, inflight_bytes = inflight_bytes + @inflight,
        free_bytes = CASE WHEN bytes_limit = 0 THEN 0 ELSE free_bytes - (@used + @orphan + @inflight) END,
        updated_at = @now
    WHERE backend_name = @backendName`,
  setQuotaBase: `UPDATE backend_quotas
    SET bytes_used = ?, orphan_bytes = ?, inflight_bytes = ?, free_bytes = ?, updated_at = ?
    WHERE backend_name = ?`,
  setStripesFree: `UPDATE backend_quota_stripes SET free_bytes = ? WHERE backend_name = ?`,
  resetStripeCounters: `UPDATE backend_quota_stripes SET bytes_used = 0, orphan_bytes = 0, inflight_bytes = 0, free_bytes = 0 WHERE backend_name = ?`,
} as const;

/** Mirror of queries/quota.sql. SQLite has a single writer: the FOR UPDATE locks have nothing to do. */
export class QuotaQueries extends SqliteQueryContext {
  async upsertBackendQuota(p: Q.IUpsertBackendQuotaParams): Promise<number> {
    return this.stmt(SQL.upsertBackendQuota).run(p.backendName, p.bytesLimit, ms(p.now)).changes;
  }

  async insertQuotaStripe(p: Q.IInsertQuotaStripeParams): Promise<number> {
    return this.stmt(SQL.insertQuotaStripe).run(p.backendName, p.stripe).changes;
  }

  async listQuotaTotals(): Promise<Q.IListQuotaTotalsResult[]> {
    const rows = this.stmt(SQL.listQuotaTotals).all();
    return withExact(withDates<Q.IListQuotaTotalsResult>(rows, 'updated_at'), 'bytes_used', 'orphan_bytes', 'inflight_bytes', 'free_bytes');
  }

  async lockQuotaBase(p: Q.ILockQuotaBaseParams): Promise<Q.ILockQuotaBaseResult[]> {
    const rows = this.stmt(SQL.lockQuotaBase).all(p.backendName) as Q.ILockQuotaBaseResult[];
    return withExact(rows, 'bytes_used', 'orphan_bytes', 'inflight_bytes', 'free_bytes');
  }

  async lockQuotaStripes(p: Q.ILockQuotaStripesParams): Promise<Q.ILockQuotaStripesResult[]> {
    const rows = this.stmt(SQL.lockQuotaStripes).all(p.backendName) as Q.ILockQuotaStripesResult[];
    return withExact(rows, 'bytes_used', 'orphan_bytes', 'inflight_bytes', 'free_bytes');
  }

  async admitOnStripe(p: Q.IAdmitOnStripeParams): Promise<Q.IAdmitOnStripeResult[]> {
    return this.stmt(SQL.admitOnStripe).all({ sizeBytes: p.sizeBytes, backendName: p.backendName, stripe: p.stripe }) as Q.IAdmitOnStripeResult[];
  }

  async addStripeDeltas(p: Q.IAddStripeDeltasParams): Promise<number> {
    return this.stmt(SQL.addStripeDeltas).run(p.usedDelta, p.orphanDelta, p.inflightDelta, p.backendName, p.stripe).changes;
  }

  /** Postgres writes all three in one statement (data-modifying CTEs); SQLite runs them in turn. */
  async recordChanges(p: Q.IRecordChangesParams): Promise<Q.IRecordChangesResult[]> {
    let updated = 0;
    if (p.backendName != null) {
      updated = this.stmt(SQL.addStripeDeltas).run(p.usedDelta, p.orphanDelta, p.inflightDelta, p.backendName, p.stripe).changes;
    }
    const now = ms(p.now);
    const cleanup = this.stmt(SQL.recordChangesCleanup);
    for (let i = 0; i < p.cleanupBackends.length; i++) {
      cleanup.run(p.cleanupBackends[i], p.cleanupStorageKeys[i], p.cleanupObjectKeys[i], p.cleanupReasons[i], p.cleanupSizes[i], now, now);
    }
    const event = this.stmt(SQL.recordChangesEvent);
    for (let i = 0; i < p.eventIds.length; i++) event.run(p.eventIds[i], p.eventTypes[i], p.eventPayloads[i], p.eventEndpoints[i], now, now);
    return [{ stripes_updated: updated }];
  }

  async addBaseDeltas(p: Q.IAddBaseDeltasParams): Promise<number> {
    return this.stmt(SQL.addBaseDeltas).run({ used: p.usedDelta, orphan: p.orphanDelta, inflight: p.inflightDelta, now: ms(p.now), backendName: p.backendName }).changes;
  }

  async setQuotaBase(p: Q.ISetQuotaBaseParams): Promise<number> {
    return this.stmt(SQL.setQuotaBase).run(p.bytesUsed, p.orphanBytes, p.inflightBytes, p.freeBytes, ms(p.now), p.backendName).changes;
  }

  async setStripesFree(p: Q.ISetStripesFreeParams): Promise<number> {
    return this.stmt(SQL.setStripesFree).run(p.freeBytes, p.backendName).changes;
  }

  async resetStripeCounters(p: Q.IResetStripeCountersParams): Promise<number> {
    return this.stmt(SQL.resetStripeCounters).run(p.backendName).changes;
  }
}

