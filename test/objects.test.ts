import { afterEach, describe, expect, it } from 'vitest';
import { guessObjectKey } from '../src/store/core/backend-check.js';
import { InvalidArgumentError, NoSpaceError, NotFoundError, PreconditionFailedError } from '../src/store/core/errors.js';
import { MAX_OBJECT_KEY_BYTES, versionPrefixes } from '../src/store/core/keys.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

async function put(store: MetadataStore, objectKey: string, sizeBytes: number, etag = `etag-${objectKey}-${sizeBytes}`, backendName?: string) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, ...(backendName ? { backendName } : {}) });
  return store.objects.commitWrite(intent, { etag });
}

async function quotaOf(store: MetadataStore, backend: string) {
  const q = (await store.quota.totals()).find((t) => t.backendName === backend);
  if (!q) throw new Error(`no quota row for ${backend}`);
  return q;
}

describeEngines('objects and quota', (engine) => {
  it('storage keys: readable when every backend keeps the key as it is; escaped (reversibly) for empty or dot segments; hashed when too long', async () => {
    const { store } = await openTestStore(engine);
    const keyOf = async (objectKey: string) => (await store.objects.beginWrite({ objectKey, sizeBytes: 1 })).storageKey;
    const ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    expect(await keyOf('b/dir/file.txt')).toMatch(new RegExp(`^b/dir/file\\.txt!${ID}$`));
    expect(await keyOf('b/trailing/')).toMatch(new RegExp(`^b/trailing/!${ID}$`));
    expect(await keyOf('b/dir/..')).toMatch(new RegExp(`^b/dir/\\.\\.!${ID}$`)); // the last segment gets the id
    expect(await keyOf('b/100%')).toMatch(new RegExp(`^b/100%!${ID}$`));
    // S3 services that map keys onto paths fold these (s3rver answers `a//b` with an error): escaped,
    // and backends check reads the object key back from the storage key.
    const escaped: Record<string, string> = {
      'b//double': '~esc/b/%/double!',
      'b/./here': '~esc/b/%2E/here!',
      'b/../up': '~esc/b/%2E%2E/up!',
      'b/x//y/%2E/50%': '~esc/b/x/%/y/%252E/50%25!',
    };
    for (const [objectKey, prefix] of Object.entries(escaped)) {
      const storageKey = await keyOf(objectKey);
      expect(storageKey.startsWith(prefix), `${objectKey} -> ${storageKey}`).toBe(true);
      expect(guessObjectKey(storageKey)).toBe(objectKey);
      expect(versionPrefixes(objectKey)).toContain(prefix);
      expect(versionPrefixes(objectKey)).toContain(`${objectKey}!`); // where an older release wrote it
    }
    expect(guessObjectKey(await keyOf('b/plain/key'))).toBe('b/plain/key');
    // A segment longer than a file name, or a key longer than a backend takes: the hash.
    expect(await keyOf(`b/${'s'.repeat(250)}`)).toMatch(new RegExp(`^~long/[0-9a-f]{64}!${ID}$`));
    expect(await keyOf(`b/${'d/'.repeat(500)}x`)).toMatch(new RegExp(`^~long/[0-9a-f]{64}!${ID}$`));
  });

  it('begin write admits the bytes as in-flight; commit makes them used and the object readable', async () => {
    const { store } = await openTestStore(engine, { endpoints: ['hook'] });
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 100, contentType: 'text/plain', userMetadata: { owner: 'ann' } });
    expect(intent).toMatchObject({ kind: 'write', objectKey: 'b/k', backendName: 'alpha', sizeBytes: 100 });
    expect(intent.storageKey).toContain(intent.intentId);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 0, inflightBytes: 100 });
    expect(await store.objects.lookup('b/k')).toEqual([]);

    const result = await store.objects.commitWrite(intent, { etag: '"abc"', contentHash: 'sha256:1' });
    expect(result.displaced).toEqual([]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 100, inflightBytes: 0, orphanBytes: 0 });
    const head = await store.objects.head('b/k');
    expect(head).toMatchObject({ objectKey: 'b/k', sizeBytes: 100, etag: '"abc"', contentType: 'text/plain', userMetadata: { owner: 'ann' }, contentHash: 'sha256:1' });
    expect(head.copies.map((c) => c.backendName)).toEqual(['alpha']);
    const events = await store.outbox.list();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventType: 'ObjectCreated', endpoint: 'hook', payload: { objectKey: 'b/k', sizeBytes: 100, etag: '"abc"' } });
    await expectLedgerConsistent(store);
  });

  it('overwrite on the same backend keeps the prior copy until the new commit, then queues its bytes', async () => {
    const { store } = await openTestStore(engine);
    const first = await put(store, 'b/k', 100);
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 250, backendName: 'alpha' });
    expect(intent.storageKey).not.toBe(first.copy.storageKey); // distinct storage keys: the new bytes never overwrite the old
    // Between begin and commit the prior copy is still the object.
    expect((await store.objects.lookup('b/k')).map((c) => c.storageKey)).toEqual([first.copy.storageKey]);
    expect(await store.cleanup.list()).toEqual([]);
    const second = await store.objects.commitWrite(intent, { etag: 'e2' });
    expect(second.displaced.map((c) => c.storageKey)).toEqual([first.copy.storageKey]);
    expect((await store.objects.head('b/k')).copies.map((c) => c.storageKey)).toEqual([intent.storageKey]);
    const queued = await store.cleanup.list();
    expect(queued.map((r) => [r.backendName, r.storageKey, r.sizeBytes, r.reason])).toEqual([['alpha', first.copy.storageKey, 100, 'overwritten']]);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 250, orphanBytes: 100, inflightBytes: 0 });
    await expectLedgerConsistent(store);
  });

  it('overwrite onto another backend credits the old backend and queues the old copy there', async () => {
    const { store } = await openTestStore(engine);
    await put(store, 'b/k', 100, 'e1', 'alpha');
    await put(store, 'b/k', 70, 'e2', 'beta');
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 0, orphanBytes: 100 });
    expect(await quotaOf(store, 'beta')).toMatchObject({ bytesUsed: 70, orphanBytes: 0 });
    expect((await store.objects.head('b/k')).copies.map((c) => c.backendName)).toEqual(['beta']);
    await expectLedgerConsistent(store);
  });

  it('refuses an admission that would pass the limit, counting orphan and in-flight bytes', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    await put(store, 'b/one', 400);
    await put(store, 'b/one', 300); // 400 orphaned until cleanup: used 300 + orphan 400
    await store.objects.beginWrite({ objectKey: 'b/two', sizeBytes: 200 }); // in flight
    await expect(store.objects.beginWrite({ objectKey: 'b/three', sizeBytes: 101 })).rejects.toBeInstanceOf(NoSpaceError);
    const fits = await store.objects.beginWrite({ objectKey: 'b/three', sizeBytes: 100 }); // exactly full
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 300, orphanBytes: 400, inflightBytes: 300, freeBytes: 0 });
    await expect(store.objects.beginWrite({ objectKey: 'b/four', sizeBytes: 1 })).rejects.toThrow(/no room/);
    await store.objects.abortWrite(fits);
    await expectLedgerConsistent(store);
  });

  it('choose backend: pack takes the first with room, spread the least full; both skip full ones', async () => {
    const backends = [
      { name: 'small', bytesLimit: 100 },
      { name: 'large', bytesLimit: 1000 },
      { name: 'unlimited', bytesLimit: 0 },
    ];
    const packed = await openTestStore(engine, { backends, placement: 'pack' });
    expect((await packed.store.objects.beginWrite({ objectKey: 'b/1', sizeBytes: 60 })).backendName).toBe('small');
    expect((await packed.store.objects.beginWrite({ objectKey: 'b/2', sizeBytes: 60 })).backendName).toBe('large'); // small has 40 left
    expect((await packed.store.objects.beginWrite({ objectKey: 'b/3', sizeBytes: 5000 })).backendName).toBe('unlimited');
    await expectLedgerConsistent(packed.store);

    const spread = await openTestStore(engine, { backends, placement: 'spread' });
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await spread.store.objects.beginWrite({ objectKey: `b/${i}`, sizeBytes: 50, candidates: ['small', 'large'] })).backendName);
    // small (0%) -> small is now 50%, large 0% -> large 5%, small 50% -> large 10%
    expect(order).toEqual(['small', 'large', 'large']);
    expect((await spread.store.objects.beginWrite({ objectKey: 'b/u', sizeBytes: 50 })).backendName).toBe('unlimited'); // unlimited counts as empty
    await expect(spread.store.objects.beginWrite({ objectKey: 'b/x', sizeBytes: 2000, candidates: ['small', 'large'] })).rejects.toBeInstanceOf(NoSpaceError);
    await expectLedgerConsistent(spread.store);

    // Equally full (all unlimited): the one holding the fewest bytes, so unlimited backends take turns.
    const open = await openTestStore(engine, { backends: [{ name: 'u1', bytesLimit: 0 }, { name: 'u2', bytesLimit: 0 }, { name: 'u3', bytesLimit: 0 }], placement: 'spread' });
    const turns = [];
    for (const size of [100, 100, 100, 10, 500]) turns.push((await open.store.objects.beginWrite({ objectKey: `b/t${turns.length}`, sizeBytes: size })).backendName);
    expect(turns).toEqual(['u1', 'u2', 'u3', 'u1', 'u2']); // a tie at 100 each goes to u1 (110), then u2 holds the fewest
    await expectLedgerConsistent(open.store);
  });

  it('abort write queues the storage key for deletion and keeps the bytes counted until then', async () => {
    const { store } = await openTestStore(engine);
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 30 });
    expect(await store.objects.abortWrite(intent)).toBe(true);
    expect(await store.objects.abortWrite(intent)).toBe(false); // already resolved
    expect(await quotaOf(store, 'alpha')).toMatchObject({ inflightBytes: 0, orphanBytes: 30 });
    expect((await store.cleanup.list()).map((r) => [r.storageKey, r.reason])).toEqual([[intent.storageKey, 'aborted']]);
    await expect(store.objects.commitWrite(intent, { etag: 'e' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expectLedgerConsistent(store);
  });

  it('commit write needs an ETag from begin or commit, and rejects a resolved or foreign intent', async () => {
    const { store } = await openTestStore(engine);
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 10 });
    await expect(store.objects.commitWrite(intent)).rejects.toThrow(/etag: is required/);
    await expect(store.objects.commitWrite({ intentId: intent.intentId, objectKey: 'b/other' }, { etag: 'e' })).rejects.toBeInstanceOf(InvalidArgumentError);
    // The failed commits changed nothing: the intent is still pending and commits normally.
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toHaveLength(1);
    const withEtag = await store.objects.beginWrite({ objectKey: 'b/m', sizeBytes: 10, etag: 'from-md5' });
    expect((await store.objects.commitWrite(withEtag)).copy.etag).toBe('from-md5');
    await store.objects.commitWrite(intent, { etag: 'e' });
    await expect(store.objects.commitWrite(intent, { etag: 'e' })).rejects.toThrow(/not pending/);
    await expect(store.objects.commitWrite({ intentId: '00000000-0000-0000-0000-000000000000', objectKey: 'b/k' }, { etag: 'e' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await expectLedgerConsistent(store);
  });

  it('delete removes every copy, credits quota, queues the bytes and announces ObjectRemoved', async () => {
    const { store } = await openTestStore(engine, { endpoints: ['hook'] });
    await put(store, 'b/k', 100, 'e', 'alpha');
    const copy = await store.objects.beginCopy({ objectKey: 'b/k', backendName: 'beta' });
    await store.objects.commitCopy(copy);
    const removed = await store.objects.deleteObject('b/k');
    expect(removed.map((c) => c.backendName).sort()).toEqual(['alpha', 'beta']);
    await expect(store.objects.head('b/k')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.objects.deleteObject('b/k')).rejects.toBeInstanceOf(NotFoundError);
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 0, orphanBytes: 100 });
    expect(await quotaOf(store, 'beta')).toMatchObject({ bytesUsed: 0, orphanBytes: 100 });
    const events = await store.outbox.list();
    expect(events.map((e) => e.eventType)).toEqual(['ObjectCreated', 'ObjectRemoved']);
    expect(events[1]!.payload).toMatchObject({ objectKey: 'b/k', backends: ['alpha', 'beta'] });
    await expectLedgerConsistent(store);
  });

  it('delete many removes up to 1000 keys in one transaction and reports the missing ones', async () => {
    const { store } = await openTestStore(engine, { endpoints: ['hook'] });
    for (const k of ['b/1', 'b/2', 'b/3']) await put(store, k, 10);
    const result = await store.objects.deleteObjects(['b/3', 'b/1', 'b/missing', 'b/1']);
    expect(result.deleted.map((d) => d.objectKey)).toEqual(['b/1', 'b/3']);
    expect(result.notFound).toEqual(['b/missing']);
    expect((await store.listing.list()).objects.map((o) => o.objectKey)).toEqual(['b/2']);
    expect((await store.outbox.list({ state: 'pending' })).filter((e) => e.eventType === 'ObjectRemoved')).toHaveLength(2);
    const many = Array.from({ length: 1000 }, (_, i) => `b/many-${i}`);
    expect((await store.objects.deleteObjects(many)).notFound).toHaveLength(1000);
    await expect(store.objects.deleteObjects([...many, 'b/one-more'])).rejects.toThrow(/objectKeys: lists 1001 keys; the limit is 1000/);
    await expect(store.objects.deleteObjects([])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expectLedgerConsistent(store);
  });

  it('add copy and remove copy keep one version on several backends', async () => {
    const { store } = await openTestStore(engine);
    await put(store, 'b/k', 40, 'e', 'alpha');
    const intent = await store.objects.beginCopy({ objectKey: 'b/k', backendName: 'beta' });
    expect(intent).toMatchObject({ kind: 'copy', backendName: 'beta', sizeBytes: 40, etag: 'e' });
    expect(await quotaOf(store, 'beta')).toMatchObject({ inflightBytes: 40 });
    const committed = await store.objects.commitCopy(intent);
    expect(committed.status).toBe('committed');
    const head = await store.objects.head('b/k');
    expect(head.copies.map((c) => c.backendName)).toEqual(['alpha', 'beta']);
    expect(new Set(head.copies.map((c) => c.createdAt.getTime())).size).toBe(1); // one version
    await expect(store.objects.beginCopy({ objectKey: 'b/k', backendName: 'beta' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.objects.beginCopy({ objectKey: 'b/none', backendName: 'beta' })).rejects.toBeInstanceOf(NotFoundError);

    const removed = await store.objects.removeCopy({ objectKey: 'b/k', backendName: 'alpha' });
    expect(removed.backendName).toBe('alpha');
    expect(await quotaOf(store, 'alpha')).toMatchObject({ bytesUsed: 0, orphanBytes: 40 });
    await expect(store.objects.removeCopy({ objectKey: 'b/k', backendName: 'beta' })).rejects.toThrow(/last one/);
    await expect(store.objects.removeCopy({ objectKey: 'b/k', backendName: 'alpha' })).rejects.toBeInstanceOf(NotFoundError);
    await expectLedgerConsistent(store);
  });

  it('a copy of a version that was overwritten meanwhile is discarded, not installed', async () => {
    const { store } = await openTestStore(engine);
    await put(store, 'b/k', 40, 'v1', 'alpha');
    const copy = await store.objects.beginCopy({ objectKey: 'b/k', backendName: 'beta' });
    await put(store, 'b/k', 50, 'v2', 'alpha');
    expect(await store.objects.commitCopy(copy)).toEqual({ status: 'superseded' });
    expect((await store.objects.head('b/k')).copies.map((c) => [c.backendName, c.etag])).toEqual([['alpha', 'v2']]);
    expect((await store.cleanup.list()).map((r) => [r.backendName, r.reason]).sort()).toEqual([
      ['alpha', 'overwritten'],
      ['beta', 'superseded'],
    ]);
    await expectLedgerConsistent(store);
  });

  it('reconcile finds and fixes drift in every counter', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 10_000 }] });
    await put(store, 'b/k', 100);
    await put(store, 'b/k', 200);
    await store.objects.beginWrite({ objectKey: 'b/p', sizeBytes: 50 });
    // Corrupt the ledger behind the store's back, as a bug in an older version might have.
    await store.db.transaction((q) => q.addBaseDeltas({ backendName: 'alpha', usedDelta: 7, orphanDelta: -3, inflightDelta: -4, now: new Date() }));
    const audit = await store.quota.reconcile({ fix: false });
    expect(audit.fixed).toBe(false);
    expect(audit.drifts).toEqual([
      { backendName: 'alpha', counter: 'bytes_used', recorded: 207, actual: 200 },
      { backendName: 'alpha', counter: 'orphan_bytes', recorded: 97, actual: 100 },
      { backendName: 'alpha', counter: 'inflight_bytes', recorded: 46, actual: 50 },
    ]);
    const fixed = await store.quota.reconcile({ fix: true });
    expect(fixed.drifts).toHaveLength(3);
    expect((await store.quota.reconcile({ fix: false })).drifts).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('sync applies a changed limit, keeps the counters, and refuses admissions above a lowered limit', async () => {
    const db = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    await put(db.store, 'b/k', 600);
    const { openStore } = await import('../src/store/open.js');
    const { appConfig } = await import('./support/engines.js');
    // Reopen with a lower limit (an operator edited the config and restarted).
    const config = appConfig(db.store.db.engine === 'sqlite' ? { driver: 'sqlite', path: db.store.db.location, synchronous: 'normal', busyTimeoutMs: 5000, mmapBytes: 0 } : (db.store.db as unknown as { config: import('../src/config/types.js').PostgresConfig }).config, {
      backends: [{ name: 'alpha', bytesLimit: 500 }],
    });
    await db.store.close();
    const reopened = await openStore(config);
    expect(await quotaOf(reopened, 'alpha')).toMatchObject({ bytesLimit: 500, bytesUsed: 600, freeBytes: -100 });
    await expect(reopened.objects.beginWrite({ objectKey: 'b/x', sizeBytes: 1 })).rejects.toBeInstanceOf(NoSpaceError);
    expect((await reopened.quota.reconcile({ fix: false })).drifts).toEqual([]);
    await reopened.objects.deleteObject('b/k');
    const done = await reopened.cleanup.claim('w', 10, 60_000);
    for (const t of done) await reopened.cleanup.complete(t.id);
    expect((await reopened.objects.beginWrite({ objectKey: 'b/x', sizeBytes: 500 })).backendName).toBe('alpha');
    await reopened.close();
  });

  it('rejects bad input with errors that name the field', async () => {
    const { store } = await openTestStore(engine);
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => store.objects.beginWrite({ objectKey: '', sizeBytes: 1 }), /objectKey: must be a non-empty string/],
      [() => store.objects.beginWrite({ objectKey: 'b/\u0000', sizeBytes: 1 }), /objectKey: contains a NUL/],
      [() => store.objects.beginWrite({ objectKey: 'b/\uD800', sizeBytes: 1 }), /objectKey: contains a lone surrogate/],
      [() => store.objects.beginWrite({ objectKey: `b/${'x'.repeat(MAX_OBJECT_KEY_BYTES)}`, sizeBytes: 1 }), /objectKey: is \d+ bytes of UTF-8; the limit is/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: -1 }), /sizeBytes: must be a whole number/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1.5 }), /sizeBytes: must be a whole number/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 2 ** 60 }), /sizeBytes: must be a whole number/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1, userMetadata: { a: 1 as unknown as string } }), /userMetadata\.a: must be a string/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1, userMetadata: { big: 'x'.repeat(3000) } }), /userMetadata: is \d+ bytes as JSON/],
      [() => store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 1, backendName: 'nowhere' }), /backend: unknown backend "nowhere"/],
      [() => store.objects.head('b/missing'), /object not found: "b\/missing"/],
    ];
    for (const [call, message] of cases) await expect(call()).rejects.toThrow(message);
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toEqual([]); // nothing was admitted
    await expectLedgerConsistent(store);
  });

  it('a rolled-back change announces nothing (I5)', async () => {
    const { store } = await openTestStore(engine, { endpoints: ['hook'] });
    await put(store, 'b/k', 10);
    const before = await store.outbox.list();
    // Make the commit fail after its event was recorded: a copy row for the same backend and storage key.
    const intent = await store.objects.beginWrite({ objectKey: 'b/k', sizeBytes: 5 });
    await store.db.transaction((q) =>
      q.insertCopy({ objectKey: 'b/other', backendName: intent.backendName, storageKey: intent.storageKey, sizeBytes: 0, etag: 'x', contentType: 'x/y', userMetadata: '{}', contentHash: null, createdAt: new Date() }),
    );
    await expect(store.objects.commitWrite(intent, { etag: 'e' })).rejects.toMatchObject({ code: 'ConstraintViolation' });
    expect(await store.outbox.list()).toEqual(before);
    expect((await store.objects.head('b/k')).sizeBytes).toBe(10); // the prior copy is intact
    expect(await store.intents.listOlderThan(new Date(8.64e15), 10)).toHaveLength(1); // and the intent kept for the reaper
    await store.objects.deleteObject('b/other');
  });
});
