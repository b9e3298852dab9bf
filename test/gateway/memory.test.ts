import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * Spec gateway.md §4 "Streaming, bounded memory" and issue 10 (Tests: Memory): a 1 GiB PutObject and
 * GetObject through `s3-orchestrator serve` running as a child process (the built binary, SQLite, one
 * directory backend), with the child's resident set sampled from /proc every 100 ms. A gateway that
 * buffered the body (in RAM) would grow by about a GiB; the bound is 64 MiB over the warmed-up baseline.
 */

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const OBJECT_BYTES = GiB;
const MAX_GROWTH_BYTES = 64 * MiB;
const CREDENTIAL = { accessKeyId: 'AKIDMEMORY0001', secretAccessKey: 'memory-secret-key-0001-abcdefgh' };
const BUCKET = 'mem';

const signer = new SignatureV4({ credentials: CREDENTIAL, region: 'us-east-1', service: 's3', sha256: Sha256 });

interface Served {
  readonly child: ChildProcess;
  readonly host: string;
  readonly port: number;
  readonly stderr: () => string;
}

let dir: string;
let backendDir: string;
let served: Served;

/** Starts `serve` and resolves once it logged its endpoint (port 0 in the config: the system picks a free one). */
async function startServe(configFile: string, cwd: string): Promise<Served> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'DATABASE_URL' && !k.startsWith('PG') && !k.startsWith('S3O_')) env[k] = v;
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${log}`)), 30_000);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      log += s;
      const m = /"endpoint":"(http:\/\/[^"]+)"/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${log}`));
    });
  });
  const url = new URL(endpoint);
  return { child, host: url.hostname, port: Number(url.port), stderr: () => log };
}

/** VmRSS of a process, in bytes. */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples a process's RSS every 100 ms until stopped; reports the peak and the sample count. */
function sampleRss(pid: number): { stop(): { peak: number; samples: number } } {
  let peak = rssOf(pid);
  let samples = 1;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
      samples++;
    } catch {
      // the process is gone: the transfer fails on its own
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssOf(pid));
      return { peak, samples: samples + 1 };
    },
  };
}

