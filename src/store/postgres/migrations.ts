import { readdirSync } from 'node:fs';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { MIGRATIONS_DIR } from '../../paths.js';
import { SchemaTooNewError } from '../core/errors.js';
import { MIGRATION_LOCK_ID } from '../core/leader-jobs.js';

/** node-pg-migrate's tracking table: one row per applied migration, in order. */
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrationPlan {
  /** Names recorded in the tracking table, in the order they ran. */
  readonly applied: readonly string[];
  /** Migrations in migrations/ not yet applied, in order. */
  readonly pending: readonly string[];
  /** Applied migrations this program does not have: the database belongs to a newer version. */
  readonly unknown: readonly string[];
}

/** Migration names as node-pg-migrate records them: the file name without `.sql`, in numeric order. */
export function localMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort((a, b) => Number(a.split('_')[0]) - Number(b.split('_')[0]) || a.localeCompare(b));
}

export async function readMigrationPlan(client: pg.ClientBase, dir = MIGRATIONS_DIR): Promise<MigrationPlan> {
  const local = localMigrations(dir);
  const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [MIGRATIONS_TABLE]);
  const applied = exists.rows[0]?.found
    ? (await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY run_on, id`)).rows.map((r) => r.name)
    : [];
  const known = new Set(local);
  const done = new Set(applied);
  return {
    applied,
    pending: local.filter((m) => !done.has(m)),
    unknown: applied.filter((m) => !known.has(m)),
  };
}

export interface MigrationProgress {
  onStart?(name: string): void;
  onDone?(name: string, elapsedMs: number): void;
}

/**
 * Applies the unapplied migrations, in order, each in its own transaction. Instances starting
 * together queue on one advisory lock: the first migrates, the others then find nothing to do.
 * A database holding a migration this program does not know is refused before anything runs.
 * `client` must be a dedicated connection: the session lock lives and dies with it.
 */
export async function applyMigrations(client: pg.ClientBase, progress: MigrationProgress = {}, dir = MIGRATIONS_DIR): Promise<string[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID.toString()]);
  try {
    const plan = await readMigrationPlan(client, dir);
    if (plan.unknown.length > 0) {
      throw new SchemaTooNewError(`it has migration${plan.unknown.length > 1 ? 's' : ''} ${plan.unknown.join(', ')} that this program does not know; upgrade the program`);
    }
    const ran: string[] = [];
    for (const name of plan.pending) {
      progress.onStart?.(name);
      const started = performance.now();
      const result = await runner({
        dbClient: client as pg.Client,
        dir,
        migrationsTable: MIGRATIONS_TABLE,
        direction: 'up',
        count: 1,
        noLock: true, // our own lock above also covers the plan check
        checkOrder: true,
        logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      });
      if (result.length !== 1 || result[0]?.name !== name) {
        throw new Error(`migration runner applied ${result.map((r) => r.name).join(', ') || 'nothing'} where ${name} was expected`);
      }
      ran.push(name);
      progress.onDone?.(name, performance.now() - started);
    }
    return ran;
  } catch (err) {
    // node-pg-migrate leaves a failed migration's transaction open and aborted: end it, so the
    // unlock below runs (the failed migration itself was rolled back; earlier ones stay applied).
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID.toString()]).catch(() => {});
  }
}
