import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

const BUCKET_COLUMNS = 'name, owner, created_at';

/** The statements of this mirror, by query name. */
export const SQL = {
  insertBucket: `INSERT INTO buckets (${BUCKET_COLUMNS}) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING ${BUCKET_COLUMNS}`,
  getBucket: `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE name = ?`,
  listBuckets: `SELECT ${BUCKET_COLUMNS} FROM buckets ORDER BY name`,
  deleteBucket: `DELETE FROM buckets WHERE name = ?`,
  bucketContents: `SELECT
      (SELECT object_key FROM object_locations WHERE object_key >= ? AND object_key < ? ORDER BY object_key LIMIT 1) IS NOT NULL AS hasObjects,
      (SELECT object_key FROM multipart_uploads WHERE object_key >= ? AND object_key < ? ORDER BY object_key LIMIT 1) IS NOT NULL AS hasUploads`,
  bucketStats: `SELECT b.name, count(o.object_key) AS objects, coalesce(sum(o.size_bytes), 0) AS bytes
    FROM buckets b
    LEFT JOIN object_locations o
        ON o.object_key >= b.name || '/' AND o.object_key < b.name || '0'
       AND NOT EXISTS (SELECT 1 FROM object_locations f WHERE f.object_key = o.object_key AND f.backend_name < o.backend_name)
    GROUP BY b.name
    ORDER BY b.name`,
} as const;

/** Mirror of queries/buckets.sql. */
export class BucketQueries extends SqliteQueryContext {
  async insertBucket(p: Q.IInsertBucketParams): Promise<Q.IInsertBucketResult[]> {
    const rows = this.stmt(SQL.insertBucket).all(p.name, p.owner, ms(p.createdAt));
    return withDates(rows, 'created_at');
  }

  async getBucket(p: Q.IGetBucketParams): Promise<Q.IGetBucketResult[]> {
    const rows = this.stmt(SQL.getBucket).all(p.name);
    return withDates(rows, 'created_at');
  }

  /** Write transactions are already serialised (one writer): a plain read is the lock. */
  async lockBucket(p: Q.ILockBucketParams): Promise<Q.ILockBucketResult[]> {
    return this.getBucket(p);
  }

  async listBuckets(): Promise<Q.IListBucketsResult[]> {
    const rows = this.stmt(SQL.listBuckets).all();
    return withDates(rows, 'created_at');
  }

  async deleteBucket(p: Q.IDeleteBucketParams): Promise<number> {
    return this.stmt(SQL.deleteBucket).run(p.name).changes;
  }

  /** SQLite answers IS NOT NULL with 0 or 1; the interface (Postgres) says boolean. */
  async bucketContents(p: Q.IBucketContentsParams): Promise<Q.IBucketContentsResult[]> {
    const row = this.stmt(SQL.bucketContents).get(p.fromKey, p.toKey, p.fromKey, p.toKey) as { hasObjects: number; hasUploads: number };
    return [{ hasObjects: row.hasObjects === 1, hasUploads: row.hasUploads === 1 }];
  }

  async bucketStats(): Promise<Q.IBucketStatsResult[]> {
    const rows = this.stmt(SQL.bucketStats).all() as Q.IBucketStatsResult[];
    return withExact(rows, 'objects', 'bytes');
  }
}
