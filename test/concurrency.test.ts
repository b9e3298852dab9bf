import { afterEach, describe, expect, it } from 'vitest';
import { NoSpaceError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

type Outcome = { admitted: true; size: number } | { admitted: false; size: number };

/** Begins and commits a write; a NoSpace refusal is an expected outcome, anything else fails the test. */
async function write(store: MetadataStore, objectKey: string, sizeBytes: number): Promise<Outcome> {
  try {
    const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName: 'tight' });
    await store.objects.commitWrite(intent, { etag: `e-${objectKey}` });
    return { admitted: true, size: sizeBytes };
  } catch (err) {
    if (err instanceof NoSpaceError) return { admitted: false, size: sizeBytes };
    throw err;
  }
}

async function freeOf(store: MetadataStore): Promise<number> {
  return (await store.quota.totals()).find((t) => t.backendName === 'tight')!.freeBytes;
}

const LIMIT = 100_000;
const PREFILL = 90_000;

describeEngines('concurrent writers', (engine) => {
  it('32 writers racing for the last free bytes never pass the limit (equal sizes: exactly the ones that fit)', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'tight', bytesLimit: LIMIT }] });
    await write(store, 'prefill', PREFILL);
    const outcomes = await Promise.all(Array.from({ length: 32 }, (_, i) => write(store, `race/${i}`, 1_000)));
    expect(outcomes.filter((o) => o.admitted)).toHaveLength(10);
    expect(await freeOf(store)).toBe(0);
    const totals = (await store.quota.totals())[0]!;
    expect(totals.bytesUsed).toBe(LIMIT);
    await expectLedgerConsistent(store);
  });

  it('32 writers of random sizes: the admitted bytes fit, and every refusal was needed', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'tight', bytesLimit: LIMIT }] });
    await write(store, 'prefill', PREFILL);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const sizes = Array.from({ length: 32 }, () => 200 + Math.floor(random() * 1_500));
    const outcomes = await Promise.all(sizes.map((size, i) => write(store, `race/${i}`, size)));
    const admitted = outcomes.filter((o) => o.admitted).reduce((sum, o) => sum + o.size, 0);
    expect(admitted).toBeLessThanOrEqual(LIMIT - PREFILL);
    const free = await freeOf(store);
    expect(free).toBe(LIMIT - PREFILL - admitted);
    // No release happened during the race, so the free budget only shrank: each refused write was
    // larger than what is left now.
    for (const o of outcomes.filter((x) => !x.admitted)) expect(o.size).toBeGreaterThan(free);
    expect(outcomes.some((o) => !o.admitted)).toBe(true);
    await expectLedgerConsistent(store);
  });

  it('10 writers on the same key leave exactly one current copy and an exact ledger', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'tight', bytesLimit: LIMIT }], endpoints: ['hook'] });
    const sizes = Array.from({ length: 10 }, (_, i) => 100 + i);
    const outcomes = await Promise.all(sizes.map((size) => write(store, 'same/key', size)));
    expect(outcomes.every((o) => o.admitted)).toBe(true);
    const copies = await store.objects.lookup('same/key');
    expect(copies).toHaveLength(1);
    const winner = copies[0]!.sizeBytes;
    const queued = await store.cleanup.list({ limit: 100 });
    expect(queued).toHaveLength(9);
    expect(queued.map((r) => r.sizeBytes).sort()).toEqual(sizes.filter((s) => s !== winner).sort());
    const totals = (await store.quota.totals())[0]!;
    expect(totals).toMatchObject({ bytesUsed: winner, orphanBytes: sizes.reduce((a, b) => a + b, 0) - winner, inflightBytes: 0 });
    expect((await store.outbox.list({ limit: 100 })).filter((e) => e.eventType === 'ObjectCreated')).toHaveLength(10);
    await expectLedgerConsistent(store);
  });

  it('concurrent writes, deletes and cleanup on several keys keep the ledger exact', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'tight', bytesLimit: LIMIT }] });
    const work = Array.from({ length: 40 }, async (_, i) => {
      const key = `mix/${i % 8}`;
      await write(store, key, 50 + i);
      if (i % 3 === 0) await store.objects.deleteObject(key).catch(() => {});
      for (const task of await store.cleanup.claim(`w${i}`, 2, 60_000)) await store.cleanup.complete(task.id);
    });
    await Promise.all(work);
    await expectLedgerConsistent(store);
  });
});

describe('concurrent writers from two PostgreSQL instances', () => {
  it('32 writers split over two pools never pass the limit', async () => {
    const first = await openTestStore('postgres', { backends: [{ name: 'tight', bytesLimit: LIMIT }] });
    const second = await first.openAnother();
    await write(first.store, 'prefill', PREFILL);
    const outcomes = await Promise.all(Array.from({ length: 32 }, (_, i) => write(i % 2 === 0 ? first.store : second, `race/${i}`, 1_000)));
    expect(outcomes.filter((o) => o.admitted)).toHaveLength(10);
    expect(await freeOf(second)).toBe(0);
    await expectLedgerConsistent(first.store);
  });

  it('with a single quota stripe (the one-row design) the limit holds just the same', async () => {
    const first = await openTestStore('postgres', { backends: [{ name: 'tight', bytesLimit: LIMIT }], quotaStripes: 1 });
    const second = await first.openAnother();
    await write(first.store, 'prefill', PREFILL);
    const outcomes = await Promise.all(Array.from({ length: 32 }, (_, i) => write(i % 2 === 0 ? first.store : second, `race/${i}`, 1_000)));
    expect(outcomes.filter((o) => o.admitted)).toHaveLength(10);
    await expectLedgerConsistent(first.store);
  });
});
