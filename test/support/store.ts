import { expect } from 'vitest';
import type { NotificationEndpoint } from '../../src/config/types.js';
import { MetadataStore, type StoreApi } from '../../src/store/core/store.js';
import { openStore } from '../../src/store/open.js';
import { ManualClock } from './clock.js';
import { appConfig, createTestDatabase, sqliteConfig, type EngineName } from './engines.js';

export interface TestStoreOptions {
  readonly backends?: readonly { name: string; bytesLimit: number }[];
  readonly placement?: 'pack' | 'spread';
  /** Notification endpoints: with none, no outbox rows are written. */
  readonly endpoints?: readonly string[];
  readonly quotaStripes?: number;
}

export interface TestStore {
  readonly store: MetadataStore;
  readonly clock: ManualClock;
  /** Opens another store on the same database (Postgres: a second instance with its own pool). */
  openAnother(): Promise<MetadataStore>;
}

const opened: MetadataStore[] = [];

/** Closes every store the test opened (call from afterEach). */
export async function closeStores(): Promise<void> {
  for (const s of opened.splice(0)) await s.close().catch(() => {});
}

export function endpoint(name: string, url = 'http://127.0.0.1:9/unused'): NotificationEndpoint {
  return { name, url, secret: undefined, timeoutMs: 2000, maxAttempts: 3, events: ['ObjectCreated', 'ObjectRemoved'] };
}

export async function openTestStore(engine: EngineName, options: TestStoreOptions = {}): Promise<TestStore> {
  let database = await createTestDatabase(engine);
  if (database.driver === 'postgres' && options.quotaStripes !== undefined) database = { ...database, quotaStripes: options.quotaStripes };
  const config = appConfig(database, {
    ...(options.backends ? { backends: options.backends } : {}),
    ...(options.placement ? { placement: options.placement } : {}),
    endpoints: (options.endpoints ?? []).map((n) => endpoint(n)),
  });
  const clock = new ManualClock();
  const store = await openStore(config, { clock });
  opened.push(store);
  return {
    store,
    clock,
    openAnother: async () => {
      // SQLite serves a single instance: a second store on the file is refused (tested elsewhere).
      const another = await openStore(config, { clock, role: engine === 'sqlite' ? 'inspect' : 'serve' });
      opened.push(another);
      return another;
    },
  };
}

/**
 * Invariants I1-I4 of spec §6, checked after every scenario:
 *  I1 bytes_used = Σ copy sizes; I3 orphan_bytes = Σ cleanup + dead-letter sizes; in-flight =
 *  Σ intents + parts (I4's accounting side); I2 used + orphan + in-flight <= limit; and the escrow
 *  identity used + orphan + in-flight + free = limit with no stripe's share below zero.
 */
export async function expectLedgerConsistent(store: StoreApi): Promise<void> {
  const report = await store.quota.reconcile({ fix: false });
  expect(report.drifts).toEqual([]);
  if (store instanceof MetadataStore) return expectCountersConsistent(store);
  // A store on its own thread runs no query for its caller: read its counters through a store
  // opened on this thread on the same SQLite file (WAL: it sees every commit).
  const direct = await openStore(appConfig(sqliteConfig(store.db.location), { backends: [] }), { role: 'inspect' });
  try {
    await expectCountersConsistent(direct);
  } finally {
    await direct.close();
  }
}

async function expectCountersConsistent(store: MetadataStore): Promise<void> {
  const rows = await store.db.read((q) => q.listQuotaTotals());
  for (const r of rows) {
    expect(r.bytes_used, `${r.backend_name} bytes_used`).toBeGreaterThanOrEqual(0);
    expect(r.orphan_bytes, `${r.backend_name} orphan_bytes`).toBeGreaterThanOrEqual(0);
    expect(r.inflight_bytes, `${r.backend_name} inflight_bytes`).toBeGreaterThanOrEqual(0);
    if (r.bytes_limit > 0) {
      expect(r.bytes_used + r.orphan_bytes + r.inflight_bytes, `${r.backend_name}: I2`).toBeLessThanOrEqual(r.bytes_limit);
      expect(r.bytes_used + r.orphan_bytes + r.inflight_bytes + r.free_bytes, `${r.backend_name}: escrow identity`).toBe(r.bytes_limit);
    }
  }
  const stripes = await store.db.transaction(async (q) => {
    const out: { backend: string; free: number }[] = [];
    for (const r of rows) for (const s of await q.lockQuotaStripes({ backendName: r.backend_name })) out.push({ backend: r.backend_name, free: s.free_bytes });
    return out;
  });
  for (const s of stripes) expect(s.free, `${s.backend} stripe share`).toBeGreaterThanOrEqual(0);
}
