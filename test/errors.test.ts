import { describe, expect, it } from 'vitest';
import { ConstraintViolationError, DatabaseBusyError, DatabaseUnavailableError, NotFoundError } from '../src/store/core/errors.js';
import { classifyPostgresError } from '../src/store/postgres/errors.js';
import { classifySqliteError } from '../src/store/sqlite/errors.js';

function pgError(code: string, message = 'x', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('error classification: only connection-level failures are DatabaseUnavailable', () => {
  it.each([
    ['08006', 'connection failure'],
    ['08001', 'unable to connect'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is starting up'],
    ['53300', 'too many connections'],
    ['28P01', 'password authentication failed'],
    ['3D000', 'database "x" does not exist'],
    ['ECONNREFUSED', 'connect ECONNREFUSED'],
    ['ECONNRESET', 'read ECONNRESET'],
  ])('postgres %s (%s) → DatabaseUnavailable', (code, message) => {
    const classified = classifyPostgresError(pgError(code, message));
    expect(classified).toBeInstanceOf(DatabaseUnavailableError);
    expect((classified as Error).cause).toBeInstanceOf(Error);
  });

  it('a dropped connection without a code → DatabaseUnavailable', () => {
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toBeInstanceOf(DatabaseUnavailableError);
  });

  it.each([
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access'],
    ['42P01', 'relation does not exist'],
    ['22P02', 'invalid input syntax'],
  ])('postgres %s (%s) is not an outage', (code, message) => {
    const err = pgError(code, message);
    const classified = classifyPostgresError(err);
    expect(classified).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(classified).toBe(err);
  });

  it.each([
    ['23505', 'unique'],
    ['23503', 'foreign-key'],
    ['23514', 'check'],
  ])('postgres %s → ConstraintViolation (%s)', (code, kind) => {
    const classified = classifyPostgresError(pgError(code, 'violates', { constraint: 'c' }));
    expect(classified).toBeInstanceOf(ConstraintViolationError);
    expect(classified).toMatchObject({ kind, constraint: 'c' });
  });

  it('a pool that is saturated is busy, not down; the same timeout while connecting is down', () => {
    const timeout = new Error('timeout exceeded when trying to connect');
    expect(classifyPostgresError(timeout, { poolSaturated: true })).toBeInstanceOf(DatabaseBusyError);
    expect(classifyPostgresError(timeout, { poolSaturated: false })).toBeInstanceOf(DatabaseUnavailableError);
  });

  it('store errors pass through unchanged', () => {
    const notFound = new NotFoundError('object', 'b/k');
    expect(classifyPostgresError(notFound)).toBe(notFound);
    expect(classifySqliteError(notFound)).toBe(notFound);
  });

  it.each([
    ['SQLITE_CANTOPEN', DatabaseUnavailableError],
    ['SQLITE_IOERR_WRITE', DatabaseUnavailableError],
    ['SQLITE_FULL', DatabaseUnavailableError],
    ['SQLITE_BUSY', DatabaseBusyError],
    ['SQLITE_CONSTRAINT_UNIQUE', ConstraintViolationError],
    ['SQLITE_CONSTRAINT_FOREIGNKEY', ConstraintViolationError],
  ])('sqlite %s → %s', (code, type) => {
    expect(classifySqliteError(pgError(code, 'UNIQUE constraint failed: t.c'))).toBeInstanceOf(type);
  });

  it('a sqlite error of the program (a bad statement) is not an outage', () => {
    const err = pgError('SQLITE_ERROR', 'no such table: t');
    expect(classifySqliteError(err)).toBe(err);
  });
});
