import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import { verifySignature } from '../../src/gateway/auth/sigv4.js';
import {
  BUCKET,
  GATEWAY_ID,
  LoadClient,
  S3RVER_ID,
  endpointOf,
  startDirectDiskServer,
  startGatewayRig,
  startNoopServer,
  startS3rver,
  type GatewayRig,
  type S3rverProcess,
} from '../lib/gateway-rig.js';
import type { Endpoint, SmallResult } from '../lib/load-worker.js';
import { runConcurrentFor, type Throughput } from '../lib/measure.js';
import { storeCommitWriteStep } from '../lib/memory-store-calls.js';
import { presignPath, type SigningIdentity } from '../lib/presign.js';
import type { EngineName } from '../lib/targets.js';

const MiB = 1024 * 1024;
const SMALL = 4096;
const GET_KEYS = 1000;

export interface GatewayOptions {
  readonly engines: readonly EngineName[];
  readonly server: PostgresServer | undefined;
  readonly durationMs: number;
  /** --large: 1 GiB single streams, 2 GiB memory run, 100 × 10 MiB multipart. */
  readonly large: boolean;
  readonly clients: readonly number[];
  /** Sections to run (default all): sigv4, large, memory, multipart, small. */
  readonly sections: ReadonlySet<string>;
}

export interface LargeResult {
  readonly backend: 'directory' | 's3';
  readonly direction: 'PUT' | 'GET';
  readonly bytes: number;
  readonly rounds: number;
  readonly directMiBps: number;
  readonly gatewayMiBps: number;
  readonly ratio: number;
  /**
   * CPU of this process per MiB moved (ms): the client thread plus what serves it here (the plain
   * disk server, or the gateway); s3rver is another process and counted on neither side.
   */
  readonly directCpuMsPerMiB: number;
  readonly gatewayCpuMsPerMiB: number;
}

export interface MemoryResult {
  /** in-process: the RSS of the bench process (gateway + its worker-thread client), sampled every 20 ms. */
  readonly how: string;
  readonly bytes: number;
  readonly baselineMiB: number;
  readonly putPeakMiB: number;
  readonly getPeakMiB: number;
  readonly growthMiB: number;
  readonly putMiBps: number;
  readonly getMiBps: number;
}

export interface MultipartResult {
  readonly parts: number;
  readonly partBytes: number;
  /** Parts uploaded at once (1: one after another; 4: as @aws-sdk/lib-storage does by default). */
  readonly inFlight: number;
  readonly directMiBps: number;
  readonly gatewayMiBps: number;
  readonly ratio: number;
  readonly directCompleteMs: number;
  readonly gatewayCompleteMs: number;
  /** The gateway's own share of Complete: its whole time minus the time inside the backend's CompleteMultipartUpload. */
  readonly gatewayOwnCompleteMs: number;
  /** Object bytes that went through the gateway to or from the backend during Complete. */
  readonly completeBytesMoved: number;
}

export interface SmallRow {
  readonly engine: EngineName;
  readonly backend: 'memory' | 'directory';
  readonly clients: number;
  readonly put: SmallResult;
  readonly get: SmallResult;
  /** The store's own rates on the same database, at the same concurrency, interleaved with the gateway's. */
  readonly storeCommitWrite?: Throughput;
  readonly storeLookup?: Throughput;
}

export interface SigV4Result {
  readonly requests: number;
  readonly smithySignHeaderUs: number;
  readonly verifyHeaderUs: number;
  readonly smithyPresignUs: number;
  readonly verifyPresignedUs: number;
  /** The load generator's own presigner (cached signing key). */
  readonly benchPresignUs: number;
}

export interface GatewayBenchResult {
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly sigv4?: SigV4Result;
  readonly large: LargeResult[];
  readonly memory?: MemoryResult;
  readonly multipart: MultipartResult[];
  readonly ceiling: { readonly clients: number; readonly put: SmallResult; readonly get: SmallResult }[];
  readonly small: SmallRow[];
}

