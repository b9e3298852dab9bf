import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

const INSERTED_COLUMNS =
  'intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, upload_id, part_number, created_at';
const INTENT_COLUMNS = `${INSERTED_COLUMNS}, superseded_at`;

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  insertIntent: `INSERT INTO pending_objects (${INSERTED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  admitForIntent: `UPDATE backend_quota_stripes AS s
    SET inflight_bytes = s.inflight_bytes + @sizeBytes,
        free_bytes = CASE WHEN q.bytes_limit = 0 THEN s.free_bytes ELSE s.free_bytes - @sizeBytes END
    FROM backend_quotas AS q
    WHERE q.backend_name = @backendName AND s.backend_name = q.backend_name AND s.stripe = @stripe
      AND (q.bytes_limit = 0 OR s.free_bytes >= @sizeBytes)
    RETURNING backend_name`,
  deleteIntent: `DELETE FROM pending_objects WHERE intent_id = ? RETURNING ${INTENT_COLUMNS}`,
  getIntent: `SELECT ${INTENT_COLUMNS} FROM pending_objects WHERE intent_id = ?`,
  listIntentsCreatedBefore: `SELECT ${INTENT_COLUMNS} FROM pending_objects WHERE created_at < ? ORDER BY created_at, intent_id LIMIT ?`,
  listReapableIntents: `SELECT ${INTENT_COLUMNS} FROM pending_objects AS p
    WHERE p.backend_name = @backendName AND p.created_at < @cutoff
      AND NOT (p.kind = 'write' AND p.superseded_at IS NULL AND EXISTS (
        SELECT 1 FROM pending_objects AS n
        WHERE n.object_key = p.object_key AND n.kind = 'write' AND n.superseded_at IS NULL
          AND (n.created_at > p.created_at OR (n.created_at = p.created_at AND n.intent_id > p.intent_id))))
    ORDER BY p.created_at, p.intent_id LIMIT @limit`,
  intentSummary: `SELECT count(*) AS count, min(created_at) AS oldest FROM pending_objects`,
  sumIntentsByBackend: `SELECT backend_name, coalesce(sum(size_bytes), 0) AS bytes FROM pending_objects GROUP BY backend_name ORDER BY backend_name`,
} as const;

/** Mirror of queries/pending.sql. */
export class PendingQueries extends SqliteQueryContext {
  async insertIntent(p: Q.IInsertIntentParams): Promise<number> {
    return this.stmt(SQL.insertIntent).run(
      p.intentId,
      p.kind,
      p.objectKey,
      p.backendName,
      p.storageKey,
      p.sizeBytes,
      p.etag ?? null,
      p.contentType,
      p.userMetadata,
      p.contentHash ?? null,
      p.uploadId ?? null,
      p.partNumber ?? null,
      ms(p.createdAt),
    ).changes;
  }

  /** Postgres does both in one statement; SQLite runs them in turn inside the caller's transaction. */
  async insertAdmittedIntent(p: Q.IInsertAdmittedIntentParams): Promise<Q.IInsertAdmittedIntentResult[]> {
    if (this.stmt(SQL.admitForIntent).all({ sizeBytes: p.sizeBytes, backendName: p.backendName, stripe: p.stripe }).length === 0) return [];
    await this.insertIntent(p);
    return [{ intent_id: p.intentId }];
  }

  /** Transactions are serialised: there is no key to lock, only the intent to resolve. */
  async takeIntent(p: Q.ITakeIntentParams): Promise<Q.ITakeIntentResult[]> {
    return this.deleteIntent(p);
  }

  async deleteIntent(p: Q.IDeleteIntentParams): Promise<Q.IDeleteIntentResult[]> {
    return withDates(this.stmt(SQL.deleteIntent).all(p.intentId), 'created_at', 'superseded_at');
  }

  async getIntent(p: Q.IGetIntentParams): Promise<Q.IGetIntentResult[]> {
    return withDates(this.stmt(SQL.getIntent).all(p.intentId), 'created_at', 'superseded_at');
  }

  async listIntentsCreatedBefore(p: Q.IListIntentsCreatedBeforeParams): Promise<Q.IListIntentsCreatedBeforeResult[]> {
    const rows = this.stmt(SQL.listIntentsCreatedBefore).all(ms(p.cutoff), p.limit);
    return withDates(rows, 'created_at', 'superseded_at');
  }

  async listReapableIntents(p: Q.IListReapableIntentsParams): Promise<Q.IListReapableIntentsResult[]> {
    const rows = this.stmt(SQL.listReapableIntents).all({ backendName: p.backendName, cutoff: ms(p.cutoff), limit: p.limit });
    return withDates(rows, 'created_at', 'superseded_at');
  }

  async intentSummary(): Promise<Q.IIntentSummaryResult[]> {
    return withDates(this.stmt(SQL.intentSummary).all(), 'oldest');
  }

  async sumIntentsByBackend(): Promise<Q.ISumIntentsByBackendResult[]> {
    const rows = this.stmt(SQL.sumIntentsByBackend).all() as Q.ISumIntentsByBackendResult[];
    return withExact(rows, 'bytes');
  }
}
