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
 * Applies schema.sql in one transaction. Every statement is idempotent, so this runs on every start;
 * a file stamped with a newer version than this program is refused before anything is touched.
 */
export function applySchema(db: SqliteConnection, path: string): { from: number; to: number } {
  const from = schemaVersionOf(db);
  refuseNewer(from, path);
  if (from !== 0 && from < SCHEMA_VERSION) {
    // The consolidated schema only creates what is missing; a version that changes existing tables
    // must add its upgrade steps here.
    throw new Error(`${path} has schema version ${from}; no upgrade path to ${SCHEMA_VERSION} is defined`);
  }
  db.transaction(() => db.exec(schemaText)).immediate();
  return { from, to: SCHEMA_VERSION };
}

export function refuseNewer(version: number, path: string): void {
  if (version > SCHEMA_VERSION) {
    throw new SchemaTooNewError(`${path} has schema version ${version}, this program knows up to version ${SCHEMA_VERSION}; upgrade the program`);
  }
}
