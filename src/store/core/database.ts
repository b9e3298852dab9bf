import type { TxQueries } from './generated/queries.js';

/**
 * What core needs from an engine: run typed queries inside a transaction or one at a time, take
 * leader locks, and describe itself. Core asks capabilities, never engine names.
 */
export interface Database {
  /** For display only (status output); core never branches on it. */
  readonly engine: 'sqlite' | 'postgres';
  /** Where the database is, password redacted. */
  readonly location: string;
  readonly capabilities: DatabaseCapabilities;

  /**
   * Runs `fn` in one transaction: commit when it resolves, roll back when it throws, and rethrow
   * the original error. The query handle is dead after the transaction ends.
   */
  transaction<T>(fn: (q: TxQueries) => Promise<T>): Promise<T>;

  /**
   * Runs `fn`, which issues a single statement that is atomic by itself, without an explicit
   * transaction: one round trip instead of three on PostgreSQL. (SQLite, whose mirror of such a
   * statement may take several, runs it as a transaction on its serialised writer.)
   */
  autocommit<T>(fn: (q: TxQueries) => Promise<T>): Promise<T>;

  /**
   * Runs read-only statements outside a transaction, each seeing the latest committed data (on
   * SQLite, through a separate read-only connection, so reads never see an open transaction's work).
   */
  read<T>(fn: (q: TxQueries) => Promise<T>): Promise<T>;

  /** Tries, without waiting, to become the one instance running `job`. */
  tryLeaderLock(job: LeaderJob): Promise<LeaderLock | undefined>;

  schemaStatus(): Promise<SchemaStatus>;

  /** What opening this database applied: migration names, or the SQLite schema version. */
  readonly appliedAtOpen: readonly string[];

  close(): Promise<void>;
}

export interface DatabaseCapabilities {
  /**
   * Whether transactions from several connections can run at the same time. When false (SQLite: one
   * serialised writer), the quota counters need a single stripe: splitting them would buy nothing.
   */
  readonly concurrentWriters: boolean;
}

export interface LeaderJob {
  readonly name: string;
  /** Postgres advisory lock id; see leader-jobs.ts for the registry. */
  readonly lockId: bigint;
}

export interface LeaderLock {
  readonly job: LeaderJob;
  /** False once the lock is known lost (its connection dropped): stop working and try again later. */
  isHeld(): boolean;
  /** Releases on the connection that took the lock, whatever state the caller is in. Idempotent. */
  release(): Promise<void>;
}

export interface SchemaStatus {
  /** e.g. "sqlite schema 1" or "0002_quota_escrow". */
  readonly current: string | undefined;
  readonly applied: readonly string[];
  readonly pending: readonly string[];
}
