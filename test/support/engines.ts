import { defaultServerConfig } from '../../src/config/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, inject } from 'vitest';
import { createScratchDatabase, dropDatabase } from '../../scripts/lib/postgres-server.js';
import { Secret } from '../../src/config/secret.js';
import type { AppConfig, DatabaseConfig, NotificationEndpoint, PostgresConfig, SqliteConfig } from '../../src/config/types.js';

export type EngineName = 'sqlite' | 'postgres';
export const ENGINES: readonly EngineName[] = ['sqlite', 'postgres'];

/**
 * The conformance harness: `describeEngines` runs one suite unchanged on both engines, with the
 * engine's name in every test title. Each test gets its own database (a SQLite file in a temporary
 * directory, or a Postgres database cloned from the migrated template); a passing test's database is
 * removed, a failing test's is kept and its location printed, for inspection.
 */
export function describeEngines(title: string, body: (engine: EngineName) => void): void {
  describe.each(ENGINES)(`${title} [%s]`, (engine) => {
    body(engine);
  });
}

interface Resource {
  describe: string;
  drop(): Promise<void>;
}

const resources: Resource[] = [];

afterEach(async (context) => {
  const created = resources.splice(0);
  const failed = context.task.result?.state === 'fail';
  for (const r of created) {
    if (failed) process.stderr.write(`kept for inspection: ${r.describe}\n`);
    else await r.drop().catch(() => {});
  }
});

export interface DatabaseOptions {
  /** Start from an empty database/file instead of a migrated one. */
  readonly empty?: boolean;
  /** Postgres only: create the database with this ICU locale as its default collation. */
  readonly icuLocale?: string;
}

export async function createTestDatabase(engine: EngineName, options: DatabaseOptions = {}): Promise<DatabaseConfig> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 's3o-test-'));
    resources.push({ describe: `SQLite directory ${dir}`, drop: async () => rmSync(dir, { recursive: true, force: true }) });
    return sqliteConfig(join(dir, 'data', 'store.db'));
  }
  const { admin, template } = inject('postgres');
  const name = await createScratchDatabase(admin, 's3o_t', options.empty || options.icuLocale ? (options.icuLocale ? { icuLocale: options.icuLocale } : {}) : { template });
  resources.push({ describe: `PostgreSQL database ${name}`, drop: () => dropDatabase(admin, name) });
  return postgresConfig(name);
}

export function sqliteConfig(path: string): SqliteConfig {
  return { driver: 'sqlite', path, synchronous: 'normal', busyTimeoutMs: 5000, mmapBytes: 2 ** 30 };
}

export function postgresConfig(database: string, overrides: Partial<PostgresConfig> = {}): PostgresConfig {
  const { admin } = inject('postgres');
  return {
    driver: 'postgres',
    host: admin.host,
    port: admin.port,
    database,
    user: admin.user,
    password: admin.password === undefined ? undefined : new Secret(admin.password),
    sslMode: 'disable',
    sslRootCert: undefined,
    maxConns: 20,
    minConns: 0,
    maxConnLifetimeMs: 30 * 60_000,
    quotaStripes: 32,
    ...overrides,
  };
}

export interface AppConfigOptions {
  readonly backends?: readonly { name: string; bytesLimit: number }[];
  readonly placement?: 'pack' | 'spread';
  readonly endpoints?: readonly NotificationEndpoint[];
}

export function appConfig(database: DatabaseConfig, options: AppConfigOptions = {}): AppConfig {
  const schedule = { intervalMs: 1000, batchSize: 100, concurrency: 4 };
  return {
    database,
    backends: options.backends ?? [
      { name: 'alpha', bytesLimit: 1_000_000 },
      { name: 'beta', bytesLimit: 0 },
    ],
    server: defaultServerConfig(),
    credentials: [],
    buckets: [],
    placement: options.placement ?? 'pack',
    workers: {
      cleanup: { ...schedule, claimGraceMs: 60_000, maxAttempts: 10 },
      reaper: { ...schedule, minAgeMs: 5 * 60_000 },
      outbox: { ...schedule, claimGraceMs: 60_000 },
      usageFlush: { intervalMs: 1000 },
      multipartExpiry: { ...schedule, maxAgeMs: 24 * 3600_000 },
      reconcile: { intervalMs: 3600_000 },
    },
    notifications: { source: 's3-orchestrator/test', endpoints: options.endpoints ?? [] },
    logging: { level: 'silent' },
  };
}
