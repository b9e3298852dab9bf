import { afterEach, expect, it } from 'vitest';
import { InvalidArgumentError, PreconditionFailedError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import type { WriteCondition } from '../src/store/core/versions.js';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

async function put(store: MetadataStore, objectKey: string, sizeBytes: number, etag: string, condition?: WriteCondition) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes });
  return store.objects.commitWrite(intent, { etag, ...(condition ? { condition } : {}) });
}

async function quotaOf(store: MetadataStore, backend: string) {
  return (await store.quota.totals()).find((t) => t.backendName === backend)!;
}

/**
 * Commits with `condition`; on PreconditionFailed aborts the intent as the gateway does (a no-op: the
 * failed commit already aborted it) and reports the reason.
 */
async function conditionalPut(store: MetadataStore, objectKey: string, sizeBytes: number, etag: string, condition: WriteCondition) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes });
  try {
    const result = await store.objects.commitWrite(intent, { etag, condition });
    return { committed: true as const, etag: result.copy.etag };
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    expect(await store.objects.abortWrite(intent)).toBe(false);
    return { committed: false as const, reason: err.reason };
  }
}

describeEngines('conditional commit', (engine) => {
  it('ifNoneMatch "*" commits when the key has no current version (never written, or deleted)', async () => {
    const { store } = await openTestStore(engine);
    const first = await put(store, 'b/new', 10, '"e1"', { ifNoneMatch: '*' });
    expect(first.copy.etag).toBe('"e1"');
    await store.objects.deleteObject('b/new');
    const again = await put(store, 'b/new', 20, '"e2"', { ifNoneMatch: '*' });
    expect(again.displaced).toEqual([]);
    expect((await store.objects.head('b/new')).etag).toBe('"e2"');
    await expectLedgerConsistent(store);
  });

  it('ifNoneMatch "*" on an existing key fails, leaves the object as it was and aborts the intent in the same transaction', async () => {
    const { store } = await openTestStore(engine, { endpoints: ['hook'] });
    await put(store, 'b/k', 100, '"old"');
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 40 });
    const eventsBefore = await store.outbox.list();

    const err = await store.objects.commitWrite(intent, { etag: '"new"', condition: { ifNoneMatch: '*' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err).toMatchObject({ code: 'PreconditionFailed', httpStatus: 412, reason: 'if-none-match' });
    expect((err as Error).message).toMatch(/If-None-Match.*"b\/k" already exists/);

    // The object is untouched and nothing was announced.
    const head = await store.objects.head('b/k');
    expect(head).toMatchObject({ etag: '"old"', sizeBytes: 100 });
    expect(head.copies).toHaveLength(1);
    expect(await store.outbox.list()).toEqual(eventsBefore);
    // The intent is resolved as an abort would: its storage key queued, its bytes no longer in flight.
    expect((await store.intents.summary()).count).toBe(0);
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.sizeBytes, r.reason])).toEqual([[intent.storageKey, 40, 'condition-failed']]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 100, inflightBytes: 0, orphanBytes: 40 });
    await expectLedgerConsistent(store);

    // Should the caller crash now, the reaper finds nothing to promote; the caller's abort is a no-op.
    expect(await store.intents.promote(intent, { sizeBytes: 40, etag: '"new"' })).toBe('gone');
    expect(await store.objects.abortWrite(intent)).toBe(false);
    expect((await store.objects.head('b/k')).etag).toBe('"old"');
    await expectLedgerConsistent(store);
  });

  it('ifMatch commits when the current ETag matches, quoted or not on either side', async () => {
    const { store } = await openTestStore(engine);
    await put(store, 'b/k', 10, '"v1"');
    const second = await put(store, 'b/k', 20, '"v2"', { ifMatch: 'v1' });
    expect(second.displaced.map((c) => c.etag)).toEqual(['"v1"']);
    await put(store, 'b/k', 30, 'v3', { ifMatch: '"v2"' });
    await put(store, 'b/k', 40, '"v4"', { ifMatch: '"v3"' });
    expect(await store.objects.head('b/k')).toMatchObject({ etag: '"v4"', sizeBytes: 40 });
    await expectLedgerConsistent(store);
  });

  it('ifMatch fails when the ETag differs or the key has no current version, and changes nothing', async () => {
    const { store } = await openTestStore(engine);
    await put(store, 'b/k', 10, '"v1"');
    const mismatch = await conditionalPut(store, 'b/k', 20, '"v2"', { ifMatch: '"other"' });
    expect(mismatch).toEqual({ committed: false, reason: 'if-match' });
    const absent = await conditionalPut(store, 'b/absent', 20, '"v2"', { ifMatch: '"v1"' });
    expect(absent).toEqual({ committed: false, reason: 'if-match' });
    expect((await store.objects.head('b/k')).etag).toBe('"v1"');
    expect(await store.objects.lookup('b/absent')).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('ifMatch "*" holds for any current version and fails for none', async () => {
    const { store } = await openTestStore(engine);
    expect(await conditionalPut(store, 'b/k', 5, '"v1"', { ifMatch: '*' })).toEqual({ committed: false, reason: 'if-match' });
    await put(store, 'b/k', 10, '"v1"');
    expect(await conditionalPut(store, 'b/k', 5, '"v2"', { ifMatch: '*' })).toEqual({ committed: true, etag: '"v2"' });
    await expectLedgerConsistent(store);
  });

  it('a bad condition is InvalidArgument naming the field, before the intent is touched', async () => {
    const { store } = await openTestStore(engine);
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 5 });
    const bad: [unknown, RegExp][] = [
      [{ ifNoneMatch: 'etag' }, /^condition\.ifNoneMatch: must be "\*", got "etag"/],
      [{ ifMatch: '' }, /^condition\.ifMatch: must be a non-empty ETag/],
      [{ ifMatch: '""' }, /^condition\.ifMatch: must be a non-empty ETag/],
      [{ ifMatch: 'a', ifNoneMatch: '*' }, /^condition: must have exactly one of ifNoneMatch, ifMatch/],
      [{}, /^condition: must have exactly one/],
      ['*', /^condition: must be/],
    ];
    for (const [condition, message] of bad) {
      const err = await store.objects.commitWrite(intent, { etag: 'e', condition: condition as WriteCondition }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
    }
    expect((await store.intents.summary()).count).toBe(1);
    await store.objects.commitWrite(intent, { etag: 'e', condition: { ifNoneMatch: '*' } });
    expect((await store.objects.head('b/k')).etag).toBe('e');
  });

  it('an intent that is no longer pending fails with reason "state", not a condition reason', async () => {
    const { store } = await openTestStore(engine);
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 5 });
    await store.objects.abortWrite(intent);
    await expect(store.objects.commitWrite(intent, { etag: 'e', condition: { ifNoneMatch: '*' } })).rejects.toMatchObject({
      code: 'PreconditionFailed',
      reason: 'state',
    });
  });

  it('8 concurrent writers of one key with ifNoneMatch "*": exactly one commits, the others fail and abort cleanly', async () => {
    const { store, openAnother } = await openTestStore(engine, { endpoints: ['hook'] });
    // Two instances on one database (PostgreSQL: two pools; SQLite: a second handle on the file).
    const stores = [store, await openAnother()];
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => conditionalPut(stores[i % 2]!, 'b/race', 100 + i, `"w${i}"`, { ifNoneMatch: '*' })),
    );
    const winners = outcomes.filter((o) => o.committed);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !o.committed)).toEqual(Array.from({ length: 7 }, () => ({ committed: false, reason: 'if-none-match' })));

    const head = await store.objects.head('b/race');
    expect(head.etag).toBe(winners[0]!.etag);
    expect(head.copies).toHaveLength(1);
    expect((await store.outbox.list()).filter((e) => e.eventType === 'ObjectCreated')).toHaveLength(1);
    expect((await store.intents.summary()).count).toBe(0);
    // The losers' storage keys are queued for deletion, their bytes orphaned until then.
    const queued = await store.cleanup.list();
    expect(queued).toHaveLength(7);
    expect(queued.every((r) => r.reason === 'condition-failed')).toBe(true);
    expect(await quotaOf(store, 'alpha')).toMatchObject({
      bytesUsed: head.sizeBytes,
      inflightBytes: 0,
      orphanBytes: queued.reduce((sum, r) => sum + r.sizeBytes, 0),
    });
    await expectLedgerConsistent(store);
  });

  it('8 concurrent writers with ifMatch of the same current ETag: exactly one replaces it (compare-and-swap)', async () => {
    const { store, openAnother } = await openTestStore(engine);
    await put(store, 'b/cas', 10, '"base"');
    const stores = [store, await openAnother()];
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => conditionalPut(stores[i % 2]!, 'b/cas', 20 + i, `"w${i}"`, { ifMatch: '"base"' })),
    );
    expect(outcomes.filter((o) => o.committed)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.committed && o.reason === 'if-match')).toHaveLength(7);
    expect((await store.objects.head('b/cas')).etag).toBe(outcomes.find((o) => o.committed)!.etag);
    await expectLedgerConsistent(store);
  });
});
