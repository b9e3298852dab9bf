import type { AppConfig, DatabaseConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { Clock } from './core/clock.js';
import type { Database } from './core/database.js';
import { MetadataStore, type MetadataStoreOptions } from './core/store.js';
import type { MigrationProgress } from './postgres/migrations.js';

export interface OpenStoreOptions {
  /**
   * `serve` (default): this process is an instance; SQLite takes the single-instance lock, and the
   * schema or pending migrations are applied. `inspect`: an operator command next to a running
   * instance; nothing is migrated on Postgres, and a newer database is still refused.
   */
  readonly role?: 'serve' | 'inspect';
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly migrationProgress?: MigrationProgress;
  /** Upsert the configured quota limits (default true for `serve`). */
  readonly syncQuota?: boolean;
}

/** Opens the engine the config names and applies its schema; the composition root of the store. */
export async function openDatabase(config: AppConfig, options: OpenStoreOptions = {}): Promise<Database> {
  return openDatabaseOf(config.database, options);
}

async function openDatabaseOf(database: DatabaseConfig, options: OpenStoreOptions): Promise<Database> {
  const role = options.role ?? 'serve';
  const logger = options.logger ?? silentLogger;
  // Each engine is loaded only when it is the one in use: the PostgreSQL side (pg, pgtyped's
  // runtime, node-pg-migrate) costs every SQLite command a large share of its start-up otherwise.
  if (database.driver === 'sqlite') {
    const { SqliteDatabase } = await import('./sqlite/database.js');
    return SqliteDatabase.open(database, { role });
  }
  const { PostgresDatabase } = await import('./postgres/database.js');
  return PostgresDatabase.open(database, {
    schema: role === 'serve' ? 'apply' : 'inspect',
    logger,
    ...(options.migrationProgress ? { migrationProgress: options.migrationProgress } : {}),
  });
}

/**
 * Everything opening a store needs, taken from the config: what a store on its own thread
 * (store/thread) is opened with, since the whole config cannot cross threads.
 */
export interface StoreSettings {
  readonly database: DatabaseConfig;
  readonly store: Omit<MetadataStoreOptions, 'clock' | 'logger'>;
  readonly open: OpenStoreOptions;
}

export function storeSettingsOf(config: AppConfig, options: OpenStoreOptions = {}): StoreSettings {
  return {
    database: config.database,
    store: {
      backends: config.backends.map((b) => ({ name: b.name, bytesLimit: b.bytesLimit })),
      placement: config.placement,
      quotaStripes: config.database.driver === 'postgres' ? config.database.quotaStripes : 1,
      notificationTargets: config.notifications.endpoints.map((e) => ({ name: e.name, events: e.events })),
      cleanupMaxAttempts: config.workers.cleanup.maxAttempts,
    },
    open: options,
  };
}

export async function openStore(config: AppConfig, options: OpenStoreOptions = {}): Promise<MetadataStore> {
  return openStoreFromSettings(storeSettingsOf(config, options));
}

export async function openStoreFromSettings(settings: StoreSettings): Promise<MetadataStore> {
  const options = settings.open;
  const db = await openDatabaseOf(settings.database, options);
  const store = new MetadataStore(db, {
    ...settings.store,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    if (options.syncQuota ?? (options.role ?? 'serve') === 'serve') await store.quota.syncLimits();
  } catch (err) {
    await db.close();
    throw err;
  }
  return store;
}
