import { afterEach, expect, it } from 'vitest';
import { guessObjectKey, KNOWN_KEYS_BATCH } from '../src/store/core/backend-check.js';
import { NoSpaceError, PreconditionFailedError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

const BACKENDS = [
  { name: 'alpha', bytesLimit: 1_000_000 },
  { name: 'beta', bytesLimit: 0 },
];

async function put(store: MetadataStore, objectKey: string, sizeBytes: number, backendName = 'alpha') {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName });
  return (await store.objects.commitWrite(intent, { etag: `"${objectKey}"` })).copy;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function totals(store: MetadataStore, backendName: string) {
  const t = (await store.quota.totals()).find((b) => b.backendName === backendName);
  expect(t, `quota row of ${backendName}`).toBeDefined();
  return t!;
}

it('guesses the object key of a storage key only when its suffix is a UUID-shaped id', () => {
  expect(guessObjectKey('photos/cat.jpg!3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60')).toBe('photos/cat.jpg');
  expect(guessObjectKey('a!b/c!3F1C2A9E-8B7D-4C6E-9F0A-1B2C3D4E5F60')).toBe('a!b/c');
  expect(guessObjectKey('photos/cat.jpg')).toBe('photos/cat.jpg');
  expect(guessObjectKey('photos/cat.jpg!3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60.part2')).toBe('photos/cat.jpg!3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60.part2');
  expect(guessObjectKey('!3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60')).toBe('!3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60');
});

