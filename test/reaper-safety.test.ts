import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendHousekeeping } from '../src/backends/backend-client.js';
import { createBackendClients } from '../src/backends/backend-clients.js';
import type { DirectoryBackend } from '../src/backends/directory.js';
import { storageKeyPath } from '../src/backends/directory-paths.js';
import { checkDirectoryBackends } from '../src/backends/directory-identity.js';
import { loadConfig } from '../src/config/load.js';
import type { AppConfig } from '../src/config/types.js';
import type { Logger } from '../src/logging.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { openStore } from '../src/store/open.js';
import { BackendAvailability } from '../src/workers/backend-availability.js';
import { cleanupWorker } from '../src/workers/cleanup-worker.js';
import { intentReaper } from '../src/workers/intent-reaper.js';
import { JobRunner } from '../src/workers/job-runner.js';
import { ManualClock } from './support/clock.js';
import { describeEngines } from './support/engines.js';
import { FakeBackend } from './support/fake-backend.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

/**
 * Issue 9 items 1 and 2: the workers never take "cannot reach / cannot verify the backend" as "the
 * bytes are absent"; the reaper is not starved by intents of backends it cannot reach; and of
 * several unacknowledged writes of one key whose bytes all arrived, the newest wins.
 */

const MIN_AGE = 5 * 60_000;
const cwd = process.cwd();
const dirs: string[] = [];
const stores: MetadataStore[] = [];

afterEach(async () => {
  process.chdir(cwd);
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  await closeStores();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-safety-'));
  dirs.push(dir);
  return dir;
}

/** A logger that keeps its lines, to check what an outage logs. */
class RecordingLogger implements Logger {
  readonly lines: { level: string; msg: string }[] = [];
  error(_o: object, msg = ''): void {
    this.lines.push({ level: 'error', msg });
  }
  warn(_o: object, msg = ''): void {
    this.lines.push({ level: 'warn', msg });
  }
  info(_o: object, msg = ''): void {
    this.lines.push({ level: 'info', msg });
  }
  debug(_o: object, msg = ''): void {
    this.lines.push({ level: 'debug', msg });
  }
  child(): Logger {
    return this;
  }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.msg);
  }
}

function reaperRunner(store: MetadataStore, clients: ReadonlyMap<string, BackendHousekeeping>, logger: Logger, batchSize = 50, availability?: BackendAvailability) {
  const job = intentReaper(store, clients, { intervalMs: 1000, batchSize, concurrency: 2, minAgeMs: MIN_AGE }, logger, availability);
  return new JobRunner(store.db, job, logger);
}

function cleanupRunner(store: MetadataStore, clients: ReadonlyMap<string, BackendHousekeeping>, logger: Logger) {
  const job = cleanupWorker(store, clients, { workerId: 'w1', intervalMs: 1000, batchSize: 50, concurrency: 2, claimGraceMs: 60_000 }, logger);
  return new JobRunner(store.db, job, logger);
}

