import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates } from './context.js';

const OUTBOX_COLUMNS =
  'id, event_id, event_type, payload, endpoint, attempts, next_retry, last_error, claimed_at, claimed_by, created_at, failed_at';
const OUTBOX_DATES = ['next_retry', 'claimed_at', 'created_at', 'failed_at'];

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  claimOutbox: `UPDATE notification_outbox SET claimed_at = @now, claimed_by = @worker, next_retry = @claimUntil
    WHERE id IN (SELECT id FROM notification_outbox
                 WHERE failed_at IS NULL AND next_retry <= @now ORDER BY next_retry, id LIMIT @limit)
    RETURNING ${OUTBOX_COLUMNS}`,
  releaseOutboxClaims: `UPDATE notification_outbox SET claimed_at = NULL, claimed_by = NULL, next_retry = ?
    WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ?`,
  deleteOutboxEvent: `DELETE FROM notification_outbox WHERE id = ?`,
  retryOutboxEvent: `UPDATE notification_outbox
    SET attempts = attempts + 1, next_retry = ?, last_error = ?, claimed_at = NULL, claimed_by = NULL
    WHERE id = ? AND claimed_by = ? RETURNING attempts`,
  failOutboxEvent: `UPDATE notification_outbox
    SET attempts = attempts + 1, failed_at = ?, last_error = ?, claimed_at = NULL, claimed_by = NULL
    WHERE id = ? AND claimed_by = ?`,
  listOutboxEvents: `SELECT ${OUTBOX_COLUMNS} FROM notification_outbox
    WHERE (@failed IS NULL OR (failed_at IS NOT NULL) = @failed) AND id > @afterId ORDER BY id LIMIT @limit`,
  requeueFailedOutbox: `UPDATE notification_outbox
    SET failed_at = NULL, attempts = 0, next_retry = @now, claimed_at = NULL, claimed_by = NULL
    WHERE failed_at IS NOT NULL AND (@id IS NULL OR id = @id) RETURNING id`,
  purgeFailedOutbox: `DELETE FROM notification_outbox WHERE failed_at IS NOT NULL AND (@id IS NULL OR id = @id) RETURNING id`,
  outboxSummary: `SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending,
           count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed,
           min(created_at) FILTER (WHERE failed_at IS NULL) AS oldest_pending
    FROM notification_outbox`,
} as const;

/** Mirror of queries/notifications.sql. */
export class NotificationQueries extends SqliteQueryContext {
  async claimOutbox(p: Q.IClaimOutboxParams): Promise<Q.IClaimOutboxResult[]> {
    const rows = this.stmt(SQL.claimOutbox).all({ now: ms(p.now), worker: p.worker, claimUntil: ms(p.claimUntil), limit: p.limit });
    return withDates(rows, ...OUTBOX_DATES);
  }

  async releaseOutboxClaims(p: Q.IReleaseOutboxClaimsParams): Promise<number> {
    return this.stmt(SQL.releaseOutboxClaims).run(ms(p.now), JSON.stringify(p.ids), p.worker).changes;
  }

  async deleteOutboxEvent(p: Q.IDeleteOutboxEventParams): Promise<number> {
    return this.stmt(SQL.deleteOutboxEvent).run(p.id).changes;
  }

  async retryOutboxEvent(p: Q.IRetryOutboxEventParams): Promise<Q.IRetryOutboxEventResult[]> {
    return this.stmt(SQL.retryOutboxEvent).all(ms(p.nextRetry), p.lastError, p.id, p.worker) as Q.IRetryOutboxEventResult[];
  }

  async failOutboxEvent(p: Q.IFailOutboxEventParams): Promise<number> {
    return this.stmt(SQL.failOutboxEvent).run(ms(p.now), p.lastError, p.id, p.worker).changes;
  }

  async listOutboxEvents(p: Q.IListOutboxEventsParams): Promise<Q.IListOutboxEventsResult[]> {
    const failed = p.failed == null ? null : p.failed ? 1 : 0;
    const rows = this.stmt(SQL.listOutboxEvents).all({ failed, afterId: p.afterId, limit: p.limit });
    return withDates(rows, ...OUTBOX_DATES);
  }

  async requeueFailedOutbox(p: Q.IRequeueFailedOutboxParams): Promise<Q.IRequeueFailedOutboxResult[]> {
    return this.stmt(SQL.requeueFailedOutbox).all({ now: ms(p.now), id: p.id ?? null }) as Q.IRequeueFailedOutboxResult[];
  }

  async purgeFailedOutbox(p: Q.IPurgeFailedOutboxParams): Promise<Q.IPurgeFailedOutboxResult[]> {
    return this.stmt(SQL.purgeFailedOutbox).all({
      id: p.id ?? null,
    }) as Q.IPurgeFailedOutboxResult[];
  }

  async outboxSummary(): Promise<Q.IOutboxSummaryResult[]> {
    const rows = this.stmt(SQL.outboxSummary).all();
    return withDates(rows, 'oldest_pending');
  }
}