/** SigV4 headers for a request whose payload is not hashed (x-amz-content-sha256: UNSIGNED-PAYLOAD). */
async function signedHeaders(method: string, path: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: served.host,
    port: served.port,
    path,
    headers: { host: `${served.host}:${served.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  return signed.headers;
}

/**
 * `size` bytes made on the fly, 1 MiB at a time: a random block with the chunk's index written into
 * it (no two chunks alike, nothing near the object's size ever held), hashed as it is produced.
 */
function generatedBody(size: number): { stream: Readable; md5: () => string } {
  const block = randomBytes(MiB);
  const md5 = createHash('md5');
  let produced = 0;
  let index = 0;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(MiB, size - produced);
      const chunk = Buffer.from(block.subarray(0, n));
      if (n >= 8) chunk.writeBigUInt64BE(BigInt(index), (index * 4099) % (n - 7));
      index++;
      produced += n;
      md5.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, md5: () => md5.digest('hex') };
}

/** Streams `body` as a PUT with Content-Length; resolves with the response status, headers and text. */
async function put(key: string, size: number, body: Readable): Promise<{ status: number; etag: string | undefined; text: string }> {
  const path = `/${BUCKET}/${key}`;
  const headers = await signedHeaders('PUT', path, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: served.host, port: served.port, method: 'PUT', path, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, text }));
      res.on('error', reject);
    });
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

/** Streams a GET, hashing what arrives; nothing is kept. */
async function get(key: string): Promise<{ status: number; size: number; md5: string; contentLength: string | undefined }> {
  const path = `/${BUCKET}/${key}`;
  const headers = await signedHeaders('GET', path);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: served.host, port: served.port, method: 'GET', path, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const md5 = createHash('md5');
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        md5.update(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, size, md5: md5.digest('hex'), contentLength: res.headers['content-length'] }));
      res.on('error', reject);
    });
    req.end();
  });
}

/** Every file below `root`, relative to it. */
function filesBelow(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

beforeAll(async () => {
  if (!existsSync(join(PACKAGE_ROOT, 'dist', 'cli', 'main.js'))) throw new Error('s3-orchestrator is not built: run `npm run build` first (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 's3o-memory-'));
  backendDir = join(dir, 'data', 'backends', 'local');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    [
      'database:',
      '  path: ./data/store.db',
      'backends:',
      '  - name: local',
      '    directory: ./data/backends/local',
      '    bytes_limit: 4GiB',
      'server:',
      '  listen: "127.0.0.1:0"',
      '  data_dir: ./data',
      'credentials:',
      `  - access_key_id: ${CREDENTIAL.accessKeyId}`,
      `    secret_access_key: ${CREDENTIAL.secretAccessKey}`,
      '    buckets: ["*"]',
      '    permission: admin',
      `buckets: [${BUCKET}]`,
      'logging:',
      '  level: info',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  served = await startServe(configFile, dir);
});

afterAll(async () => {
  if (served && served.child.exitCode === null && served.child.signalCode === null) {
    const exited = new Promise<void>((resolve) => served.child.once('exit', () => resolve()));
    served.child.kill('SIGTERM');
    const timer = setTimeout(() => served.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('gateway memory: 1 GiB through serve in a child process', () => {
  it('PUT and GET of 1 GiB stream: the child grows by less than 64 MiB, the bytes and the MD5 come back, no tmp file is left', async () => {
    const pid = served.child.pid!;

    // Warm-up: the code paths of PUT and GET run once (JIT, pools, the SQLite cache) before the baseline.
    const warm = generatedBody(4 * MiB);
    const warmPut = await put('warm-up.bin', 4 * MiB, warm.stream);
    expect(warmPut.status, warmPut.text).toBe(200);
    const warmMd5 = warm.md5();
    expect(warmPut.etag).toBe(`"${warmMd5}"`);
    const warmGet = await get('warm-up.bin');
    expect(warmGet).toMatchObject({ status: 200, size: 4 * MiB, md5: warmMd5 });
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssOf(pid);

    const putSampler = sampleRss(pid);
    const putStarted = performance.now();
    const body = generatedBody(OBJECT_BYTES);
    const putResult = await put('big.bin', OBJECT_BYTES, body.stream).catch((err: unknown) => {
      throw new Error(`the PUT failed after ${((performance.now() - putStarted) / 1000).toFixed(1)} s (${(err as Error).message}); serve's log: ${served.stderr().slice(-4000)}`);
    });
    const putMs = performance.now() - putStarted;
    const putRss = putSampler.stop();
    expect(putResult.status, putResult.text).toBe(200);
    const md5 = body.md5();
    expect(putResult.etag).toBe(`"${md5}"`);

    // The write went to a temporary file that was renamed into place: nothing is left in tmp/.
    const tmp = join(backendDir, 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    const files = filesBelow(dir);
    expect(files.filter((f) => f.split('/').includes('tmp'))).toEqual([]);
    const objectFiles = files.filter((f) => f.startsWith('data/backends/local/objects/'));
    expect(objectFiles).toHaveLength(2);
    expect(objectFiles.map((f) => statSync(join(dir, f)).size).sort((a, b) => a - b)).toEqual([4 * MiB, OBJECT_BYTES]);
    // Nothing but the database, the backend's identity marker and the two objects.
    const others = files.filter((f) => !objectFiles.includes(f) && f !== 'config.yaml' && !/^data\/store\.db(\.lock)?(-wal|-shm|-journal)?$/.test(f));
    expect(others).toEqual(['data/backends/local/.s3-orchestrator-backend.json']);

    const getSampler = sampleRss(pid);
    const getStarted = performance.now();
    const got = await get('big.bin').catch((err: unknown) => {
      throw new Error(`the GET failed after ${((performance.now() - getStarted) / 1000).toFixed(1)} s (${(err as Error).message}); serve's log: ${served.stderr().slice(-4000)}`);
    });
    const getMs = performance.now() - getStarted;
    const getRss = getSampler.stop();
    expect(got.status).toBe(200);
    expect(got.contentLength).toBe(String(OBJECT_BYTES));
    expect(got.size).toBe(OBJECT_BYTES);
    expect(got.md5).toBe(md5);

    const putGrowth = putRss.peak - baseline;
    const getGrowth = getRss.peak - baseline;
    const mib = (n: number): string => (n / MiB).toFixed(1);
    console.log(
      `memory: baseline RSS ${mib(baseline)} MiB; PUT 1 GiB in ${(putMs / 1000).toFixed(1)} s, peak ${mib(putRss.peak)} MiB (+${mib(putGrowth)} MiB, ${putRss.samples} samples); ` +
        `GET 1 GiB in ${(getMs / 1000).toFixed(1)} s, peak ${mib(getRss.peak)} MiB (+${mib(getGrowth)} MiB, ${getRss.samples} samples); bound +${mib(MAX_GROWTH_BYTES)} MiB`,
    );
    expect(putRss.samples, 'the PUT was sampled throughout').toBeGreaterThan(5);
    expect(getRss.samples, 'the GET was sampled throughout').toBeGreaterThan(5);
    expect(putGrowth, 'RSS growth during the 1 GiB PUT').toBeLessThan(MAX_GROWTH_BYTES);
    expect(getGrowth, 'RSS growth during the 1 GiB GET').toBeLessThan(MAX_GROWTH_BYTES);
    expect(served.stderr()).not.toMatch(/"level":(50|60)/);
  }, 180_000);
});
