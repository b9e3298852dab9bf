import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { BackendClient } from '../../src/backends/backend-client.js';
import { checkDirectoryBackends } from '../../src/backends/directory-identity.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { Secret } from '../../src/config/secret.js';
import { defaultServerConfig } from '../../src/config/server.js';
import type { AppConfig, CredentialConfig, DatabaseConfig, UiConfig } from '../../src/config/types.js';
import type { Dashboard } from '../../src/dashboard/index.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { silentLogger } from '../../src/logging.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';

/**
 * The dashboard's fixture, shared by the browser tests and scripts/dashboard-screenshots.ts (so it
 * imports nothing of vitest): a gateway in this process over two directory backends with real
 * data written through the S3 endpoint, and the system Chromium driven by puppeteer-core.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const ADMIN = { accessKeyId: 'AKIDDASHADMIN', secretAccessKey: 'dashboard-admin-secret-0001' };
export const READER = { accessKeyId: 'AKIDDASHREADER', secretAccessKey: 'dashboard-reader-secret-0001' };

const CREDENTIALS: CredentialConfig[] = [
  { accessKeyId: ADMIN.accessKeyId, secretAccessKey: new Secret(ADMIN.secretAccessKey), buckets: '*', permission: 'admin' },
  { accessKeyId: READER.accessKeyId, secretAccessKey: new Secret(READER.secretAccessKey), buckets: '*', permission: 'read' },
];

export interface DashboardGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly store: MetadataStore;
  readonly config: AppConfig;
  readonly dashboard: Dashboard;
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  close(): Promise<void>;
}

export interface DashboardGatewayOptions {
  readonly ui?: Partial<UiConfig>;
}

/** `alpha` (64 MiB, monthly limits) and `beta` (unlimited); notifications to a closed port, so events stay in the outbox. */
export async function startDashboardGateway(database: DatabaseConfig, options: DashboardGatewayOptions = {}): Promise<DashboardGateway> {
  const dir = mkdtempSync(join(tmpdir(), 's3o-dash-'));
  const schedule = { intervalMs: 1000, batchSize: 100, concurrency: 4 };
  const config: AppConfig = {
    database,
    backends: [
      { name: 'alpha', bytesLimit: 64 * 1024 * 1024, directory: join(dir, 'alpha'), monthlyLimits: { apiRequests: 1000, egressBytes: 0, ingressBytes: 32 * 1024 * 1024 } },
      { name: 'beta', bytesLimit: 0, directory: join(dir, 'beta') },
    ],
    placement: 'pack',
    workers: {
      // One failed delete makes a dead letter; an intent is "old" after a second.
      cleanup: { ...schedule, claimGraceMs: 60_000, maxAttempts: 1 },
      reaper: { ...schedule, minAgeMs: 1000 },
      outbox: { ...schedule, claimGraceMs: 60_000 },
      usageFlush: { intervalMs: 1000 },
      multipartExpiry: { ...schedule, maxAgeMs: 24 * 3600_000 },
      reconcile: { intervalMs: 3600_000 },
    },
    notifications: {
      source: 's3-orchestrator/dashboard-test',
      endpoints: [{ name: 'hook', url: 'http://127.0.0.1:9/events', secret: undefined, timeoutMs: 1000, maxAttempts: 1, events: ['ObjectCreated', 'ObjectRemoved'] }],
    },
    logging: { level: 'silent' },
    server: { ...defaultServerConfig(dir), port: 0 },
    credentials: CREDENTIALS,
    buckets: [],
    ui: { enabled: true, sessionTtlMs: 8 * 3600_000, ...options.ui },
  };
  const store = await openStore(config);
  await checkDirectoryBackends(config, store);
  const backends = new Map<string, BackendClient>(config.backends.map((b) => [b.name, new DirectoryBackend(b.name, b.directory!)]));
  const gateway = await startGateway({ store, config, backends, credentials: CREDENTIALS, logger: silentLogger });
  const dashboard = gateway.deps.ui as Dashboard | undefined;
  if (!dashboard) throw new Error('the gateway mounted no dashboard (ui.enabled is true)');
  const clients: S3Client[] = [];
  return {
    gateway,
    url: gateway.url,
    store,
    config,
    dashboard,
    client(credentials = ADMIN) {
      const c = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await gateway.close(1000);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Seeded {
  /** `photos/2024/cat.jpg` and friends, by key. */
  readonly photos: ReadonlyMap<string, Buffer>;
  /** Keys of the `logs` bucket: more than one browser page under `app/`. */
  readonly logKeys: readonly string[];
  readonly deadLetterIds: readonly number[];
  readonly failedEventIds: readonly number[];
  readonly openIntentKey: string;
}

/** Real data: buckets and objects written through the S3 endpoint, dead letters, a failed event, an old intent. */
export async function seed(tg: DashboardGateway, options: { logObjects?: number } = {}): Promise<Seeded> {
  const s3 = tg.client();
  for (const Bucket of ['photos', 'logs', 'backups']) await s3.send(new CreateBucketCommand({ Bucket }));
  const photos = new Map<string, Buffer>([
    ['2024/cat.jpg', Buffer.alloc(300_000, 7)],
    ['2024/dog.jpg', Buffer.alloc(120_000, 3)],
    ['2025/summer/beach.png', Buffer.alloc(2_500_000, 9)],
    ['readme.txt', Buffer.from('Holiday photos <b>not bold</b> & friends\n')],
  ]);
  for (const [Key, Body] of photos) {
    await s3.send(
      new PutObjectCommand({
        Bucket: 'photos',
        Key,
        Body,
        ContentType: Key.endsWith('.txt') ? 'text/plain' : Key.endsWith('.png') ? 'image/png' : 'image/jpeg',
        Metadata: { camera: 'x100v', album: Key.split('/')[0]! },
      }),
    );
  }
  const logKeys: string[] = [];
  const n = options.logObjects ?? 105;
  for (let i = 0; i < n; i++) {
    const Key = `app/2025-06-${String((i % 30) + 1).padStart(2, '0')}/part-${String(i).padStart(4, '0')}.log`;
    logKeys.push(Key);
    await s3.send(new PutObjectCommand({ Bucket: 'logs', Key, Body: `line ${i}\n`.repeat(50), ContentType: 'text/plain' }));
  }
  await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'db/2025-06-01.dump', Body: Buffer.alloc(5_000_000, 1) }));
  await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'db/2025-06-02.dump', Body: Buffer.alloc(5_000_000, 2) }));
  // A few reads and a miss (a 404) for the activity figures.
  await (await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'readme.txt' }))).Body!.transformToString();
  await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'missing.jpg' })).catch(() => undefined);

  // Dead letters: deletes whose cleanup failed its only attempt.
  for (const Key of ['db/2025-06-01.dump', 'db/2025-06-02.dump']) await s3.send(new DeleteObjectCommand({ Bucket: 'backups', Key }));
  const tasks = await tg.store.cleanup.claim('dashboard-test', 10, 60_000);
  for (const t of tasks) await tg.store.cleanup.fail(t, 'dashboard-test', `EACCES: permission denied, unlink '${t.storageKey}'`);
  const deadLetterIds = (await tg.store.cleanup.listDeadLetters()).map((d) => d.id);

  // One event whose delivery failed for good; the rest stay pending (the endpoint is a closed port).
  const [event] = await tg.store.outbox.claim('dashboard-test', 1, 60_000);
  await tg.store.outbox.fail(event!, 'dashboard-test', 'connect ECONNREFUSED 127.0.0.1:9', 1);
  const failedEventIds = (await tg.store.outbox.list({ state: 'failed' })).map((e) => e.id);

  // A write admitted and never committed (its writer died), older than the reaper's minimum age.
  const openIntentKey = 'photos/2025/summer/upload-in-progress.mov';
  await tg.store.objects.beginWrite({ objectKey: openIntentKey, sizeBytes: 1_048_576 });
  await new Promise((r) => setTimeout(r, 1100));
  return { photos, logKeys, deadLetterIds, failedEventIds, openIntentKey };
}

/** The system Chromium, headless. Its absence is a failure with the way out, never a skip. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the dashboard's browser tests need the Debian package "chromium" (.ci/run installs it; by hand: apt-get install chromium), or CHROMIUM_PATH`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
  });
}

/** Signs in through the form; resolves once the next page has loaded. */
export async function signIn(page: Page, baseUrl: string, credentials: { accessKeyId: string; secretAccessKey: string } = ADMIN): Promise<number | undefined> {
  await page.goto(`${baseUrl}/ui/login`, { waitUntil: 'load' });
  await page.type('input[name=accessKeyId]', credentials.accessKeyId);
  await page.type('input[name=secretAccessKey]', credentials.secretAccessKey);
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/ui/login"] button[type=submit]')]);
  return response?.status();
}

/** The visible text of an element (throws when absent). */
export async function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => (el as unknown as { innerText: string }).innerText);
}
