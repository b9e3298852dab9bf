import { defaultServerConfig } from '../../src/config/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { createScratchDatabase, dropDatabase, type PostgresServer } from '../../scripts/lib/postgres-server.js';
import { Secret } from '../../src/config/secret.js';
import type { AppConfig, DatabaseConfig } from '../../src/config/types.js';
import type { MetadataStore, StoreApi } from '../../src/store/core/store.js';
import { openStoreThread } from '../../src/store/thread/client.js';
import { openStore } from '../../src/store/open.js';
import type { PostgresDatabase } from '../../src/store/postgres/database.js';
import type { SqliteDatabase } from '../../src/store/sqlite/database.js';
import { RawPostgres } from './raw-postgres.js';

export type EngineName = 'sqlite' | 'postgres';

/** A fresh database of one engine for one scenario, and the store opened on it. */
export interface Target {
  readonly engine: EngineName;
  readonly store: MetadataStore;
  readonly config: AppConfig;
  /** Another store on the same database (Postgres: a second instance with its own pool). */
  openAnother(): Promise<MetadataStore>;
  close(): Promise<void>;
}

export const BENCH_BACKEND = 'bench';
/** Large enough never to refuse, small enough that the limit (and its escrow) is really checked. */
export const BENCH_LIMIT = 2 ** 50;

export interface TargetOptions {
  readonly quotaStripes?: number;
  readonly maxConns?: number;
  readonly synchronous?: 'full' | 'normal';
}

export async function openTarget(engine: EngineName, server: PostgresServer | undefined, options: TargetOptions = {}): Promise<Target> {
  const { config, drop } = await prepareTarget(engine, server, options);
  const store = await openStore(config);
  const others: MetadataStore[] = [];
  return {
    engine,
    store,
    config,
    openAnother: async () => {
      const another = await openStore(config, { role: engine === 'sqlite' ? 'inspect' : 'serve' });
      others.push(another);
      return another;
    },
    close: async () => {
      for (const o of others) await o.close();
      await store.close();
      await drop();
    },
  };
}

/** A target's store opened as `serve` opens it: on SQLite, on its own thread (src/store/thread). */
export interface ServedTarget {
  readonly engine: EngineName;
  readonly store: StoreApi;
  readonly config: AppConfig;
  close(): Promise<void>;
}

export async function openServedTarget(engine: EngineName, server: PostgresServer | undefined, options: TargetOptions = {}): Promise<ServedTarget> {
  const { config, drop } = await prepareTarget(engine, server, options);
  const store: StoreApi = engine === 'sqlite' ? await openStoreThread(config, { role: 'serve' }) : await openStore(config);
  return {
    engine,
    store,
    config,
    close: async () => {
      await store.close();
      await drop();
    },
  };
}

async function prepareTarget(engine: EngineName, server: PostgresServer | undefined, options: TargetOptions): Promise<{ config: AppConfig; drop: () => Promise<void> }> {
  let database: DatabaseConfig;
  let drop: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 's3o-bench-'));
    database = { driver: 'sqlite', path: join(dir, 'bench.db'), synchronous: options.synchronous ?? 'full', busyTimeoutMs: 5000, mmapBytes: 2 ** 30 };
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    if (!server) throw new Error('no PostgreSQL server');
    const name = await createScratchDatabase(server.admin, 's3o_bench');
    database = {
      driver: 'postgres',
      host: server.admin.host,
      port: server.admin.port,
      database: name,
      user: server.admin.user,
      password: server.admin.password === undefined ? undefined : new Secret(server.admin.password),
      sslMode: 'disable',
      sslRootCert: undefined,
      maxConns: options.maxConns ?? 24,
      minConns: 0,
      maxConnLifetimeMs: 3600_000,
      quotaStripes: options.quotaStripes ?? 32,
    };
    drop = () => dropDatabase(server.admin, name);
  }
  const schedule = { intervalMs: 1000, batchSize: 100, concurrency: 4 };
  const config: AppConfig = {
    database,
    backends: [{ name: BENCH_BACKEND, bytesLimit: BENCH_LIMIT }],
    server: defaultServerConfig(),
    credentials: [],
    buckets: [],
    placement: 'pack',
    workers: {
      cleanup: { ...schedule, claimGraceMs: 300_000, maxAttempts: 10 },
      reaper: { ...schedule, minAgeMs: 300_000 },
      outbox: { ...schedule, claimGraceMs: 300_000 },
      usageFlush: { intervalMs: 10_000 },
      multipartExpiry: { ...schedule, maxAgeMs: 7 * 86_400_000 },
      reconcile: { intervalMs: 3600_000 },
    },
    // One webhook endpoint: every write and delete also writes its outbox event, as in production.
    notifications: {
      source: 's3-orchestrator/bench',
      endpoints: [{ name: 'hook', url: 'http://127.0.0.1:9/', secret: undefined, timeoutMs: 1000, maxAttempts: 3, events: ['ObjectCreated', 'ObjectRemoved'] }],
    },
    logging: { level: 'silent' },
  };
  return { config, drop };
}

export function rawPostgres(target: Target): RawPostgres {
  return new RawPostgres((target.store.db as PostgresDatabase).pool);
}

/** The store's own writer connection (same pragmas), and a read-only one as the store reads with. */
export function rawSqlite(target: Target): { writer: Sqlite.Database; reader: Sqlite.Database } {
  const writer = (target.store.db as SqliteDatabase).connection;
  const reader = new Sqlite(writer.name, { readonly: true });
  return { writer, reader };
}
