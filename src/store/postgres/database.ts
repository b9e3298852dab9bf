import pg from 'pg';
import type { PostgresConfig } from '../../config/types.js';
import type { Logger } from '../../logging.js';
import type { Database, LeaderJob, LeaderLock, SchemaStatus } from '../core/database.js';
import { SchemaTooNewError } from '../core/errors.js';
import type { TxQueries } from '../core/generated/queries.js';
import { classifyPostgresError } from './errors.js';
import { PostgresLeaderLocks } from './leader-locks.js';
import { applyMigrations, readMigrationPlan, type MigrationProgress } from './migrations.js';
import { clientConfig, poolConfig } from './pool.js';
import { postgresQueries } from './queries.js';

export interface PostgresOpenOptions {
  /** `apply`: run pending migrations (start-up); `inspect`: only refuse a newer database. */
  readonly schema: 'apply' | 'inspect';
  readonly migrationProgress?: MigrationProgress;
  readonly logger: Logger;
}

export class PostgresDatabase implements Database {
  readonly engine = 'postgres' as const;
  readonly capabilities = { concurrentWriters: true };
  readonly location: string;
  readonly appliedAtOpen: readonly string[];
  readonly #pool: pg.Pool;
  readonly #config: PostgresConfig;
  readonly #locks: PostgresLeaderLocks;
  #closed = false;

  private constructor(config: PostgresConfig, pool: pg.Pool, logger: Logger, applied: readonly string[]) {
    this.appliedAtOpen = applied;
    this.#config = config;
    this.#pool = pool;
    this.location = `postgres://${encodeURIComponent(config.user)}@${config.host}:${config.port}/${encodeURIComponent(config.database)}`;
    this.#locks = new PostgresLeaderLocks(clientConfig(config), (err) => logger.warn({ err: err.message }, 'leader-lock connection lost'));
  }

  static async open(config: PostgresConfig, options: PostgresOpenOptions): Promise<PostgresDatabase> {
    const pool = new pg.Pool(poolConfig(config));
    // An idle client's connection dropping must not crash the process; the pool replaces it.
    pool.on('error', (err) => options.logger.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
    // A checked-out client whose connection drops emits 'error' as well as failing its query; without a
    // listener that event would crash the process. The query's rejection is what callers act on.
    pool.on('connect', (client) => client.on('error', (err) => options.logger.debug({ err: err.message }, 'PostgreSQL connection failed')));
    let applied: readonly string[] = [];
    try {
      // Migrations run on their own connection: the migration lock is a session lock.
      const client = new pg.Client(clientConfig(config));
      client.on('error', () => {}); // a failure surfaces through the pending query
      await client.connect();
      try {
        const plan = await readMigrationPlan(client);
        if (plan.foreignTable) {
          options.logger.info({ table: plan.foreignTable }, `table ${plan.foreignTable} belongs to another application (its migrations are not ours): left alone`);
        }
        if (options.schema === 'apply') {
          const progress = options.migrationProgress ?? {};
          applied = await applyMigrations(client, {
            ...progress,
            onAdopted: (from, to) => {
              options.logger.info({ from, to }, `migration history moved from ${from} to ${to} (done once)`);
              progress.onAdopted?.(from, to);
            },
          });
        } else if (plan.unknown.length > 0) {
          throw new SchemaTooNewError(`it has migrations ${plan.unknown.join(', ')} that this program does not know`);
        }
      } finally {
        await client.end().catch(() => {});
      }
      await warmUp(pool, config.minConns);
    } catch (err) {
      await pool.end().catch(() => {});
      throw classifyPostgresError(err);
    }
    return new PostgresDatabase(config, pool, options.logger, applied);
  }

  async transaction<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    const client = await this.#checkout();
    const handle = postgresQueries(client);
    let began = false;
    try {
      await client.query('BEGIN');
      began = true;
      const result = await fn(handle.queries);
      await client.query('COMMIT');
      handle.end();
      client.release();
      return result;
    } catch (err) {
      handle.end();
      let broken = false;
      if (began) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is unusable: destroy it rather than return it to the pool
        }
      }
      client.release(broken ? (err as Error) : undefined);
      throw classifyPostgresError(err);
    }
  }

  /** One statement, no BEGIN/COMMIT: PostgreSQL commits a statement outside a transaction by itself. */
  autocommit<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    return this.read(fn);
  }

  async read<T>(fn: (q: TxQueries) => Promise<T>): Promise<T> {
    const client = await this.#checkout();
    const handle = postgresQueries(client);
    try {
      const result = await fn(handle.queries);
      handle.end();
      client.release();
      return result;
    } catch (err) {
      handle.end();
      const classified = classifyPostgresError(err);
      client.release(classified instanceof Error && classified.name === 'DatabaseUnavailableError' ? (err as Error) : undefined);
      throw classified;
    }
  }

  async tryLeaderLock(job: LeaderJob): Promise<LeaderLock | undefined> {
    try {
      return await this.#locks.tryLock(job);
    } catch (err) {
      throw classifyPostgresError(err);
    }
  }

  async schemaStatus(): Promise<SchemaStatus> {
    const client = await this.#checkout();
    try {
      const plan = await readMigrationPlan(client);
      return { current: plan.applied.at(-1), applied: plan.applied, pending: plan.pending };
    } catch (err) {
      throw classifyPostgresError(err);
    } finally {
      client.release();
    }
  }

  /** The pool, for benchmarks that run raw statements beside the store on the same connections. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  get config(): PostgresConfig {
    return this.#config;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#locks.close();
    await this.#pool.end();
  }

  async #checkout(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw classifyPostgresError(err, { poolSaturated: this.#pool.totalCount >= this.#config.maxConns });
    }
  }
}

async function warmUp(pool: pg.Pool, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: Math.max(1, count) }, () => pool.connect()));
  for (const c of clients) c.release();
}
