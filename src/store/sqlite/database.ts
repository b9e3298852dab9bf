import { existsSync, realpathSync } from 'node:fs';
import type { SqliteConfig } from '../../config/types.js';
import type { Database, LeaderJob, LeaderLock, SchemaStatus } from '../core/database.js';
import { DatabaseUnavailableError } from '../core/errors.js';
import type { TxQueries } from '../core/generated/queries.js';
import { openReader, openWriter, type SqliteConnection } from './connection.js';
import { classifySqliteError } from './errors.js';
import { acquireInstanceLock } from './instance-lock.js';
import { SqliteLeaderLocks } from './leader-locks.js';
import { type Mutex, writerMutexFor } from './mutex.js';
import { sqliteQueries, StatementCache } from './queries/index.js';
import { applySchema, refuseNewer, SCHEMA_VERSION, schemaVersionOf } from './schema.js';

export interface SqliteOpenOptions {
  /**
   * `serve`: this process is the instance (takes the single-instance lock, applies the schema).
   * `inspect`: an operator command reading or fixing data beside a running instance.
   */
  readonly role: 'serve' | 'inspect';
}

export class SqliteDatabase implements Database {
  readonly engine = 'sqlite' as const;
  readonly capabilities = { concurrentWriters: false };
  readonly location: string;
  readonly appliedAtOpen: readonly string[];
  readonly #writer: SqliteConnection;
  readonly #reader: SqliteConnection;
  readonly #writerStatements: StatementCache;
  readonly #readerStatements: StatementCache;
  readonly #mutex: Mutex;
  readonly #locks: SqliteLeaderLocks;
  readonly #releaseInstance: () => void;
  readonly #begin;
  readonly #commit;
  readonly #rollback;
  #closed = false;

  private constructor(config: SqliteConfig, writer: SqliteConnection, reader: SqliteConnection, releaseInstance: () => void, applied: readonly string[]) {
    this.location = config.path;
    this.appliedAtOpen = applied;
    this.#writer = writer;
    this.#reader = reader;
    this.#writerStatements = new StatementCache(writer);
    this.#readerStatements = new StatementCache(reader);
    this.#releaseInstance = releaseInstance;
    const realPath = realpathSync(config.path);
    this.#locks = new SqliteLeaderLocks(realPath);
    this.#mutex = writerMutexFor(realPath);
    // Write transactions start IMMEDIATE: a deferred one that upgrades from read to write can fail
    // with SQLITE_BUSY whatever busy_timeout says (lessons.md #16).
    this.#begin = writer.prepare('BEGIN IMMEDIATE');
    this.#commit = writer.prepare('COMMIT');
    this.#rollback = writer.prepare('ROLLBACK');
  }

  static open(config: SqliteConfig, options: SqliteOpenOptions): SqliteDatabase {
    if (options.role === 'inspect' && !existsSync(config.path)) {
      // An operator command must not leave an empty database behind where the service would create one.
      throw new DatabaseUnavailableError(`the SQLite database ${config.path} does not exist yet: it is created when the service starts (s3-orchestrator serve) or by s3-orchestrator migrate`);
    }
    const releaseInstance = options.role === 'serve' ? acquireInstanceLock(config.path) : () => {};
    let writer: SqliteConnection | undefined;
    let reader: SqliteConnection | undefined;
    try {
      writer = openWriter(config);
      let applied: readonly string[] = [];
      const version = schemaVersionOf(writer);
      refuseNewer(version, config.path);
      if (options.role === 'serve' || version < SCHEMA_VERSION) {
        const { from, to } = applySchema(writer, config.path);
        if (from < to) applied = [`sqlite schema ${to}`];
      }
      reader = openReader(config);
      return new SqliteDatabase(config, writer, reader, releaseInstance, applied);
    } catch (err) {
      reader?.close();
      writer?.close();
      releaseInstance();
      throw classifySqliteError(err);
    }
  }

  async transaction<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    const release = await this.#mutex.acquire();
    const handle = sqliteQueries(this.#writerStatements);
    try {
      if (this.#closed) throw new Error('the store is closed');
      this.#begin.run();
      const result = await fn(handle.queries);
      this.#commit.run();
      return result;
    } catch (err) {
      if (this.#writer.inTransaction) this.#rollback.run();
      throw classifySqliteError(err);
    } finally {
      handle.end();
      release();
    }
  }

  autocommit<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    return this.transaction(fn);
  }

  async read<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    const handle = sqliteQueries(this.#readerStatements);
    try {
      return await fn(handle.queries);
    } catch (err) {
      throw classifySqliteError(err);
    } finally {
      handle.end();
    }
  }

  async tryLeaderLock(job: LeaderJob): Promise<LeaderLock | undefined> {
    return this.#locks.tryLock(job);
  }

  async schemaStatus(): Promise<SchemaStatus> {
    const version = schemaVersionOf(this.#reader);
    return {
      current: version === 0 ? undefined : `sqlite schema ${version}`,
      applied: version === 0 ? [] : [`sqlite schema ${version}`],
      pending: version < SCHEMA_VERSION ? [`sqlite schema ${SCHEMA_VERSION}`] : [],
    };
  }

  /** The writer connection, for benchmarks that run raw statements beside the store. */
  get connection(): SqliteConnection {
    return this.#writer;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Wait for a transaction in progress to finish before closing under it.
    const release = await this.#mutex.acquire();
    try {
      this.#reader.close();
      this.#writer.close();
    } finally {
      this.#releaseInstance();
      release();
    }
  }
}
