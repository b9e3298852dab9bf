import type { PostgresDatabase } from '../../src/store/postgres/database.js';
import type { SqliteDatabase } from '../../src/store/sqlite/database.js';
import { BENCH_BACKEND, type Target } from './targets.js';

/**
 * Seeds rows directly, in large batches (not through the per-object path), then lets the store's
 * reconcile recompute the quota counters from the rows, so the ledger stays exact.
 * Every value is a bound parameter: Postgres gets arrays (unnest), SQLite one prepared insert per row
 * inside one transaction per batch.
 */

const BATCH = 10_000;

/** `prefix` + zero-padded index: byte order is index order. */
export function benchKey(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(8, '0')}`;
}

export async function loadObjects(target: Target, prefix: string, from: number, to: number, sizeBytes = 1024): Promise<void> {
  const now = new Date();
  if (target.engine === 'postgres') {
    const pool = (target.store.db as PostgresDatabase).pool;
    for (let start = from; start < to; start += BATCH) {
      const keys = Array.from({ length: Math.min(BATCH, to - start) }, (_, i) => benchKey(prefix, start + i));
      await pool.query(
        `INSERT INTO object_locations (object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at)
         SELECT k, $2, k || '!bulk', $3, '"bulk"', 'application/octet-stream', '{}'::jsonb, NULL, $4 FROM unnest($1::text[]) AS k`,
        [keys, BENCH_BACKEND, sizeBytes, now],
      );
    }
  } else {
    const db = (target.store.db as SqliteDatabase).connection;
    const insert = db.prepare(
      `INSERT INTO object_locations (object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at)
       VALUES (?, ?, ?, ?, '"bulk"', 'application/octet-stream', '{}', NULL, ?)`,
    );
    for (let start = from; start < to; start += BATCH * 5) {
      db.transaction(() => {
        for (let i = start; i < Math.min(to, start + BATCH * 5); i++) {
          const key = benchKey(prefix, i);
          insert.run(key, BENCH_BACKEND, `${key}!bulk`, sizeBytes, now.getTime());
        }
      })();
    }
  }
  await target.store.quota.reconcile({ fix: true });
}

/** Due cleanup rows (for the claim+complete measurement). */
export async function loadCleanupRows(target: Target, count: number): Promise<void> {
  const due = new Date(Date.now() - 1000);
  if (target.engine === 'postgres') {
    const pool = (target.store.db as PostgresDatabase).pool;
    await pool.query(
      `INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, created_at)
       SELECT $1, 'bench/orphan-' || g, 'bench/orphan-' || g, 'bench', 1, 0, $2, $2 FROM generate_series(1, $3::int) AS g`,
      [BENCH_BACKEND, due, count],
    );
  } else {
    const db = (target.store.db as SqliteDatabase).connection;
    const insert = db.prepare(
      `INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, created_at)
       VALUES (?, ?, ?, 'bench', 1, 0, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(BENCH_BACKEND, `bench/orphan-${i}`, `bench/orphan-${i}`, due.getTime(), due.getTime());
    })();
  }
  await target.store.quota.reconcile({ fix: true });
}

/** Due outbox events (for the claim+ack measurement). */
export async function loadOutboxEvents(target: Target, count: number): Promise<void> {
  const due = new Date(Date.now() - 1000);
  if (target.engine === 'postgres') {
    const pool = (target.store.db as PostgresDatabase).pool;
    await pool.query(
      `INSERT INTO notification_outbox (event_id, event_type, payload, endpoint, attempts, next_retry, created_at)
       SELECT gen_random_uuid()::text, 'ObjectCreated', '{"objectKey": "bench"}'::jsonb, 'hook', 0, $1, $1 FROM generate_series(1, $2::int)`,
      [due, count],
    );
  } else {
    const db = (target.store.db as SqliteDatabase).connection;
    const insert = db.prepare(
      `INSERT INTO notification_outbox (event_id, event_type, payload, endpoint, attempts, next_retry, created_at)
       VALUES (lower(hex(randomblob(16))), 'ObjectCreated', '{"objectKey": "bench"}', 'hook', 0, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(due.getTime(), due.getTime());
    })();
  }
}
