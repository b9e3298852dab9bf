import { ConstraintViolationError, DatabaseBusyError, DatabaseUnavailableError, StoreError } from '../core/errors.js';

/**
 * Maps better-sqlite3 errors onto the store's errors: I/O and open failures are DatabaseUnavailable;
 * SQLITE_BUSY means another process (an operator command) holds the write lock past busy_timeout.
 */
export function classifySqliteError(err: unknown): unknown {
  if (err instanceof StoreError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
    return new DatabaseBusyError(`the SQLite database is locked by another process: ${err.message}`, { cause: err });
  }
  if (/^SQLITE_(CANTOPEN|IOERR|FULL|NOTADB|CORRUPT|READONLY|PROTOCOL)/.test(code)) {
    return new DatabaseUnavailableError(`SQLite database unavailable: ${err.message}`, { cause: err });
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new ConstraintViolationError('unique', constraintOf(err.message), err.message, { cause: err });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return new ConstraintViolationError('foreign-key', 'foreign key', err.message, { cause: err });
  if (code === 'SQLITE_CONSTRAINT_CHECK') return new ConstraintViolationError('check', constraintOf(err.message), err.message, { cause: err });
  return err;
}

function constraintOf(message: string): string {
  return message.split(': ')[1] ?? 'unknown';
}