describe('a relative config used from another working directory (the new user of issue 9)', () => {
  /** A config next to its data, all paths relative: the SQLite file and the backend's directory. */
  function setUp(): { home: string; configFile: string } {
    const home = tempDir();
    const configFile = join(home, 'conf', 's3o.yaml');
    mkdirSync(join(home, 'conf'));
    writeFileSync(configFile, 'database:\n  path: ./state/meta.db\n  synchronous: normal\nbackends:\n  - name: disk\n    directory: ./bytes/disk\n');
    return { home, configFile };
  }

  async function start(configPath: string, clock: ManualClock): Promise<{ config: AppConfig; store: MetadataStore; clients: Map<string, DirectoryBackend> }> {
    const { config } = loadConfig(configPath, {});
    const store = await openStore(config, { clock });
    stores.push(store);
    await checkDirectoryBackends(config, store);
    return { config, store, clients: (await createBackendClients(config.backends)) as Map<string, DirectoryBackend> };
  }

  async function stop(store: MetadataStore): Promise<void> {
    stores.splice(stores.indexOf(store), 1);
    await store.close();
  }

  it("a pending write's bytes are found and committed, not dropped as absent", async () => {
    const { home, configFile } = setUp();
    const clock = new ManualClock();
    process.chdir(join(home, 'conf'));
    const first = await start('s3o.yaml', clock);
    const intent = await first.store.objects.beginWrite({ objectKey: 'b/photo', sizeBytes: 5, backendName: 'disk' });
    await first.clients.get('disk')!.put(intent.storageKey, Readable.from([Buffer.from('hello')]), 5);
    await stop(first.store); // crashed before the commit

    // Started again from elsewhere, with the config path relative to that place.
    const elsewhere = tempDir();
    process.chdir(elsewhere);
    const second = await start(relative(elsewhere, configFile), clock);
    expect(second.clients.get('disk')!.root).toBe(join(home, 'conf', 'bytes', 'disk'));
    clock.advance(MIN_AGE + 1);
    expect(await reaperRunner(second.store, second.clients, new RecordingLogger()).runOnce()).toEqual({ ran: true, handled: 1 });
    expect(await second.store.objects.head('b/photo')).toMatchObject({ sizeBytes: 5, etag: '"5d41402abc4b2a76b9719d911017c592"' });
    expect(existsSync(join(home, 'conf', 'bytes', 'disk', 'objects', storageKeyPath(intent.storageKey)))).toBe(true);
    expect(existsSync(join(elsewhere, 'bytes'))).toBe(false); // nothing created in the wrong place
    expect(existsSync(join(elsewhere, 'state'))).toBe(false);
    await expectLedgerConsistent(second.store);
  });

  it('with the backend directory missing, serve refuses to start, the reaper keeps the intent and the cleanup worker keeps the queued delete', async () => {
    const { home, configFile } = setUp();
    const clock = new ManualClock();
    const { store, clients } = await start(configFile, clock);
    const disk = clients.get('disk')!;
    // v1 committed, then overwritten by v2 (v1's bytes queued for deletion), then a crashed v3.
    const v1 = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 2, backendName: 'disk' });
    await disk.put(v1.storageKey, Readable.from([Buffer.from('v1')]), 2);
    await store.objects.commitWrite(v1, { etag: 'v1' });
    const v2 = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 2, backendName: 'disk' });
    await disk.put(v2.storageKey, Readable.from([Buffer.from('v2')]), 2);
    await store.objects.commitWrite(v2, { etag: 'v2' });
    const v3 = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 2, backendName: 'disk' });
    await disk.put(v3.storageKey, Readable.from([Buffer.from('v3')]), 2);
    expect((await store.cleanup.list()).map((r) => r.storageKey)).toEqual([v1.storageKey]);

    // The directory goes away (a volume not mounted, a wrong path).
    const root = disk.root;
    renameSync(root, `${root}.away`);
    const config = loadConfig(configFile, {}).config;
    await expect(checkDirectoryBackends(config, store)).rejects.toThrow(`backend "disk" is unavailable: ${root} does not exist`);

    const logger = new RecordingLogger();
    const availability = new BackendAvailability(clients, logger);
    clock.advance(MIN_AGE + 1);
    const reaper = reaperRunner(store, clients, logger, 50, availability);
    const cleanup = new JobRunner(
      store.db,
      cleanupWorker(store, clients, { workerId: 'w1', intervalMs: 1000, batchSize: 50, concurrency: 2, claimGraceMs: 60_000 }, logger, availability),
      logger,
    );
    for (let i = 0; i < 3; i++) {
      expect(await reaper.runOnce()).toEqual({ ran: true, handled: 0 });
      expect(await cleanup.runOnce()).toEqual({ ran: true, handled: 0 });
    }
    expect((await store.intents.listOlderThan(new Date(8.64e15), 10)).map((i) => i.intentId)).toEqual([v3.intentId]);
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.attempts])).toEqual([[v1.storageKey, 0]]); // not done, no attempt spent
    expect(logger.at('warn')).toEqual([`backend "disk" is unavailable: ${root} has no .s3-orchestrator-backend.json (the directory is gone, or is not this backend's); its cleanup rows and intents wait until it is back`]);
    expect(existsSync(root)).toBe(false); // and nothing recreated it

    // Back in place: the work resumes; v3 (the newest, its bytes there) wins, v1's file is deleted.
    renameSync(`${root}.away`, root);
    expect(await reaper.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(await cleanup.runOnce()).toEqual({ ran: true, handled: 2 }); // v1, and v2 displaced by v3
    expect(logger.at('info')).toContain('backend "disk" is available again; its work resumes');
    expect((await store.objects.head('b/k')).copies[0]!.storageKey).toBe(v3.storageKey);
    expect(existsSync(join(root, 'objects', storageKeyPath(v1.storageKey)))).toBe(false);
    expect(existsSync(join(root, 'objects', storageKeyPath(v3.storageKey)))).toBe(true);
    await expectLedgerConsistent(store);
  });
});

