import { readdirSync } from 'node:fs';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { MIGRATIONS_DIR } from '../../paths.js';
import { SchemaTooNewError } from '../core/errors.js';
import { MIGRATION_LOCK_ID } from '../core/leader-jobs.js';

/**
 * node-pg-migrate's tracking table: one row per applied migration, in order. It has a name of this
 * program's own: node-pg-migrate's default, `pgmigrations`, is shared by every application that uses
 * node-pg-migrate on the same database, and their histories would mix.
 */
export const MIGRATIONS_TABLE = 's3o_migrations';

/** Where earlier versions recorded their migrations; adopted once (see adoptLegacyHistory). */
export const LEGACY_MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrationPlan {
  /** Names recorded in the tracking table, in the order they ran. */
  readonly applied: readonly string[];
  /** Migrations in migrations/ not yet applied, in order. */
  readonly pending: readonly string[];
  /** Applied migrations this program does not have: the database belongs to a newer version. */
  readonly unknown: readonly string[];
  /**
   * Where `applied` was read: our table, or (before the first start of this version) our old
   * `pgmigrations`; undefined when neither exists yet.
   */
  readonly table: string | undefined;
  /** A `pgmigrations` table of another application in the same database: left alone. */
  readonly foreignTable: string | undefined;
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
  const history = await findHistory(client, local);
  const known = new Set(local);
  const done = new Set(history.applied);
  return {
    applied: history.applied,
    pending: local.filter((m) => !done.has(m)),
    unknown: history.applied.filter((m) => !known.has(m)),
    table: history.table,
    foreignTable: history.foreignTable,
  };
}

/** SQLSTATE undefined_table. */
const UNDEFINED_TABLE = '42P01';

async function tableExists(client: pg.ClientBase, name: string): Promise<boolean> {
  const found = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [name]);
  return Boolean(found.rows[0]?.found);
}

async function appliedNames(client: pg.ClientBase, table: string): Promise<string[]> {
  return (await client.query<{ name: string }>(`SELECT name FROM ${quoteIdent(table)} ORDER BY run_on, id`)).rows.map((r) => r.name);
}

/**
 * Our history: our own table when it exists; otherwise a `pgmigrations` that holds only names of
 * our migrations (written by an earlier version of this program). A `pgmigrations` holding any
 * other name belongs to another application: it is never read as ours, so its names can never make
 * the database look "written by a newer version".
 */
async function findHistory(client: pg.ClientBase, local: readonly string[]): Promise<{ applied: string[]; table: string | undefined; foreignTable: string | undefined }> {
  // Another instance may rename the old table between the check and the read (instances starting
  // together, before any holds the migration lock): then it is gone, and our own table holds it.
  const legacy = (await tableExists(client, LEGACY_MIGRATIONS_TABLE))
    ? await appliedNames(client, LEGACY_MIGRATIONS_TABLE).catch((err: unknown) => {
        if ((err as { code?: string }).code === UNDEFINED_TABLE) return undefined;
        throw err;
      })
    : undefined;
  const legacyIsOurs = legacy !== undefined && isOurHistory(legacy, local);
  const foreignTable = legacy !== undefined && !legacyIsOurs ? LEGACY_MIGRATIONS_TABLE : undefined;
  if (await tableExists(client, MIGRATIONS_TABLE)) return { applied: await appliedNames(client, MIGRATIONS_TABLE), table: MIGRATIONS_TABLE, foreignTable };
  if (legacyIsOurs) return { applied: legacy, table: LEGACY_MIGRATIONS_TABLE, foreignTable: undefined };
  return { applied: [], table: undefined, foreignTable };
}

/** Non-empty, and every name is one of our migrations: what an earlier version of ours wrote. */
function isOurHistory(names: readonly string[], local: readonly string[]): boolean {
  const ours = new Set(local);
  return names.length > 0 && names.every((n) => ours.has(n));
}

/**
 * Renames our old `pgmigrations` (and its id sequence) to our own table name, once, in one
 * transaction; the caller holds the migration lock, so instances starting together do it once.
 */
async function adoptLegacyHistory(client: pg.ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    const seq = await client.query<{ seq: string | null }>('SELECT pg_get_serial_sequence($1, $2) AS seq', [LEGACY_MIGRATIONS_TABLE, 'id']);
    await client.query(`ALTER TABLE ${quoteIdent(LEGACY_MIGRATIONS_TABLE)} RENAME TO ${quoteIdent(MIGRATIONS_TABLE)}`);
    if (seq.rows[0]?.seq) await client.query(`ALTER SEQUENCE ${seq.rows[0].seq} RENAME TO ${quoteIdent(`${MIGRATIONS_TABLE}_id_seq`)}`);
    // The primary key's index keeps the old name too: free it for another application's table.
    const pkey = await client.query<{ conname: string }>("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'", [MIGRATIONS_TABLE]);
    const oldKey = pkey.rows[0]?.conname;
    if (oldKey && oldKey !== `${MIGRATIONS_TABLE}_pkey`) {
      await client.query(`ALTER TABLE ${quoteIdent(MIGRATIONS_TABLE)} RENAME CONSTRAINT ${quoteIdent(oldKey)} TO ${quoteIdent(`${MIGRATIONS_TABLE}_pkey`)}`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface MigrationProgress {
  /** Our history was moved from an earlier version's table to ours. */
  onAdopted?(from: string, to: string): void;
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
    let plan = await readMigrationPlan(client, dir);
    if (plan.table === LEGACY_MIGRATIONS_TABLE) {
      await adoptLegacyHistory(client);
      progress.onAdopted?.(LEGACY_MIGRATIONS_TABLE, MIGRATIONS_TABLE);
      plan = await readMigrationPlan(client, dir);
    }
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
