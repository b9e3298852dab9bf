import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { freshS3rverBuckets, MIXED_S3_BACKENDS, mixedBackendsRequested } from '../support/mixed-backends.js';

/**
 * The real-client scenarios (spec gateway.md §7, issue 10): one `s3-orchestrator serve` process per
 * test file, spawned from the built binary, and the client programs run as processes against it.
 * Every failure names the command, its exit code, its stderr and the tail of the server's log.
 */

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The one credential of the server these tests start (admin on every bucket). */
export const CREDENTIAL = { accessKeyId: 'AKIDCLIENTS0001', secretAccessKey: 'clients-secret-key-0001-abcdefgh' };
export const REGION = 'us-east-1';

// ---------------------------------------------------------------------------------------------
// the client programs

/**
 * The Debian packages' programs (`/usr/bin/...`: what `.ci/run` installs and CI runs) before any
 * other on PATH (a pyenv shim, say); a program that is nowhere fails the test with the way to get it.
 */
export function clientProgram(name: string, debianPackage: string): string {
  const candidates = [join('/usr/bin', name), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(`${name} is not installed: .ci/run installs it (apt-get install ${debianPackage})`);
}

/** A python3 that can import boto3: the Debian one (python3-boto3) first. */
export function pythonWithBoto3(): string {
  const candidates = ['/usr/bin/python3', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'python3'))];
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import boto3'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new Error('no python3 with boto3 found: .ci/run installs it (apt-get install python3-boto3)');
}

// ---------------------------------------------------------------------------------------------
// temporary directories

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `s3o-${prefix}-`));
}

// ---------------------------------------------------------------------------------------------
// the server

export interface Serve {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The temporary directory holding the config, the database, the backend and the log. */
  readonly dir: string;
  /** The last `lines` lines the server wrote (stdout and stderr). */
  logTail(lines?: number): string;
  /**
   * Wraps a test body: an error thrown inside (a failed command, a failed assertion) gets the tail
   * of the server's log appended to its message.
   */
  guard(fn: () => Promise<void>): () => Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s); removes the directory unless S3O_KEEP_CLIENT_DIRS is set. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** The environment without DATABASE_URL / PG* (they would switch the engine) and without colours. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'DATABASE_URL' || k.startsWith('PG') || k.startsWith('S3O_') || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  env.NO_COLOR = '1';
  return env;
}

/**
 * The `backends` section: one directory backend; in the `mixed` project, two s3rver backends (a
 * fresh bucket on each) and the directory, spread, so a client's objects land on every kind.
 */
async function backendsYaml(): Promise<string[]> {
  const directory = ['  - name: local', '    directory: ./backend'];
  if (!mixedBackendsRequested()) return ['backends:', ...directory];
  const s3 = (await freshS3rverBuckets()).flatMap((b, i) => [
    `  - name: ${MIXED_S3_BACKENDS[i]}`,
    `    endpoint: ${b.endpoint}`,
    `    region: ${b.region}`,
    `    bucket: ${b.bucket}`,
    `    access_key_id: ${b.accessKeyId}`,
    `    secret_access_key: ${b.secretAccessKey.reveal()}`,
    '    force_path_style: true',
  ]);
  return ['placement: spread', 'backends:', ...s3, ...directory];
}

/**
 * Starts `s3-orchestrator serve` on a free port of 127.0.0.1, with a config of its own in a new
 * temporary directory: SQLite, one unlimited directory backend (two s3rver backends and a directory
 * in the `mixed` project), one admin credential. Resolves once
 * the port answers; rejects (with the log) when the process exits first or it takes 30 s.
 */
