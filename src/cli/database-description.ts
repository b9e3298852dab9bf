import type { DatabaseConfig } from '../config/types.js';

/**
 * The one way validate, status, migrate and serve name the database: the SQLite file's path, or
 * the PostgreSQL server as a URL without its password (`postgres://user@host:port/db?sslmode=...`).
 */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.driver === 'sqlite') return db.path;
  return `postgres://${encodeURIComponent(db.user)}@${db.host.includes(':') ? `[${db.host}]` : db.host}:${db.port}/${encodeURIComponent(db.database)}?sslmode=${db.sslMode}`;
}
