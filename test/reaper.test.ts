import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../src/logging.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { intentReaper } from '../src/workers/intent-reaper.js';
import { JobRunner } from '../src/workers/job-runner.js';
import { describeEngines } from './support/engines.js';
import { FakeBackend } from './support/fake-backend.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

const MIN_AGE = 5 * 60_000;

function reaper(store: MetadataStore, backend: FakeBackend) {
  const job = intentReaper(store, new Map([['alpha', backend]]), { intervalMs: 1000, batchSize: 50, concurrency: 4, minAgeMs: MIN_AGE }, silentLogger);
  return new JobRunner(store.db, job, silentLogger);
}

/** The gateway's write path up to the crash: intent, then the bytes, then no commit. */
async function crashBeforeCommit(store: MetadataStore, backend: FakeBackend, objectKey: string, sizeBytes: number, writeBytes = true) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName: 'alpha' });
  if (writeBytes) backend.put(intent.storageKey, sizeBytes, `"new-${objectKey}"`);
  return intent; // the process dies here: commitWrite never runs
}

describeEngines('crash-safe writes and the intent reaper', (engine) => {
  it('a failure between begin and commit leaves the prior copy readable and the intent for the reaper', async () => {
    const { store } = await openTestStore(engine);
    const backend = new FakeBackend();
    const first = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 10, backendName: 'alpha' });
    backend.put(first.storageKey, 10);
    await store.objects.commitWrite(first, { etag: 'v1' });
    const intent = await crashBeforeCommit(store, backend, 'b/k', 20);
    const head = await store.objects.head('b/k');
    expect(head).toMatchObject({ etag: 'v1', sizeBytes: 10 });
    expect(backend.objects.has(head.copies[0]!.storageKey)).toBe(true); // nothing deleted the old bytes
    expect((await store.intents.listOlderThan(new Date(8.64e15), 10)).map((i) => i.intentId)).toEqual([intent.intentId]);
    await expectLedgerConsistent(store);
  });

  it('the reaper leaves young intents alone, then promotes one whose bytes are on the backend', async () => {
    const { store, clock } = await openTestStore(engine, { endpoints: ['hook'] });
    const backend = new FakeBackend();
    const first = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 10, backendName: 'alpha' });
    await store.objects.commitWrite(first, { etag: 'v1' });
    const intent = await crashBeforeCommit(store, backend, 'b/k', 20);

    clock.advance(MIN_AGE - 1);
    expect(await reaper(store, backend).runOnce()).toEqual({ ran: true, handled: 0 });
    expect(backend.heads).toEqual([]);

    clock.advance(2);
    expect(await reaper(store, backend).runOnce()).toEqual({ ran: true, handled: 1 });
    const head = await store.objects.head('b/k');
    expect(head).toMatchObject({ sizeBytes: 20, etag: '"new-b/k"' });
    expect(head.copies[0]!.storageKey).toBe(intent.storageKey);
    expect((await store.cleanup.list()).map((r) => r.storageKey)).toEqual([first.storageKey]); // the displaced copy
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toEqual([]);
    expect((await store.outbox.list()).map((e) => e.eventType)).toEqual(['ObjectCreated', 'ObjectCreated']);
    await expectLedgerConsistent(store);
  });

  it('drops an intent whose bytes never reached the backend, returning its bytes to the budget', async () => {
    const { store, clock } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 100 }] });
    const backend = new FakeBackend();
    await crashBeforeCommit(store, backend, 'b/k', 60, false);
    await expect(store.objects.beginWrite({ objectKey: 'b/x', sizeBytes: 60 })).rejects.toThrow(/no room/);
    clock.advance(MIN_AGE + 1);
    await reaper(store, backend).runOnce();
    expect(await store.objects.lookup('b/k')).toEqual([]);
    expect(await store.cleanup.list()).toEqual([]); // nothing to delete
    expect((await store.quota.totals())[0]).toMatchObject({ inflightBytes: 0, orphanBytes: 0 });
    expect((await store.objects.beginWrite({ objectKey: 'b/x', sizeBytes: 60 })).backendName).toBe('alpha');
    await expectLedgerConsistent(store);
  });

  it('does not let a stale intent overwrite a newer committed write: its bytes are queued instead', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend();
    const stale = await crashBeforeCommit(store, backend, 'b/k', 20);
    clock.advance(1000);
    const newer = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 30, backendName: 'alpha' });
    await store.objects.commitWrite(newer, { etag: 'newer' });
    clock.advance(MIN_AGE);
    await reaper(store, backend).runOnce();
    expect(await store.objects.head('b/k')).toMatchObject({ etag: 'newer', sizeBytes: 30 });
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.reason])).toEqual([[stale.storageKey, 'superseded']]);
    await expectLedgerConsistent(store);
  });

  it('discards bytes that are not what was admitted (wrong size)', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend();
    const intent = await crashBeforeCommit(store, backend, 'b/k', 20);
    backend.put(intent.storageKey, 7); // a torn write
    clock.advance(MIN_AGE + 1);
    await reaper(store, backend).runOnce();
    expect(await store.objects.lookup('b/k')).toEqual([]);
    expect((await store.cleanup.list()).map((r) => r.reason)).toEqual(['size-mismatch']);
    await expectLedgerConsistent(store);
  });

  it('leaves the intent in place when the backend cannot answer, and resolves it on a later tick', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend();
    await crashBeforeCommit(store, backend, 'b/k', 20);
    clock.advance(MIN_AGE + 1);
    backend.failWith = new Error('connection reset');
    await reaper(store, backend).runOnce();
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toHaveLength(1);
    backend.failWith = undefined;
    await reaper(store, backend).runOnce();
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toHaveLength(0);
    expect((await store.objects.head('b/k')).sizeBytes).toBe(20);
    await expectLedgerConsistent(store);
  });

  it('resolves copy and part intents too', async () => {
    const { store, clock } = await openTestStore(engine);
    const backend = new FakeBackend();
    const w = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 10, backendName: 'alpha' });
    await store.objects.commitWrite(w, { etag: 'v1' });
    const copy = await store.objects.beginCopy({ objectKey: 'b/k', backendName: 'beta' });
    const upload = await store.multipart.createUpload({ objectKey: 'b/m', backendName: 'alpha' });
    const part = await store.multipart.beginPart({ uploadId: upload.uploadId, partNumber: 1, sizeBytes: 5 });
    backend.put(part.storageKey, 5, '"p1"');
    clock.advance(MIN_AGE + 1);
    const both = new Map([
      ['alpha', backend],
      ['beta', Object.assign(new FakeBackend(), {})],
    ]);
    both.get('beta')!.put(copy.storageKey, 10, 'v1');
    const job = intentReaper(store, both, { intervalMs: 1000, batchSize: 50, concurrency: 1, minAgeMs: MIN_AGE }, silentLogger);
    expect(await new JobRunner(store.db, job, silentLogger).runOnce()).toEqual({ ran: true, handled: 2 });
    expect((await store.objects.head('b/k')).copies.map((c) => c.backendName)).toEqual(['alpha', 'beta']);
    expect((await store.multipart.listParts(upload.uploadId)).parts.map((p) => [p.partNumber, p.etag])).toEqual([[1, '"p1"']]);
    await expectLedgerConsistent(store);
  });
});