export async function startServe(name: string): Promise<Serve> {
  const dir = tempDir(`clients-${name}`);
  const host = '127.0.0.1';
  const port = await freePort();
  const configFile = join(dir, 's3-orchestrator.yaml');
  writeFileSync(
    configFile,
    [
      'database:',
      '  driver: sqlite',
      '  path: ./db/s3-orchestrator.db',
      ...(await backendsYaml()),
      'server:',
      `  listen: "${host}:${port}"`,
      '  data_dir: ./data',
      'credentials:',
      `  - access_key_id: ${CREDENTIAL.accessKeyId}`,
      `    secret_access_key: ${CREDENTIAL.secretAccessKey}`,
      '    buckets: ["*"]',
      '    permission: admin',
      'logging:',
      '  level: debug',
      '',
    ].join('\n'),
  );

  const logFile = join(dir, 'serve.log');
  const logStream: WriteStream = createWriteStream(logFile);
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [BIN, '--config', configFile, 'serve'], { cwd: dir, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const take = (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    log += s;
    // Keep the in-memory copy bounded (the whole log stays in the file).
    if (log.length > 4 * MiB) log = log.slice(-2 * MiB);
    logStream.write(chunk);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve();
    }),
  );

  const logTail = (lines = 40) => {
    const all = log.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  };
  const describeTail = () => `\n--- server log (last 40 lines of ${logFile}) ---\n${logTail(40)}\n--- end of server log ---`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) {
      const message = `s3-orchestrator serve exited (code ${exitCode}, signal ${exitSignal}) before answering on ${host}:${port}${describeTail()}`;
      await new Promise<void>((r) => logStream.end(r));
      if (!process.env.S3O_KEEP_CLIENT_DIRS) rmSync(dir, { recursive: true, force: true });
      throw new Error(message);
    }
    if (await portAnswers(host, port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      const message = `s3-orchestrator serve did not answer on ${host}:${port} within 30 s${describeTail()}`;
      await new Promise<void>((r) => logStream.end(r));
      if (!process.env.S3O_KEEP_CLIENT_DIRS) rmSync(dir, { recursive: true, force: true });
      throw new Error(message);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  return {
    url: `http://${host}:${port}`,
    host,
    port,
    dir,
    logTail,
    guard(fn) {
      return async () => {
        try {
          await fn();
        } catch (err) {
          if (err instanceof Error) err.message += describeTail();
          throw err;
        }
      };
    },
    async stop() {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((r) => logStream.end(r));
      if (!process.env.S3O_KEEP_CLIENT_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// running a client

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/**
 * The environment a client runs in: PATH, a UTF-8 locale, and HOME set to a temporary directory, so
 * no ~/.aws, ~/.s3cfg or rclone config of the user is read or written; `extra` adds the client's own.
 */
export function clientEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  mkdirSync(home, { recursive: true });
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TMPDIR: tmpdir(), ...extra };
}

/** Runs a program and collects its output; never rejects for a non-zero exit (see mustRun). */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${program} could not be started (${err.message}): .ci/run installs the S3 clients`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n[killed after ${timeoutMs} ms]`;
      resolve({ code, stdout, stderr });
    });
  });
}

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? [`[... ${all.length - lines} lines before]`] : []).concat(all.slice(-lines)).join('\n');
}

export function describeRun(program: string, args: readonly string[], r: RunResult): string {
  return `$ ${[program, ...args].map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\nexit code ${r.code}\n--- stderr ---\n${tail(r.stderr, 40)}\n--- stdout ---\n${tail(r.stdout, 20)}`;
}

/** Runs a program; a non-zero exit throws an error naming the command with its stderr and stdout. */
export async function mustRun(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const r = await run(program, args, options);
  if (r.code !== 0) throw new Error(`client command failed\n${describeRun(program, args, r)}`);
  return r;
}

