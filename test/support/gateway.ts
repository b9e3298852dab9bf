import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { S3Backend } from '../../src/backends/s3.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import type { BackendClient } from '../../src/backends/backend-client.js';
import { Secret } from '../../src/config/secret.js';
import { defaultServerConfig } from '../../src/config/server.js';
import type { AppConfig, BackendMonthlyLimits, CredentialConfig, S3BackendConfig } from '../../src/config/types.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import type { BreakerOptions } from '../../src/gateway/routing/circuit-breaker.js';
import { silentLogger, type Logger } from '../../src/logging.js';
import type { HealthProvider } from '../../src/gateway/health.js';
import type { StoreApi } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { openStoreThread } from '../../src/store/thread/client.js';
import { appConfig, createTestDatabase, type EngineName } from './engines.js';
import { freshS3rverBuckets, MIXED_S3_BACKENDS, mixedBackendsRequested } from './mixed-backends.js';

/** Credentials every test gateway accepts. */
export const ADMIN = { accessKeyId: 'AKIDADMIN', secretAccessKey: 'admin-secret-key-0001' };
export const READER = { accessKeyId: 'AKIDREADER', secretAccessKey: 'reader-secret-key-0001' };
/** read-write on bucket "scoped" only. */
export const SCOPED = { accessKeyId: 'AKIDSCOPED', secretAccessKey: 'scoped-secret-key-0001' };

const CREDENTIALS: CredentialConfig[] = [
  { accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), buckets: '*', permission: 'admin' },
  { accessKeyId: READER.accessKeyId, secretAccessKey: new Secret(READER.secretAccessKey), buckets: '*', permission: 'read' },
  { accessKeyId: SCOPED.accessKeyId, secretAccessKey: new Secret(SCOPED.secretAccessKey), buckets: ['scoped'], permission: 'read-write' },
];

export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  /** The gateway's store: on its own thread for SQLite (as `serve` runs it) unless `storeThread: false`. */
  readonly store: StoreApi;
  readonly config: AppConfig;
  readonly backendDir: string;
  readonly backends: ReadonlyMap<string, BackendClient>;
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  close(): Promise<void>;
}

/**
 * One backend of a test gateway: a directory backend (under the test's directory) by default, or
 * an `s3` backend when `s3` is set (an s3rver process, another gateway: see s3BackendConfigOf),
 * served by `client` when given (e.g. a subclass of S3Backend that counts calls) or a new S3Backend.
 */
export interface TestBackend {
  readonly name: string;
  readonly bytesLimit: number;
  readonly monthlyLimits?: BackendMonthlyLimits;
  readonly s3?: S3BackendConfig;
  readonly client?: BackendClient;
}

/** The `s3` backend config of bucket `bucket` of another test gateway (a second gateway used as an S3 service). */
export function s3BackendConfigOf(tg: TestGateway, bucket: string, overrides: Partial<S3BackendConfig> = {}): S3BackendConfig {
  return { endpoint: tg.url, region: 'us-east-1', bucket, accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), forcePathStyle: true, timeoutMs: 10_000, ...overrides };
}

export interface TestGatewayOptions {
  /** Byte limit of the single directory backend "local" (0 = unlimited; each backend's in the mixed project). */
  readonly bytesLimit?: number;
  /**
   * The test is about the directory backend itself (its files on disk, one backend's quota): the
   * gateway keeps the single directory backend even in the `mixed` project.
   */
  readonly directoryOnly?: boolean;
  /** Several directory backends instead of "local" (each in its own directory under the test's). */
  readonly backends?: readonly TestBackend[];
  readonly placement?: 'pack' | 'spread';
  readonly breaker?: BreakerOptions;
  readonly buckets?: readonly string[];
  readonly maxObjectBytes?: number;
  /** Server settings over the defaults (admission, timeouts, TLS, metrics listener). */
  readonly server?: Partial<AppConfig['server']>;
  /** Default: silent. */
  readonly logger?: Logger;
  /** What /health asks about the database (default: always ok). */
  readonly health?: HealthProvider;
  /**
   * SQLite: the store runs on its own thread, as `serve` runs it (default). false: on the test's
   * thread, for a test that watches or replaces the store's database calls.
   */
  readonly storeThread?: boolean;
}

const running: TestGateway[] = [];

/** Stops every gateway a test started (call from afterEach). */
export async function closeGateways(): Promise<void> {
  for (const g of running.splice(0)) await g.close().catch(() => {});
}

/**
 * A real `serve`-like stack in this process: the store, one directory backend (or, in the `mixed`
 * project, two s3rver backends and one directory, spread), the S3 endpoint on a free port.
 */
export async function startTestGateway(engine: EngineName, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const database = await createTestDatabase(engine);
  const dir = mkdtempSync(join(tmpdir(), 's3o-gw-'));
  const backendDir = join(dir, 'backend');
  const bytesLimit = options.bytesLimit ?? 0;
  const mixed = !options.backends && !options.directoryOnly && mixedBackendsRequested();
  const declared: readonly TestBackend[] =
    options.backends ??
    (mixed
      ? [...(await freshS3rverBuckets()).map((s3, i) => ({ name: MIXED_S3_BACKENDS[i]!, bytesLimit, s3 })), { name: 'local', bytesLimit }]
      : [{ name: 'local', bytesLimit }]);
  const dirOf = (name: string) => (options.backends ? join(dir, 'backends', name) : backendDir);
  const placement = options.placement ?? (mixed ? 'spread' : undefined);
  const base = appConfig(database, { backends: declared, ...(placement ? { placement } : {}) });
  const config: AppConfig = {
    ...base,
    backends: declared.map(({ client: _client, ...b }) => (b.s3 ? b : { ...b, directory: dirOf(b.name) })),
    server: { ...defaultServerConfig(dir), port: 0, ...(options.maxObjectBytes ? { maxObjectBytes: options.maxObjectBytes } : {}), ...options.server },
    credentials: CREDENTIALS,
    buckets: options.buckets ?? [],
  };
  const store: StoreApi = engine === 'sqlite' && options.storeThread !== false ? await openStoreThread(config, { role: 'serve' }) : await openStore(config);
  await checkDirectoryBackends(config, store);
  const backends = new Map<string, BackendClient>(
    declared.map((b: TestBackend) => [b.name, b.client ?? (b.s3 ? new S3Backend(b.name, b.s3) : new DirectoryBackend(b.name, dirOf(b.name)))]),
  );
  const gateway = await startGateway({ store, config, backends, credentials: CREDENTIALS, logger: options.logger ?? silentLogger, ...(options.breaker ? { breaker: options.breaker } : {}), ...(options.health ? { health: options.health } : {}) });
  const clients: S3Client[] = [];
  const tg: TestGateway = {
    gateway,
    url: gateway.url,
    store,
    config,
    backendDir,
    backends,
    client(credentials = ADMIN) {
      const c = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await gateway.close(1000);
      await store.close();
      for (const b of backends.values()) if (b instanceof S3Backend) b.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.push(tg);
  return tg;
}