describeEngines('the reaper and the cleanup worker with unreachable backends', (engine) => {
  const backends = [
    { name: 'alpha', bytesLimit: 1000 },
    { name: 'ghost', bytesLimit: 0 }, // no client at all
    { name: 'down', bytesLimit: 0 }, // a client whose backend is unavailable
  ];

  it('more intents of unreachable backends than batch_size do not starve a reachable backend', async () => {
    const { store, clock } = await openTestStore(engine, { backends });
    const alpha = new FakeBackend('alpha');
    const down = new FakeBackend('down');
    down.down = true;
    const batch = 3;
    for (let i = 0; i < batch + 2; i++) {
      await store.objects.beginWrite({ objectKey: `b/ghost-${i}`, sizeBytes: 1, backendName: 'ghost' });
      await store.objects.beginWrite({ objectKey: `b/down-${i}`, sizeBytes: 1, backendName: 'down' });
    }
    clock.advance(1000);
    const mine = [];
    for (let i = 0; i < 2; i++) {
      const intent = await store.objects.beginWrite({ objectKey: `b/alpha-${i}`, sizeBytes: 10, backendName: 'alpha' });
      alpha.put(intent.storageKey, 10);
      mine.push(intent);
    }
    clock.advance(MIN_AGE + 1);
    const clients = new Map([
      ['alpha', alpha],
      ['down', down],
    ]);
    expect(await reaperRunner(store, clients, new RecordingLogger(), batch).runOnce()).toEqual({ ran: true, handled: 2 });
    for (let i = 0; i < 2; i++) expect((await store.objects.head(`b/alpha-${i}`)).sizeBytes).toBe(10);
    expect(down.heads).toEqual([]); // never asked while unavailable
    const left = await store.intents.listOlderThan(new Date(8.64e15), 100);
    expect(left.filter((i) => i.backendName === 'alpha')).toEqual([]);
    expect(left).toHaveLength(2 * (batch + 2));
    expect((await store.quota.totals()).find((q) => q.backendName === 'alpha')).toMatchObject({ inflightBytes: 0, bytesUsed: 20 });
    await expectLedgerConsistent(store);
  });

  it('a backend found unavailable in the middle of a cleanup batch gets its rows back unchanged', async () => {
    const { store } = await openTestStore(engine, { backends });
    const down = new FakeBackend('down');
    for (let i = 0; i < 3; i++) {
      const w = await store.objects.beginWrite({ objectKey: `b/k${i}`, sizeBytes: 1, backendName: 'down' });
      await store.objects.commitWrite(w, { etag: `e${i}` });
      await store.objects.deleteObject(`b/k${i}`);
    }
    // Available when the tick checks, gone by the time it deletes (the root vanished between the two).
    const clients = new Map([['down', down]]);
    const logger = new RecordingLogger();
    const originalDelete = down.delete.bind(down);
    down.delete = async (key: string) => {
      down.down = true;
      return originalDelete(key);
    };
    expect(await cleanupRunner(store, clients, logger).runOnce()).toEqual({ ran: true, handled: 0 });
    expect((await store.cleanup.list()).map((r) => [r.attempts, r.claimedBy])).toEqual([
      [0, null],
      [0, null],
      [0, null],
    ]);
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect(logger.at('warn')).toHaveLength(1);
    await expectLedgerConsistent(store);
  });
});

