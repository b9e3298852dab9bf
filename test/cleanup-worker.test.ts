import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../src/logging.js';
import { backoffMs, CLEANUP_BACKOFF } from '../src/store/core/backoff.js';
import type { DeadLetterSelector } from '../src/store/core/cleanup-queue.js';
import { InvalidArgumentError } from '../src/store/core/errors.js';
import { MetadataStore } from '../src/store/core/store.js';
import type { CleanupTask } from '../src/store/core/types.js';
import { cleanupWorker, type CleanupWorkerOptions } from '../src/workers/cleanup-worker.js';
import { JobRunner, type WorkerJob } from '../src/workers/job-runner.js';
import { describeEngines } from './support/engines.js';
import { FakeBackend } from './support/fake-backend.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

const GRACE = 60_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** An aborted write: its bytes are on the backend (and in `fake`, when given) and a cleanup row holds them. */
async function orphan(store: MetadataStore, objectKey: string, sizeBytes: number, backendName = 'alpha', fake?: FakeBackend): Promise<string> {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName });
  fake?.put(intent.storageKey, sizeBytes);
  expect(await store.objects.abortWrite(intent)).toBe(true);
  return intent.storageKey;
}

/**
 * `n` cleanup rows on alpha made the three real ways (aborted write, deleted object, overwritten
 * object), every written byte also put on `fake`. `live` are the copies still referenced.
 */
async function makeOrphans(store: MetadataStore, fake: FakeBackend, n: number): Promise<{ keys: string[]; live: string[]; bytes: number }> {
  const keys: string[] = [];
  const live: string[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const objectKey = `q/${i}`;
    const size = 10 + (i % 7);
    bytes += size;
    const first = await store.objects.beginWrite({ objectKey, sizeBytes: size, backendName: 'alpha' });
    fake.put(first.storageKey, size);
    keys.push(first.storageKey);
    if (i % 3 === 0) {
      await store.objects.abortWrite(first);
      continue;
    }
    await store.objects.commitWrite(first, { etag: 'e' });
    if (i % 3 === 1) {
      await store.objects.deleteObject(objectKey);
      continue;
    }
    const second = await store.objects.beginWrite({ objectKey, sizeBytes: 5, backendName: 'alpha' });
    fake.put(second.storageKey, 5);
    live.push(second.storageKey);
    await store.objects.commitWrite(second, { etag: 'e2' });
  }
  return { keys, live, bytes };
}

function worker(store: MetadataStore, fake: FakeBackend, workerId: string, options: Partial<CleanupWorkerOptions> = {}): WorkerJob {
  return cleanupWorker(store, new Map([['alpha', fake]]), { workerId, intervalMs: 1000, batchSize: 10, concurrency: 4, claimGraceMs: GRACE, ...options }, silentLogger);
}

function runner(store: MetadataStore, fake: FakeBackend, workerId: string, options: Partial<CleanupWorkerOptions> = {}): JobRunner {
  return new JobRunner(store.db, worker(store, fake, workerId, options), silentLogger);
}

async function quotaOf(store: MetadataStore, backend: string) {
  const q = (await store.quota.totals()).find((t) => t.backendName === backend);
  if (!q) throw new Error(`no quota row for ${backend}`);
  return q;
}

async function queueIds(store: MetadataStore): Promise<number[]> {
  return (await store.cleanup.list({ limit: 1000 })).map((r) => r.id);
}

async function queueDepth(store: MetadataStore): Promise<number> {
  return (await store.cleanup.depths()).reduce((n, d) => n + d.queueRows, 0);
}

/** Fails every queued row through the API until all of them are dead letters (10 attempts each). */
async function deadLetterAll(store: MetadataStore, clock: { advance(ms: number): Date }): Promise<void> {
  for (let round = 1; round <= 10; round++) {
    const tasks = await store.cleanup.claim('doomed', 1000, GRACE);
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) expect(await store.cleanup.fail(t, 'doomed', `failure ${round}`)).toBe(round < 10 ? 'retry' : 'dead-letter');
    clock.advance(DAY + 1);
  }
  expect(await queueDepth(store)).toBe(0);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A FakeBackend that tells the test when a delete has started (it then waits for `gate`). */
