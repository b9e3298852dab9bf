import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseConfig, PostgresConfig, SqliteConfig } from '../src/config/types.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { utcMonth } from '../src/store/core/usage-meter.js';
import { openStore } from '../src/store/open.js';
import { localMigrations } from '../src/store/postgres/migrations.js';
import { SCHEMA_VERSION } from '../src/store/sqlite/schema.js';
import { appConfig, createTestDatabase, describeEngines, type EngineName } from './support/engines.js';
import { exited } from './support/processes.js';
import { endpoint } from './support/store.js';

/**
 * The operator command line, run as a real process (bin/s3-orchestrator.js over the compiled dist/)
 * against a temporary SQLite file and a PostgreSQL database: output, exit codes and error handling.
 */

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const KiB = 1024;
const MiB = 1024 * KiB;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;
const STACK_LINE = /^\s+at /m;
/** Given as the Postgres password when the server does not need one (trust auth ignores it). */
const SENTINEL_PASSWORD = 'S3o-sentinel-Pw-4711';

// ---------------------------------------------------------------------------------------------
// temporary directories

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-cli-'));
  dirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// running the binary

/** The environment without DATABASE_URL / PG* (they would switch the SQLite default to Postgres) and without colour settings. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'DATABASE_URL' || k.startsWith('PG') || k === 'NO_COLOR' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  env.TERM = 'xterm-256color';
  return { ...env, ...extra };
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `s3-orchestrator ...args` with pipes (stdin at EOF: not a terminal). Every run, whatever the
 * command, must print no ANSI escape code (no terminal) and no stack trace without --debug.
 */
