import pg from 'pg';
import type { ProvidedContext } from 'vitest';
import type { TestProject } from 'vitest/node';
import { createScratchDatabase, startPostgresServer, type ServerConnection } from '../../scripts/lib/postgres-server.js';
import { applyMigrations } from '../../src/store/postgres/migrations.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { admin: ServerConnection; template: string; source: 'environment' | 'embedded' };
  }
}

interface Started {
  readonly value: ProvidedContext['postgres'];
  users: number;
  readonly stop: () => Promise<void>;
}

/** Shared by the projects of one run (each project runs its global setup; all run in this process). */
const SHARED = Symbol.for('s3o.test.postgres');
type SharedGlobal = { [SHARED]?: Promise<Started> };

/**
 * One PostgreSQL server for the whole run (every project of it): the one DATABASE_URL / PG* names,
 * otherwise an embedded one. A template database is migrated once; tests clone it (fast) or start
 * from an empty database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as SharedGlobal;
  const started = await (g[SHARED] ??= start());
  started.users++;
  project.provide('postgres', started.value);
  return async () => {
    if (--started.users > 0) return;
    delete g[SHARED];
    await started.stop();
  };
}

async function start(): Promise<Started> {
  const server = await startPostgresServer();
  await dropStaleTestDatabases(server.admin);
  const template = await createScratchDatabase(server.admin, 's3o_t_template');
  const client = new pg.Client({ ...server.admin, database: template });
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
  process.stdout.write(`PostgreSQL for tests: ${server.source === 'embedded' ? 'embedded server' : `${server.admin.host}:${server.admin.port} (from the environment)`}\n`);
  return {
    value: { admin: server.admin, template, source: server.source },
    users: 0,
    async stop() {
      const admin = new pg.Client(server.admin);
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(template)} WITH (FORCE)`).catch(() => {});
      await admin.end();
      await server.stop();
    },
  };
}

/**
 * Databases of earlier runs: a passing test drops its own, a failing one keeps it for inspection;
 * those older than a day are dropped here so a shared server does not fill up.
 */
async function dropStaleTestDatabases(admin: ServerConnection): Promise<void> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 's3o\\_t\\_%'");
    const cutoff = new Date(Date.now() - 24 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
    for (const { datname } of rows) {
      const stamp = /_(\d{14})_[0-9a-f]{8}$/.exec(datname)?.[1];
      if (stamp && stamp < cutoff) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => {});
    }
  } finally {
    await client.end();
  }
}