/** Runs a program that must fail; its stderr+stdout must match `expected`. */
export async function mustFail(program: string, args: readonly string[], expected: RegExp, options: RunOptions = {}): Promise<RunResult> {
  const r = await run(program, args, options);
  if (r.code === 0) throw new Error(`client command succeeded, but it should have failed (${expected})\n${describeRun(program, args, r)}`);
  if (!expected.test(r.stderr + r.stdout)) throw new Error(`client command failed, but not with ${expected}\n${describeRun(program, args, r)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// data

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
export const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** S3's ETag of a multipart upload of `data` in parts of `partSize` bytes (the last one shorter). */
export function multipartEtag(data: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let off = 0; off < data.length; off += partSize) digests.push(createHash('md5').update(data.subarray(off, off + partSize)).digest());
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}"`;
}

/** Names in the synced folder that clients and signatures find hard: spaces, +, =, (), non-ASCII, nesting. */
export const HARD_NAMES = ['with space.txt', 'plus+sign.txt', 'equals=sign.txt', 'paren (1).txt', 'ünïcødé-名前.txt', 'deep/er/still deeper/leaf.txt'];

export interface Fixtures {
  readonly dir: string;
  /** A small file (a few KiB) and its bytes. */
  readonly small: { path: string; data: Buffer };
  /** 40 MiB: above every client's multipart threshold as the tests set it. */
  readonly big: { path: string; data: Buffer };
  /** A folder of exactly 200 small files (one empty, some in subfolders, some with hard names). */
  readonly tree: string;
}

export const TREE_FILES = 200;

/** Writes the scenario's local files below `dir`. */
export function makeFixtures(dir: string): Fixtures {
  mkdirSync(dir, { recursive: true });
  const small = { path: join(dir, 'small.txt'), data: randomBytes(3 * KiB + 17) };
  const big = { path: join(dir, 'big.bin'), data: randomBytes(40 * MiB) };
  writeFileSync(small.path, small.data);
  writeFileSync(big.path, big.data);
  const tree = join(dir, 'tree');
  const names: string[] = [...HARD_NAMES, 'empty.txt'];
  for (let i = 0; names.length < TREE_FILES; i++) names.push(i % 5 === 0 ? `sub-${i % 3}/file-${String(i).padStart(3, '0')}.dat` : `file-${String(i).padStart(3, '0')}.dat`);
  for (const name of names) {
    const path = join(tree, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, name === 'empty.txt' ? Buffer.alloc(0) : randomBytes(1 + Math.floor(Math.random() * 4 * KiB)));
  }
  return { dir, small, big, tree };
}

/** sha256 of every file below `dir`, by path relative to it ('/'-separated). */
export function treeDigests(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(relative(dir, p).split(sep).join('/'), sha256(readFileSync(p)));
    }
  };
  walk(dir);
  return out;
}

/**
 * Compares two folders byte for byte (sha256 of each file): throws one error listing every file
 * missing, extra or different.
 */
export function expectSameTree(expectedDir: string, actualDir: string): void {
  const expected = treeDigests(expectedDir);
  const actual = treeDigests(actualDir);
  const problems: string[] = [];
  for (const [name, digest] of expected) {
    const got = actual.get(name);
    if (got === undefined) problems.push(`missing: ${name}`);
    else if (got !== digest) problems.push(`different bytes: ${name}`);
  }
  for (const name of actual.keys()) if (!expected.has(name)) problems.push(`unexpected: ${name}`);
  if (problems.length > 0) throw new Error(`${actualDir} differs from ${expectedDir} (${expected.size} files expected, ${actual.size} found):\n${problems.slice(0, 30).join('\n')}${problems.length > 30 ? `\n... ${problems.length - 30} more` : ''}`);
}

/** Compares one downloaded file with the bytes uploaded. */
export function expectSameFile(expected: Buffer, actualPath: string): void {
  const actual = readFileSync(actualPath);
  if (actual.length !== expected.length || sha256(actual) !== sha256(expected))
    throw new Error(`${actualPath}: ${actual.length} bytes, sha256 ${sha256(actual)}; expected ${expected.length} bytes, sha256 ${sha256(expected)}`);
}

/** Fetches a URL (a presigned one) and returns its status and body. */
export async function fetchBytes(url: string, init?: RequestInit): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
