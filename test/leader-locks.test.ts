import { afterEach, describe, expect, it } from 'vitest';
import { LEADER_JOBS } from '../src/store/core/leader-jobs.js';
import { openStore } from '../src/store/open.js';
import { appConfig, createTestDatabase, describeEngines } from './support/engines.js';
import { closeStores } from './support/store.js';

afterEach(closeStores);

describeEngines('leader locks', (engine) => {
  it('are exclusive per job, independent across jobs, and free again after release', async () => {
    const db = await createTestDatabase(engine);
    const store = await openStore(appConfig(db));
    const other = await openStore(appConfig(db), { role: 'inspect' });
    const cleanup = await store.db.tryLeaderLock(LEADER_JOBS.cleanup);
    expect(cleanup?.isHeld()).toBe(true);
    expect(await store.db.tryLeaderLock(LEADER_JOBS.cleanup)).toBeUndefined();
    expect(await other.db.tryLeaderLock(LEADER_JOBS.cleanup)).toBeUndefined();
    const reaper = await other.db.tryLeaderLock(LEADER_JOBS.reaper); // a different job is not excluded
    expect(reaper?.isHeld()).toBe(true);
    await cleanup!.release();
    expect(cleanup!.isHeld()).toBe(false);
    await cleanup!.release(); // idempotent
    const taken = await other.db.tryLeaderLock(LEADER_JOBS.cleanup);
    expect(taken?.isHeld()).toBe(true);
    await taken!.release();
    await reaper!.release();
    await other.close();
    await store.close();
  });

  it('have distinct, never reused ids', () => {
    const ids = Object.values(LEADER_JOBS).map((j) => j.lockId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(Object.values(LEADER_JOBS).map((j) => j.name)).size).toBe(ids.length);
  });
});

describe('PostgreSQL leader locks', () => {
  it('when the holder loses its connection, another instance takes the job over', async () => {
    const db = await createTestDatabase('postgres');
    const a = await openStore(appConfig(db));
    const b = await openStore(appConfig(db));
    const lock = await a.db.tryLeaderLock(LEADER_JOBS.outbox);
    expect(lock?.isHeld()).toBe(true);
    expect(await b.db.tryLeaderLock(LEADER_JOBS.outbox)).toBeUndefined();
    // Kill the session that holds the lock (as a network cut or a server restart would).
    await b.db.transaction(async () => {});
    const { default: pg } = await import('pg');
    const cfg = db as import('../src/config/types.js').PostgresConfig;
    const admin = new pg.Client({ host: cfg.host, port: cfg.port, user: cfg.user, password: cfg.password?.reveal(), database: cfg.database });
    await admin.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1::bigint % 4294967296 AND objsubid = 1",
      [LEADER_JOBS.outbox.lockId.toString()],
    );
    await admin.end();
    await expect.poll(() => lock!.isHeld(), { timeout: 5000 }).toBe(false);
    const takeover = await b.db.tryLeaderLock(LEADER_JOBS.outbox);
    expect(takeover?.isHeld()).toBe(true);
    await takeover!.release();
    // The first instance recovers a connection of its own and can compete again.
    const again = await a.db.tryLeaderLock(LEADER_JOBS.outbox);
    expect(again?.isHeld()).toBe(true);
    await again!.release();
    await a.close();
    await b.close();
  });
});
