import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

const QUEUE_COLUMNS =
  'id, backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, last_error, claimed_at, claimed_by, created_at';
const DLQ_COLUMNS =
  'id, original_id, backend_name, storage_key, object_key, reason, size_bytes, attempts, last_error, first_enqueued_at, moved_at';
const DLQ_FILTER = '(@id IS NULL OR id = @id) AND (@backendName IS NULL OR backend_name = @backendName)';

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  claimCleanup: `UPDATE cleanup_queue SET claimed_at = @now, claimed_by = @worker, next_retry = @claimUntil
    WHERE id IN (SELECT id FROM cleanup_queue
                 WHERE next_retry <= @now AND backend_name IN (SELECT value FROM json_each(@backends))
                 ORDER BY next_retry, id LIMIT @limit)
    RETURNING ${QUEUE_COLUMNS}`,
  releaseCleanupClaims: `UPDATE cleanup_queue SET claimed_at = NULL, claimed_by = NULL, next_retry = ?
    WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ?`,
  deleteCleanupRow: `DELETE FROM cleanup_queue WHERE id = ? RETURNING backend_name, size_bytes`,
  retryCleanup: `UPDATE cleanup_queue
    SET attempts = attempts + 1, next_retry = ?, last_error = ?, claimed_at = NULL, claimed_by = NULL
    WHERE id = ? AND claimed_by = ? RETURNING attempts`,
  moveCleanupToDlq: `INSERT INTO cleanup_dlq
        (original_id, backend_name, storage_key, object_key, reason, size_bytes, attempts, last_error, first_enqueued_at, moved_at)
    SELECT id, backend_name, storage_key, object_key, reason, size_bytes, attempts + 1, ?, created_at, ?
    FROM cleanup_queue WHERE id = ? AND claimed_by = ?
    RETURNING id`,
  moveCleanupToDlqDelete: `DELETE FROM cleanup_queue WHERE id = ?`,
  listCleanupRows: `SELECT ${QUEUE_COLUMNS} FROM cleanup_queue
    WHERE (@backendName IS NULL OR backend_name = @backendName) AND id > @afterId ORDER BY id LIMIT @limit`,
  listDlqRows: `SELECT ${DLQ_COLUMNS} FROM cleanup_dlq
    WHERE (@backendName IS NULL OR backend_name = @backendName) AND id > @afterId ORDER BY id LIMIT @limit`,
  requeueDlq: `INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, last_error, created_at)
    SELECT backend_name, storage_key, object_key, reason, size_bytes, 0, @now, last_error, first_enqueued_at
    FROM cleanup_dlq WHERE ${DLQ_FILTER} ORDER BY id
    RETURNING id`,
  requeueDlqDelete: `DELETE FROM cleanup_dlq WHERE ${DLQ_FILTER}`,
  purgeDlq: `DELETE FROM cleanup_dlq WHERE ${DLQ_FILTER} RETURNING id, backend_name, size_bytes`,
  cleanupDepths: `SELECT backend_name, 'queue' AS place, count(*) AS rows, coalesce(sum(size_bytes), 0) AS bytes
    FROM cleanup_queue GROUP BY backend_name
    UNION ALL
    SELECT backend_name, 'dlq' AS place, count(*) AS rows, coalesce(sum(size_bytes), 0) AS bytes
    FROM cleanup_dlq GROUP BY backend_name
    ORDER BY 1, 2`,
} as const;

/**
 * Mirror of queries/cleanup.sql. Where Postgres moves rows with one data-modifying CTE, SQLite runs
 * the INSERT ... SELECT and the DELETE one after the other: with one serialised writer nothing can
 * happen between them.
 */
export class CleanupQueries extends SqliteQueryContext {
  async claimCleanup(p: Q.IClaimCleanupParams): Promise<Q.IClaimCleanupResult[]> {
    const rows = this.stmt(SQL.claimCleanup).all({ now: ms(p.now), worker: p.worker, claimUntil: ms(p.claimUntil), limit: p.limit, backends: JSON.stringify(p.backendNames) });
    return withDates(rows, 'next_retry', 'claimed_at', 'created_at');
  }

  async releaseCleanupClaims(p: Q.IReleaseCleanupClaimsParams): Promise<number> {
    return this.stmt(SQL.releaseCleanupClaims).run(ms(p.now), JSON.stringify(p.ids), p.worker).changes;
  }

  async deleteCleanupRow(p: Q.IDeleteCleanupRowParams): Promise<Q.IDeleteCleanupRowResult[]> {
    return this.stmt(SQL.deleteCleanupRow).all(p.id) as Q.IDeleteCleanupRowResult[];
  }

  async retryCleanup(p: Q.IRetryCleanupParams): Promise<Q.IRetryCleanupResult[]> {
    return this.stmt(SQL.retryCleanup).all(ms(p.nextRetry), p.lastError, p.id, p.worker) as Q.IRetryCleanupResult[];
  }

  async moveCleanupToDlq(p: Q.IMoveCleanupToDlqParams): Promise<Q.IMoveCleanupToDlqResult[]> {
    const moved = this.stmt(SQL.moveCleanupToDlq).all(p.lastError, ms(p.now), p.id, p.worker) as Q.IMoveCleanupToDlqResult[];
    if (moved.length > 0) this.stmt(SQL.moveCleanupToDlqDelete).run(p.id);
    return moved;
  }

  async listCleanupRows(p: Q.IListCleanupRowsParams): Promise<Q.IListCleanupRowsResult[]> {
    const rows = this.stmt(SQL.listCleanupRows).all({ backendName: p.backendName ?? null, afterId: p.afterId, limit: p.limit });
    return withDates(rows, 'next_retry', 'claimed_at', 'created_at');
  }

  async listDlqRows(p: Q.IListDlqRowsParams): Promise<Q.IListDlqRowsResult[]> {
    const rows = this.stmt(SQL.listDlqRows).all({ backendName: p.backendName ?? null, afterId: p.afterId, limit: p.limit });
    return withDates(rows, 'first_enqueued_at', 'moved_at');
  }

  async requeueDlq(p: Q.IRequeueDlqParams): Promise<Q.IRequeueDlqResult[]> {
    const filter = { id: p.id ?? null, backendName: p.backendName ?? null };
    const moved = this.stmt(SQL.requeueDlq).all({ ...filter, now: ms(p.now) }) as Q.IRequeueDlqResult[];
    this.stmt(SQL.requeueDlqDelete).run(filter);
    return moved;
  }

  async purgeDlq(p: Q.IPurgeDlqParams): Promise<Q.IPurgeDlqResult[]> {
    return this.stmt(SQL.purgeDlq).all({
      id: p.id ?? null,
      backendName: p.backendName ?? null,
    }) as Q.IPurgeDlqResult[];
  }

  async cleanupDepths(): Promise<Q.ICleanupDepthsResult[]> {
    const rows = this.stmt(SQL.cleanupDepths).all() as Q.ICleanupDepthsResult[];
    return withExact(rows, 'bytes');
  }
}
