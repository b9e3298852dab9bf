import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConfig } from '../src/config/types.js';
import { silentLogger } from '../src/logging.js';
import { LEADER_JOBS } from '../src/store/core/leader-jobs.js';
import { cleanupWorker } from '../src/workers/cleanup-worker.js';
import { createWorkers } from '../src/workers/index.js';
import { JobRunner, type WorkerJob } from '../src/workers/job-runner.js';
import { appConfig, createTestDatabase, describeEngines } from './support/engines.js';
import { FakeBackend } from './support/fake-backend.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

/** A job whose tick waits for the test to let it finish, recording who ran it. */
function blockingJob(name: keyof typeof LEADER_JOBS, log: string[], who: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  const job: WorkerJob = {
    job: LEADER_JOBS[name],
    intervalMs: 10,
    batchSize: 1,
    async tick(signal) {
      log.push(`${who} starts`);
      await Promise.race([done, new Promise((r) => signal.addEventListener('abort', r))]);
      log.push(`${who} ends`);
      return 0;
    },
  };
  return { job, release };
}

describeEngines('leader-run jobs', (engine) => {
  it('one job runs on one runner at a time; different jobs run side by side', async () => {
    const { store } = await openTestStore(engine);
    const log: string[] = [];
    const a = blockingJob('cleanup', log, 'a');
    const b = blockingJob('cleanup', log, 'b');
    const other = blockingJob('reaper', log, 'other');
    const runA = new JobRunner(store.db, a.job, silentLogger).runOnce();
    await expect.poll(() => log).toContain('a starts');
    expect(await new JobRunner(store.db, b.job, silentLogger).runOnce()).toEqual({ ran: false, reason: 'not-leader' });
    const runOther = new JobRunner(store.db, other.job, silentLogger).runOnce();
    await expect.poll(() => log).toContain('other starts');
    a.release();
    other.release();
    await Promise.all([runA, runOther]);
    // The lock is released after each tick: the next runner gets it.
    b.release();
    expect(await new JobRunner(store.db, b.job, silentLogger).runOnce()).toEqual({ ran: true, handled: 0 });
  });

  it('stops cleanly: a tick in progress ends, and claimed rows it did not reach are handed back', async () => {
    const { store } = await openTestStore(engine);
    for (let i = 0; i < 6; i++) {
      const w = await store.objects.beginWrite({ objectKey: `b/${i}`, sizeBytes: 1, backendName: 'alpha' });
      await store.objects.abortWrite(w);
    }
    const backend = new FakeBackend();
    let open!: () => void;
    backend.gate = new Promise((r) => (open = r)); // the backend hangs on the first delete
    const job = cleanupWorker(store, new Map([['alpha', backend]]), { workerId: 'stopping', intervalMs: 10, batchSize: 6, concurrency: 1, claimGraceMs: 600_000 }, silentLogger);
    const runner = new JobRunner(store.db, job, silentLogger);
    const tick = runner.runOnce();
    await expect.poll(async () => (await store.cleanup.list()).filter((r) => r.claimedBy === 'stopping').length).toBe(6);
    const stopping = runner.stop();
    open();
    await stopping;
    await tick;
    const rows = await store.cleanup.list();
    expect(rows).toHaveLength(5); // the one in flight finished; the rest were handed back
    expect(rows.every((r) => r.claimedBy === null && r.attempts === 0)).toBe(true);
    expect(await runner.runOnce()).toEqual({ ran: false, reason: 'stopped' });
    await expectLedgerConsistent(store);
  });

  it('the periodic schedule runs every job and stop() ends it', async () => {
    const { store } = await openTestStore(engine);
    store.usage.record('alpha', { apiRequests: 3 });
    const config = appConfig(await createTestDatabase(engine));
    const workers = createWorkers(store, { ...config, workers: { ...config.workers, usageFlush: { intervalMs: 20 } } }, new Map(), silentLogger);
    for (const r of workers.runners) r.start();
    await expect.poll(async () => (await store.usage.totals('2026-03')).map((u) => u.apiRequests), { timeout: 5000 }).toEqual([3]);
    await workers.stop();
    expect(workers.runners.map((r) => r.work.job.name).sort()).toEqual(Object.values(LEADER_JOBS).map((j) => j.name).sort());
  });
});

describe('leader-run jobs on two PostgreSQL instances', () => {
  it('only one instance holds a job; when its connection dies the other takes over on its next tick', async () => {
    const first = await openTestStore('postgres');
    const second = await first.openAnother();
    const log: string[] = [];
    const a = blockingJob('outbox', log, 'first');
    const tickA = new JobRunner(first.store.db, a.job, silentLogger).runOnce();
    await expect.poll(() => log).toContain('first starts');
    const b = blockingJob('outbox', log, 'second');
    b.release();
    const runnerB = new JobRunner(second.db, b.job, silentLogger);
    expect(await runnerB.runOnce()).toEqual({ ran: false, reason: 'not-leader' });

    // Cut the first instance's lock connection (a network cut, a server-side kill).
    const cfg = (first.store.db as unknown as { config: PostgresConfig }).config;
    const admin = new pg.Client({ host: cfg.host, port: cfg.port, user: cfg.user, password: cfg.password?.reveal(), database: cfg.database });
    await admin.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1::bigint % 4294967296 AND objsubid = 1",
      [LEADER_JOBS.outbox.lockId.toString()],
    );
    await admin.end();
    await expect.poll(async () => (await runnerB.runOnce()).ran, { timeout: 5000 }).toBe(true);
    expect(log).toContain('second starts');
    a.release();
    await tickA;
  });
});
