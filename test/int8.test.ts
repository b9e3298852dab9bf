import { afterEach, expect, it } from 'vitest';
import { parseInt8 } from '../src/store/postgres/type-parsers.js';
import { exact } from '../src/store/sqlite/queries/context.js';
import { describeEngines } from './support/engines.js';
import { closeStores, openTestStore } from './support/store.js';

afterEach(closeStores);

describeEngines('byte counts are exact numbers', (engine) => {
  it('come back as numbers, exact up to 2^53 - 1', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 0 }] });
    const big = Number.MAX_SAFE_INTEGER - 10;
    await store.db.transaction((q) => q.addBaseDeltas({ backendName: 'alpha', usedDelta: big, orphanDelta: 0, inflightDelta: 0, now: new Date() }));
    const [alpha] = await store.quota.totals();
    expect(typeof alpha!.bytesUsed).toBe('number');
    expect(alpha!.bytesUsed).toBe(big);
  });

  it('refuse a value beyond 2^53 instead of rounding it silently', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 0 }] });
    // Two increments that are each exact but whose sum is not (9007199254740991 + 2).
    await store.db.transaction(async (q) => {
      await q.addBaseDeltas({ backendName: 'alpha', usedDelta: Number.MAX_SAFE_INTEGER, orphanDelta: 0, inflightDelta: 0, now: new Date() });
      await q.addBaseDeltas({ backendName: 'alpha', usedDelta: 2, orphanDelta: 0, inflightDelta: 0, now: new Date() });
    });
    await expect(store.quota.totals()).rejects.toThrow(/beyond ±2\^53/);
  });
});

it('parse and check int8 text exactly', () => {
  expect(parseInt8('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  expect(() => parseInt8('9007199254740993')).toThrow(RangeError);
  expect(() => exact(2 ** 53)).toThrow(RangeError);
  expect(exact(-(2 ** 53) + 1)).toBe(-(2 ** 53) + 1);
});
