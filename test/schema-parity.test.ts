import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConfig, SqliteConfig } from '../src/config/types.js';
import { MIGRATIONS_TABLE } from '../src/store/postgres/migrations.js';
import { openStore } from '../src/store/open.js';
import { appConfig, createTestDatabase } from './support/engines.js';
import { closeStores } from './support/store.js';

afterEach(closeStores);

/** The spec's type mapping (§4): what each Postgres type becomes in SQLite. */
const SQLITE_TYPE: Record<string, string> = {
  bigint: 'INTEGER',
  integer: 'INTEGER',
  boolean: 'INTEGER',
  text: 'TEXT',
  jsonb: 'TEXT',
  'timestamp with time zone': 'INTEGER',
  bytea: 'BLOB',
};

interface Column {
  type: string;
  notNull: boolean;
}
interface Table {
  columns: Record<string, Column>;
  primaryKey: string[];
  foreignKeys: string[];
  indexes: string[];
}
type Schema = Record<string, Table>;

async function postgresSchema(db: PostgresConfig): Promise<Schema> {
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
  await client.connect();
  try {
    const schema: Schema = {};
    const cols = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> $1 ORDER BY table_name, ordinal_position`,
      [MIGRATIONS_TABLE],
    );
    for (const c of cols.rows) {
      schema[c.table_name] ??= { columns: {}, primaryKey: [], foreignKeys: [], indexes: [] };
      schema[c.table_name]!.columns[c.column_name] = { type: SQLITE_TYPE[c.data_type] ?? `unmapped ${c.data_type}`, notNull: c.is_nullable === 'NO' };
    }
    const keys = await client.query<{ table_name: string; columns: string[] }>(
      `SELECT tc.table_name, array_agg(kcu.column_name::text ORDER BY kcu.ordinal_position) AS columns
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
       WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY' AND tc.table_name <> $1
       GROUP BY tc.table_name, tc.constraint_name`,
      [MIGRATIONS_TABLE],
    );
    for (const k of keys.rows) schema[k.table_name]!.primaryKey = k.columns;
    const fks = await client.query<{ table_name: string; fk: string }>(
      `SELECT conrelid::regclass::text AS table_name,
              (SELECT string_agg(attname, ',' ORDER BY k.n) FROM unnest(conkey) WITH ORDINALITY k(a, n)
                 JOIN pg_attribute ON attrelid = conrelid AND attnum = k.a)
              || ' -> ' || confrelid::regclass::text || '(' ||
              (SELECT string_agg(attname, ',' ORDER BY k.n) FROM unnest(confkey) WITH ORDINALITY k(a, n)
                 JOIN pg_attribute ON attrelid = confrelid AND attnum = k.a) || ')' AS fk
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
    );
    for (const f of fks.rows) schema[f.table_name]!.foreignKeys.push(f.fk);
    const idx = await client.query<{ tablename: string; indexname: string }>(
      `SELECT i.tablename, i.indexname FROM pg_indexes i
       WHERE i.schemaname = 'public' AND i.tablename <> $1
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [MIGRATIONS_TABLE],
    );
    for (const i of idx.rows) schema[i.tablename]!.indexes.push(i.indexname);
    return normalise(schema);
  } finally {
    await client.end();
  }
}

function sqliteSchema(db: SqliteConfig): Schema {
  const raw = new Sqlite(db.path, { readonly: true });
  try {
    const schema: Schema = {};
    const tables = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[];
    for (const { name } of tables) {
      const table: Table = { columns: {}, primaryKey: [], foreignKeys: [], indexes: [] };
      const info = raw.pragma(`table_info(${JSON.stringify(name)})`) as { name: string; type: string; notnull: number; pk: number }[];
      for (const c of info) table.columns[c.name] = { type: c.type, notNull: c.notnull === 1 || (c.pk > 0 && c.type === 'INTEGER' && info.filter((x) => x.pk > 0).length === 1) };
      table.primaryKey = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const fks = raw.pragma(`foreign_key_list(${JSON.stringify(name)})`) as { id: number; seq: number; table: string; from: string; to: string }[];
      const byId = new Map<number, typeof fks>();
      for (const f of fks) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
      for (const group of byId.values()) {
        group.sort((a, b) => a.seq - b.seq);
        table.foreignKeys.push(`${group.map((f) => f.from).join(',')} -> ${group[0]!.table}(${group.map((f) => f.to).join(',')})`);
      }
      const indexes = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`).all(name) as { name: string }[];
      table.indexes = indexes.map((i) => i.name);
      schema[name] = table;
    }
    return normalise(schema);
  } finally {
    raw.close();
  }
}

function normalise(schema: Schema): Schema {
  for (const t of Object.values(schema)) {
    t.foreignKeys.sort();
    t.indexes.sort();
  }
  return schema;
}

describe('schema parity', () => {
  it('a migrated Postgres and a fresh SQLite have the same tables, columns, types, nullability, keys and indexes', async () => {
    const pgDb = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    const sqliteDb = (await createTestDatabase('sqlite')) as SqliteConfig;
    await (await openStore(appConfig(pgDb))).close();
    await (await openStore(appConfig(sqliteDb))).close();

    const fromPostgres = await postgresSchema(pgDb);
    const fromSqlite = sqliteSchema(sqliteDb);
    expect(Object.keys(fromSqlite).sort()).toEqual(Object.keys(fromPostgres).sort());
    for (const table of Object.keys(fromPostgres)) {
      expect(fromSqlite[table], table).toEqual(fromPostgres[table]);
    }
  });

  it('holds the nine tables of the spec, the escrow stripes and the buckets of the gateway', async () => {
    const sqliteDb = (await createTestDatabase('sqlite')) as SqliteConfig;
    await (await openStore(appConfig(sqliteDb))).close();
    expect(Object.keys(sqliteSchema(sqliteDb)).sort()).toEqual([
      'backend_quota_stripes',
      'backend_quotas',
      'backend_usage',
      'buckets',
      'cleanup_dlq',
      'cleanup_queue',
      'multipart_parts',
      'multipart_uploads',
      'notification_outbox',
      'object_locations',
      'pending_objects',
    ]);
  });
});
