import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rename, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import { BackendObjectMissing, type BackendClient, type ByteRange, type MultipartHandle, type PartRef } from '../../src/backends/backend-client.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { S3Backend } from '../../src/backends/s3.js';
import { Secret } from '../../src/config/secret.js';
import type { AppConfig, CredentialConfig, S3BackendConfig } from '../../src/config/types.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import pino from 'pino';
import { silentLogger, type Logger } from '../../src/logging.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import type { SigningIdentity } from './presign.js';
import { BENCH_BACKEND, BENCH_LIMIT, openServedTarget, type EngineName, type ServedTarget, type TargetOptions } from './targets.js';
import type { Endpoint, SmallJob, SmallResult, StreamJob, StreamResult } from './load-worker.js';

export const BUCKET = 'bench';
/** BENCH_LOG=error (or any pino level) shows the gateway's log on stderr; silent by default. */
const LOGGER: Logger = process.env.BENCH_LOG ? (pino({ level: process.env.BENCH_LOG }, pino.destination(2)) as unknown as Logger) : silentLogger;
export const GATEWAY_ID: SigningIdentity = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret-key-0001', region: 'us-east-1' };
export const S3RVER_ID: SigningIdentity = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };
const CREDENTIALS: CredentialConfig[] = [{ accessKeyId: GATEWAY_ID.accessKeyId, secretAccessKey: new Secret(GATEWAY_ID.secretAccessKey), buckets: '*', permission: 'admin' }];

/** The load generator's worker thread. */
export class LoadClient {
  readonly #worker = new Worker(new URL('./load-worker.js', import.meta.url));
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor() {
    this.#worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id)!;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
  }

  #run<T>(job: SmallJob | StreamJob): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, job });
    });
  }

  small(job: Omit<SmallJob, 'kind'>): Promise<SmallResult> {
    return this.#run({ kind: 'small', ...job });
  }

  /** One streamed PUT or GET; throws unless 200. */
  async stream(job: StreamJob): Promise<StreamResult> {
    const r = await this.#run<StreamResult>(job);
    if (r.status !== 200) throw new Error(`${job.kind} ${job.path}: HTTP ${r.status} ${r.body ?? ''}`);
    return r;
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}

export function endpointOf(url: string, identity?: SigningIdentity): Endpoint {
  const u = new URL(url);
  return { hostname: u.hostname, port: Number(u.port), ...(identity ? { identity } : {}) };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface PlainServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Answers 200 with no work: the request body is drained; a GET gets `getBytes` bytes. The load generator's ceiling. */
export async function startNoopServer(getBytes: number): Promise<PlainServer> {
  const body = Buffer.alloc(getBytes, 7);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') res.writeHead(200, { 'Content-Length': body.length }).end(body);
      else res.writeHead(200, { ETag: '"0"' }).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

/**
 * The directory backend's disk used directly: a plain node:http server doing the same file writes
 * as DirectoryBackend.put (temporary file, write, fsync, rename, fsync of the directory) and the
 * same reads (a read stream of the file).
 */
export async function startDirectDiskServer(root: string): Promise<PlainServer> {
  const objects = join(root, 'objects');
  const tmp = join(root, 'tmp');
  mkdirSync(objects, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const pathOf = (url: string) => join(objects, encodeURIComponent(url.split('?')[0]!.slice(1)));
  const server = createServer((req, res) => {
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    };
    if (req.method === 'PUT') {
      void (async () => {
        const t = join(tmp, randomUUID());
        const file = await open(t, 'wx', 0o600);
        const out = file.createWriteStream({ autoClose: false });
        await pipeline(req, out);
        await file.sync();
        out.destroy();
        await file.close();
        await rename(t, pathOf(req.url!));
        const dir = await open(objects, 'r');
        await dir.sync();
        await dir.close();
        res.writeHead(200).end();
      })().catch(fail);
    } else {
      void (async () => {
        const path = pathOf(req.url!);
        const info = await stat(path);
        res.writeHead(200, { 'Content-Length': info.size });
        await pipeline(createReadStream(path), res);
      })().catch(fail);
    }
  });
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

/** An in-memory backend: isolates the gateway and its store from the cost of any storage (small objects). */
export class MemoryBackend implements BackendClient {
  readonly #objects = new Map<string, Buffer>();
  constructor(readonly name: string) {}

  async put(storageKey: string, body: Readable, sizeBytes: number): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== sizeBytes) throw new Error(`the body was ${bytes.length} bytes; ${sizeBytes} were declared`);
    this.#objects.set(storageKey, bytes);
  }
  async get(storageKey: string, range?: ByteRange): Promise<Readable> {
    const bytes = this.#objects.get(storageKey);
    if (!bytes) throw new BackendObjectMissing(this.name, storageKey);
    return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]);
  }
  async head(storageKey: string) {
    const bytes = this.#objects.get(storageKey);
    return bytes ? { sizeBytes: bytes.length, etag: '"memory"' } : undefined;
  }
  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    return this.#objects.delete(storageKey) ? 'deleted' : 'not-found';
  }
  async createMultipart(): Promise<string> {
    return '';
  }
  async putPart(_upload: MultipartHandle, part: PartRef, body: Readable): Promise<void> {
    await this.put(part.storageKey, body, part.sizeBytes);
  }
  async completeMultipart(upload: MultipartHandle, parts: readonly PartRef[]): Promise<void> {
    this.#objects.set(upload.storageKey, Buffer.concat(parts.map((p) => this.#objects.get(p.storageKey)!)));
  }
  async abortMultipart(): Promise<void> {}
  async partRange(): Promise<ByteRange | undefined> {
    return undefined;
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.#objects.keys()].filter((k) => k.startsWith(prefix));
  }
}

