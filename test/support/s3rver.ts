import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Secret } from '../../src/config/secret.js';
import type { S3BackendConfig } from '../../src/config/types.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/** s3rver's built-in credentials. */
export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const BIN = join(PACKAGE_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js');

/**
 * An independent S3 server (the npm package s3rver) in a child process on a loopback port, with
 * its own temporary directory. On Node 20 s3rver needs the OpenSSL legacy provider (its
 * ListObjectsV2 continuation tokens use an old cipher), so it runs as `node --openssl-legacy-provider`.
 */
export interface S3rver {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly dir: string;
  /** The backend config of this server's bucket. */
  backendConfig(overrides?: Partial<S3BackendConfig>): S3BackendConfig;
  /** A client straight to the server (not through any gateway). */
  client(): S3Client;
  /** Stops the process (SIGKILL: the port refuses at once); the data stays for restart. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

const running = new Set<S3rver>();

/** Stops every s3rver a test started (call from afterEach/afterAll). */
export async function closeS3rvers(): Promise<void> {
  for (const s of [...running]) await s.close().catch(() => {});
}

export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rver> {
  const bucket = options.bucket ?? 'backend-bytes';
  const dir = mkdtempSync(join(tmpdir(), 's3o-s3rver-'));
  let child: ChildProcess | undefined;
  let port = 0;
  const clients: S3Client[] = [];

  const launch = async (wanted: number) => {
    const started = await spawnS3rver(dir, wanted, bucket);
    child = started.child;
    port = started.port;
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await exited;
  };
  await launch(0);

  const server: S3rver = {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    bucket,
    dir,
    backendConfig(overrides = {}) {
      return {
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket,
        accessKeyId: S3RVER_KEY.accessKeyId,
        secretAccessKey: new Secret(S3RVER_KEY.secretAccessKey),
        forcePathStyle: true,
        timeoutMs: 10_000,
        ...overrides,
      };
    },
    client() {
      const c = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_KEY, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    stop,
    restart: () => launch(port),
    async close() {
      running.delete(server);
      for (const c of clients.splice(0)) c.destroy();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);
  return server;
}

function spawnS3rver(dir: string, port: number, bucket: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets', '--configure-bucket', bucket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within 15 s: ${out}${err}`));
    }, 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /S3rver listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) before listening: ${out}${err}`));
    });
  });
}
