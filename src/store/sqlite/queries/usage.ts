import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  addUsage: `INSERT INTO backend_usage (backend_name, period, api_requests, egress_bytes, ingress_bytes, updated_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (backend_name, period) DO UPDATE
    SET api_requests = backend_usage.api_requests + excluded.api_requests,
        egress_bytes = backend_usage.egress_bytes + excluded.egress_bytes,
        ingress_bytes = backend_usage.ingress_bytes + excluded.ingress_bytes,
        updated_at = excluded.updated_at`,
  getUsageForPeriod: `SELECT backend_name, period, api_requests, egress_bytes, ingress_bytes, updated_at
    FROM backend_usage WHERE period = ? ORDER BY backend_name`,
} as const;

/** Mirror of queries/usage.sql. */
export class UsageQueries extends SqliteQueryContext {
  async addUsage(p: Q.IAddUsageParams): Promise<number> {
    return this.stmt(SQL.addUsage).run(p.backendName, p.period, p.apiRequests, p.egressBytes, p.ingressBytes, ms(p.now)).changes;
  }

  async getUsageForPeriod(p: Q.IGetUsageForPeriodParams): Promise<Q.IGetUsageForPeriodResult[]> {
    const rows = this.stmt(SQL.getUsageForPeriod).all(p.period);
    return withExact(withDates<Q.IGetUsageForPeriodResult>(rows, 'updated_at'), 'api_requests', 'egress_bytes', 'ingress_bytes');
  }
}