describeEngines('backend check', (engine) => {
  it('knows copies, intents, uploads, parts, cleanup and dead-letter rows, per backend, in batches of bound keys', async () => {
    const { store, clock } = await openTestStore(engine, { backends: BACKENDS });
    const copy = await put(store, 'b/copied', 10);
    const pending = await store.objects.beginWrite({ objectKey: 'b/pending', sizeBytes: 5, backendName: 'alpha' });
    const upload = await store.multipart.createUpload({ objectKey: 'b/multi', backendName: 'alpha' });
    const partIntent = await store.multipart.beginPart({ uploadId: upload.uploadId, partNumber: 1, sizeBytes: 7 });
    const part = await store.multipart.commitPart(partIntent, { etag: '"p1"' });
    const pendingPart = await store.multipart.beginPart({ uploadId: upload.uploadId, partNumber: 2, sizeBytes: 3 });
    const aborted = await store.objects.beginWrite({ objectKey: 'b/aborted', sizeBytes: 4, backendName: 'alpha' });
    await store.objects.abortWrite(aborted);
    const dead = await store.objects.beginWrite({ objectKey: 'b/dead', sizeBytes: 6, backendName: 'alpha' });
    await store.objects.abortWrite(dead);
    // Fail the dead one's cleanup until it moves to the dead-letter table.
    for (let attempt = 0; attempt < 20; attempt++) {
      const tasks = await store.cleanup.claim('w', 100, 60_000, ['alpha']);
      await store.cleanup.release(tasks.filter((t) => t.storageKey !== dead.storageKey).map((t) => t.id), 'w');
      const task = tasks.find((t) => t.storageKey === dead.storageKey);
      if (task && (await store.cleanup.fail(task, 'w', 'refused')) === 'dead-letter') break;
      clock.advance(25 * 3600_000);
    }
    expect((await store.cleanup.listDeadLetters()).map((d) => d.storageKey)).toEqual([dead.storageKey]);
    expect((await store.cleanup.list()).map((t) => t.storageKey)).toEqual([aborted.storageKey]);
    const onBeta = await put(store, 'b/on-beta', 2, 'beta');

    const hostile = `b/x'); DELETE FROM object_locations; --!${'0'.repeat(8)}`;
    const known = await store.backendCheck.knownStorageKeys('alpha', [
      copy.storageKey,
      pending.storageKey,
      upload.storageKey,
      part.storageKey,
      pendingPart.storageKey,
      aborted.storageKey,
      dead.storageKey,
      onBeta.storageKey,
      'b/unknown!5d0c6f1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f',
      hostile,
    ]);
    expect([...known].sort()).toEqual(
      [copy.storageKey, pending.storageKey, upload.storageKey, part.storageKey, pendingPart.storageKey, aborted.storageKey, dead.storageKey].sort(),
    );
    // The key with SQL in it was a value, not text: every copy is still there.
    expect(await store.objects.lookup('b/copied')).toHaveLength(1);
    expect(await store.backendCheck.knownStorageKeys('beta', [copy.storageKey, onBeta.storageKey])).toEqual(new Set([onBeta.storageKey]));
    expect(await store.backendCheck.knownStorageKeys('alpha', [])).toEqual(new Set());

    // More keys than one statement takes: the known ones are found in every batch.
    const many = Array.from({ length: KNOWN_KEYS_BATCH * 2 + 17 }, (_, i) => `b/none-${i}`);
    many[3] = copy.storageKey;
    many[KNOWN_KEYS_BATCH + 5] = pending.storageKey;
    many[KNOWN_KEYS_BATCH * 2 + 16] = dead.storageKey;
    expect(await store.backendCheck.knownStorageKeys('alpha', many)).toEqual(new Set([copy.storageKey, pending.storageKey, dead.storageKey]));
    await expectLedgerConsistent(store);
  });

  it('imports bytes found on a backend as the current version, counted as used, with an ObjectCreated event', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS, endpoints: ['hook'] });
    await put(store, 'b/existing', 100);
    const before = await totals(store, 'alpha');
    const storageKey = 'b/found.txt!0f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10';
    const result = await store.backendCheck.importObject({ objectKey: 'b/found.txt', backendName: 'alpha', storageKey, sizeBytes: 250, etag: '"abc"', contentType: 'text/plain' });
    expect(result.overLimitBytes).toBe(0);
    expect(result.copy).toMatchObject({ objectKey: 'b/found.txt', backendName: 'alpha', storageKey, sizeBytes: 250, etag: '"abc"', contentType: 'text/plain' });

    const copies = await store.objects.lookup('b/found.txt');
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatchObject({ backendName: 'alpha', storageKey, sizeBytes: 250, etag: '"abc"', contentType: 'text/plain', userMetadata: {} });
    const after = await totals(store, 'alpha');
    expect(after.bytesUsed).toBe(before.bytesUsed + 250);
    expect(after.freeBytes).toBe(before.freeBytes - 250);
    expect(await store.backendCheck.knownStorageKeys('alpha', [storageKey])).toEqual(new Set([storageKey]));
    const events = (await store.outbox.list()).filter((e) => e.eventType === 'ObjectCreated' && e.payload.objectKey === 'b/found.txt');
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({ sizeBytes: 250, etag: '"abc"', backends: ['alpha'], replaced: false });
    await expectLedgerConsistent(store);

    // Writes still fit the rest of the budget exactly (no stripe kept a share that is gone).
    const rest = after.freeBytes;
    const fill = await store.objects.beginWrite({ objectKey: 'b/fill', sizeBytes: rest, backendName: 'alpha' });
    expect(await caught(store.objects.beginWrite({ objectKey: 'b/one-more', sizeBytes: 1, backendName: 'alpha' }))).toBeInstanceOf(NoSpaceError);
    await store.objects.abortWrite(fill);
    await expectLedgerConsistent(store);
  });

  it('refuses to import over a current version or a storage key the metadata knows, changing nothing', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS, endpoints: ['hook'] });
    const existing = await put(store, 'b/existing', 100);
    const pending = await store.objects.beginWrite({ objectKey: 'b/pending', sizeBytes: 5, backendName: 'alpha' });
    const eventsBefore = (await store.outbox.list()).length;
    const before = await totals(store, 'alpha');

    const overVersion = await caught(
      store.backendCheck.importObject({ objectKey: 'b/existing', backendName: 'beta', storageKey: 'b/existing!1f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10', sizeBytes: 9, etag: '"x"' }),
    );
    expect(overVersion).toBeInstanceOf(PreconditionFailedError);
    expect((overVersion as Error).message).toMatch(/already exists/);
    const overKnownKey = await caught(store.backendCheck.importObject({ objectKey: 'b/other', backendName: 'alpha', storageKey: pending.storageKey, sizeBytes: 5, etag: '"x"' }));
    expect(overKnownKey).toBeInstanceOf(PreconditionFailedError);
    expect((overKnownKey as Error).message).toMatch(/already known/);

    expect(await store.objects.lookup('b/existing')).toEqual([existing]);
    expect(await store.objects.lookup('b/other')).toEqual([]);
    expect((await store.outbox.list()).length).toBe(eventsBefore);
    expect((await totals(store, 'alpha')).bytesUsed).toBe(before.bytesUsed);
    expect((await totals(store, 'beta')).bytesUsed).toBe(0);
    await expectLedgerConsistent(store);
  });

  it('an import may pass the limit: it is reported, counted exactly, and writes are refused until there is room', async () => {
    const { store } = await openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit: 1000 }] });
    await put(store, 'b/first', 600);
    const result = await store.backendCheck.importObject({ objectKey: 'b/big', backendName: 'alpha', storageKey: 'b/big!2f6c1b1e-98a7-4a43-b1f3-5e1c0d3a2b10', sizeBytes: 700, etag: '"big"' });
    expect(result.overLimitBytes).toBe(300);
    const t = await totals(store, 'alpha');
    expect(t.bytesUsed).toBe(1300);
    expect(t.freeBytes).toBe(-300);
    expect(await caught(store.objects.beginWrite({ objectKey: 'b/tiny', sizeBytes: 1, backendName: 'alpha' }))).toBeInstanceOf(NoSpaceError);
    expect((await store.quota.reconcile({ fix: false })).drifts).toEqual([]);
    const stripes = await store.db.transaction((q) => q.lockQuotaStripes({ backendName: 'alpha' }));
    for (const s of stripes) expect(s.free_bytes).toBe(0);

    // Deleting frees the space again: the ledger is whole and writes fit.
    await store.objects.deleteObject('b/big');
    const [task] = await store.cleanup.claim('w', 10, 60_000);
    await store.cleanup.complete(task!.id);
    await put(store, 'b/second', 400);
    await expectLedgerConsistent(store);
  });

  it("pages a backend's copies in storage-key order", async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    const alpha = [];
    for (const k of ['b/e', 'b/a', 'b/d', 'b/c', 'b/b']) alpha.push(await put(store, k, 3));
    await put(store, 'b/x', 1, 'beta');
    await put(store, 'b/y', 1, 'beta');
    const seen: string[] = [];
    let afterKey: string | undefined = '';
    let pages = 0;
    while (afterKey !== undefined) {
      const page = await store.backendCheck.copiesOf('alpha', { afterKey, limit: 2 });
      for (const c of page.copies) expect(c.backendName).toBe('alpha');
      seen.push(...page.copies.map((c) => c.storageKey));
      afterKey = page.nextAfterKey;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set(alpha.map((c) => c.storageKey)));
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]! < seen[i]!).toBe(true);
    const beta = await store.backendCheck.copiesOf('beta');
    expect(beta.copies.map((c) => c.objectKey).sort()).toEqual(['b/x', 'b/y']);
    expect(beta.nextAfterKey).toBeUndefined();
    expect((await store.backendCheck.copiesOf('nobody')).copies).toEqual([]);
  });
});
