import { randomUUID } from 'node:crypto';
import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import type { MetadataStore } from '../../src/store/core/store.js';
import type { PostgresDatabase } from '../../src/store/postgres/database.js';
import { runConcurrentFor, type Throughput } from '../lib/measure.js';
import { BENCH_BACKEND, openTarget } from '../lib/targets.js';

export interface ConcurrencyResult {
  readonly design: string;
  readonly pools: number;
  readonly writers: number;
  readonly throughput: Throughput;
}

const SIZE = 4096;

/**
 * Concurrent commit writes (begin + commit) on one backend, PostgreSQL. The one-row design is the
 * store with a single quota stripe: every writer's admission and commit update the same row and keep
 * it locked until their commit. The escrow design spreads them over 8 stripes. Both keep I2 strict
 * (the race tests prove it). "Hot-row ceiling" is not a store: the fastest any one-row design could
 * be, whatever its round trips (a single-statement transaction that only updates the row).
 */
export async function runConcurrency(server: PostgresServer, durationMs: number, writerCounts: readonly number[]): Promise<ConcurrencyResult[]> {
  const results: ConcurrencyResult[] = [];
  for (const [design, stripes] of [
    ['one quota row (1 stripe)', 1],
    ['escrow stripes (32, the default)', 32],
  ] as const) {
    const target = await openTarget('postgres', server, { quotaStripes: stripes, maxConns: 24 });
    const second = await target.openAnother();
    try {
      await warm(target.store);
      await warm(second);
      for (const writers of writerCounts) {
        for (const pools of writers >= 2 ? [1, 2] : [1]) {
          const stores = pools === 1 ? [target.store] : [target.store, second];
          let n = 0;
          const throughput = await runConcurrentFor(durationMs, writers, async (w) => {
            const store = stores[w % stores.length]!;
            const intent = await store.objects.beginWrite({ objectKey: `c/${design.length}/${writers}/${pools}/${n++}`, sizeBytes: SIZE });
            await store.objects.commitWrite(intent, { etag: '"e"' });
          });
          results.push({ design, pools, writers, throughput });
        }
      }
      const audit = await target.store.quota.reconcile({ fix: false });
      if (audit.drifts.length > 0) throw new Error(`ledger drift after the concurrency run: ${JSON.stringify(audit.drifts)}`);
    } finally {
      await target.close();
    }
  }

  // The ceiling of any one-row design: N clients, each transaction a single UPDATE of the row.
  const target = await openTarget('postgres', server, { quotaStripes: 1, maxConns: 24 });
  try {
    const pool = (target.store.db as PostgresDatabase).pool;
    for (const writers of writerCounts) {
      const throughput = await runConcurrentFor(durationMs, writers, () =>
        pool.query({
          name: 'hot_row_ceiling',
          text: 'UPDATE backend_quotas SET inflight_bytes = inflight_bytes + $1, updated_at = $2 WHERE backend_name = $3',
          values: [0, new Date(), BENCH_BACKEND],
        }),
      );
      results.push({ design: 'hot-row ceiling (raw: 1 UPDATE per transaction)', pools: 1, writers, throughput });
    }
  } finally {
    await target.close();
  }
  return results;
}

async function warm(store: MetadataStore): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const intent = await store.objects.beginWrite({ objectKey: `warm/${randomUUID()}`, sizeBytes: SIZE });
    await store.objects.commitWrite(intent, { etag: '"w"' });
  }
}