const log = (msg: string) => console.log(`  [gateway] ${msg} (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);

export async function runGateway(options: GatewayOptions): Promise<GatewayBenchResult> {
  const start = loadavg();
  const has = (s: string) => options.sections.has(s);
  const client = new LoadClient();
  const result: { -readonly [K in keyof GatewayBenchResult]: GatewayBenchResult[K] } = { loadAverage: { start, end: [] }, large: [], multipart: [], ceiling: [], small: [] };
  let s3rver: S3rverProcess | undefined;
  try {
    if (has('sigv4')) {
      result.sigv4 = await sigv4Cost(2000);
      log('sigv4 done');
    }
    if (has('large') || has('multipart')) s3rver = await startS3rver();
    if (has('large')) {
      const bytes = options.large ? 1024 * MiB : 64 * MiB;
      const rounds = options.large ? 2 : 3;
      result.large.push(...(await largeDirectory(client, bytes, rounds)));
      log('large directory done');
      result.large.push(...(await largeS3(client, s3rver!, bytes, rounds)));
      log('large s3 done');
    }
    if (has('memory')) {
      result.memory = await memory(client, options.large ? 2048 * MiB : 256 * MiB);
      log('memory done');
    }
    if (has('multipart')) {
      result.multipart = await multipart(client, s3rver!, options.large ? 100 : 20, options.large ? 10 * MiB : 5 * MiB);
      log('multipart done');
    }
    if (has('small')) {
      result.ceiling = await ceiling(client, options.clients, options.durationMs);
      log('ceiling done');
      for (const engine of options.engines) {
        result.small.push(...(await small(client, engine, options.server, options.clients, options.durationMs)));
        log(`small ${engine} done`);
      }
    }
  } finally {
    await s3rver?.close();
    await client.close();
  }
  result.loadAverage = { start, end: loadavg() };
  return result;
}

// ---------------------------------------------------------------------------------------- SigV4

/** SHA-256 and HMAC-SHA256 from node:crypto, as @smithy/hash-node gives the SDK in Node. */
class NodeSha256 {
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = this.#fresh();
  }
  #fresh() {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : Buffer.from(ArrayBuffer.isView(this.secret) ? new Uint8Array(this.secret.buffer, this.secret.byteOffset, this.secret.byteLength) : new Uint8Array(this.secret));
    return createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : Buffer.from(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

async function sigv4Cost(n: number): Promise<SigV4Result> {
  const signer = new SignatureV4({ credentials: { accessKeyId: GATEWAY_ID.accessKeyId, secretAccessKey: GATEWAY_ID.secretAccessKey }, region: 'us-east-1', service: 's3', sha256: NodeSha256, uriEscapePath: false });
  const secretFor = (id: string) => (id === GATEWAY_ID.accessKeyId ? GATEWAY_ID.secretAccessKey : undefined);
  const host = '127.0.0.1:9000';
  const request = (i: number) =>
    new HttpRequest({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: `/${BUCKET}/small/get/${i}`, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const toDistinct = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
  const time = async (count: number, fn: (i: number) => unknown): Promise<number> => {
    for (let i = 0; i < Math.min(200, count); i++) await fn(i); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await fn(i);
    return ((performance.now() - t0) * 1000) / count;
  };
  const now = new Date();
  type Signed = { path: string; headers: Record<string, string>; query: Record<string, string | string[] | null> };
  const signed: Signed[] = [];
  const smithySignHeaderUs = await time(n, async (i) => (signed[i] = (await signer.sign(request(i), { signingDate: now })) as Signed));
  const verifyHeaderUs = await time(n, (i) => verifySignature({ method: 'GET', rawPath: signed[i]!.path, rawQuery: '', headers: toDistinct(signed[i]!.headers) }, secretFor, now));
  const presigned: Signed[] = [];
  const smithyPresignUs = await time(n, async (i) => (presigned[i] = (await signer.presign(request(i), { signingDate: now, expiresIn: 3600 })) as Signed));
  const rawQuery = (r: Signed) =>
    Object.entries(r.query)
      .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
      .join('&');
  const queries = presigned.map(rawQuery);
  const verifyPresignedUs = await time(n, (i) => verifySignature({ method: 'GET', rawPath: presigned[i]!.path, rawQuery: queries[i]!, headers: toDistinct(presigned[i]!.headers) }, secretFor, now));
  const benchPresignUs = await time(n, (i) => presignPath(GATEWAY_ID, 'GET', host, `/${BUCKET}/small/get/${i}`, {}, now));
  return { requests: n, smithySignHeaderUs, verifyHeaderUs, smithyPresignUs, verifyPresignedUs, benchPresignUs };
}

// ---------------------------------------------------------------------------------------- large objects

interface Side {
  readonly endpoint: Endpoint;
  /** The request path of object `name`. */
  path(name: string): string;
}

async function largePair(client: LoadClient, backend: 'directory' | 's3', direct: Side, gateway: Side, bytes: number, rounds: number): Promise<LargeResult[]> {
  const sum = { PUT: { direct: 0, gateway: 0 }, GET: { direct: 0, gateway: 0 } };
  const cpu = { PUT: { direct: 0, gateway: 0 }, GET: { direct: 0, gateway: 0 } };
  const cpuMs = (from: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(from);
    return (d.user + d.system) / 1000;
  };
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always meets a cache the other warmed.
    const sides = r % 2 === 0 ? ([['direct', direct], ['gateway', gateway]] as const) : ([['gateway', gateway], ['direct', direct]] as const);
    for (const [name, side] of sides) {
      const c0 = process.cpuUsage();
      const put = await client.stream({ kind: 'put', endpoint: side.endpoint, path: side.path(`large/${r}`), bytes });
      cpu.PUT[name] += cpuMs(c0);
      sum.PUT[name] += put.seconds;
    }
    for (const [name, side] of sides) {
      const c0 = process.cpuUsage();
      const get = await client.stream({ kind: 'get', endpoint: side.endpoint, path: side.path(`large/${r}`) });
      cpu.GET[name] += cpuMs(c0);
      if (get.bytes !== bytes) throw new Error(`${name} GET returned ${get.bytes} bytes, ${bytes} expected`);
      sum.GET[name] += get.seconds;
    }
  }
  return (['PUT', 'GET'] as const).map((direction) => {
    const directMiBps = (bytes * rounds) / MiB / sum[direction].direct;
    const gatewayMiBps = (bytes * rounds) / MiB / sum[direction].gateway;
    const mib = (bytes * rounds) / MiB;
    return { backend, direction, bytes, rounds, directMiBps, gatewayMiBps, ratio: gatewayMiBps / directMiBps, directCpuMsPerMiB: cpu[direction].direct / mib, gatewayCpuMsPerMiB: cpu[direction].gateway / mib };
  });
}

async function largeDirectory(client: LoadClient, bytes: number, rounds: number): Promise<LargeResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 's3o-bench-large-'));
  const disk = await startDirectDiskServer(join(dir, 'direct'));
  const rig = await startGatewayRig('sqlite', undefined, { kind: 'directory', root: join(dir, 'gateway') });
  try {
    return await largePair(client, 'directory', { endpoint: endpointOf(disk.url), path: (n) => `/${n.replaceAll('/', '_')}` }, { endpoint: rig.endpoint, path: (n) => `/${BUCKET}/${n}` }, bytes, rounds);
  } finally {
    await rig.close();
    await disk.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function largeS3(client: LoadClient, s3rver: S3rverProcess, bytes: number, rounds: number): Promise<LargeResult[]> {
  const rig = await startGatewayRig('sqlite', undefined, { kind: 's3', s3: s3rver.backendConfig() });
  try {
    return await largePair(client, 's3', { endpoint: s3rver.endpoint, path: (n) => `/${s3rver.bucket}/direct/${n}` }, { endpoint: rig.endpoint, path: (n) => `/${BUCKET}/${n}` }, bytes, rounds);
  } finally {
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------- memory

async function memory(client: LoadClient, bytes: number): Promise<MemoryResult> {
  const dir = mkdtempSync(join(tmpdir(), 's3o-bench-mem-'));
  const rig = await startGatewayRig('sqlite', undefined, { kind: 'directory', root: dir });
  try {
    // Warm-up: the code paths and their buffers exist before the baseline is taken.
    await client.stream({ kind: 'put', endpoint: rig.endpoint, path: `/${BUCKET}/warm`, bytes: 8 * MiB });
    await client.stream({ kind: 'get', endpoint: rig.endpoint, path: `/${BUCKET}/warm` });
    await new Promise((r) => setTimeout(r, 200));
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    try {
      const put = await client.stream({ kind: 'put', endpoint: rig.endpoint, path: `/${BUCKET}/huge`, bytes });
      const putPeak = peak;
      peak = process.memoryUsage.rss();
      const get = await client.stream({ kind: 'get', endpoint: rig.endpoint, path: `/${BUCKET}/huge` });
      if (get.bytes !== bytes) throw new Error(`GET returned ${get.bytes} bytes`);
      const getPeak = peak;
      return {
        how: 'in-process: RSS of the bench process (the gateway, its store, and the worker-thread client), sampled every 20 ms',
        bytes,
        baselineMiB: baseline / MiB,
        putPeakMiB: putPeak / MiB,
        getPeakMiB: getPeak / MiB,
        growthMiB: (Math.max(putPeak, getPeak) - baseline) / MiB,
        putMiBps: bytes / MiB / put.seconds,
        getMiBps: bytes / MiB / get.seconds,
      };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await rig.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------- multipart

async function multipart(client: LoadClient, s3rver: S3rverProcess, parts: number, partBytes: number): Promise<MultipartResult[]> {
  const rig = await startGatewayRig('sqlite', undefined, { kind: 's3', s3: s3rver.backendConfig() }, { countBytes: true });
  const sdk = (url: string, id: SigningIdentity) =>
    new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: id, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const direct = { sdk: sdk(s3rver.url, S3RVER_ID), endpoint: s3rver.endpoint, bucket: s3rver.bucket };
  const gateway = { sdk: sdk(rig.url, GATEWAY_ID), endpoint: rig.endpoint, bucket: BUCKET };
  /** One upload of `parts` parts, `inFlight` of them at a time; the part uploads' wall time, then Complete. */
  const one = async (side: typeof direct, key: string, inFlight: number) => {
    const { UploadId } = await side.sdk.send(new CreateMultipartUploadCommand({ Bucket: side.bucket, Key: key }));
    const etags: string[] = [];
    let next = 1;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next <= parts) {
          const p = next++;
          const r = await client.stream({ kind: 'put', endpoint: side.endpoint, path: `/${side.bucket}/${key}`, query: { partNumber: String(p), uploadId: UploadId! }, bytes: partBytes });
          etags[p - 1] = r.etag!;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const before = rig.counter.bytes;
    const inBackendBefore = rig.counter.completeMs;
    const t1 = performance.now();
    await side.sdk.send(new CompleteMultipartUploadCommand({ Bucket: side.bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const completeMs = performance.now() - t1;
    const moved = rig.counter.bytes - before;
    const inBackendMs = rig.counter.completeMs - inBackendBefore;
    const head = await side.sdk.send(new HeadObjectCommand({ Bucket: side.bucket, Key: key }));
    if (head.ContentLength !== parts * partBytes) throw new Error(`completed object holds ${head.ContentLength} bytes`);
    return { mibps: (parts * partBytes) / MiB / seconds, completeMs, moved, ownMs: completeMs - inBackendMs };
  };
  try {
    const results: MultipartResult[] = [];
    for (const inFlight of [1, 4]) {
      const d = await one(direct, `direct/multipart-${inFlight}`, inFlight);
      const g = await one(gateway, `multipart-${inFlight}`, inFlight);
      results.push({ parts, partBytes, inFlight, directMiBps: d.mibps, gatewayMiBps: g.mibps, ratio: g.mibps / d.mibps, directCompleteMs: d.completeMs, gatewayCompleteMs: g.completeMs, gatewayOwnCompleteMs: g.ownMs, completeBytesMoved: g.moved });
    }
    return results;
  } finally {
    direct.sdk.destroy();
    gateway.sdk.destroy();
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------- small objects

async function ceiling(client: LoadClient, clients: readonly number[], durationMs: number) {
  const noop = await startNoopServer(SMALL);
  try {
    // Signed like the real runs (the server ignores it): the signing is part of the client's cost.
    const endpoint = endpointOf(noop.url, GATEWAY_ID);
    const rows = [];
    for (const c of clients) {
      const common = { endpoint, prefix: `/${BUCKET}/small/`, run: `ceiling${c}`, keyCount: GET_KEYS, concurrency: c, durationMs, bodyBytes: SMALL };
      const put = await client.small({ ...common, method: 'PUT' });
      const get = await client.small({ ...common, method: 'GET' });
      rows.push({ clients: c, put, get });
    }
    return rows;
  } finally {
    await noop.close();
  }
}

async function small(client: LoadClient, engine: EngineName, server: PostgresServer | undefined, clients: readonly number[], durationMs: number): Promise<SmallRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 's3o-bench-small-'));
  const rigs: [('memory' | 'directory'), GatewayRig][] = [];
  try {
    rigs.push(['memory', await startGatewayRig(engine, server, { kind: 'memory' })]);
    rigs.push(['directory', await startGatewayRig(engine, server, { kind: 'directory', root: dir })]);
    for (const [, rig] of rigs) {
      await client.small({ endpoint: rig.endpoint, method: 'PUT', prefix: `/${BUCKET}/small/get/`, run: 'seed', keyCount: GET_KEYS, concurrency: 16, durationMs: 0, bodyBytes: SMALL, seed: GET_KEYS });
    }
    const store = rigs[0]![1].target.store;
    let n = 0;
    let seed = 99;
    const pick = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % GET_KEYS;
    };
    const rows: SmallRow[] = [];
    const rounds = Math.max(2, Math.round(durationMs / 1500));
    const slice = durationMs / rounds;
    const add = (a: SmallResult | undefined, b: SmallResult): SmallResult => {
      if (!a) return b;
      const ops = a.ops + b.ops;
      const seconds = a.seconds + b.seconds;
      // Percentiles of the slices, weighted by their samples (each slice is long enough to have its own).
      const w = (x: number, y: number) => (x * a.ops + y * b.ops) / ops;
      return { ops, seconds, opsPerSecond: ops / seconds, p50Ms: w(a.p50Ms, b.p50Ms), p99Ms: w(a.p99Ms, b.p99Ms), errors: a.errors + b.errors, ...(a.firstError ?? b.firstError ? { firstError: a.firstError ?? b.firstError } : {}) };
    };
    const addT = (a: Throughput | undefined, b: Throughput): Throughput => (a ? { ops: a.ops + b.ops, seconds: a.seconds + b.seconds, opsPerSecond: (a.ops + b.ops) / (a.seconds + b.seconds) } : b);
    for (const c of clients) {
      // A short warm-up of every path at this concurrency.
      await runConcurrentFor(200, c, async () => store.objects.commitWrite(await store.objects.beginWrite({ objectKey: `${BUCKET}/warm/${c}/${n++}`, sizeBytes: SMALL }), { etag: '"e"' }));
      const acc = new Map<string, { put?: SmallResult; get?: SmallResult }>(rigs.map(([k]) => [k, {}]));
      let storeWrite: Throughput | undefined;
      let storeLookup: Throughput | undefined;
      for (let r = 0; r < rounds; r++) {
        storeWrite = addT(storeWrite, await runConcurrentFor(slice, c, storeCommitWriteStep(store, `${BUCKET}/small/put/store${c}r${r}-`, SMALL)));
        for (const [kind, rig] of rigs) {
          const a = acc.get(kind)!;
          a.put = add(a.put, await client.small({ endpoint: rig.endpoint, method: 'PUT', prefix: `/${BUCKET}/small/put/`, run: `${c}r${r}`, keyCount: GET_KEYS, concurrency: c, durationMs: slice, bodyBytes: SMALL }));
        }
        storeLookup = addT(storeLookup, await runConcurrentFor(slice, c, () => store.objects.lookup(`${BUCKET}/small/get/${pick()}`)));
        for (const [kind, rig] of rigs) {
          const a = acc.get(kind)!;
          a.get = add(a.get, await client.small({ endpoint: rig.endpoint, method: 'GET', prefix: `/${BUCKET}/small/get/`, run: `${c}r${r}`, keyCount: GET_KEYS, concurrency: c, durationMs: slice, bodyBytes: SMALL }));
        }
      }
      for (const [kind] of rigs) {
        const a = acc.get(kind)!;
        rows.push({ engine, backend: kind, clients: c, put: a.put!, get: a.get!, ...(kind === 'memory' ? { storeCommitWrite: storeWrite!, storeLookup: storeLookup! } : {}) });
      }
    }
    return rows;
  } finally {
    for (const [, rig] of rigs) await rig.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
