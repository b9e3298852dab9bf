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
  const designs = [
    { design: 'one quota row (1 stripe)', stripes: 1 },
    { design: 'escrow stripes (32, the default)', stripes: 32 },
  ];
  const opened = [];
  for (const d of designs) {
    const target = await openTarget('postgres', server, { quotaStripes: d.stripes, maxConns: 24 });
    const second = await target.openAnother();
    await warm(target.store);
    await warm(second);
    opened.push({ ...d, target, stores: [target.store, second] });
  }
  const results: ConcurrencyResult[] = [];
  try {
    let n = 0;
    for (const writers of writerCounts) {
      for (const pools of writers >= 2 ? [1, 2] : [1]) {
        // The designs take turns in short rounds, so a change in the machine's load hits both alike.
        const sums = opened.map(() => ({ ops: 0, seconds: 0 }));
        const rounds = Math.max(2, Math.round(durationMs / 500));
        for (let round = 0; round < rounds; round++) {
          for (const [i, d] of opened.entries()) {
            const stores = d.stores.slice(0, pools);
            const t = await runConcurrentFor(durationMs / rounds, writers, async (w) => {
              const store = stores[w % stores.length]!;
              const intent = await store.objects.beginWrite({ objectKey: `c/${writers}/${pools}/${n++}`, sizeBytes: SIZE });
              await store.objects.commitWrite(intent, { etag: '"e"' });
            });
            sums[i]!.ops += t.ops;
            sums[i]!.seconds += t.seconds;
          }
        }
        opened.forEach((d, i) => results.push({ design: d.design, pools, writers, throughput: { ...sums[i]!, opsPerSecond: sums[i]!.ops / sums[i]!.seconds } }));
      }
    }
    for (const d of opened) {
      const audit = await d.target.store.quota.reconcile({ fix: false });
      if (audit.drifts.length > 0) throw new Error(`ledger drift after the concurrency run: ${JSON.stringify(audit.drifts)}`);
    }
  } finally {
    for (const d of opened) await d.target.close();
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