class SignallingBackend extends FakeBackend {
  readonly entered = deferred();

  override async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    this.entered.resolve();
    return super.delete(storageKey);
  }
}

function countDeletes(fake: FakeBackend): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of fake.deletes) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

describeEngines('cleanup queue and worker', (engine) => {
  it('two workers claiming at once get disjoint rows, together at most all of them', async () => {
    const { store, clock } = await openTestStore(engine);
    for (let i = 0; i < 10; i++) await orphan(store, `c/${i}`, 10 + i);
    const all = await queueIds(store);
    expect(all).toHaveLength(10);

    const [a, b] = await Promise.all([store.cleanup.claim('w-a', 6, GRACE), store.cleanup.claim('w-b', 6, GRACE)]);
    expect(a.length).toBeLessThanOrEqual(6);
    expect(b.length).toBeLessThanOrEqual(6);
    const claimed = [...a, ...b].map((t) => t.id);
    expect(new Set(claimed).size).toBe(claimed.length); // disjoint
    expect([...claimed].sort((x, y) => x - y)).toEqual(all); // they asked for 12: they got all 10, each once
    expect(a.every((t) => t.claimedBy === 'w-a' && t.claimedAt?.getTime() === clock.now().getTime())).toBe(true);
    expect(b.every((t) => t.claimedBy === 'w-b' && t.claimedAt?.getTime() === clock.now().getTime())).toBe(true);
    const rows = await store.cleanup.list();
    for (const r of rows) expect(r.claimedBy).toBe(a.some((t) => t.id === r.id) ? 'w-a' : 'w-b');
    expect(await store.cleanup.claim('w-c', 10, GRACE)).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('claims from two store instances are disjoint as well', async () => {
    const { store, openAnother } = await openTestStore(engine);
    const other = await openAnother();
    for (let i = 0; i < 12; i++) await orphan(store, `c/${i}`, 5);
    const all = await queueIds(store);
    // Postgres: two pools racing. SQLite serves one instance (the second store is an operator's), so
    // there the two claims take turns; the expectations are the same.
    const claimBoth = async (): Promise<[CleanupTask[], CleanupTask[]]> =>
      engine === 'postgres'
        ? Promise.all([store.cleanup.claim('inst-1', 5, GRACE), other.cleanup.claim('inst-2', 5, GRACE)])
        : [await store.cleanup.claim('inst-1', 5, GRACE), await other.cleanup.claim('inst-2', 5, GRACE)];
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      const [a, b] = await claimBoth();
      expect(a.length).toBeLessThanOrEqual(5);
      expect(b.length).toBeLessThanOrEqual(5);
      expect(a.every((t) => t.claimedBy === 'inst-1')).toBe(true);
      expect(b.every((t) => t.claimedBy === 'inst-2')).toBe(true);
      seen.push(...a.map((t) => t.id), ...b.map((t) => t.id));
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((x, y) => x - y)).toEqual(all);
    await expectLedgerConsistent(store);
  });

  it('the rows of a worker killed mid-claim are taken over only after the grace period', async () => {
    const { store, clock } = await openTestStore(engine);
    const fake = new FakeBackend();
    const keys = [await orphan(store, 'k/1', 11, 'alpha', fake), await orphan(store, 'k/2', 22, 'alpha', fake), await orphan(store, 'k/3', 33, 'alpha', fake)];
    const ids = await queueIds(store);
    const claimedAt = clock.now();
    const dead = await store.cleanup.claim('dead', 10, GRACE);
    expect(dead.map((t) => t.id)).toEqual(ids);
    expect(await store.cleanup.claim('heir', 10, GRACE)).toEqual([]);
    clock.advance(GRACE - 1);
    expect(await store.cleanup.claim('heir', 10, GRACE)).toEqual([]);
    expect(await runner(store, fake, 'cleaner').runOnce()).toEqual({ ran: true, handled: 0 });
    expect(fake.deletes).toEqual([]);

    clock.advance(2); // grace + 1 after the claim
    const taken = await store.cleanup.claim('heir', 10, GRACE);
    expect(taken.map((t) => t.id)).toEqual(ids);
    for (const r of await store.cleanup.list()) {
      expect(r).toMatchObject({ claimedBy: 'heir', attempts: 0, lastError: null });
      expect(r.claimedAt?.getTime()).toBe(claimedAt.getTime() + GRACE + 1);
    }
    expect(await store.cleanup.claim('third', 10, GRACE)).toEqual([]);

    // The heir dies too: after its grace period a cleanup worker takes the rows over and finishes them.
    clock.advance(GRACE + 1);
    expect(await runner(store, fake, 'cleaner').runOnce()).toEqual({ ran: true, handled: 3 });
    expect([...fake.deletes].sort()).toEqual([...keys].sort());
    expect(fake.objects.size).toBe(0);
    expect(await store.cleanup.list()).toEqual([]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0 });
    await expectLedgerConsistent(store);
  });

  it('a stopping worker that releases its claims makes them due at once', async () => {
    const { store, clock } = await openTestStore(engine);
    for (let i = 0; i < 4; i++) await orphan(store, `r/${i}`, 7);
    const ids = await queueIds(store);
    const claimed = await store.cleanup.claim('stopping', 10, GRACE);
    expect(claimed.map((t) => t.id)).toEqual(ids);
    expect(await store.cleanup.release([], 'stopping')).toBe(0);
    expect(await store.cleanup.release(ids, 'someone-else')).toBe(0); // only the holder hands back
    expect(await store.cleanup.claim('other', 10, GRACE)).toEqual([]);
    clock.advance(5);
    expect(await store.cleanup.release(ids, 'stopping')).toBe(4);
    for (const r of await store.cleanup.list()) {
      expect(r).toMatchObject({ claimedBy: null, claimedAt: null, attempts: 0, lastError: null });
      expect(r.nextRetry.getTime()).toBe(clock.now().getTime());
    }
    const taken = await store.cleanup.claim('other', 10, GRACE); // no clock advance needed
    expect(taken.map((t) => t.id)).toEqual(ids);
    expect(taken.every((t) => t.claimedBy === 'other')).toBe(true);
    await expectLedgerConsistent(store);
  });

  it('a worker tick aborted mid-batch finishes the delete in progress and hands back the rest', async () => {
    const { store, clock } = await openTestStore(engine);
    const fake = new SignallingBackend();
    for (let i = 0; i < 3; i++) await orphan(store, `s/${i}`, 10 + i, 'alpha', fake);
    const ids = await queueIds(store);
    const gate = deferred();
    fake.gate = gate.promise;
    const stop = new AbortController();
    const tick = worker(store, fake, 'w-stop', { concurrency: 1 }).tick(stop.signal, () => true);
    await fake.entered.promise;
    stop.abort();
    gate.resolve();
    await tick;
    expect(fake.deletes).toHaveLength(1);
    const left = await store.cleanup.list();
    expect(left.map((r) => r.id)).toEqual(ids.filter((id) => id !== ids[0]));
    for (const r of left) {
      expect(r).toMatchObject({ claimedBy: null, claimedAt: null, attempts: 0 });
      expect(r.nextRetry.getTime()).toBe(clock.now().getTime());
    }
    // A worker that lost its leader lock does the same: claims nothing away for the grace period.
    await worker(store, fake, 'w-lost').tick(new AbortController().signal, () => false);
    expect(fake.deletes).toHaveLength(1);
    expect((await store.cleanup.claim('next', 10, GRACE)).map((t) => t.id)).toEqual(left.map((r) => r.id));
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 11 + 12 });
    await expectLedgerConsistent(store);
  });

  it('200 rows are processed exactly once by 4 leader-run workers on two instances', async () => {
    const { store, openAnother } = await openTestStore(engine);
    const other = await openAnother();
    const fake = new FakeBackend();
    const made = await makeOrphans(store, fake, 200);
    expect((await store.cleanup.list({ limit: 1000 })).map((r) => r.storageKey).sort()).toEqual([...made.keys].sort());
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: made.bytes });

    const runners = [0, 1, 2, 3].map((i) => runner(i < 2 ? store : other, fake, `leader-${i}`, { batchSize: 16, concurrency: 4 }));
    let handled = 0;
    for (let round = 0; (await queueDepth(store)) > 0; round++) {
      expect(round).toBeLessThan(60);
      const outcomes = await Promise.all(runners.map((r) => r.runOnce()));
      expect(outcomes.some((o) => o.ran)).toBe(true);
      for (const o of outcomes) if (o.ran) handled += o.handled;
    }
    expect(handled).toBe(200);
    const counts = countDeletes(fake);
    expect([...counts.keys()].sort()).toEqual([...made.keys].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect([...fake.objects.keys()].sort()).toEqual([...made.live].sort()); // live copies untouched
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0, bytesUsed: made.live.length * 5 });
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('200 rows are processed exactly once by 4 workers ticking at the same time (no leader lock)', async () => {
    const { store } = await openTestStore(engine);
    const fake = new FakeBackend();
    const made = await makeOrphans(store, fake, 200);
    const jobs = [0, 1, 2, 3].map((i) => worker(store, fake, `w-${i}`, { batchSize: 16, concurrency: 4 }));
    const signal = new AbortController().signal;
    let handled = 0;
    for (let round = 0; (await queueDepth(store)) > 0; round++) {
      expect(round).toBeLessThan(60);
      const results = await Promise.all(jobs.map((j) => j.tick(signal, () => true)));
      handled += results.reduce((a, b) => a + b, 0);
    }
    expect(handled).toBe(200);
    expect(fake.deletes).toHaveLength(200);
    const counts = countDeletes(fake);
    expect([...counts.keys()].sort()).toEqual([...made.keys].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect([...fake.objects.keys()].sort()).toEqual([...made.live].sort());
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0 });
    expect(await store.cleanup.depths()).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('a delete that finds the bytes already gone (404) counts as done, never as a failure', async () => {
    const { store, clock } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    const fake = new FakeBackend();
    const gone = await orphan(store, 'g/gone', 40); // never put on the fake: delete answers not-found
    const present = await orphan(store, 'g/present', 60, 'alpha', fake);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 100, freeBytes: 900 });
    expect(await runner(store, fake, 'w').runOnce()).toEqual({ ran: true, handled: 2 });
    expect([...fake.deletes].sort()).toEqual([gone, present].sort());
    expect(await store.cleanup.list()).toEqual([]);
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0, freeBytes: 1000 });
    clock.advance(DAY);
    expect(await runner(store, fake, 'w').runOnce()).toEqual({ ran: true, handled: 0 });
    await expectLedgerConsistent(store);
  });

  it('a failing delete is retried after min(1 min × 2^attempts, 24 h) and dead-lettered after the 10th failure', async () => {
    const { store, clock } = await openTestStore(engine);
    const fake = new FakeBackend();
    const t0 = clock.now();
    const key = await orphan(store, 'f/1', 123, 'alpha', fake);
    const [row] = await store.cleanup.list();
    fake.failWith = new Error('backend down');
    const run = runner(store, fake, 'w');
    const retries: string[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      const failedAt = clock.now().getTime();
      expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
      const [after] = await store.cleanup.list();
      expect(after).toMatchObject({ id: row!.id, attempts: attempt + 1, lastError: 'delete failed: backend down', claimedBy: null, claimedAt: null });
      const delay = after!.nextRetry.getTime() - failedAt;
      expect(delay).toBe(Math.min(MINUTE * 2 ** attempt, DAY));
      retries.push(after!.nextRetry.toISOString());
      // Not claimable a millisecond before its time, claimable at it.
      clock.advance(delay - 1);
      expect(await run.runOnce()).toEqual({ ran: true, handled: 0 });
      expect(await store.cleanup.claim('peek', 1, GRACE)).toEqual([]);
      clock.advance(1);
    }
    // The clock starts at 2026-03-14T12:00Z and each retry runs right when it is due.
    expect(retries.slice(0, 5)).toEqual([
      '2026-03-14T12:01:00.000Z',
      '2026-03-14T12:03:00.000Z',
      '2026-03-14T12:07:00.000Z',
      '2026-03-14T12:15:00.000Z',
      '2026-03-14T12:31:00.000Z',
    ]);
    expect(retries[8]).toBe('2026-03-14T20:31:00.000Z');
    expect(fake.deletes).toEqual([]);

    // The 10th failure moves the row to the dead-letter table; the bytes stay orphaned.
    expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(await store.cleanup.list()).toEqual([]);
    const dead = await store.cleanup.listDeadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ originalId: row!.id, backendName: 'alpha', storageKey: key, objectKey: 'f/1', reason: 'aborted', sizeBytes: 123, attempts: 10, lastError: 'delete failed: backend down' });
    expect(dead[0]!.firstEnqueuedAt.getTime()).toBe(t0.getTime());
    expect(dead[0]!.movedAt.getTime()).toBe(clock.now().getTime());
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 123 });
    expect(await store.cleanup.depths()).toEqual([{ backendName: 'alpha', queueRows: 0, queueBytes: 0, deadLetterRows: 1, deadLetterBytes: 123 }]);
    fake.failWith = undefined;
    clock.advance(7 * DAY);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 0 }); // dead letters wait for an operator
    expect(fake.objects.has(key)).toBe(true);
    await expectLedgerConsistent(store);
  });

  it('the retry delay doubles from 1 min and caps at 24 h', async () => {
    const delayFor = (attempts: number) => backoffMs(attempts, CLEANUP_BACKOFF.baseMs, CLEANUP_BACKOFF.capMs);
    expect([0, 1, 2, 3, 10, 11, 12, 51, 52, 1000].map(delayFor)).toEqual([MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 1024 * MINUTE, DAY, DAY, DAY, DAY, DAY]);

    // Through the store, with a retry budget long enough to reach the cap (a second store object on the same database).
    const { store, clock } = await openTestStore(engine);
    const patient = new MetadataStore(store.db, {
      backends: [
        { name: 'alpha', bytesLimit: 1_000_000 },
        { name: 'beta', bytesLimit: 0 },
      ],
      clock,
      cleanupMaxAttempts: 14,
    });
    await orphan(store, 'cap/1', 9);
    const delays: number[] = [];
    for (let attempts = 0; attempts < 13; attempts++) {
      const [task] = await patient.cleanup.claim('w', 1, GRACE);
      expect(task?.attempts).toBe(attempts);
      const failedAt = clock.now().getTime();
      expect(await patient.cleanup.fail(task!, 'w', 'boom')).toBe('retry');
      const [row] = await patient.cleanup.list();
      delays.push((row!.nextRetry.getTime() - failedAt) / MINUTE);
      clock.advance(row!.nextRetry.getTime() - failedAt - 1);
      expect(await patient.cleanup.claim('w', 1, GRACE)).toEqual([]);
      clock.advance(1);
    }
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1440, 1440]);
    const [last] = await patient.cleanup.claim('w', 1, GRACE);
    expect(await patient.cleanup.fail(last!, 'w', 'boom')).toBe('dead-letter');
    expect(await patient.cleanup.listDeadLetters()).toMatchObject([{ attempts: 14, lastError: 'boom', sizeBytes: 9 }]);
    await expectLedgerConsistent(store);
  });

  it('operators requeue dead letters by id, by backend and all; the counters do not move', async () => {
    const { store, clock } = await openTestStore(engine);
    for (const [key, size, backend] of [
      ['a/1', 10, 'alpha'],
      ['a/2', 20, 'alpha'],
      ['a/3', 30, 'alpha'],
      ['b/1', 40, 'beta'],
      ['b/2', 50, 'beta'],
    ] as const)
      await orphan(store, key, size, backend);
    await deadLetterAll(store, clock);
    const dead = await store.cleanup.listDeadLetters();
    expect(dead.map((d) => [d.backendName, d.objectKey, d.sizeBytes, d.attempts, d.lastError])).toEqual([
      ['alpha', 'a/1', 10, 10, 'failure 10'],
      ['alpha', 'a/2', 20, 10, 'failure 10'],
      ['alpha', 'a/3', 30, 10, 'failure 10'],
      ['beta', 'b/1', 40, 10, 'failure 10'],
      ['beta', 'b/2', 50, 10, 'failure 10'],
    ]);
    expect((await store.cleanup.listDeadLetters({ backendName: 'beta' })).map((d) => d.objectKey)).toEqual(['b/1', 'b/2']);
    const counters = async () => [(await quotaOf(store, 'alpha')).orphanBytes, (await quotaOf(store, 'beta')).orphanBytes];
    expect(await counters()).toEqual([60, 90]);
    expect(await store.cleanup.depths()).toEqual([
      { backendName: 'alpha', queueRows: 0, queueBytes: 0, deadLetterRows: 3, deadLetterBytes: 60 },
      { backendName: 'beta', queueRows: 0, queueBytes: 0, deadLetterRows: 2, deadLetterBytes: 90 },
    ]);
    await expectLedgerConsistent(store);

    // One row, by id.
    const one = await store.cleanup.requeueDeadLetters({ id: dead[1]!.id });
    expect(one).toHaveLength(1);
    const queued = await store.cleanup.list();
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ id: one[0], backendName: 'alpha', storageKey: dead[1]!.storageKey, objectKey: 'a/2', sizeBytes: 20, attempts: 0, claimedBy: null });
    expect(queued[0]!.nextRetry.getTime()).toBe(clock.now().getTime());
    expect((await store.cleanup.listDeadLetters()).map((d) => d.id)).toEqual([dead[0]!.id, dead[2]!.id, dead[3]!.id, dead[4]!.id]);
    expect(await counters()).toEqual([60, 90]);
    expect(await store.cleanup.depths()).toEqual([
      { backendName: 'alpha', queueRows: 1, queueBytes: 20, deadLetterRows: 2, deadLetterBytes: 40 },
      { backendName: 'beta', queueRows: 0, queueBytes: 0, deadLetterRows: 2, deadLetterBytes: 90 },
    ]);
    await expectLedgerConsistent(store);
    // Due at once, with a fresh retry budget: the next failure is a retry, not a dead letter.
    const [again] = await store.cleanup.claim('op', 10, GRACE);
    expect(again).toMatchObject({ id: one[0], attempts: 0 });
    expect(await store.cleanup.fail(again!, 'op', 'still failing')).toBe('retry');

    // A backend's rows.
    const beta = await store.cleanup.requeueDeadLetters({ backendName: 'beta' });
    expect(beta).toHaveLength(2);
    expect((await store.cleanup.listDeadLetters()).map((d) => d.objectKey)).toEqual(['a/1', 'a/3']);
    expect((await store.cleanup.list({ backendName: 'beta' })).map((r) => [r.objectKey, r.attempts])).toEqual([
      ['b/1', 0],
      ['b/2', 0],
    ]);
    expect(await counters()).toEqual([60, 90]);
    await expectLedgerConsistent(store);

    // All.
    const rest = await store.cleanup.requeueDeadLetters({ all: true });
    expect(rest).toHaveLength(2);
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect((await store.cleanup.list()).map((r) => r.objectKey).sort()).toEqual(['a/1', 'a/2', 'a/3', 'b/1', 'b/2']);
    expect((await store.cleanup.list()).filter((r) => r.objectKey !== 'a/2').every((r) => r.attempts === 0)).toBe(true);
    expect(await store.cleanup.requeueDeadLetters({ all: true })).toEqual([]);
    expect(await store.cleanup.requeueDeadLetters({ id: dead[0]!.id })).toEqual([]); // already requeued
    expect(await counters()).toEqual([60, 90]);
    expect(await store.cleanup.depths()).toEqual([
      { backendName: 'alpha', queueRows: 3, queueBytes: 60, deadLetterRows: 0, deadLetterBytes: 0 },
      { backendName: 'beta', queueRows: 2, queueBytes: 90, deadLetterRows: 0, deadLetterBytes: 0 },
    ]);
    await expectLedgerConsistent(store);
  });

  it('operators purge dead letters by id, by backend and all; the orphan bytes are credited', async () => {
    const { store, clock } = await openTestStore(engine);
    for (const [key, size, backend] of [
      ['a/1', 10, 'alpha'],
      ['a/2', 20, 'alpha'],
      ['a/3', 30, 'alpha'],
      ['b/1', 40, 'beta'],
      ['b/2', 50, 'beta'],
    ] as const)
      await orphan(store, key, size, backend);
    await deadLetterAll(store, clock);
    await orphan(store, 'a/live', 7); // a queued row: purge must not touch it
    const dead = await store.cleanup.listDeadLetters();
    const free0 = (await quotaOf(store, 'alpha')).freeBytes;
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 67 });
    await expectLedgerConsistent(store);

    expect(await store.cleanup.purgeDeadLetters({ id: dead[0]!.id })).toEqual({ rows: 1, bytes: 10 });
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 57, freeBytes: free0 + 10 });
    expect((await store.cleanup.listDeadLetters()).map((d) => d.objectKey)).toEqual(['a/2', 'a/3', 'b/1', 'b/2']);
    expect(await store.cleanup.depths()).toEqual([
      { backendName: 'alpha', queueRows: 1, queueBytes: 7, deadLetterRows: 2, deadLetterBytes: 50 },
      { backendName: 'beta', queueRows: 0, queueBytes: 0, deadLetterRows: 2, deadLetterBytes: 90 },
    ]);
    await expectLedgerConsistent(store);
    expect(await store.cleanup.purgeDeadLetters({ id: dead[0]!.id })).toEqual({ rows: 0, bytes: 0 }); // already gone

    expect(await store.cleanup.purgeDeadLetters({ backendName: 'beta' })).toEqual({ rows: 2, bytes: 90 });
    expect(await quotaOf(store, 'beta')).toMatchObject({ orphanBytes: 0 });
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 57 });
    expect(await store.cleanup.depths()).toEqual([{ backendName: 'alpha', queueRows: 1, queueBytes: 7, deadLetterRows: 2, deadLetterBytes: 50 }]);
    await expectLedgerConsistent(store);

    expect(await store.cleanup.purgeDeadLetters({ all: true })).toEqual({ rows: 2, bytes: 50 });
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 7, freeBytes: free0 + 60 });
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect((await store.cleanup.list()).map((r) => [r.objectKey, r.sizeBytes])).toEqual([['a/live', 7]]);
    expect(await store.cleanup.depths()).toEqual([{ backendName: 'alpha', queueRows: 1, queueBytes: 7, deadLetterRows: 0, deadLetterBytes: 0 }]);
    expect(await store.cleanup.purgeDeadLetters({ all: true })).toEqual({ rows: 0, bytes: 0 });
    await expectLedgerConsistent(store);
  });

  it('operator commands refuse invalid selectors and change nothing', async () => {
    const { store, clock } = await openTestStore(engine);
    await orphan(store, 'x/1', 10);
    await deadLetterAll(store, clock);
    const dead = await store.cleanup.listDeadLetters();
    const bad = [{ id: 0 }, { id: -1 }, { id: 1.5 }, { id: Number.NaN }, { id: Number.MAX_SAFE_INTEGER + 2 }, { id: '1' }, {}, { all: false }] as unknown as DeadLetterSelector[];
    for (const selector of bad) {
      await expect(store.cleanup.requeueDeadLetters(selector), JSON.stringify(selector)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.cleanup.purgeDeadLetters(selector), JSON.stringify(selector)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await store.cleanup.listDeadLetters()).toEqual(dead);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 10 });
    await expectLedgerConsistent(store);
  });

  it('a late fail() from a worker whose claim was taken over is lost; complete() is idempotent', async () => {
    const { store, clock } = await openTestStore(engine);
    await orphan(store, 'l/1', 33);
    await orphan(store, 'l/2', 50);
    const [mine] = await store.cleanup.claim('slow', 1, GRACE);
    clock.advance(GRACE + 1);
    const taken = await store.cleanup.claim('fast', 10, GRACE);
    expect(taken).toHaveLength(2); // the abandoned row and the other one
    const theirs = taken.find((t) => t.id === mine!.id);
    expect(theirs?.claimedBy).toBe('fast');
    const snapshot = await store.cleanup.list();
    expect(await store.cleanup.fail(mine!, 'slow', 'timed out')).toBe('lost');
    expect(await store.cleanup.release([mine!.id], 'slow')).toBe(0);
    expect(await store.cleanup.list()).toEqual(snapshot);
    expect(snapshot.find((r) => r.id === mine!.id)).toMatchObject({ claimedBy: 'fast', attempts: 0, lastError: null });

    expect(await store.cleanup.complete(theirs!.id)).toBe(true);
    expect(await store.cleanup.complete(theirs!.id)).toBe(false);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 50 }); // credited once
    expect(await store.cleanup.fail(mine!, 'slow', 'late')).toBe('lost');
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect((await store.cleanup.list()).map((r) => r.sizeBytes)).toEqual([50]);
    await expectLedgerConsistent(store);
  });

  it('a late last failure from a worker that lost its claim does not dead-letter the row', async () => {
    const { store, clock } = await openTestStore(engine);
    await orphan(store, 'd/1', 21);
    for (let i = 0; i < 9; i++) {
      const [t] = await store.cleanup.claim('w', 1, GRACE);
      expect(await store.cleanup.fail(t!, 'w', `failure ${i + 1}`)).toBe('retry');
      clock.advance(DAY);
    }
    const [mine] = await store.cleanup.claim('slow', 1, GRACE);
    expect(mine!.attempts).toBe(9);
    clock.advance(GRACE + 1);
    const [theirs] = await store.cleanup.claim('fast', 1, GRACE);
    expect(await store.cleanup.fail(mine!, 'slow', 'late')).toBe('lost');
    expect(await store.cleanup.listDeadLetters()).toEqual([]);
    expect(await store.cleanup.list()).toMatchObject([{ id: mine!.id, attempts: 9, claimedBy: 'fast', lastError: 'failure 9' }]);
    expect(await store.cleanup.fail(theirs!, 'fast', 'last')).toBe('dead-letter');
    expect(await store.cleanup.listDeadLetters()).toMatchObject([{ originalId: mine!.id, attempts: 10, lastError: 'last' }]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 21 });
    await expectLedgerConsistent(store);
  });

  it('two workers that both delete a row (a claim taken over mid-delete) credit its bytes once', async () => {
    const { store, clock } = await openTestStore(engine);
    const slowFake = new SignallingBackend();
    const fastFake = new FakeBackend();
    const key = await orphan(store, 'o/1', 44);
    slowFake.put(key, 44);
    fastFake.put(key, 44);
    await orphan(store, 'o/2', 6); // claimed by no one in time: stays queued for the fast worker
    const gate = deferred();
    slowFake.gate = gate.promise;
    const slowTick = worker(store, slowFake, 'slow', { batchSize: 1 }).tick(new AbortController().signal, () => true);
    await slowFake.entered.promise; // the slow worker claimed the row and hangs in its delete
    clock.advance(GRACE + 1);
    expect(await worker(store, fastFake, 'fast').tick(new AbortController().signal, () => true)).toBe(2);
    expect([...fastFake.deletes]).toContain(key);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0 });
    gate.resolve();
    expect(await slowTick).toBe(1);
    expect(slowFake.deletes).toEqual([key]);
    expect(await store.cleanup.list()).toEqual([]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ orphanBytes: 0 });
    await expectLedgerConsistent(store);
  });
});
