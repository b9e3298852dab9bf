/**
 * `make generate` / `make check-generated`.
 *
 * Brings up PostgreSQL (DATABASE_URL / PG* when set, else embedded), applies migrations/ to a fresh
 * database, runs pgtyped over queries/*.sql, and from its output derives:
 *   src/store/postgres/generated/<area>.queries.ts  pgtyped's typed queries (with a do-not-edit header)
 *   src/store/postgres/generated/index.ts           the registry the Postgres adapter executes
 *   src/store/core/generated/queries.ts             the TxQueries interface both engines implement
 * pgtyped exits 0 on broken queries and never deletes stale outputs, so this script reads its
 * output for errors and owns the output directories itself. With --check nothing is written:
 * any difference from the committed files is printed and the exit code is 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import ts from 'typescript';
import { applyMigrations } from '../src/store/postgres/migrations.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { createScratchDatabase, dropDatabase, startPostgresServer, type ServerConnection } from './lib/postgres-server.js';

const ROOT = PACKAGE_ROOT;
const QUERIES_DIR = join(ROOT, 'queries');
const PG_OUT = 'src/store/postgres/generated';
const CORE_OUT = 'src/store/core/generated';
const PGTYPED_VERSION = JSON.parse(readFileSync(join(ROOT, 'node_modules/@pgtyped/cli/package.json'), 'utf8')).version as string;

class GenerationError extends Error {}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const server = await startPostgresServer();
  let database: string | undefined;
  const scratch = mkdtempSync(join(ROOT, '.tmp-generate-'));
  try {
    database = await createScratchDatabase(server.admin, 's3o_generate');
    const conn = { ...server.admin, database };
    await migrate(conn);
    const pgtypedFiles = runPgtyped(conn, scratch);
    const outputs = deriveOutputs(pgtypedFiles);
    if (check) compare(outputs);
    else write(outputs);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (database) await dropDatabase(server.admin, database).catch(() => {});
    await server.stop();
  }
}

async function migrate(conn: ServerConnection): Promise<void> {
  const client = new pg.Client(conn);
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
}

/** Runs pgtyped into `scratch`; returns area name → generated source. Throws on any query error. */
function runPgtyped(conn: ServerConnection, scratch: string): Map<string, string> {
  const config = JSON.parse(readFileSync(join(ROOT, 'pgtyped.config.json'), 'utf8'));
  const outDir = relative(ROOT, scratch);
  config.transforms = config.transforms.map((t: { emitTemplate: string }) => ({ ...t, emitTemplate: `${outDir}/{{name}}.queries.ts` }));
  config.db = { host: conn.host, port: conn.port, user: conn.user, password: conn.password ?? '', dbName: conn.database };
  config.failOnError = false;
  const configFile = join(scratch, 'pgtyped.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  // pgtyped lets PG* and DATABASE_URL override its config: give it a clean environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PG|DATABASE_URL$)/.test(k)));
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/@pgtyped/cli/lib/index.js'), '-c', configFile], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  const problems = output
    .split('\n')
    .filter((l) => /Error in query|Error processing|Parse error|Skipped .*no queries|errorCode|message:|Connection failed|Error:/.test(l));
  if (result.status !== 0 || problems.length > 0) {
    throw new GenerationError(`pgtyped reported errors (exit ${result.status}):\n${output.trim()}`);
  }

  const sqlFiles = readdirSync(QUERIES_DIR).filter((f) => f.endsWith('.sql')).sort();
  if (sqlFiles.length === 0) throw new GenerationError('queries/ holds no .sql files');
  const generated = new Map<string, string>();
  for (const sql of sqlFiles) {
    const area = sql.slice(0, -'.sql'.length);
    const file = join(scratch, `${area}.queries.ts`);
    if (!existsSync(file)) throw new GenerationError(`pgtyped wrote no output for queries/${sql}:\n${output.trim()}`);
    generated.set(area, readFileSync(file, 'utf8'));
  }
  const extra = readdirSync(scratch).filter((f) => f.endsWith('.queries.ts') && !generated.has(f.slice(0, -'.queries.ts'.length)));
  if (extra.length > 0) throw new GenerationError(`unexpected pgtyped outputs: ${extra.join(', ')}`);
  return generated;
}

interface QueryInfo {
  area: string;
  method: string;
  params: string;
  result: string;
  returnsRows: boolean;
}

/** Relative path → content of every file the generator owns. */
function deriveOutputs(pgtypedFiles: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  const queries: QueryInfo[] = [];
  const sharedTypes = new Map<string, string>();
  const queryTypes: string[] = [];

  for (const [area, source] of pgtypedFiles) {
    out.set(`${PG_OUT}/${area}.queries.ts`, header(`queries/${area}.sql`) + source);
    const file = ts.createSourceFile(`${area}.queries.ts`, source, ts.ScriptTarget.ES2022, true);
    const declared = new Map<string, ts.Statement>();
    for (const stmt of file.statements) {
      if ((ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) && isExported(stmt)) {
        declared.set(stmt.name.text, stmt);
        if (!/^I\w+(Params|Result|Query)$/.test(stmt.name.text)) {
          const text = stmt.getText();
          const seen = sharedTypes.get(stmt.name.text);
          if (seen !== undefined && seen !== text) throw new GenerationError(`type ${stmt.name.text} differs between generated files`);
          sharedTypes.set(stmt.name.text, text);
        }
      }
      if (ts.isVariableStatement(stmt) && isExported(stmt)) {
        for (const decl of stmt.declarationList.declarations) {
          const init = decl.initializer;
          if (!init || !ts.isNewExpression(init) || init.expression.getText() !== 'PreparedQuery') continue;
          const [params, result] = (init.typeArguments ?? []).map((t) => t.getText());
          if (!params || !result || !ts.isIdentifier(decl.name)) throw new GenerationError(`cannot read query ${decl.getText()}`);
          const resultDecl = declared.get(result);
          const returnsRows = !(resultDecl && ts.isTypeAliasDeclaration(resultDecl) && resultDecl.type.getText() === 'void');
          queries.push({ area, method: decl.name.text, params, result, returnsRows });
          for (const name of [params, result]) {
            const d = declared.get(name);
            if (!d) throw new GenerationError(`type ${name} not found in ${area}.queries.ts`);
            queryTypes.push(`/** queries/${area}.sql: ${name} */\n${d.getText()}`);
          }
        }
      }
    }
  }

  const names = new Map<string, string>();
  for (const q of queries) {
    const other = names.get(q.method);
    if (other) throw new GenerationError(`query name ${q.method} is defined in both queries/${other}.sql and queries/${q.area}.sql`);
    names.set(q.method, q.area);
  }

  const registry = [
    header('queries/*.sql'),
    '/** Every generated query, with whether it returns rows or only a row count. */',
    ...[...pgtypedFiles.keys()].map(
      (area) => `import { ${queries.filter((q) => q.area === area).map((q) => q.method).join(', ')} } from './${area}.queries.js';`,
    ),
    '',
    'export const generatedQueries = {',
    ...queries.map((q) => `  ${q.method}: { query: ${q.method}, returnsRows: ${q.returnsRows} },`),
    '} as const;',
    '',
  ].join('\n');
  out.set(`${PG_OUT}/index.ts`, registry);

  const core = [
    header('queries/*.sql (through the pgtyped output)'),
    '// The adapter interface: one method per annotated query in queries/. The Postgres adapter runs the',
    '// generated query; the SQLite adapter implements every method by hand, so a query without a SQLite',
    '// mirror fails `tsc`. Methods of queries without result columns resolve to the affected row count.',
    '',
    ...[...sharedTypes.values()].map((t) => `${t}\n`),
    ...queryTypes.map((t) => `${t}\n`),
    'export interface TxQueries {',
    ...queries.map(
      (q) =>
        `  /** queries/${q.area}.sql */\n  ${q.method}(params: ${q.params}): Promise<${q.returnsRows ? `${q.result}[]` : 'number'}>;`,
    ),
    '}',
    '',
    'export type QueryName = keyof TxQueries;',
    '',
  ].join('\n');
  out.set(`${CORE_OUT}/queries.ts`, core);
  return out;
}

function header(source: string): string {
  return `// Code generated by scripts/generate.ts with @pgtyped/cli ${PGTYPED_VERSION} from ${source}. DO NOT EDIT.\n// Edit the .sql file (or migrations/) and run \`make generate\`.\n`;
}

function isExported(node: ts.Statement): boolean {
  return (ts.getModifiers(node as ts.HasModifiers) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function ownedFiles(): Set<string> {
  const files = new Set<string>();
  for (const dir of [PG_OUT, CORE_OUT]) {
    if (!existsSync(join(ROOT, dir))) continue;
    for (const f of readdirSync(join(ROOT, dir))) files.add(`${dir}/${f}`);
  }
  return files;
}

function write(outputs: Map<string, string>): void {
  for (const stale of ownedFiles()) {
    if (!outputs.has(stale)) {
      rmSync(join(ROOT, stale));
      console.log(`removed stale ${stale}`);
    }
  }
  for (const [file, content] of outputs) {
    mkdirSync(join(ROOT, file, '..'), { recursive: true });
    const path = join(ROOT, file);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (before !== content) {
      writeFileSync(path, content);
      console.log(`${before === undefined ? 'wrote' : 'updated'} ${file}`);
    }
  }
  console.log(`generated ${outputs.size} files; all queries valid`);
}

function compare(outputs: Map<string, string>): void {
  const problems: string[] = [];
  for (const file of ownedFiles()) if (!outputs.has(file)) problems.push(`stale file (no query source): ${file}`);
  for (const [file, content] of outputs) {
    const path = join(ROOT, file);
    if (!existsSync(path)) {
      problems.push(`missing file: ${file}`);
      continue;
    }
    const committed = readFileSync(path, 'utf8');
    if (committed !== content) problems.push(`differs from a fresh generation: ${file}\n${diff(committed, content)}`);
  }
  if (problems.length > 0) {
    throw new GenerationError(`generated code is stale; run \`make generate\` and commit the result:\n${problems.join('\n')}`);
  }
  console.log(`generated code is up to date (${outputs.size} files)`);
}

/** A short line diff: enough to see what changed without a diff library. */
function diff(a: string, b: string): string {
  const left = a.split('\n');
  const right = b.split('\n');
  const lines: string[] = [];
  const n = Math.max(left.length, right.length);
  for (let i = 0; i < n && lines.length < 40; i++) {
    if (left[i] === right[i]) continue;
    if (left[i] !== undefined) lines.push(`  line ${i + 1} - ${left[i]}`);
    if (right[i] !== undefined) lines.push(`  line ${i + 1} + ${right[i]}`);
  }
  return lines.join('\n');
}

main().catch((err) => {
  console.error(err instanceof GenerationError ? `make generate: ${err.message}` : err);
  process.exit(1);
});