/** Object bytes that crossed the gateway on their way to or from a backend, and the time spent in the backend's Complete. */
export interface ByteCounter {
  bytes: number;
  completeMs: number;
}

function counted(stream: Readable, counter: ByteCounter): Readable {
  const through = new Transform({
    transform(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
  stream.once('error', (err) => through.destroy(err));
  return stream.pipe(through);
}

/** The backend, its object-byte calls (put, putPart, get) counted; everything else forwarded. */
export function countingBackend<B extends BackendClient>(backend: B, counter: ByteCounter): B {
  return new Proxy(backend, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'put') return (key: string, body: Readable, size: number) => target.put(key, counted(body, counter), size);
      if (prop === 'putPart') return (u: MultipartHandle, p: PartRef & { partNumber: number }, body: Readable) => target.putPart(u, p, counted(body, counter));
      if (prop === 'get') return async (key: string, range?: ByteRange) => counted(await target.get(key, range), counter);
      if (prop === 'completeMultipart') {
        return async (...args: Parameters<BackendClient['completeMultipart']>) => {
          const t0 = performance.now();
          try {
            return await target.completeMultipart(...args);
          } finally {
            counter.completeMs += performance.now() - t0;
          }
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

export type BackendKind = { kind: 'memory' } | { kind: 'directory'; root: string } | { kind: 's3'; s3: S3BackendConfig };

export interface GatewayRig {
  readonly target: ServedTarget;
  readonly gateway: Gateway;
  readonly url: string;
  readonly endpoint: Endpoint;
  readonly counter: ByteCounter;
  close(): Promise<void>;
}

/** The store of the store benchmark (openTarget) behind a real gateway in this process, one backend, bucket `bench`. */
export async function startGatewayRig(engine: EngineName, server: PostgresServer | undefined, backend: BackendKind, options: { countBytes?: boolean; target?: TargetOptions } = {}): Promise<GatewayRig> {
  const target = await openServedTarget(engine, server, options.target);
  const dataDir = mkdtempSync(join(tmpdir(), 's3o-bench-gw-'));
  const base = target.config;
  const declared = { name: BENCH_BACKEND, bytesLimit: BENCH_LIMIT, ...(backend.kind === 'directory' ? { directory: backend.root } : {}), ...(backend.kind === 's3' ? { s3: backend.s3 } : {}) };
  const config: AppConfig = {
    ...base,
    backends: [declared],
    server: { ...base.server, dataDir, port: 0, host: '127.0.0.1' },
    credentials: CREDENTIALS,
    buckets: [BUCKET],
  };
  await checkDirectoryBackends(config, target.store);
  const counter: ByteCounter = { bytes: 0, completeMs: 0 };
  const client: BackendClient =
    backend.kind === 'memory' ? new MemoryBackend(BENCH_BACKEND) : backend.kind === 'directory' ? new DirectoryBackend(BENCH_BACKEND, backend.root) : new S3Backend(BENCH_BACKEND, backend.s3);
  // Counting adds a stream hop: only where the bytes are asked for (multipart), never in a throughput comparison.
  const backends = new Map<string, BackendClient>([[BENCH_BACKEND, options.countBytes ? countingBackend(client, counter) : client]]);
  const gateway = await startGateway({ store: target.store, config, backends, credentials: CREDENTIALS, logger: LOGGER });
  return {
    target,
    gateway,
    url: gateway.url,
    endpoint: endpointOf(gateway.url, GATEWAY_ID),
    counter,
    async close() {
      await gateway.close(1000);
      if (client instanceof S3Backend) client.destroy();
      await target.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** s3rver (npm) in a child process on a loopback port, bucket `backend-bytes`, its own temporary directory. */
export interface S3rverProcess {
  readonly url: string;
  readonly bucket: string;
  readonly endpoint: Endpoint;
  backendConfig(): S3BackendConfig;
  close(): Promise<void>;
}

export async function startS3rver(): Promise<S3rverProcess> {
  const bucket = 'backend-bytes';
  const dir = mkdtempSync(join(tmpdir(), 's3o-bench-s3rver-'));
  const bin = join(PACKAGE_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js');
  // On Node 20 s3rver needs the legacy OpenSSL provider (test/support/s3rver.ts says why).
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent', '--no-vhost-buckets', '--configure-bucket', bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /S3rver listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${out}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    bucket,
    endpoint: endpointOf(url, S3RVER_ID),
    backendConfig: () => ({
      endpoint: url,
      region: 'us-east-1',
      bucket,
      accessKeyId: S3RVER_ID.accessKeyId,
      secretAccessKey: new Secret(S3RVER_ID.secretAccessKey),
      forcePathStyle: true,
      timeoutMs: 120_000,
    }),
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
