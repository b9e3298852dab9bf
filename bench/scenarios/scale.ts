import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import { benchKey, loadObjects } from '../lib/bulk-load.js';
import { latency, random, type Latency } from '../lib/measure.js';
import { openTarget, type EngineName } from '../lib/targets.js';

export interface ScaleResult {
  readonly engine: EngineName;
  readonly objects: number;
  readonly loadSeconds: number;
  readonly lookup: Latency;
  readonly listPage: Latency;
}

/**
 * Lookup and list-page latency as the object table grows: the table is bulk-loaded to each size in
 * turn, then random existing keys are looked up and 1000-key pages listed from random positions.
 */
export async function runScale(engine: EngineName, server: PostgresServer | undefined, sizes: readonly number[], samples: { lookups: number; pages: number }): Promise<ScaleResult[]> {
  const target = await openTarget(engine, server);
  const results: ScaleResult[] = [];
  try {
    let loaded = 0;
    for (const size of [...sizes].sort((a, b) => a - b)) {
      const started = performance.now();
      await loadObjects(target, 'scale/', loaded, size, 1024);
      loaded = size;
      const loadSeconds = (performance.now() - started) / 1000;
      const pick = random(size);
      const store = target.store;
      // Warm-up (not measured): the JIT, the connections' prepared statements, the page cache.
      for (let i = 0; i < 2000; i++) await store.objects.lookup(benchKey('scale/', Math.floor(pick() * size)));
      for (let i = 0; i < 20; i++) await store.listing.list({ prefix: 'scale/', startAfter: benchKey('scale/', Math.floor(pick() * Math.max(1, size - 1000))), maxKeys: 1000 });
      const lookup = await latency(samples.lookups, async () => {
        const copies = await store.objects.lookup(benchKey('scale/', Math.floor(pick() * size)));
        if (copies.length !== 1) throw new Error('lookup of a loaded key found nothing');
      });
      const listPage = await latency(samples.pages, async () => {
        const page = await store.listing.list({ prefix: 'scale/', startAfter: benchKey('scale/', Math.floor(pick() * Math.max(1, size - 1000))), maxKeys: 1000 });
        if (page.objects.length !== 1000) throw new Error(`a list page held ${page.objects.length} keys`);
      });
      results.push({ engine, objects: size, loadSeconds, lookup, listPage });
    }
  } finally {
    await target.close();
  }
  return results;
}
