import { readFileSync } from 'node:fs';
import { SQLITE_SCHEMA_FILE } from '../../paths.js';
import { SchemaTooNewError } from '../core/errors.js';
import type { SqliteConnection } from './connection.js';

const schemaText = readFileSync(SQLITE_SCHEMA_FILE, 'utf8');

/** The version schema.sql stamps (its `PRAGMA user_version = N;`), the single source of truth. */
export const SCHEMA_VERSION = (() => {
  const m = /PRAGMA\s+user_version\s*=\s*(\d+)\s*;/i.exec(schemaText);
  if (!m) throw new Error('schema.sql does not stamp PRAGMA user_version');
  return Number(m[1]);
})();

export function schemaVersionOf(db: SqliteConnection): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * What schema.sql cannot do by itself for a file of an older version: it only creates what is
 * missing, so changes to existing tables are listed here, by the version they lead to (the same
 * changes as the Postgres migration of that release). They run before schema.sql, in its transaction.
 */
type UpgradeStep = string | ((db: SqliteConnection) => void);

/** ADD COLUMN unless the table has it already (a file made by a newer schema.sql, stamped older). */
function addColumn(table: string, column: string, definition: string): UpgradeStep {
  return (db) => {
    const columns = (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
    if (!columns.includes(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  };
}

const UPGRADES: Record<number, readonly UpgradeStep[]> = {
  // migrations/0003_intent_supersession.sql
  2: ['ALTER TABLE pending_objects ADD COLUMN superseded_at INTEGER'],
  // migrations/0004_buckets.sql: a new table only, which schema.sql's CREATE TABLE IF NOT EXISTS adds.
  3: [],
  // migrations/0005_multipart_backend_upload_id.sql
  4: [addColumn('multipart_uploads', 'backend_upload_id', 'TEXT')],
  // migrations/0006_object_part_sizes.sql
  5: [addColumn('object_locations', 'part_sizes', 'TEXT')],
};

/**
 * Applies schema.sql in one transaction, after the upgrade steps a file of an older version needs.
 * Every statement of schema.sql is idempotent, so this runs on every start; a file stamped with a
 * newer version than this program is refused before anything is touched.
 */
export function applySchema(db: SqliteConnection, path: string): { from: number; to: number } {
  const from = schemaVersionOf(db);
  refuseNewer(from, path);
  db.transaction(() => {
    if (from !== 0) {
      for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
        for (const step of UPGRADES[version] ?? []) {
          if (typeof step === 'string') db.exec(step);
          else step(db);
        }
      }
    }
    db.exec(schemaText);
  }).immediate();
  return { from, to: SCHEMA_VERSION };
}

export function refuseNewer(version: number, path: string): void {
  if (version > SCHEMA_VERSION) {
    throw new SchemaTooNewError(`${path} has schema version ${version}, this program knows up to version ${SCHEMA_VERSION}; upgrade the program`);
  }
}
