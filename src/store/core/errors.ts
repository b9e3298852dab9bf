/**
 * Typed errors the gateway maps to HTTP answers (spec §8). Every error carries a stable `code`
 * and the object it concerns; raw driver errors never reach a client, they travel as `cause`.
 */

export type StoreErrorCode =
  | 'NotFound'
  | 'NoSpace'
  | 'PreconditionFailed'
  | 'BucketNotEmpty'
  | 'InvalidArgument'
  | 'DatabaseUnavailable'
  | 'DatabaseBusy'
  | 'ConstraintViolation'
  | 'DatabaseInUse'
  | 'SchemaTooNew'
  | 'ConfigError';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
  /** Suggested HTTP status for the gateway. */
  abstract readonly httpStatus: number;
}

/** A key, upload, copy, queue row or event that does not exist. */
export class NotFoundError extends StoreError {
  readonly code = 'NotFound';
  readonly httpStatus = 404;
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} not found: ${JSON.stringify(id)}`);
    this.name = 'NotFoundError';
  }
}

/** Admission refused: the write would push the backend past its byte limit (invariant I2). */
export class NoSpaceError extends StoreError {
  readonly code = 'NoSpace';
  readonly httpStatus = 507;
  constructor(
    readonly sizeBytes: number,
    readonly backends: readonly string[],
  ) {
    super(
      backends.length === 1
        ? `backend ${JSON.stringify(backends[0])} has no room for ${sizeBytes} bytes`
        : `no backend has room for ${sizeBytes} bytes (tried: ${backends.map((b) => JSON.stringify(b)).join(', ') || 'none'})`,
    );
    this.name = 'NoSpaceError';
  }
}

/**
 * Which precondition failed: `state` is a state the operation itself needs (an intent already
 * resolved, a copy already there, the last copy); `if-none-match` and `if-match` are the caller's
 * conditions on a commit (S3's conditional PUT), which the gateway answers with 412.
 */
export type PreconditionFailedReason = 'state' | 'if-none-match' | 'if-match';

/** A state the operation required does not hold (e.g. the intent was already resolved). */
export class PreconditionFailedError extends StoreError {
  readonly code = 'PreconditionFailed';
  readonly httpStatus = 412;
  constructor(
    message: string,
    readonly reason: PreconditionFailedReason = 'state',
  ) {
    super(message);
    this.name = 'PreconditionFailedError';
  }
}

/** DeleteBucket refused: objects or open multipart uploads still have keys in the bucket. */
export class BucketNotEmptyError extends StoreError {
  readonly code = 'BucketNotEmpty';
  readonly httpStatus = 409;
  constructor(
    readonly bucket: string,
    readonly holds: { readonly objects: boolean; readonly uploads: boolean },
  ) {
    const what = [holds.objects ? 'objects' : '', holds.uploads ? 'open multipart uploads' : ''].filter(Boolean).join(' and ');
    super(`bucket ${JSON.stringify(bucket)} is not empty: it holds ${what}`);
    this.name = 'BucketNotEmptyError';
  }
}

/** The caller passed a value the store cannot accept; `field` names it. */
export class InvalidArgumentError extends StoreError {
  readonly code = 'InvalidArgument';
  readonly httpStatus = 400;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidArgumentError';
  }
}

/**
 * The database cannot be reached (connection refused, dropped, pool exhausted, server shutting down).
 * Only this error should count towards the gateway's circuit breaker: deadlocks, serialisation
 * failures and constraint errors are not outages (lessons.md #3, #15).
 */
export class DatabaseUnavailableError extends StoreError {
  readonly code = 'DatabaseUnavailable';
  readonly httpStatus = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * Every connection of this instance's pool is busy: a local overload, not an outage. The gateway
 * answers 503 with Retry-After but its circuit breaker must not count it (lessons.md #15).
 */
export class DatabaseBusyError extends StoreError {
  readonly code = 'DatabaseBusy';
  readonly httpStatus = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseBusyError';
  }
}

/**
 * A unique, foreign-key or check constraint refused a row. Core turns the ones it expects into
 * InvalidArgument or PreconditionFailed; any other is a bug, reported as it is.
 */
export class ConstraintViolationError extends StoreError {
  readonly code = 'ConstraintViolation';
  readonly httpStatus = 500;
  constructor(
    readonly kind: 'unique' | 'foreign-key' | 'check',
    readonly constraint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${kind} constraint ${constraint} refused the change: ${message}`, options);
    this.name = 'ConstraintViolationError';
  }
}

/** Another process already serves this SQLite file (SQLite is single-instance). */
export class DatabaseInUseError extends StoreError {
  readonly code = 'DatabaseInUse';
  readonly httpStatus = 503;
  constructor(readonly path: string) {
    super(
      `the SQLite database ${path} is already in use by another s3-orchestrator process; ` +
        'SQLite supports a single instance: stop the other process, or use database.driver: postgres to run several instances',
    );
    this.name = 'DatabaseInUseError';
  }
}

/** The database was written by a newer version of the program (newer schema or unknown migration). */
export class SchemaTooNewError extends StoreError {
  readonly code = 'SchemaTooNew';
  readonly httpStatus = 503;
  constructor(message: string) {
    super(`this database was written by a newer version of s3-orchestrator: ${message}`);
    this.name = 'SchemaTooNewError';
  }
}

export interface ConfigIssue {
  /** Dotted field path, e.g. `database.min_conns`. */
  readonly path: string;
  readonly message: string;
}

/** Configuration problems, all of them at once, each with its field path. */
export class ConfigError extends StoreError {
  readonly code = 'ConfigError';
  readonly httpStatus = 500;
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly source?: string,
  ) {
    super(
      (source ? `invalid configuration in ${source}:\n` : 'invalid configuration:\n') +
        issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function isStoreError(err: unknown): err is StoreError {
  return err instanceof StoreError;
}
