import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

const COPY_COLUMNS = 'object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes';

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  insertCopy: `INSERT INTO object_locations (${COPY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  lookupCopies: `SELECT ${COPY_COLUMNS} FROM object_locations WHERE object_key = ? ORDER BY backend_name`,
  endVersionSupersede: `UPDATE pending_objects SET superseded_at = ? WHERE object_key = ? AND kind = 'write' AND superseded_at IS NULL`,
  endVersion: `DELETE FROM object_locations WHERE object_key = ? RETURNING ${COPY_COLUMNS}`,
  endVersionsSupersede: `UPDATE pending_objects SET superseded_at = ?
    WHERE object_key IN (SELECT object_key FROM object_locations WHERE object_key IN (SELECT value FROM json_each(?)))
      AND kind = 'write' AND superseded_at IS NULL`,
  endVersions: `DELETE FROM object_locations WHERE object_key IN (SELECT value FROM json_each(?)) RETURNING ${COPY_COLUMNS}`,
  deleteCopy: `DELETE FROM object_locations WHERE object_key = ? AND backend_name = ? RETURNING ${COPY_COLUMNS}`,
  listObjectsFrom: `SELECT object_key, size_bytes, etag, created_at, min(backend_name) AS first_backend
    FROM object_locations WHERE object_key >= ? GROUP BY object_key ORDER BY object_key LIMIT ?`,
  listObjectsRange: `SELECT object_key, size_bytes, etag, created_at, min(backend_name) AS first_backend
    FROM object_locations WHERE object_key >= ? AND object_key < ? GROUP BY object_key ORDER BY object_key LIMIT ?`,
  sumCopiesByBackend: `SELECT backend_name, coalesce(sum(size_bytes), 0) AS bytes, count(*) AS copies
    FROM object_locations GROUP BY backend_name ORDER BY backend_name`,
} as const;

/** Mirror of queries/objects.sql. */
export class ObjectQueries extends SqliteQueryContext {
  /** Transactions are already serialised (one writer): there is nothing to lock. */
  async lockObjectKey(_p: Q.ILockObjectKeyParams): Promise<Q.ILockObjectKeyResult[]> {
    return [{ locked: null }];
  }

  async lockObjectKeys(p: Q.ILockObjectKeysParams): Promise<Q.ILockObjectKeysResult[]> {
    return [{ locked: p.objectKeys.length }];
  }

  async insertCopy(p: Q.IInsertCopyParams): Promise<number> {
    return this.stmt(SQL.insertCopy).run(
      p.objectKey,
      p.backendName,
      p.storageKey,
      p.sizeBytes,
      p.etag,
      p.contentType,
      p.userMetadata,
      p.contentHash ?? null,
      ms(p.createdAt),
      p.partSizes ?? null,
    ).changes;
  }

  async lookupCopies(p: Q.ILookupCopiesParams): Promise<Q.ILookupCopiesResult[]> {
    const rows = this.stmt(SQL.lookupCopies).all(p.objectKey);
    return withDates(rows, 'created_at');
  }

  /** Postgres does both in one statement (a data-modifying CTE); SQLite runs them in turn. */
  async endVersion(p: Q.IEndVersionParams): Promise<Q.IEndVersionResult[]> {
    this.stmt(SQL.endVersionSupersede).run(ms(p.now), p.objectKey);
    const rows = this.stmt(SQL.endVersion).all(p.objectKey);
    return withDates(rows, 'created_at');
  }

  /** Postgres does all three in one statement; SQLite runs them in turn (the delete before the insert). */
  async replaceVersion(p: Q.IReplaceVersionParams): Promise<Q.IReplaceVersionResult[]> {
    this.stmt(SQL.endVersionSupersede).run(ms(p.now), p.objectKey);
    const displaced = withDates<Q.IReplaceVersionResult>(this.stmt(SQL.endVersion).all(p.objectKey), 'created_at');
    this.stmt(SQL.insertCopy).run(
      p.objectKey,
      p.backendName,
      p.storageKey,
      p.sizeBytes,
      p.etag,
      p.contentType,
      p.userMetadata,
      p.contentHash ?? null,
      ms(p.now),
      p.partSizes ?? null,
    );
    return displaced;
  }

  /** Postgres binds the keys as an array; SQLite reads them from a bound JSON array (never string-built SQL). */
  async endVersions(p: Q.IEndVersionsParams): Promise<Q.IEndVersionsResult[]> {
    const keys = JSON.stringify(p.objectKeys);
    this.stmt(SQL.endVersionsSupersede).run(ms(p.now), keys);
    const rows = this.stmt(SQL.endVersions).all(keys);
    return withDates(rows, 'created_at');
  }

  async deleteCopy(p: Q.IDeleteCopyParams): Promise<Q.IDeleteCopyResult[]> {
    const rows = this.stmt(SQL.deleteCopy).all(
      p.objectKey,
      p.backendName,
    );
    return withDates(rows, 'created_at');
  }

  // One row per key: SQLite takes the bare columns from the row that min() picked, the same row
  // Postgres' DISTINCT ON ... ORDER BY object_key, backend_name keeps.
  async listObjectsFrom(p: Q.IListObjectsFromParams): Promise<Q.IListObjectsFromResult[]> {
    const rows = this.stmt(SQL.listObjectsFrom).all(p.fromKey, p.limit);
    return withDates(rows, 'created_at');
  }

  async listObjectsRange(p: Q.IListObjectsRangeParams): Promise<Q.IListObjectsRangeResult[]> {
    const rows = this.stmt(SQL.listObjectsRange).all(p.fromKey, p.toKey, p.limit);
    return withDates(rows, 'created_at');
  }

  async sumCopiesByBackend(): Promise<Q.ISumCopiesByBackendResult[]> {
    const rows = this.stmt(SQL.sumCopiesByBackend).all() as Q.ISumCopiesByBackendResult[];
    return withExact(rows, 'bytes');
  }
}
