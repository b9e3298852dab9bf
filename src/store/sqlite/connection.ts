import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { SqliteConfig } from '../../config/types.js';

export type SqliteConnection = Sqlite.Database;

/**
 * Creates the parent directory and the database file on first start. The file is created with mode
 * 0600 before SQLite opens it, because SQLite gives its -wal and -shm files the main file's mode.
 */
export function ensureDatabaseFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
}

/**
 * The writer connection. WAL lets the reader connection see committed data while a write
 * transaction is open; foreign keys are off by default in SQLite and must be switched on per
 * connection; `synchronous` is the durability choice of the config (FULL survives power loss,
 * NORMAL may lose the last commits but never corrupts).
 */
export function openWriter(config: SqliteConfig): SqliteConnection {
  ensureDatabaseFile(config.path);
  const db = new Sqlite(config.path, { timeout: config.busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.trunc(config.busyTimeoutMs)}`);
    db.pragma(`synchronous = ${config.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * A read-only connection for reads outside transactions: it never sees uncommitted work. It reads
 * the database file through a memory map (`mmap_size`): a lookup in a large table then costs memory
 * accesses instead of a read() per page that misses SQLite's page cache (docs/performance.md).
 */
export function openReader(config: SqliteConfig): SqliteConnection {
  const db = new Sqlite(config.path, { readonly: true, fileMustExist: true, timeout: config.busyTimeoutMs });
  db.pragma(`busy_timeout = ${Math.trunc(config.busyTimeoutMs)}`);
  db.pragma(`mmap_size = ${Math.trunc(config.mmapBytes)}`);
  return db;
}
