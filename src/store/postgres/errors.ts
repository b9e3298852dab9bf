import { ConstraintViolationError, DatabaseBusyError, DatabaseUnavailableError, StoreError } from '../core/errors.js';

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Maps a pg error onto the store's errors. Only connection-level failures become
 * DatabaseUnavailable (the gateway's circuit breaker counts those); deadlocks, serialisation
 * failures and constraint errors are application errors, never "database down" (lessons #3, #15).
 */
export function classifyPostgresError(err: unknown, context: { poolSaturated?: boolean } = {}): unknown {
  if (err instanceof StoreError) return err;
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  const message = err.message;
  if (message === 'timeout exceeded when trying to connect' && context.poolSaturated) {
    return new DatabaseBusyError('every database connection of this instance is in use (raise database.max_conns or lower concurrency)', { cause: err });
  }
  if (typeof code === 'string') {
    if (CONNECTION_ERRNOS.has(code)) return new DatabaseUnavailableError(`cannot reach PostgreSQL: ${message}`, { cause: err });
    // SQLSTATE classes: 08 connection exception, 57P0x shutdown / cannot connect now, 53300 too many
    // connections, 28 authentication, 3D000 no such database.
    if (code.startsWith('08') || /^57P0[1-4]$/.test(code) || code === '53300' || code.startsWith('28') || code === '3D000') {
      return new DatabaseUnavailableError(`PostgreSQL is unavailable: ${message}`, { cause: err });
    }
    if (code === '23505' || code === '23503' || code === '23514') {
      const kind = code === '23505' ? 'unique' : code === '23503' ? 'foreign-key' : 'check';
      return new ConstraintViolationError(kind, (err as { constraint?: string }).constraint ?? 'unknown', message, { cause: err });
    }
    return err;
  }
  if (
    /Connection terminated|Client has encountered a connection error|connection timeout|timeout exceeded when trying to connect|Client was closed|Connection closed|not queryable/i.test(
      message,
    )
  ) {
    return new DatabaseUnavailableError(`PostgreSQL connection lost: ${message}`, { cause: err });
  }
  return err;
}
