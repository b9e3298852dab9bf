/**
 * The load generator: a worker thread (its own event loop, so the client's work does not run on
 * the gateway's thread; the two cores are shared by both, as with any client on the same host).
 * node:http over keep-alive Agents (undici is not installed; the global fetch's undici has no
 * keep-alive pool one can size), every request presigned as it is sent by bench/lib/presign.ts
 * (a cached signing key: one SHA-256 and one HMAC per request). Closed loop: each of N clients
 * sends its next request when the previous one is answered.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { randomFillSync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { presignPath, type SigningIdentity } from './presign.js';

export interface Endpoint {
  /** 127.0.0.1 */
  readonly hostname: string;
  readonly port: number;
  /** Sign with this identity (presigned query); none: plain requests. */
  readonly identity?: SigningIdentity | undefined;
}

export interface SmallJob {
  readonly kind: 'small';
  readonly endpoint: Endpoint;
  readonly method: 'PUT' | 'GET';
  /** `/bucket/prefix`: PUT writes `${prefix}${run}-${client}-${n}`; GET reads `${prefix}${i}` for random i < keyCount. */
  readonly prefix: string;
  readonly run: string;
  readonly keyCount: number;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly bodyBytes: number;
  /** PUT only: write exactly `${prefix}0` … `${prefix}${seed - 1}` (shared among the clients), then stop. */
  readonly seed?: number;
}

export interface SmallResult {
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError?: string;
}

export interface StreamJob {
  readonly kind: 'put' | 'get';
  readonly endpoint: Endpoint;
  readonly path: string;
  readonly query?: Record<string, string>;
  /** PUT: bytes to send. */
  readonly bytes?: number;
}

export interface StreamResult {
  readonly seconds: number;
  readonly bytes: number;
  readonly status: number;
  readonly etag: string | undefined;
  readonly body?: string;
}

const CHUNK = Buffer.alloc(1024 * 1024);
randomFillSync(CHUNK);

function target(endpoint: Endpoint, method: string, path: string, query?: Record<string, string>): string {
  if (!endpoint.identity) {
    const q = query && Object.keys(query).length > 0 ? `?${new URLSearchParams(query).toString()}` : '';
    return path + q;
  }
  return presignPath(endpoint.identity, method, `${endpoint.hostname}:${endpoint.port}`, path, query);
}

function send(agent: Agent, endpoint: Endpoint, method: string, path: string, body: Buffer | undefined): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, hostname: endpoint.hostname, port: endpoint.port, method, path: target(endpoint, method, path), headers: body ? { 'Content-Length': body.length } : {} },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function small(job: SmallJob): Promise<SmallResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  const body = job.method === 'PUT' ? CHUNK.subarray(0, job.bodyBytes) : undefined;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let seed = 12345;
  const pick = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % job.keyCount;
  };
  let seeded = 0;
  const started = performance.now();
  const deadline = started + job.durationMs;
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, client) => {
      let n = 0;
      while (job.seed !== undefined ? seeded < job.seed : performance.now() < deadline) {
        const path = job.seed !== undefined ? `${job.prefix}${seeded++}` : job.method === 'PUT' ? `${job.prefix}${job.run}-${client}-${n++}` : `${job.prefix}${pick()}`;
        const t0 = performance.now();
        try {
          const r = await send(agent, job.endpoint, job.method, path, body);
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= `${job.method} ${path}: ${(err as Error).message}`;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  return { ops: latencies.length, seconds, opsPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors, ...(firstError ? { firstError } : {}) };
}

// Up to 8 streams at once (multipart parts in flight); a single-stream run uses one socket.
const streamAgent = new Agent({ keepAlive: true, maxSockets: 8 });

function stream(job: StreamJob): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const method = job.kind === 'put' ? 'PUT' : 'GET';
    const total = job.bytes ?? 0;
    const t0 = performance.now();
    const req = request(
      { agent: streamAgent, hostname: job.endpoint.hostname, port: job.endpoint.port, method, path: target(job.endpoint, method, job.path, job.query), headers: method === 'PUT' ? { 'Content-Length': total } : {} },
      (res: IncomingMessage) => {
        let bytes = 0;
        const kept: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if ((res.statusCode ?? 0) >= 300 && kept.length < 4) kept.push(c);
        });
        res.on('end', () =>
          resolve({
            seconds: (performance.now() - t0) / 1000,
            bytes: method === 'PUT' ? total : bytes,
            status: res.statusCode ?? 0,
            etag: res.headers.etag,
            ...(kept.length > 0 ? { body: Buffer.concat(kept).toString('utf8').slice(0, 500) } : {}),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (method === 'GET') {
      req.end();
      return;
    }
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(CHUNK.length, total - sent);
        sent += n;
        if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

parentPort?.on('message', (message: { id: number; job: SmallJob | StreamJob }) => {
  const { id, job } = message;
  const run = job.kind === 'small' ? small(job) : stream(job);
  run.then(
    (result) => parentPort!.postMessage({ id, result }),
    (err: unknown) => parentPort!.postMessage({ id, error: (err as Error).stack ?? String(err) }),
  );
});
