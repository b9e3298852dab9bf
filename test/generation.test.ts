/**
 * `make generate` / `make check-generated` (scripts/generate.ts), end to end: every scenario runs the
 * real script, as a child process, on a throwaway copy of the project, so the real tree is never touched.
 * The script uses the test run's PostgreSQL server (passed as PG* variables) instead of starting its own.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, inject, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/paths.js';

const TIMEOUT = 120_000;
// test/ too: scripts/dashboard-screenshots.ts drives the dashboard through the tests' fixture.
const COPIED = ['queries', 'migrations', 'scripts', 'src', 'test', 'pgtyped.config.json', 'package.json', 'tsconfig.json'];
const TSX_CLI = readTsxCli();
const TSC_CLI = 'node_modules/typescript/bin/tsc';
const OBJECTS_SQL = 'queries/objects.sql';
const OBJECTS_GENERATED = 'src/store/postgres/generated/objects.queries.ts';
const STALE_GENERATED = 'src/store/postgres/generated/old.queries.ts';
const GENERATED_FILES = [
  'src/store/postgres/generated/index.ts',
  'src/store/core/generated/queries.ts',
  OBJECTS_GENERATED,
];

const copies: string[] = [];

afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** The tsx entry point, from its package.json `bin` (a string or a name → path map). */
function readTsxCli(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'node_modules/tsx/package.json'), 'utf8')) as { bin: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.tsx;
  if (!bin) throw new Error('tsx package.json has no bin entry');
  return join('node_modules/tsx', bin);
}

/** The child environment: the run's PostgreSQL server as PG* variables, nothing else naming a server. */
function childEnv(): NodeJS.ProcessEnv {
  const { admin } = inject('postgres');
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PG|DATABASE_URL$)/.test(k)));
  env.PGHOST = admin.host;
  env.PGPORT = String(admin.port);
  env.PGUSER = admin.user;
  env.PGDATABASE = admin.database;
  if (admin.password !== undefined) env.PGPASSWORD = admin.password;
  return env;
}

/** A copy of the project's sources in a fresh temp dir, sharing the real node_modules through a symlink. */
function makeCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-generation-test-'));
  copies.push(dir);
  for (const entry of COPIED) cpSync(join(PACKAGE_ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Rewrites one file of a copy; fails loudly when the edit does not apply, so a test never runs unedited. */
function edit(copy: string, file: string, change: (text: string) => string): void {
  const path = join(copy, file);
  const before = readFileSync(path, 'utf8');
  const after = change(before);
  if (after === before) throw new Error(`edit of ${file} changed nothing`);
  writeFileSync(path, after);
}

function read(copy: string, file: string): string {
  return readFileSync(join(copy, file), 'utf8');
}

interface RunResult {
  status: number | null;
  /** stdout and stderr together. */
  output: string;
}

/** Runs `node <script> ...args` in the copy (asynchronously, so the scenarios can overlap). */
function runNode(copy: string, script: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(copy, script), ...args], { cwd: copy, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

const generate = (copy: string, ...args: string[]): Promise<RunResult> => runNode(copy, TSX_CLI, ['scripts/generate.ts', ...args]);
const typecheck = (copy: string): Promise<RunResult> => runNode(copy, TSC_CLI, ['-p', 'tsconfig.json', '--noEmit']);

/** The scratch dirs the script creates in the package root must be gone once it exits. */
function scratchLeftovers(copy: string): string[] {
  return readdirSync(copy).filter((f) => f.startsWith('.tmp-generate-'));
}

describe.concurrent('scripts/generate.ts on a copy of the project', () => {
  it('passes `generate --check` and typechecks on an unmodified copy', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    const check = await generate(copy, '--check');
    expect(check.output).toContain('generated code is up to date');
    expect(check.status, check.output).toBe(0);
    expect(scratchLeftovers(copy)).toEqual([]);

    // The baseline for the SQLite-mirror scenario below: the unmodified copy compiles.
    const tsc = await typecheck(copy);
    expect(tsc.status, tsc.output).toBe(0);
  });

  it('fails `generate` when a query references a missing column, naming the column', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    const committed = GENERATED_FILES.map((f) => read(copy, f));
    // LookupCopies: still valid SQL, but object_locations has no such column.
    edit(copy, OBJECTS_SQL, (sql) =>
      sql.replace(
        'SELECT object_key, backend_name, storage_key, size_bytes, etag,',
        'SELECT object_key, backend_name, storage_key, size_bytes, no_such_column,',
      ),
    );

    const result = await generate(copy);
    expect(result.status, result.output).not.toBe(0);
    expect(result.output).toContain('no_such_column');
    expect(result.output).not.toContain('all queries valid');
    // A failed generation writes nothing: the committed outputs are left as they were.
    expect(GENERATED_FILES.map((f) => read(copy, f))).toEqual(committed);
    expect(scratchLeftovers(copy)).toEqual([]);
  });

  it('fails `generate` on a query without an `@name` annotation', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    appendFileSync(join(copy, OBJECTS_SQL), '\nSELECT count(*)::int8 AS "n!" FROM object_locations;\n');

    const result = await generate(copy);
    expect(result.status, result.output).not.toBe(0);
    expect(result.output).toMatch(/Parse error/);
    expect(result.output).not.toContain('all queries valid');
  });

  it('makes `tsc` fail when a new query has no SQLite mirror', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    appendFileSync(join(copy, OBJECTS_SQL), '\n/* @name CountObjectsForTest */\nSELECT count(*)::int8 AS "n!" FROM object_locations;\n');

    const result = await generate(copy);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('all queries valid');
    expect(read(copy, 'src/store/core/generated/queries.ts')).toMatch(/^\s*countObjectsForTest\(params: ICountObjectsForTestParams\): Promise<ICountObjectsForTestResult\[\]>;$/m);
    expect(read(copy, 'src/store/postgres/generated/index.ts')).toContain('countObjectsForTest: { query: countObjectsForTest, returnsRows: true }');

    const tsc = await typecheck(copy);
    expect(tsc.status, tsc.output).not.toBe(0);
    // The errors point at the SQLite mirror and name the method it lacks.
    expect(tsc.output).toMatch(/src\/store\/sqlite\/queries\/index\.ts\(\d+,\d+\): error TS\d+:.*countObjectsForTest/);
    expect(tsc.output).toMatch(/missing/);
  });

  it('fails `generate --check` when a generated file was edited by hand, naming it', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    appendFileSync(join(copy, OBJECTS_GENERATED), '// edited by hand\n');

    const result = await generate(copy, '--check');
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain(`differs from a fresh generation: ${OBJECTS_GENERATED}`);
    expect(result.output).toContain('// edited by hand');
    // Only the edited file is reported; --check writes nothing.
    expect(result.output).not.toMatch(/differs from a fresh generation: (?!src\/store\/postgres\/generated\/objects\.queries\.ts)/);
    expect(result.output).not.toContain('stale file');
    expect(read(copy, OBJECTS_GENERATED)).toMatch(/\/\/ edited by hand\n$/);
  });

  it('fails `generate --check` when a stale generated file exists, naming it', { timeout: TIMEOUT }, async ({ expect }) => {
    const copy = makeCopy();
    writeFileSync(join(copy, STALE_GENERATED), '// a leftover of a deleted queries/old.sql\nexport {};\n');

    const result = await generate(copy, '--check');
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain(`stale file (no query source): ${STALE_GENERATED}`);
    expect(result.output).not.toContain('differs from a fresh generation');
    // --check reports, it does not delete.
    expect(existsSync(join(copy, STALE_GENERATED))).toBe(true);
  });
});
