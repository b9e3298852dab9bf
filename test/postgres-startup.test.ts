import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { LEGACY_MIGRATIONS_TABLE, localMigrations, MIGRATIONS_TABLE } from '../src/store/postgres/migrations.js';
import { PostgresDatabase } from '../src/store/postgres/database.js';
import { poolConfig, tlsOptions } from '../src/store/postgres/pool.js';
import { DatabaseUnavailableError, SchemaTooNewError } from '../src/store/core/errors.js';
import { openStore } from '../src/store/open.js';
import type { PostgresConfig } from '../src/config/types.js';
import { appConfig, createTestDatabase, postgresConfig } from './support/engines.js';
import { closeStores } from './support/store.js';

afterEach(closeStores);

async function query<T extends pg.QueryResultRow>(db: PostgresConfig, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL start-up', () => {
  it('applies every migration to an empty database, in order, each recorded once', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    const applied: string[] = [];
    const store = await openStore(appConfig(db), { migrationProgress: { onDone: (name) => applied.push(name) } });
    expect(applied).toEqual(localMigrations());
    expect((await query<{ name: string }>(db, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name)).toEqual(localMigrations());
    expect(await store.db.schemaStatus()).toMatchObject({ current: localMigrations().at(-1), pending: [] });
    await store.close();
  });

  it('on a second start applies nothing', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    await (await openStore(appConfig(db))).close();
    const applied: string[] = [];
    await (await openStore(appConfig(db), { migrationProgress: { onDone: (name) => applied.push(name) } })).close();
    expect(applied).toEqual([]);
  });

  it('brings up five instances starting together on an empty database: one migrates, all come up', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    const applied: string[][] = [[], [], [], [], []];
    const stores = await Promise.all(
      applied.map((list) => openStore(appConfig({ ...db, maxConns: 3 }), { migrationProgress: { onDone: (name) => list.push(name) } })),
    );
    expect(applied.flat().sort()).toEqual(localMigrations().sort()); // each migration ran exactly once, somewhere
    expect((await query<{ n: string }>(db, `SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`))[0]!.n).toBe(String(localMigrations().length));
    for (const store of stores) {
      const w = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1 });
      await store.objects.abortWrite(w);
    }
    await Promise.all(stores.map((s) => s.close()));
  });

  it('refuses a database holding a migration this program does not know, before migrating', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    await (await openStore(appConfig(db))).close();
    await query(db, `INSERT INTO ${MIGRATIONS_TABLE} (name, run_on) VALUES ($1, now())`, ['9999_from_the_future']);
    const opening = openStore(appConfig(db));
    await expect(opening).rejects.toBeInstanceOf(SchemaTooNewError);
    await expect(opening).rejects.toThrow(/newer version.*9999_from_the_future/);
    const inspecting = openStore(appConfig(db), { role: 'inspect' });
    await expect(inspecting).rejects.toBeInstanceOf(SchemaTooNewError);
  });

  it('keeps its history in a table of its own, not node-pg-migrate\'s shared default', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    await (await openStore(appConfig(db))).close();
    expect(MIGRATIONS_TABLE).toBe('s3o_migrations');
    expect((await query<{ found: string | null }>(db, 'SELECT to_regclass($1) AS found', [LEGACY_MIGRATIONS_TABLE]))[0]!.found).toBeNull();
  });

  it('moves the history an earlier version kept in pgmigrations to its own table, once, applying nothing again', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    await (await openStore(appConfig(db))).close();
    // What an earlier version left: the same rows, in node-pg-migrate's default table.
    await query(db, `ALTER TABLE ${MIGRATIONS_TABLE} RENAME TO ${LEGACY_MIGRATIONS_TABLE}`);
    await query(db, `ALTER SEQUENCE ${MIGRATIONS_TABLE}_id_seq RENAME TO ${LEGACY_MIGRATIONS_TABLE}_id_seq`);
    await query(db, `ALTER TABLE ${LEGACY_MIGRATIONS_TABLE} RENAME CONSTRAINT ${MIGRATIONS_TABLE}_pkey TO ${LEGACY_MIGRATIONS_TABLE}_pkey`);

    // An operator command before the first start of this version sees the old history as current.
    const inspecting = await openStore(appConfig(db), { role: 'inspect' });
    expect(await inspecting.db.schemaStatus()).toMatchObject({ current: localMigrations().at(-1), pending: [] });
    await inspecting.close();

    const applied: string[] = [];
    const adopted: string[] = [];
    const [first, second] = await Promise.all(
      [0, 1].map(() => openStore(appConfig(db), { migrationProgress: { onDone: (name) => applied.push(name), onAdopted: (from, to) => adopted.push(`${from}->${to}`) } })),
    );
    expect(applied).toEqual([]);
    expect(adopted).toEqual(['pgmigrations->s3o_migrations']); // two instances started together: moved once
    expect((await query<{ name: string }>(db, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name)).toEqual(localMigrations());
    expect((await query<{ found: string | null }>(db, 'SELECT to_regclass($1) AS found', [LEGACY_MIGRATIONS_TABLE]))[0]!.found).toBeNull();
    expect((await query<{ seq: string }>(db, "SELECT pg_get_serial_sequence($1, 'id') AS seq", [MIGRATIONS_TABLE]))[0]!.seq).toBe('public.s3o_migrations_id_seq');
    const w = await first!.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1 });
    await first!.objects.commitWrite(w, { etag: 'e' });
    expect((await second!.objects.head('b/k')).sizeBytes).toBe(1);
    await Promise.all([first!.close(), second!.close()]);
  });

  it('leaves another application\'s pgmigrations alone and never reads it as a newer version of this program', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    // Another node-pg-migrate application sharing the database, with its own history.
    await query(db, `CREATE TABLE ${LEGACY_MIGRATIONS_TABLE} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`);
    await query(db, `INSERT INTO ${LEGACY_MIGRATIONS_TABLE} (name, run_on) VALUES ('1700000000000_create-users', now()), ('0001_initial', now())`);

    const inspecting = openStore(appConfig(db), { role: 'inspect' });
    await expect(inspecting.then((s) => s.db.schemaStatus().finally(() => s.close()))).resolves.toMatchObject({ current: undefined, pending: localMigrations() });

    const applied: string[] = [];
    const store = await openStore(appConfig(db), { migrationProgress: { onDone: (name) => applied.push(name) } });
    expect(applied).toEqual(localMigrations());
    expect((await query<{ name: string }>(db, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name)).toEqual(localMigrations());
    expect((await query<{ name: string }>(db, `SELECT name FROM ${LEGACY_MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name)).toEqual([
      '1700000000000_create-users',
      '0001_initial',
    ]);
    await store.close();
    // A later start still ignores it.
    await (await openStore(appConfig(db))).close();
  });

  it('honours max_conns, min_conns and max_conn_lifetime in the pool', async () => {
    const db = { ...((await createTestDatabase('postgres')) as PostgresConfig), maxConns: 7, minConns: 3, maxConnLifetimeMs: 90_000 };
    const store = await openStore(appConfig(db));
    const pool = (store.db as PostgresDatabase).pool;
    const options = (pool as unknown as { options: pg.PoolConfig }).options;
    expect(options.max).toBe(7);
    expect(options.min).toBe(3);
    expect(options.maxLifetimeSeconds).toBe(90);
    expect(pool.totalCount).toBeGreaterThanOrEqual(3); // warmed up to min_conns at start-up
    // Saturate the pool: it never opens more than max_conns connections.
    await Promise.all(Array.from({ length: 20 }, () => store.db.read((q) => q.listQuotaTotals())));
    expect(pool.totalCount).toBeLessThanOrEqual(7);
    await store.close();
  });

  it('maps ssl_mode onto TLS settings that verify as libpq does', () => {
    const base = postgresConfig('x');
    expect(tlsOptions({ ...base, sslMode: 'disable' })).toBe(false);
    expect(tlsOptions({ ...base, sslMode: 'require' })).toEqual({ rejectUnauthorized: false });
    const ca = tlsOptions({ ...base, sslMode: 'verify-ca' });
    expect(ca).toMatchObject({ rejectUnauthorized: true });
    expect(ca && ca.checkServerIdentity?.('db.example', {} as never)).toBeUndefined(); // chain checked, host name not
    const full = tlsOptions({ ...base, sslMode: 'verify-full' });
    expect(full).toEqual({ rejectUnauthorized: true }); // node's default host-name check stays on
    expect(poolConfig({ ...base, sslMode: 'verify-full' }).ssl).toEqual({ rejectUnauthorized: true });
  });

  it('reports an unreachable server as DatabaseUnavailable without the password', async () => {
    const { Secret } = await import('../src/config/secret.js');
    const db = postgresConfig('postgres', { port: 1, password: new Secret('hunter2-secret') });
    const opening = openStore(appConfig(db));
    await expect(opening).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await opening.catch((err: Error) => expect(`${err.message} ${String(err.cause)}`).not.toContain('hunter2-secret'));
  });

  it('keeps working after its connections are killed, and reports the broken transaction as DatabaseUnavailable', async () => {
    const db = (await createTestDatabase('postgres')) as PostgresConfig;
    const store = await openStore(appConfig(db));
    const kill = () =>
      query(db, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.database]);
    const broken = store.db.transaction(async (q) => {
      await q.lookupCopies({ objectKey: 'b/k' });
      await kill();
      await q.lookupCopies({ objectKey: 'b/k' });
    });
    await expect(broken).rejects.toBeInstanceOf(DatabaseUnavailableError);
    // The database is back (it never left): the next operations get fresh connections.
    await expect(store.objects.lookup('b/k')).resolves.toEqual([]);
    const w = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 3 });
    await store.objects.commitWrite(w, { etag: 'e' });
    expect((await store.objects.head('b/k')).sizeBytes).toBe(3);
    await store.close();
  });

  it('runs each transaction on one pooled client, isolated, and transactions side by side', async () => {
    const db = (await createTestDatabase('postgres')) as PostgresConfig;
    const store = await openStore(appConfig({ ...db, maxConns: 4 }));
    const intent = (id: string) => ({
      intentId: id, kind: 'write', objectKey: `b/${id}`, backendName: 'alpha', storageKey: `s/${id}`, sizeBytes: 0, etag: null,
      contentType: 'x/y', userMetadata: '{}', contentHash: null, uploadId: null, partNumber: null, createdAt: new Date(),
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const first = store.db.transaction(async (q) => {
      await q.insertIntent(intent('one'));
      await gate; // holds its transaction open while the second one runs and commits
      seen.push(`first sees its own row: ${(await q.getIntent({ intentId: 'one' })).length}`);
    });
    await new Promise((r) => setTimeout(r, 20));
    await store.db.transaction(async (q) => {
      await q.insertIntent(intent('two'));
      seen.push(`second sees first's uncommitted row: ${(await q.getIntent({ intentId: 'one' })).length}`);
    });
    seen.push(`reader sees first's uncommitted row: ${(await store.db.read((q) => q.getIntent({ intentId: 'one' }))).length}`);
    release();
    await first;
    expect(seen).toEqual([
      "second sees first's uncommitted row: 0",
      "reader sees first's uncommitted row: 0",
      'first sees its own row: 1',
    ]);
    await store.close();
  });
});

describe('PostgreSQL collation', () => {
  it('the test server supports ICU collations (needed by the listing tests)', async () => {
    const { admin } = inject('postgres');
    const rows = await query<{ n: string }>({ ...postgresConfig(admin.database) }, "SELECT count(*) AS n FROM pg_collation WHERE collprovider = 'i'");
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
  });
});
