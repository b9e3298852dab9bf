import { afterEach, expect, it } from 'vitest';
import { DatabaseUnavailableError, InvalidArgumentError } from '../src/store/core/errors.js';
import type { Database } from '../src/store/core/database.js';
import { UsageMeter } from '../src/store/core/usage-meter.js';
import { describeEngines } from './support/engines.js';
import { closeStores, openTestStore } from './support/store.js';

afterEach(closeStores);

describeEngines('usage counters', (engine) => {
  it('accumulate in memory and are written as additive upserts for the UTC month', async () => {
    const { store } = await openTestStore(engine);
    store.usage.record('alpha', { apiRequests: 2, egressBytes: 100 });
    store.usage.record('alpha', { apiRequests: 1, ingressBytes: 7 });
    store.usage.record('beta', { apiRequests: 5 });
    expect(await store.usage.totals('2026-03')).toEqual([]); // nothing written before a flush
    expect(await store.usage.flush()).toBe(2);
    expect(store.usage.pending()).toEqual([]);
    store.usage.record('alpha', { apiRequests: 10 });
    await store.usage.flush();
    expect(await store.usage.totals('2026-03')).toEqual([
      { backendName: 'alpha', period: '2026-03', apiRequests: 13, egressBytes: 100, ingressBytes: 7 },
      { backendName: 'beta', period: '2026-03', apiRequests: 5, egressBytes: 0, ingressBytes: 0 },
    ]);
  });

  it('from two instances add up', async () => {
    const first = await openTestStore(engine);
    const second = await first.openAnother();
    first.store.usage.record('alpha', { apiRequests: 4, egressBytes: 40 });
    second.usage.record('alpha', { apiRequests: 6, egressBytes: 60 });
    await Promise.all([first.store.usage.flush(), second.usage.flush()]);
    expect((await first.store.usage.totals('2026-03'))[0]).toMatchObject({ apiRequests: 10, egressBytes: 100 });
  });

  it('go to the month they were recorded in, across a month boundary', async () => {
    const { store, clock } = await openTestStore(engine);
    clock.set(new Date('2026-03-31T23:59:59.000Z'));
    store.usage.record('alpha', { apiRequests: 1 });
    clock.set(new Date('2026-04-01T00:00:01.000Z'));
    store.usage.record('alpha', { apiRequests: 2 });
    await store.usage.flush();
    expect((await store.usage.totals('2026-03'))[0]?.apiRequests).toBe(1);
    expect((await store.usage.totals('2026-04'))[0]?.apiRequests).toBe(2);
  });

  it('a failed flush keeps its deltas for the next one, added to what came meanwhile', async () => {
    const { store } = await openTestStore(engine);
    const down: Database = Object.create(store.db, {
      transaction: { value: () => Promise.reject(new DatabaseUnavailableError('the database is down')) },
    });
    const meter = new UsageMeter({ ...store.context, db: down });
    meter.record('alpha', { apiRequests: 3, egressBytes: 30 });
    await expect(meter.flush()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    meter.record('alpha', { apiRequests: 1 });
    expect(meter.pending()).toEqual([{ backendName: 'alpha', period: '2026-03', apiRequests: 4, egressBytes: 30, ingressBytes: 0 }]);
    const recovered = new UsageMeter(store.context);
    recovered.record('alpha', meter.pending()[0]!);
    await recovered.flush();
    expect((await store.usage.totals('2026-03'))[0]).toMatchObject({ apiRequests: 4, egressBytes: 30 });
  });

  it('are flushed when the store closes', async () => {
    const first = await openTestStore(engine);
    const reader = await first.openAnother();
    first.store.usage.record('beta', { ingressBytes: 512 });
    await first.store.close();
    expect((await reader.usage.totals('2026-03'))[0]).toMatchObject({ backendName: 'beta', ingressBytes: 512 });
  });

  it('refuse an unknown backend, negative or fractional counts, and a malformed period', async () => {
    const { store } = await openTestStore(engine);
    expect(() => store.usage.record('nowhere', { apiRequests: 1 })).toThrow(InvalidArgumentError);
    expect(() => store.usage.record('alpha', { egressBytes: -1 })).toThrow(/egressBytes: must be a whole number/);
    expect(() => store.usage.record('alpha', { apiRequests: 1.5 })).toThrow(/apiRequests/);
    await expect(store.usage.totals('2026-3')).rejects.toThrow(/period: must be a UTC month as YYYY-MM/);
    expect(store.usage.pending()).toEqual([]);
  });
});