function cli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const label = `s3-orchestrator ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`;
      try {
        expect(stdout + stderr, `ANSI codes in piped output of ${label}`).not.toMatch(ANSI);
        if (!args.includes('--debug')) expect(stderr, `stack trace without --debug: ${label}`).not.toMatch(STACK_LINE);
        resolve({ code, stdout, stderr });
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Runs the binary on a pseudo-terminal (util-linux `script`), feeding `input` to it. */
function onTerminal(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): Result {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: options.cwd,
    env: options.env ?? cleanEnv(),
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(r: Result): string {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
}

function json<T = unknown>(r: Result): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** The cells of a table row (cells are separated by two or more spaces; sizes hold one). */
function row(stdout: string, first: string): string[] {
  const line = stdout.split('\n').find((l) => l.trim().split(/\s{2,}/)[0] === first);
  expect(line, `no row ${first} in\n${stdout}`).toBeDefined();
  return line!.trim().split(/\s{2,}/);
}

// ---------------------------------------------------------------------------------------------
// config files and data

const BACKENDS = [
  { name: 'alpha', bytesLimit: 10 * MiB },
  { name: 'beta', bytesLimit: 0 },
];

function password(db: PostgresConfig): string {
  return db.password?.reveal() ?? SENTINEL_PASSWORD;
}

/** The YAML the CLI gets for `db`: the same backends and webhook endpoint as the seeding store's. */
function configYaml(db: DatabaseConfig): string {
  const database =
    db.driver === 'sqlite'
      ? ['  driver: sqlite', `  path: ${JSON.stringify(db.path)}`, '  synchronous: normal']
      : [
          '  driver: postgres',
          `  host: ${JSON.stringify(db.host)}`,
          `  port: ${db.port}`,
          `  user: ${JSON.stringify(db.user)}`,
          `  password: ${JSON.stringify(password(db))}`,
          `  database: ${JSON.stringify(db.database)}`,
          '  ssl_mode: disable',
        ];
  return [
    'database:',
    ...database,
    'backends:',
    '  - name: alpha',
    '    bytes_limit: 10MiB',
    '  - name: beta',
    '    bytes_limit: 0',
    'notifications:',
    '  endpoints:',
    '    - name: hook',
    '      url: http://127.0.0.1:9/unused',
    '',
  ].join('\n');
}

/** Writes the config for `db` into a new temporary directory; returns the directory (the cwd for the CLI) and the file. */
function writeConfig(db: DatabaseConfig, text = configYaml(db)): { cwd: string; file: string; args: string[] } {
  const cwd = tempDir();
  const file = join(cwd, 'config.yaml');
  writeFileSync(file, text, { mode: 0o600 });
  return { cwd, file, args: ['--config', file] };
}

function seedConfig(db: DatabaseConfig) {
  return appConfig(db, { backends: BACKENDS, endpoints: [endpoint('hook')] });
}

interface Seeded {
  /** Dead-letter ids: alpha's (docs/dead-a.bin, 2 MiB) and beta's (docs/dead-b.bin, 5000 B). */
  readonly deadAlpha: number;
  readonly deadBeta: number;
  /** The two failed outbox events. */
  readonly failedEvents: readonly [number, number];
}

/**
 * alpha (10 MiB): docs/keep.bin 3 MiB stored; docs/gone.txt 1536 B in the cleanup queue; docs/dead-a.bin
 * 2 MiB dead-lettered; an intent of 4 KiB for uploads/pending.bin. beta (unlimited): docs/dead-b.bin 5000 B
 * dead-lettered. Outbox: 7 events for "hook", 2 of them failed. Usage: alpha 3 requests, 2 KiB out, 1 KiB in.
 */
async function seed(db: DatabaseConfig): Promise<Seeded> {
  const store = await openStore(seedConfig(db));
  try {
    const write = async (objectKey: string, sizeBytes: number, backendName?: string) => {
      const intent = await store.objects.beginWrite({ objectKey, sizeBytes, ...(backendName ? { backendName } : {}) });
      await store.objects.commitWrite(intent, { etag: `etag-${sizeBytes}` });
    };
    await write('docs/keep.bin', 3 * MiB);
    await write('docs/gone.txt', 1536);
    await write('docs/dead-a.bin', 2 * MiB);
    await write('docs/dead-b.bin', 5000, 'beta');
    for (const key of ['docs/gone.txt', 'docs/dead-a.bin', 'docs/dead-b.bin']) await store.objects.deleteObject(key);
    await store.objects.beginWrite({ objectKey: 'uploads/pending.bin', sizeBytes: 4 * KiB });

    const tasks = await store.cleanup.claim('w', 10, 60_000);
    expect(tasks.map((t) => t.objectKey).sort()).toEqual(['docs/dead-a.bin', 'docs/dead-b.bin', 'docs/gone.txt']);
    for (const t of tasks) {
      if (t.objectKey === 'docs/gone.txt') await store.cleanup.release([t.id], 'w');
      else expect(await store.cleanup.fail({ id: t.id, attempts: 9 }, 'w', 'boom: access denied')).toBe('dead-letter');
    }
    const dead = await store.cleanup.listDeadLetters();
    const deadAlpha = dead.find((d) => d.objectKey === 'docs/dead-a.bin')!.id;
    const deadBeta = dead.find((d) => d.objectKey === 'docs/dead-b.bin')!.id;

    const events = await store.outbox.claim('w', 10, 60_000);
    expect(events).toHaveLength(7);
    for (const e of events.slice(0, 2)) expect(await store.outbox.fail(e, 'w', 'HTTP 500 from hook', 1)).toBe('failed');
    await store.outbox.release(
      events.slice(2).map((e) => e.id),
      'w',
    );
    store.usage.record('alpha', { apiRequests: 3, egressBytes: 2 * KiB, ingressBytes: 1 * KiB });
    return { deadAlpha, deadBeta, failedEvents: [events[0]!.id, events[1]!.id] };
  } finally {
    await store.close();
  }
}

/** Raw SQL beside the store, for states the API cannot produce (a drifted counter, a newer migration). */
async function rawSql(db: DatabaseConfig, sql: string): Promise<void> {
  if (db.driver === 'sqlite') {
    const raw = new Sqlite(db.path);
    try {
      raw.exec(sql);
    } finally {
      raw.close();
    }
    return;
  }
  const client = pgClient(db);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function pgClient(db: PostgresConfig): pg.Client {
  return new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
}

/** The password must appear in no output (checked when it is distinctive enough to be searched for). */
function expectNoPassword(texts: readonly string[], db: PostgresConfig): void {
  const secret = password(db);
  if (secret.length < 4 || [db.user, db.host, db.database].some((s) => s.includes(secret))) return;
  for (const t of texts) expect(t).not.toContain(secret);
}

function location(db: DatabaseConfig): string {
  return db.driver === 'sqlite' ? db.path : `postgres://${encodeURIComponent(db.user)}@${db.host}:${db.port}/${encodeURIComponent(db.database)}?sslmode=${db.sslMode}`;
}

function schemaName(engine: EngineName): string {
  return engine === 'sqlite' ? `sqlite schema ${SCHEMA_VERSION}` : localMigrations().at(-1)!;
}

// =============================================================================================

describe('s3-orchestrator init and validate', () => {
  it('init writes a 0600 starter config that validate accepts, and overwrites it only with --force', async () => {
    const cwd = tempDir();
    const file = join(cwd, 's3-orchestrator.yaml');
    const first = await cli(['init'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('wrote s3-orchestrator.yaml');
    // not installed globally (cleanEnv's PATH has no s3-orchestrator), and the default file needs no --config
    expect(first.stdout).toContain('next: npx s3-orchestrator validate, then npx s3-orchestrator serve\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const starter = readFileSync(file, 'utf8');
    expect(starter).toMatch(/^database:\n/m);
    expect(starter).toMatch(/^ {2}# path: \.\/data\/s3-orchestrator\.db$/m); // SQLite's keys: commented, their defaults shown

    writeFileSync(file, 'placement: spread\n');
    const again = await cli(['init'], { cwd });
    expect(again.code).toBe(2);
    expect(oneLineError(again)).toBe('error: s3-orchestrator.yaml already exists; pass --force to overwrite it');
    expect(again.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('placement: spread\n');

    chmodSync(file, 0o644);
    const [forced, other] = await Promise.all([cli(['init', '--force'], { cwd }), cli(['init', 'other.yaml', '--json'], { cwd })]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('wrote s3-orchestrator.yaml');
    expect(readFileSync(file, 'utf8')).toBe(starter);
    const modeAfterForce = statSync(file).mode & 0o777;
    expect(json(other)).toEqual({ written: 'other.yaml' });
    expect(statSync(join(cwd, 'other.yaml')).mode & 0o777).toBe(0o600);

    // validate without --config reads ./s3-orchestrator.yaml
    const [valid, validJson] = await Promise.all([cli(['validate'], { cwd }), cli(['validate', '--json', '--config', 'other.yaml'], { cwd })]);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toContain(`ok: ${file} is valid`);
    expect(valid.stdout).toMatch(/^ {2}engine +sqlite$/m);
    expect(valid.stdout).toContain(`  database   ${join(cwd, 'data', 's3-orchestrator.db')}\n`);
    expect(valid.stdout).toMatch(/^ {2}backends +local \(10 GiB\)$/m);
    expect(valid.stdout).toMatch(/^ {2}placement +pack$/m);
    expect(valid.stderr).toBe('');
    expect(json(validJson)).toMatchObject({
      valid: true,
      source: join(cwd, 'other.yaml'),
      engine: 'sqlite',
      backends: [{ name: 'local', bytesLimit: 10 * 1024 * MiB }],
      notificationEndpoints: [],
    });
    // validate only reads: no database was created
    expect(existsSync(join(cwd, 'data', 's3-orchestrator.db'))).toBe(false);
    // the config will hold secrets: the written file is 0600 whether it was created or overwritten
    expect(modeAfterForce.toString(8)).toBe('600');
  });

  it('the starter config switches to PostgreSQL by uncommenting one line, and documents the server, credentials and buckets sections', async () => {
    const cwd = tempDir();
    expect((await cli(['init'], { cwd })).code).toBe(0);
    const starter = readFileSync(join(cwd, 's3-orchestrator.yaml'), 'utf8');
    for (const key of ['listen: 127.0.0.1:9000', 'domain:', 'region:', 'data_dir:', 'access_key_id:', 'secret_access_key: ${S3O_SECRET}', 'buckets: ["*"]', 'permission: admin', 'buckets: [photos]']) {
      expect(starter).toMatch(new RegExp(`^#.*${key.replace(/[$[\]{}*.()]/g, '\\$&')}`, 'm'));
    }
    const lines = starter.split('\n');
    const urlLine = lines.findIndex((l) => /^ {2}# url: postgres:\/\//.test(l));
    expect(urlLine).toBeGreaterThan(0);
    const switched = lines.map((l, i) => (i === urlLine ? l.replace('# url:', 'url:') : l)).join('\n');
    writeFileSync(join(cwd, 'pg.yaml'), switched);
    const [asIs, asPostgres] = await Promise.all([
      cli(['validate'], { cwd }),
      cli(['validate', '--config', 'pg.yaml'], { cwd, env: cleanEnv({ S3O_DB_PASSWORD: 'Starter-Pw-77' }) }),
    ]);
    expect(asIs.stdout).toMatch(/^ {2}engine +sqlite$/m);
    expect(asPostgres.code, asPostgres.stderr).toBe(0);
    expect(asPostgres.stdout).toMatch(/^ {2}engine +postgres$/m);
    expect(asPostgres.stdout).toContain('  database   postgres://s3o@127.0.0.1:5432/s3_orchestrator?sslmode=disable\n');
    expect(asPostgres.stdout).not.toContain('Starter-Pw-77');
  });

  it('hints name the plain command when it is installed on PATH, npx otherwise; --config only when needed', async () => {
    const cwd = tempDir();
    const binDir = join(cwd, 'global-bin');
    mkdirSync(binDir);
    symlinkSync(BIN, join(binDir, 's3-orchestrator'));
    const globalEnv = cleanEnv({ PATH: `${binDir}:${process.env.PATH ?? ''}` });
    const [global, local, unknownGroup] = await Promise.all([
      cli(['init', 'site.yaml'], { cwd, env: globalEnv }),
      cli(['init', 'other.yaml'], { cwd }),
      cli(['dlq', 'frobnicate'], { cwd }),
    ]);
    expect(global.stdout).toContain('next: s3-orchestrator validate --config site.yaml, then s3-orchestrator serve --config site.yaml\n');
    expect(local.stdout).toContain('next: npx s3-orchestrator validate --config other.yaml, then npx s3-orchestrator serve --config other.yaml\n');
    expect(unknownGroup.code).toBe(2);
    expect(unknownGroup.stderr).toBe("error: unknown command 'frobnicate'\n(npx s3-orchestrator dlq --help lists its commands)\n");
  });

  it('validate reports every problem at once with its field path, bad YAML with its position, a missing file; exit 2', async () => {
    const cwd = tempDir();
    const secret = 'Hunter2-Secret-Pw';
    writeFileSync(
      join(cwd, 'bad.yaml'),
      [
        'database:',
        '  driver: mysql',
        '  host: db.internal',
        '  user: s3o',
        '  database: s3o',
        `  password: ${secret}`,
        '  max_conns: 10',
        '  min_conns: 20',
        '  ssl_mode: sometimes',
        'backends:',
        '  - name: "bad name"',
        '    bytes_limit: lots',
        '  - name: ok',
        '    bytes_limit: 1GiB',
        '  - name: ok',
        'placement: random',
        'bogus: 1',
        '',
      ].join('\n'),
    );
    // line 6 is indented with a tab
    writeFileSync(join(cwd, 'broken.yaml'), ['database:', '  driver: sqlite', `  password: ${secret}`, 'backends:', '  - name: alpha', '\tbytes_limit: 10GiB', ''].join('\n'));
    const [bad, broken, missing, missingStatus] = await Promise.all([
      cli(['validate', '--config', 'bad.yaml'], { cwd }),
      cli(['validate', '--config', 'broken.yaml'], { cwd }),
      cli(['validate', '--config', 'missing.yaml'], { cwd }),
      cli(['status', '--config', 'missing.yaml'], { cwd }),
    ]);

    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    const lines = bad.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`error: invalid configuration (${join(cwd, 'bad.yaml')}):`);
    const problems = lines.slice(1).map((l) => l.trim());
    const at = (path: string) => problems.filter((p) => p.startsWith(`${path}: `));
    expect(at('database.driver')).toHaveLength(1);
    expect(at('database.driver')[0]).toMatch(/"mysql".*sqlite.*postgres/);
    expect(at('database.min_conns')).toEqual(['database.min_conns: 20 is greater than database.max_conns: 10']);
    expect(at('database.ssl_mode')).toHaveLength(1);
    expect(at('database.ssl_mode')[0]).toMatch(/sometimes.*verify-full/);
    expect(at('backends[0].name')).toHaveLength(1);
    expect(at('backends[0].bytes_limit')).toHaveLength(1);
    expect(at('backends[0].bytes_limit')[0]).toContain('lots');
    expect(at('backends[2].name')).toEqual(['backends[2].name: "ok" is already used by backends[1]']);
    expect(at('placement')).toHaveLength(1);
    expect(at('placement')[0]).toMatch(/"random".*pack.*spread/);
    expect(at('bogus')).toEqual(['bogus: unknown setting']);
    expect(problems).toHaveLength(8);
    expect(bad.stderr).not.toContain(secret);

    expect(broken.code).toBe(2);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toMatch(/^error: invalid configuration \(.*broken\.yaml\):\n/);
    expect(broken.stderr).toMatch(/^ {2}YAML syntax error at line 6, column 1: bad indentation/m);
    expect(broken.stderr).not.toContain(secret);

    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^error: invalid configuration \(.*missing\.yaml\):\n {2}cannot read config file .*missing\.yaml: file not found\n$/);
    expect(missingStatus.code).toBe(2);
    expect(missingStatus.stderr).toContain('cannot read config file missing.yaml: file not found');
  });

  it('rejects an unknown command, an unknown option, no command and bad option values with exit 2', async () => {
    const cwd = tempDir();
    const [unknown, option, none, limit, age, both, selector, eventSelector] = await Promise.all([
      cli(['frobnicate'], { cwd }),
      cli(['status', '--bogus'], { cwd }),
      cli([], { cwd }),
      cli(['cleanup', 'list', '--limit', 'many'], { cwd }),
      cli(['intents', 'list', '--older-than', 'soon'], { cwd }),
      cli(['outbox', 'list', '--failed', '--pending'], { cwd }),
      cli(['dlq', 'requeue', '--id', '3', '--all'], { cwd }),
      cli(['outbox', 'purge', '--yes'], { cwd }),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command 'frobnicate'/);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^error: unknown option '--bogus'/);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: s3-orchestrator/);
    expect(none.stderr).toMatch(/migrate/);
    expect(limit.code).toBe(2);
    expect(oneLineError(limit)).toBe('error: --limit: "many" is not a whole number >= 1');
    expect(age.code).toBe(2);
    expect(oneLineError(age)).toMatch(/--older-than: "soon" is not a duration/);
    expect(both.code).toBe(2);
    expect(oneLineError(both)).toBe('error: --failed and --pending exclude each other');
    expect(selector.code).toBe(2);
    expect(oneLineError(selector)).toBe('error: give exactly one of --id <n>, --backend <name> or --all');
    expect(eventSelector.code).toBe(2);
    expect(oneLineError(eventSelector)).toBe('error: give exactly one of --id <n> or --all');
  });
});

// =============================================================================================

describe('s3-orchestrator on SQLite', () => {
  it('migrate --dry-run changes nothing; migrate creates the 0600 file; a second run applies nothing', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    const { cwd, args } = writeConfig(db);
    const dry = await cli(['migrate', '--dry-run', ...args], { cwd });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(`${db.path}: would apply 1 migration:\n  sqlite schema ${SCHEMA_VERSION} (creates the file)\n`);
    expect(existsSync(db.path)).toBe(false);

    const first = await cli(['migrate', ...args], { cwd });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`sqlite schema ${SCHEMA_VERSION}`);
    expect(first.stdout).toContain(db.path);
    expect(statSync(db.path).mode & 0o777).toBe(0o600);
    const raw = new Sqlite(db.path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();

    const [second, dry2, cleanup, dlq, outbox, intents, usage] = await Promise.all([
      cli(['migrate', '--json', ...args], { cwd }),
      cli(['migrate', '--dry-run', ...args], { cwd }),
      cli(['cleanup', 'list', ...args], { cwd }),
      cli(['dlq', 'list', ...args], { cwd }),
      cli(['outbox', 'list', ...args], { cwd }),
      cli(['intents', 'list', ...args], { cwd }),
      cli(['usage', '--period', '2020-02', ...args], { cwd }),
    ]);
    expect(json(second)).toEqual({ engine: 'sqlite', database: db.path, applied: [], current: `sqlite schema ${SCHEMA_VERSION}`, pending: [] });
    expect(dry2.stdout).toBe(`${db.path}: nothing to apply; schema at sqlite schema ${SCHEMA_VERSION}\n`);
    expect(cleanup.stdout).toBe('the cleanup queue is empty\n');
    expect(dlq.stdout).toBe('no dead letters\n');
    expect(outbox.stdout).toBe('no events\n');
    expect(intents.stdout).toBe('no pending intents\n');
    expect(usage.stdout).toBe('no usage recorded for 2020-02\n');
    for (const r of [dry2, cleanup, dlq, outbox, intents, usage]) expect(r.code, r.stderr).toBe(0);
  });

  it('migrate --json on a new file reports the schema it applied', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    const { cwd, args } = writeConfig(db);
    const first = await cli(['migrate', '--json', ...args], { cwd });
    expect(existsSync(db.path)).toBe(true);
    // "print what ran": the dry run said it would apply the schema, so this run applied it
    expect(json(first)).toEqual({ engine: 'sqlite', database: db.path, applied: [`sqlite schema ${SCHEMA_VERSION}`], current: `sqlite schema ${SCHEMA_VERSION}`, pending: [] });
  });

  it('refuses a file written by a newer version: one-line error, exit 1, file untouched', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    await (await openStore(seedConfig(db))).close();
    await rawSql(db, `PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    const { cwd, args } = writeConfig(db);
    const results = await Promise.all([
      cli(['status', ...args], { cwd }),
      cli(['migrate', ...args], { cwd }),
      cli(['dlq', 'list', ...args], { cwd }),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toMatch(
        new RegExp(`^error: this database was written by a newer version of s3-orchestrator: .*schema version ${SCHEMA_VERSION + 1}.*upgrade the program`),
      );
    }
    const raw = new Sqlite(db.path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    raw.close();
  });

  it('serve runs until SIGTERM, refuses a second instance, and stops cleanly', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    const { cwd, args } = writeConfig(db);
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    try {
      const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          stderr += s;
          const line = stderr.split('\n').find((l) => l.includes('"serving'));
          if (line) resolve(JSON.parse(line) as Record<string, unknown>);
        });
        child.on('exit', (code) => reject(new Error(`serve exited (${code}) before serving: ${stderr}`)));
        setTimeout(() => reject(new Error(`serve did not start in 20 s: ${stderr}`)), 20_000);
      });
      expect(serving).toMatchObject({ engine: 'sqlite', database: db.path, backends: ['alpha', 'beta'] });
      expect(existsSync(db.path)).toBe(true);

      const second = await cli(['serve', ...args], { cwd });
      expect(second.code).toBe(1);
      const errors = second.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^error: .*already in use.*single instance.*driver: postgres/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
    expect(child.signalCode).toBeNull();
    expect(stderr).toMatch(/"msg":"stopping"/);
    expect(stderr).toMatch(/"msg":"stopped"/);
    expect(stderr).not.toMatch(STACK_LINE);
    expect(stdout).not.toMatch(ANSI);
    expect(stderr).not.toMatch(ANSI);
    // The store is there, with the schema applied and the quotas synced at start-up.
    const status = json<{ schema: { pending: string[] }; backends: { name: string; synced: boolean }[] }>(await cli(['status', '--json', ...args], { cwd }));
    expect(status.schema.pending).toEqual([]);
    expect(status.backends.map((b) => [b.name, b.synced])).toEqual([
      ['alpha', true],
      ['beta', true],
    ]);
  });

  it('colours only on a terminal, never with NO_COLOR; asks before destructive commands on a terminal', async () => {
    const db = (await createTestDatabase('sqlite')) as SqliteConfig;
    await seed(db);
    const { cwd, args } = writeConfig(db);

    const coloured = onTerminal(['status', ...args], { cwd });
    expect(coloured.code, coloured.stdout).toBe(0);
    expect(coloured.stdout).toContain('\u001b[1mengine\u001b[22m');
    const plain = onTerminal(['status', ...args], { cwd, env: cleanEnv({ NO_COLOR: '1' }) });
    expect(plain.code, plain.stdout).toBe(0);
    expect(plain.stdout).toMatch(/^engine {4}sqlite/m);
    expect(plain.stdout).not.toMatch(ANSI);
    // (piped output: every cli() call asserts that it holds no ANSI codes)

    const declined = onTerminal(['dlq', 'purge', '--all', ...args], { cwd, input: 'n\n' });
    expect(declined.code, declined.stdout).toBe(0);
    expect(declined.stdout).toContain('purge every dead letter? The bytes must already be gone from the backend [y/N]');
    expect(declined.stdout).toContain('nothing changed');
    const accepted = onTerminal(['outbox', 'purge', '--all', ...args], { cwd, input: 'y\n' });
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(accepted.stdout).toContain('purged 2 failed events');

    const store = await openStore(seedConfig(db), { role: 'inspect' });
    try {
      expect(await store.cleanup.listDeadLetters()).toHaveLength(2);
      expect(await store.outbox.list({ state: 'failed' })).toEqual([]);
      expect(await store.outbox.list({ state: 'pending' })).toHaveLength(5);
    } finally {
      await store.close();
    }
  });
});

// =============================================================================================

describe('s3-orchestrator on PostgreSQL', () => {
  it('migrate --dry-run and migrate on an empty database list each migration; a second run applies nothing; no password shown', async () => {
    const db = (await createTestDatabase('postgres', { empty: true })) as PostgresConfig;
    const migrations = localMigrations();
    expect(migrations.length).toBeGreaterThanOrEqual(2);
    const last = migrations.at(-1)!;
    const { cwd, args } = writeConfig(db);

    const [dry, before] = await Promise.all([cli(['migrate', '--dry-run', ...args], { cwd }), cli(['status', ...args], { cwd })]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(`${location(db)}: would apply ${migrations.length} migrations:\n${migrations.map((m) => `  ${m}\n`).join('')}`);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain(`schema    (none)  (${migrations.length} pending: ${migrations.join(', ')})`);
    expect(before.stdout).toContain(`run npx s3-orchestrator migrate --config ${args[1]} (or start the service)`);
    const client = pgClient(db);
    await client.connect();
    try {
      expect((await client.query<{ found: string | null }>("SELECT to_regclass('s3o_migrations') AS found")).rows[0]!.found).toBeNull();
    } finally {
      await client.end();
    }

    const first = await cli(['migrate', ...args], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2 * migrations.length + 1);
    migrations.forEach((m, i) => {
      expect(lines[2 * i]).toBe(`applying ${m} ...`);
      expect(lines[2 * i + 1]).toMatch(new RegExp(`^applied  ${m} \\(\\d+ ms\\)$`));
    });
    expect(lines.at(-1)).toBe(`${location(db)}: ${migrations.length} migrations applied; schema at ${last}`);

    const [second, secondJson, dry2, status, validate] = await Promise.all([
      cli(['migrate', ...args], { cwd }),
      cli(['migrate', '--json', ...args], { cwd }),
      cli(['migrate', '--dry-run', ...args], { cwd }),
      cli(['status', ...args], { cwd }),
      cli(['validate', ...args], { cwd }),
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(`${location(db)}: nothing to apply; schema at ${last}\n`);
    expect(json(secondJson)).toEqual({ engine: 'postgres', database: location(db), applied: [], current: last, pending: [] });
    expect(dry2.stdout).toBe(`${location(db)}: nothing to apply; schema at ${last}\n`);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`engine    postgres  ${location(db)}`);
    expect(status.stdout).toContain(`schema    ${last}  (up to date)`);
    expect(row(status.stdout, 'alpha (not synced yet)')).toEqual(['alpha (not synced yet)', '10 MiB', '0 B', '0 B', '0 B', '10 MiB', '[--------------------] 0%', 'no client: its cleanup rows and intents wait']);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain(`database   ${location(db)}\n`); // the same description as status and migrate
    expectNoPassword(
      [dry, before, first, second, secondJson, dry2, status, validate].flatMap((r) => [r.stdout, r.stderr]),
      db,
    );
  });

  it('refuses a database with a migration this program does not know: one-line error, exit 1', async () => {
    const db = (await createTestDatabase('postgres')) as PostgresConfig;
    await rawSql(db, "INSERT INTO s3o_migrations (name, run_on) VALUES ('9999_from_the_future', now())");
    const { cwd, args } = writeConfig(db);
    const results = await Promise.all([cli(['migrate', ...args], { cwd }), cli(['status', ...args], { cwd }), cli(['outbox', 'list', ...args], { cwd })]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      const line = oneLineError(r);
      expect(line).toMatch(/^error: this database was written by a newer version of s3-orchestrator/);
      expect(line).toContain('9999_from_the_future');
    }
    expectNoPassword(
      results.map((r) => r.stderr),
      db,
    );
  });

  it('an unreachable server gives a one-line error and exit 1 without the password; --debug adds the stack', async () => {
    const cwd = tempDir();
    const secret = 'Unreachable-Secret-Pw-93';
    const file = join(cwd, 'pg.yaml');
    writeFileSync(
      file,
      ['database:', '  driver: postgres', '  host: 127.0.0.1', '  port: 1', '  user: s3o', `  password: ${secret}`, '  database: s3o', ''].join('\n'),
    );
    const [status, migrate, dlq, debug] = await Promise.all([
      cli(['status', '--config', file], { cwd }),
      cli(['migrate', '--config', file], { cwd }),
      cli(['dlq', 'list', '--json', '--config', file], { cwd }),
      cli(['status', '--debug', '--config', file], { cwd }),
    ]);
    for (const r of [status, migrate, dlq]) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toMatch(/^error: cannot reach PostgreSQL: .*ECONNREFUSED 127\.0\.0\.1:1$/);
    }
    expect(debug.code).toBe(1);
    expect(debug.stdout).toBe('');
    expect(debug.stderr).toMatch(/^DatabaseUnavailableError: cannot reach PostgreSQL/);
    expect(debug.stderr).toMatch(STACK_LINE);
    expect(debug.stderr).toContain('caused by: Error: connect ECONNREFUSED');
    for (const r of [status, migrate, dlq, debug]) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});

// =============================================================================================

describeEngines('s3-orchestrator operator commands', (engine) => {
  it('status in text and --json: engine, schema, per-backend quota with sizes and bar, queues, intents, outbox', async () => {
    const db = await createTestDatabase(engine);
    await seed(db);
    const { cwd, args } = writeConfig(db);
    const [text, asJson] = await Promise.all([cli(['status', ...args], { cwd }), cli(['status', '--json', ...args], { cwd })]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toBe('');
    const out = text.stdout;
    expect(out).toContain(`engine    ${engine}  ${location(db)}`);
    expect(out).toContain(`schema    ${schemaName(engine)}  (up to date)`);
    expect(row(out, 'NAME')).toEqual(['NAME', 'LIMIT', 'USED', 'ORPHAN', 'IN-FLIGHT', 'FREE', 'UTILISATION', 'STATE']);
    // alpha: 3 MiB used, 2 MiB + 1.5 KiB orphan, 4 KiB in flight, 4.99 MiB free of 10 MiB
    expect(row(out, 'alpha')).toEqual(['alpha', '10 MiB', '3 MiB', '2 MiB', '4 KiB', '4.99 MiB', '[##########----------] 50%', 'no client: its cleanup rows and intents wait']);
    expect(row(out, 'beta')).toEqual(['beta', 'unlimited', '0 B', '4.88 KiB', '0 B', '-', '-', 'no client: its cleanup rows and intents wait']);
    expect(out).toContain(`usage ${utcMonth(new Date())} (UTC month)`);
    expect(out).toMatch(/^ {2}NAME +REQUESTS +EGRESS +INGRESS$/m);
    expect(out).toMatch(/^ {2}alpha +3 +2 KiB +1 KiB$/m);
    expect(out).toMatch(/^ {2}cleanup queue +1 row \(1\.5 KiB\) +dead letters 2 \(2 MiB\)$/m);
    expect(out).toMatch(/^ {2}intents +1 \(oldest (\d+ms|\d+s)\)$/m);
    expect(out).toMatch(/^ {2}outbox +5 pending, 2 failed$/m);

    const report = json<Record<string, unknown>>(asJson);
    expect(report).toMatchObject({
      engine,
      database: location(db),
      schema: { current: schemaName(engine), pending: [] },
      backends: [
        {
          name: 'alpha',
          limitBytes: 10 * MiB,
          usedBytes: 3 * MiB,
          orphanBytes: 2 * MiB + 1536,
          inflightBytes: 4 * KiB,
          freeBytes: 10 * MiB - 3 * MiB - 2 * MiB - 1536 - 4 * KiB,
          configured: true,
          synced: true,
        },
        { name: 'beta', limitBytes: null, usedBytes: 0, orphanBytes: 5000, inflightBytes: 0, freeBytes: null, utilisation: null, configured: true, synced: true },
      ],
      usage: { period: utcMonth(new Date()), backends: [{ name: 'alpha', apiRequests: 3, egressBytes: 2 * KiB, ingressBytes: 1 * KiB }] },
      cleanup: { queueRows: 1, queueBytes: 1536, deadLetterRows: 2, deadLetterBytes: 2 * MiB + 5000 },
      intents: { count: 1 },
      outbox: { pending: 5, failed: 2 },
    });
    const backends = report.backends as { utilisation: number }[];
    expect(backends[0]!.utilisation).toBeCloseTo((3 * MiB + 2 * MiB + 1536 + 4 * KiB) / (10 * MiB), 6);
    expect((report.intents as { oldestAgeMs: number }).oldestAgeMs).toBeGreaterThanOrEqual(0);
    if (db.driver === 'postgres') expectNoPassword([text.stdout, text.stderr, asJson.stdout, asJson.stderr], db);
  });

  it('cleanup, dlq, outbox, intents and usage listings in text and --json', async () => {
    const db = await createTestDatabase(engine);
    const seeded = await seed(db);
    const { cwd, args } = writeConfig(db);
    const period = utcMonth(new Date());
    const [cleanup, cleanupJson, dlq, dlqJson, dlqBeta, outbox, outboxFailed, outboxPendingJson, intents, intentsJson, intentsOld, usage, usageJson, usageBad] =
      await Promise.all([
        cli(['cleanup', 'list', ...args], { cwd }),
        cli(['cleanup', 'list', '--json', ...args], { cwd }),
        cli(['dlq', 'list', ...args], { cwd }),
        cli(['dlq', 'list', '--json', ...args], { cwd }),
        cli(['dlq', 'list', '--backend', 'beta', '--json', ...args], { cwd }),
        cli(['outbox', 'list', ...args], { cwd }),
        cli(['outbox', 'list', '--failed', ...args], { cwd }),
        cli(['outbox', 'list', '--pending', '--json', ...args], { cwd }),
        cli(['intents', 'list', ...args], { cwd }),
        cli(['intents', 'list', '--json', ...args], { cwd }),
        cli(['intents', 'list', '--older-than', '1h', ...args], { cwd }),
        cli(['usage', ...args], { cwd }),
        cli(['usage', '--json', ...args], { cwd }),
        cli(['usage', '--period', '2024-13', ...args], { cwd }),
      ]);
    for (const r of [cleanup, dlq, outbox, outboxFailed, intents, intentsOld, usage]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
    }

    expect(row(cleanup.stdout, 'ID')).toEqual(['ID', 'BACKEND', 'SIZE', 'ATTEMPTS', 'NEXT TRY', 'REASON', 'STORAGE KEY', 'LAST ERROR']);
    const cleanupRows = cleanup.stdout.trimEnd().split('\n').slice(1);
    expect(cleanupRows).toHaveLength(1);
    expect(cleanupRows[0]).toMatch(/^\s*\d+ {2}alpha +1\.5 KiB +0 {2}due /);
    expect(json(cleanupJson)).toEqual([expect.objectContaining({ backendName: 'alpha', objectKey: 'docs/gone.txt', sizeBytes: 1536, attempts: 0, lastError: null })]);

    const dlqRows = dlq.stdout.trimEnd().split('\n');
    expect(dlqRows[0]!.trim().split(/\s{2,}/)).toEqual(['ID', 'BACKEND', 'SIZE', 'ATTEMPTS', 'MOVED', 'REASON', 'STORAGE KEY', 'LAST ERROR']);
    expect(dlqRows).toHaveLength(3);
    const dead = json<{ id: number; objectKey: string; backendName: string; sizeBytes: number; attempts: number; lastError: string; reason: string }[]>(dlqJson);
    expect(dead.map((d) => [d.id, d.objectKey, d.backendName, d.sizeBytes, d.lastError])).toEqual([
      [seeded.deadAlpha, 'docs/dead-a.bin', 'alpha', 2 * MiB, 'boom: access denied'],
      [seeded.deadBeta, 'docs/dead-b.bin', 'beta', 5000, 'boom: access denied'],
    ]);
    const [deadA, deadB] = dead as [(typeof dead)[number], (typeof dead)[number]];
    expect(row(dlq.stdout, String(seeded.deadAlpha)).slice(0, 4)).toEqual([String(seeded.deadAlpha), 'alpha', '2 MiB', String(deadA.attempts)]);
    expect(row(dlq.stdout, String(seeded.deadBeta)).slice(0, 4)).toEqual([String(seeded.deadBeta), 'beta', '4.88 KiB', String(deadB.attempts)]);
    expect(row(dlq.stdout, String(seeded.deadBeta)).slice(5)).toEqual([deadB.reason, expect.stringContaining('dead-b.bin'), 'boom: access denied']);
    expect(json<{ id: number }[]>(dlqBeta).map((d) => d.id)).toEqual([seeded.deadBeta]);

    const outboxRows = outbox.stdout.trimEnd().split('\n');
    expect(outboxRows[0]!.trim().split(/\s{2,}/)).toEqual(['ID', 'EVENT ID', 'TYPE', 'ENDPOINT', 'STATE', 'ATTEMPTS', 'CREATED', 'LAST ERROR']);
    expect(outboxRows).toHaveLength(8);
    expect(outboxRows.filter((l) => / {2}failed {2}/.test(l))).toHaveLength(2);
    expect(outboxRows.filter((l) => / {2}pending {2}/.test(l))).toHaveLength(5);
    expect(row(outbox.stdout, String(seeded.failedEvents[0]))).toEqual(
      expect.arrayContaining([String(seeded.failedEvents[0]), 'ObjectCreated', 'hook', 'failed', '1', 'HTTP 500 from hook']),
    );
    const failedRows = outboxFailed.stdout.trimEnd().split('\n').slice(1);
    expect(failedRows.map((l) => l.trim().split(/\s{2,}/)[0])).toEqual(seeded.failedEvents.map(String));
    const pendingEvents = json<{ id: number; endpoint: string; failedAt: string | null; eventType: string }[]>(outboxPendingJson);
    expect(pendingEvents).toHaveLength(5);
    expect(pendingEvents.every((e) => e.endpoint === 'hook' && e.failedAt === null)).toBe(true);
    expect(pendingEvents.filter((e) => e.eventType === 'ObjectRemoved')).toHaveLength(3);

    expect(row(intents.stdout, 'INTENT')).toEqual(['INTENT', 'KIND', 'KEY', 'BACKEND', 'SIZE', 'AGE']);
    const intentRows = intents.stdout.trimEnd().split('\n').slice(1);
    expect(intentRows).toHaveLength(1);
    expect(intentRows[0]!.trim().split(/\s{2,}/).slice(1, 5)).toEqual(['write', 'uploads/pending.bin', 'alpha', '4 KiB']);
    expect(json(intentsJson)).toEqual([expect.objectContaining({ kind: 'write', objectKey: 'uploads/pending.bin', backendName: 'alpha', sizeBytes: 4 * KiB })]);
    expect(intentsOld.stdout).toBe('no pending intents\n');

    expect(row(usage.stdout, 'BACKEND')).toEqual(['BACKEND', 'REQUESTS', 'EGRESS', 'INGRESS']);
    expect(row(usage.stdout, 'alpha')).toEqual(['alpha', '3', '2 KiB', '1 KiB']);
    expect(json(usageJson)).toEqual({ period, backends: [{ backendName: 'alpha', period, apiRequests: 3, egressBytes: 2 * KiB, ingressBytes: 1 * KiB }] });
    expect(usageBad.code).not.toBe(0);
    expect(usageBad.stdout).toBe('');
    expect(oneLineError(usageBad)).toMatch(/period.*YYYY-MM.*"2024-13"/);
  });

  it('dlq requeue and purge: --all needs --yes off a terminal; effects show in the next listing and the ledger', async () => {
    const db = await createTestDatabase(engine);
    const seeded = await seed(db);
    const { cwd, args } = writeConfig(db);
    const [purgeAll, requeueAll] = await Promise.all([cli(['dlq', 'purge', '--all', ...args], { cwd }), cli(['dlq', 'requeue', '--all', ...args], { cwd })]);
    for (const r of [purgeAll, requeueAll]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toMatch(/not on a terminal, so pass --yes to confirm$/);
    }
    expect(purgeAll.stderr).toContain('purge every dead letter?');
    expect(requeueAll.stderr).toContain('requeue every dead letter');
    expect(json<unknown[]>(await cli(['dlq', 'list', '--json', ...args], { cwd }))).toHaveLength(2);

    const requeued = await cli(['dlq', 'requeue', '--id', String(seeded.deadAlpha), ...args], { cwd });
    expect(requeued.code, requeued.stderr).toBe(0);
    expect(requeued.stdout).toBe('requeued 1 dead letter\n');
    const purged = await cli(['dlq', 'purge', '--backend', 'beta', '--yes', '--json', ...args], { cwd });
    expect(json(purged)).toEqual({ purged: 1, bytes: 5000 });

    const [dlqAfter, cleanupAfter, status] = await Promise.all([
      cli(['dlq', 'list', ...args], { cwd }),
      cli(['cleanup', 'list', '--json', ...args], { cwd }),
      cli(['status', '--json', ...args], { cwd }),
    ]);
    expect(dlqAfter.stdout).toBe('no dead letters\n');
    const queue = json<{ objectKey: string; attempts: number; sizeBytes: number }[]>(cleanupAfter);
    expect(queue.map((r) => [r.objectKey, r.attempts, r.sizeBytes]).sort()).toEqual([
      ['docs/dead-a.bin', 0, 2 * MiB],
      ['docs/gone.txt', 0, 1536],
    ]);
    const report = json<{ backends: { name: string; orphanBytes: number }[]; cleanup: Record<string, number> }>(status);
    expect(report.backends.map((b) => [b.name, b.orphanBytes])).toEqual([
      ['alpha', 2 * MiB + 1536],
      ['beta', 0],
    ]);
    expect(report.cleanup).toEqual({ queueRows: 2, queueBytes: 2 * MiB + 1536, deadLetterRows: 0, deadLetterBytes: 0 });
  });

  it('outbox requeue and purge: purge and requeue --all need --yes off a terminal; effects show in the next listing', async () => {
    const db = await createTestDatabase(engine);
    const seeded = await seed(db);
    const [first, second] = seeded.failedEvents;
    const { cwd, args } = writeConfig(db);
    const [purgeOne, requeueAll] = await Promise.all([
      cli(['outbox', 'purge', '--id', String(first), ...args], { cwd }),
      cli(['outbox', 'requeue', '--all', ...args], { cwd }),
    ]);
    for (const r of [purgeOne, requeueAll]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toMatch(/not on a terminal, so pass --yes to confirm$/);
    }
    expect(purgeOne.stderr).toContain(`delete failed event ${first}`);
    expect(json<unknown[]>(await cli(['outbox', 'list', '--failed', '--json', ...args], { cwd }))).toHaveLength(2);

    const requeued = await cli(['outbox', 'requeue', '--id', String(first), '--json', ...args], { cwd });
    expect(json(requeued)).toEqual({ requeued: 1, ids: [first] });
    const purged = await cli(['outbox', 'purge', '--all', '--yes', ...args], { cwd });
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toBe('purged 1 failed event\n');

    const [failedAfter, pendingAfter] = await Promise.all([
      cli(['outbox', 'list', '--failed', ...args], { cwd }),
      cli(['outbox', 'list', '--pending', '--json', ...args], { cwd }),
    ]);
    expect(failedAfter.stdout).toBe('no events\n');
    const pending = json<{ id: number; attempts: number; lastError: string | null }[]>(pendingAfter);
    expect(pending).toHaveLength(6);
    expect(pending.map((e) => e.id)).toContain(first);
    expect(pending.map((e) => e.id)).not.toContain(second);
    expect(pending.find((e) => e.id === first)!.attempts).toBe(0);
  });

  it('ids that do not exist exit 1 naming them; an unknown --backend exits 2 naming the configured backends', async () => {
    const db = await createTestDatabase(engine);
    const seeded = await seed(db);
    const { cwd, args } = writeConfig(db);
    const missing = seeded.deadAlpha + seeded.deadBeta + 1000;
    const pendingEvent = (await (async () => {
      const store = await openStore(seedConfig(db), { role: 'inspect' });
      try {
        return (await store.outbox.list({ state: 'pending', limit: 1 }))[0]!.id;
      } finally {
        await store.close();
      }
    })());
    // One after another: eight binaries at once can outlast cli()'s timeout on a loaded machine.
    const runs: Result[] = [];
    for (const command of [
      ['dlq', 'requeue', '--id', String(missing)],
      ['dlq', 'purge', '--id', String(missing), '--yes'],
      ['outbox', 'requeue', '--id', '999999'],
      ['outbox', 'purge', '--id', '999999'],
      ['outbox', 'requeue', '--id', String(pendingEvent)],
      ['cleanup', 'list', '--backend', 'gamma'],
      ['dlq', 'list', '--backend', 'gamma'],
      ['dlq', 'purge', '--backend', 'gamma', '--yes'],
    ]) {
      runs.push(await cli([...command, ...args], { cwd }));
    }
    const [requeue, purge, eventRequeue, eventPurge, eventPending, cleanupList, dlqList, dlqPurge] = runs as [Result, Result, Result, Result, Result, Result, Result, Result];
    for (const r of [requeue, purge]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toBe(`error: no dead letter with id ${missing}`);
    }
    for (const r of [eventRequeue, eventPurge]) {
      expect(r.code).toBe(1);
      expect(oneLineError(r)).toBe('error: no event with id 999999');
    }
    expect(eventPending.code).toBe(1);
    expect(oneLineError(eventPending)).toBe(`error: event ${pendingEvent} is pending, not failed: only failed events can be requeued or purged`);
    for (const r of [cleanupList, dlqList, dlqPurge]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toBe('error: --backend: no backend named "gamma" (configured: alpha, beta)');
    }
    // Nothing was touched.
    expect(json<unknown[]>(await cli(['dlq', 'list', '--json', ...args], { cwd }))).toHaveLength(2);
  });

  it('a limit lowered below what a backend holds: quota sync warns, status shows it over its limit', async () => {
    const db = await createTestDatabase(engine);
    await seed(db); // alpha holds 3 MiB used + 2 MiB 1.5 KiB orphan + 4 KiB in flight
    const { cwd, args } = writeConfig(db, configYaml(db).replace('bytes_limit: 10MiB', 'bytes_limit: 4MiB'));
    const sync = await cli(['quota', 'sync', ...args], { cwd });
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toBe('alpha: limit 4 MiB\nbeta: limit unlimited\nsynced 2 backends\n');
    expect(sync.stderr).toBe('warning: backend alpha holds 5.01 MiB, more than its limit of 4 MiB: it takes no new writes until 1.01 MiB are deleted\n');
    const [text, asJson] = await Promise.all([cli(['status', ...args], { cwd }), cli(['status', '--json', ...args], { cwd })]);
    expect(row(text.stdout, 'alpha')[5]).toBe('over limit by 1.01 MiB');
    expect(text.stdout).not.toMatch(/ -\d/); // no negative sizes
    const alpha = json<{ backends: { name: string; freeBytes: number; overLimitBytes: number }[] }>(asJson).backends[0]!;
    expect(alpha).toMatchObject({ name: 'alpha', freeBytes: 0, overLimitBytes: 3 * MiB + 2 * MiB + 1536 + 4 * KiB - 4 * MiB });
  });

  it('quota sync, and quota reconcile --dry-run / without --yes / with --yes after a counter drifted', async () => {
    const db = await createTestDatabase(engine);
    await seed(db);
    await rawSql(db, "UPDATE backend_quotas SET bytes_used = bytes_used + 777, orphan_bytes = orphan_bytes - 36 WHERE backend_name = 'alpha'");
    const { cwd, args } = writeConfig(db);
    const drifts = [`alpha bytes_used: recorded ${3 * MiB + 777}, actual ${3 * MiB} (-777)`, `alpha orphan_bytes: recorded ${2 * MiB + 1500}, actual ${2 * MiB + 1536} (+36)`];

    const [dry, refused, sync] = await Promise.all([
      cli(['quota', 'reconcile', '--dry-run', ...args], { cwd }),
      cli(['quota', 'reconcile', ...args], { cwd }),
      cli(['quota', 'sync', ...args], { cwd }),
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(`${drifts.join('\n')}\n2 drifts found (dry run: nothing changed)\n`);
    expect(refused.code).toBe(2);
    expect(oneLineError(refused)).toBe('error: fix 2 drifts: not on a terminal, so pass --yes to confirm');
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toBe('alpha: limit 10 MiB\nbeta: limit unlimited\nsynced 2 backends\n');

    const stillDrifted = json<{ drifts: unknown[]; fixed: boolean }>(await cli(['quota', 'reconcile', '--dry-run', '--json', ...args], { cwd }));
    expect(stillDrifted.drifts).toHaveLength(2);
    expect(stillDrifted.fixed).toBe(false);

    const fixed = await cli(['quota', 'reconcile', '--yes', ...args], { cwd });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toBe(`${drifts.map((d) => `${d} fixed`).join('\n')}\n2 drifts fixed\n`);

    const clean = await cli(['quota', 'reconcile', ...args], { cwd });
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toBe('ledger consistent (2 backends)\n');
  });
});
