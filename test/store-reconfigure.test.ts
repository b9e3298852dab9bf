import { afterEach, expect, it } from 'vitest';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

describeEngines('store.reconfigure (SIGHUP)', (engine) => {
  it(`a new byte limit applies to admission at once; counters are kept [${engine}]`, async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    const first = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 600, etag: '"e"' });
    await store.objects.commitWrite(first);
    await expect(store.objects.beginWrite({ objectKey: 'b/k2', sizeBytes: 600 })).rejects.toMatchObject({ code: 'NoSpace' });
    await store.reconfigure({ backendLimits: new Map([['alpha', 2000]]) });
    expect((await store.quota.totals())[0]).toMatchObject({ bytesLimit: 2000, bytesUsed: 600 });
    const second = await store.objects.beginWrite({ objectKey: 'b/k2', sizeBytes: 600 });
    await store.objects.abortWrite(second);
    await expectLedgerConsistent(store);
  });

  it(`a backend the store does not have is refused and nothing changes [${engine}]`, async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    await expect(store.reconfigure({ backendLimits: new Map([['alpha', 5], ['new', 10]]) })).rejects.toMatchObject({ code: 'InvalidArgument', field: 'backendLimits' });
    expect((await store.quota.totals())[0]).toMatchObject({ bytesLimit: 1000 });
  });

  it(`new events go to the new webhook endpoints [${engine}]`, async () => {
    const { store } = await openTestStore(engine, { endpoints: ['old'] });
    await store.reconfigure({ notificationTargets: [{ name: 'new', events: ['ObjectCreated'] }] });
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1, etag: '"e"' });
    await store.objects.commitWrite(intent);
    const events = await store.outbox.list({});
    expect(events.map((e) => e.endpoint)).toEqual(['new']);
  });
});