describeEngines('several unacknowledged writes of one key: the newest wins', (engine) => {
  async function crashedWrites(store: MetadataStore, clock: ManualClock, backend: FakeBackend, sizes: readonly number[], withBytes: readonly boolean[]) {
    const intents = [];
    for (let i = 0; i < sizes.length; i++) {
      const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: sizes[i]!, backendName: 'alpha' });
      if (withBytes[i]) backend.put(intent.storageKey, sizes[i]!, `"w${i}"`);
      intents.push(intent);
      clock.advance(1000);
    }
    return intents;
  }

  it('all three wrote their bytes: the newest becomes current, the older ones are queued as superseded', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend('alpha');
    const [oldest, middle, newest] = await crashedWrites(store, clock, backend, [10, 20, 30], [true, true, true]);
    clock.advance(MIN_AGE);
    const runner = reaperRunner(store, new Map([['alpha', backend]]), new RecordingLogger());
    let ticks = 0;
    while ((await store.intents.summary()).count > 0 && ticks < 5) {
      await runner.runOnce();
      ticks++;
    }
    expect(ticks).toBe(2); // the newest first; the older ones, no longer held back, on the next tick
    expect(await store.objects.head('b/k')).toMatchObject({ sizeBytes: 30, etag: '"w2"' });
    expect((await store.objects.head('b/k')).copies[0]!.storageKey).toBe(newest!.storageKey);
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.reason]).sort()).toEqual(
      [
        [oldest!.storageKey, 'superseded'],
        [middle!.storageKey, 'superseded'],
      ].sort(),
    );
    await expectLedgerConsistent(store);
  });

  it('the newest never wrote its bytes: it is dropped, and the newest of the others wins', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend('alpha');
    const [oldest, middle] = await crashedWrites(store, clock, backend, [10, 20, 30], [true, true, false]);
    clock.advance(MIN_AGE);
    const runner = reaperRunner(store, new Map([['alpha', backend]]), new RecordingLogger());
    for (let i = 0; i < 4 && (await store.intents.summary()).count > 0; i++) await runner.runOnce();
    expect(await store.objects.head('b/k')).toMatchObject({ sizeBytes: 20, etag: '"w1"' });
    expect((await store.objects.head('b/k')).copies[0]!.storageKey).toBe(middle!.storageKey);
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.reason])).toEqual([[oldest!.storageKey, 'superseded']]);
    await expectLedgerConsistent(store);
  });

  it('an older intent waits while a newer write of its key is still in progress, and is superseded by its commit', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend('alpha');
    const [crashed] = await crashedWrites(store, clock, backend, [10], [true]);
    clock.advance(MIN_AGE);
    const live = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 7, backendName: 'alpha' }); // young: its writer is at work
    const runner = reaperRunner(store, new Map([['alpha', backend]]), new RecordingLogger());
    expect(await runner.runOnce()).toEqual({ ran: true, handled: 0 });
    expect(backend.heads).toEqual([]);
    await store.objects.commitWrite(live, { etag: 'live' });
    expect(await runner.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(await store.objects.head('b/k')).toMatchObject({ etag: 'live', sizeBytes: 7 });
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.reason])).toEqual([[crashed!.storageKey, 'superseded']]);
    await expectLedgerConsistent(store);
  });
});
