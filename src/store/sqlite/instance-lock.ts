import Sqlite from 'better-sqlite3';
import { DatabaseInUseError } from '../core/errors.js';
import { ensureDatabaseFile } from './connection.js';

/**
 * SQLite serves one instance (spec §5). The proof of ownership is an exclusive lock on a small
 * companion file, `<path>.lock`, held by an open transaction for the life of the store. It is an
 * operating-system lock, so it vanishes with the process (a crash never leaves a stale lock), and a
 * second process, or a second store in the same process, fails at once instead of waiting.
 */
export function acquireInstanceLock(path: string): () => void {
  const lockPath = `${path}.lock`;
  ensureDatabaseFile(lockPath);
  const lock = new Sqlite(lockPath, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseInUseError(path);
    throw err;
  }
  return () => {
    if (!lock.open) return;
    lock.exec('ROLLBACK');
    lock.close();
  };
}
