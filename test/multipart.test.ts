import { createHash } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { InvalidArgumentError, NoSpaceError, NotFoundError } from '../src/store/core/errors.js';
import { multipartEtag } from '../src/store/core/multipart-etag.js';
import type { MetadataStore } from '../src/store/core/store.js';
import type { MultipartUpload, UploadPart, WriteIntent } from '../src/store/core/types.js';
import { describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const BIG_LIMIT = 1024 * MiB;

function md5hex(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** A quoted hex MD5, as S3 backends answer it. */
function etagOf(label: string): string {
  return `"${md5hex(label)}"`;
}

/** S3's multipart ETag computed independently of the code under test. */
function expectedMultipartEtag(partEtags: readonly string[]): string {
  const md5 = createHash('md5');
  for (const e of partEtags) md5.update(Buffer.from(e.replace(/"/g, ''), 'hex'));
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function counters(store: MetadataStore): Promise<{ used: number; orphan: number; inflight: number }> {
  const alpha = (await store.quota.totals()).find((b) => b.backendName === 'alpha');
  expect(alpha, 'backend alpha in quota totals').toBeDefined();
  return { used: alpha!.bytesUsed, orphan: alpha!.orphanBytes, inflight: alpha!.inflightBytes };
}

async function intentCount(store: MetadataStore): Promise<number> {
  return (await store.intents.summary()).count;
}

async function putPart(store: MetadataStore, uploadId: string, partNumber: number, sizeBytes: number, etag: string): Promise<UploadPart> {
  const intent = await store.multipart.beginPart({ uploadId, partNumber, sizeBytes });
  return store.multipart.commitPart(intent, { etag });
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function expectInvalid(p: Promise<unknown>, field: string): Promise<void> {
  const err = await caught(p);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).field).toBe(field);
}

async function expectNotFound(p: Promise<unknown>): Promise<void> {
  const err = await caught(p);
  expect(err).toBeInstanceOf(NotFoundError);
}

async function open(engine: Parameters<typeof openTestStore>[0], bytesLimit = BIG_LIMIT) {
  return openTestStore(engine, { backends: [{ name: 'alpha', bytesLimit }], endpoints: ['hook'] });
}

describeEngines('multipart uploads', (engine) => {
  it('counts part bytes as in-flight from beginPart; a re-uploaded part number replaces the part and queues the old bytes', async () => {
    const { store } = await open(engine);
    const up = await store.multipart.createUpload({ objectKey: 'bkt/one' });
    expect(up.backendName).toBe('alpha');
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 0 });

    const first = await store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 1, sizeBytes: 6 * MiB });
    expect(first.kind).toBe('part');
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 6 * MiB });
    expect(await intentCount(store)).toBe(1);
    expect((await store.multipart.listParts(up.uploadId)).parts).toEqual([]);

    const oldPart = await store.multipart.commitPart(first, { etag: etagOf('v1') });
    expect(oldPart).toMatchObject({ uploadId: up.uploadId, partNumber: 1, etag: etagOf('v1'), sizeBytes: 6 * MiB, storageKey: first.storageKey });
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 6 * MiB });
    expect(await intentCount(store)).toBe(0);
    expect((await store.multipart.listParts(up.uploadId)).parts).toEqual([oldPart]);
    expect(await store.cleanup.list()).toEqual([]);

    // Re-upload part 1 with other bytes: both count as in-flight until the new one commits.
    const second = await store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 1, sizeBytes: 7 * MiB });
    expect(second.storageKey).not.toBe(first.storageKey);
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 13 * MiB });
    const newPart = await store.multipart.commitPart(second, { etag: etagOf('v2') });

    const listed = await store.multipart.listParts(up.uploadId);
    expect(listed.isTruncated).toBe(false);
    expect(listed.parts).toHaveLength(1);
    expect(listed.parts[0]).toMatchObject({ partNumber: 1, etag: etagOf('v2'), sizeBytes: 7 * MiB, storageKey: second.storageKey });
    expect(listed.parts[0]).toEqual(newPart);

    expect(await counters(store)).toEqual({ used: 0, orphan: 6 * MiB, inflight: 7 * MiB });
    const cleanup = await store.cleanup.list();
    expect(cleanup).toHaveLength(1);
    expect(cleanup[0]).toMatchObject({ backendName: 'alpha', storageKey: first.storageKey, objectKey: 'bkt/one', sizeBytes: 6 * MiB });
    expect(await store.outbox.list()).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('pages listParts in part-number order with afterPart, maxParts and isTruncated', async () => {
    const { store } = await open(engine);
    const up = await store.multipart.createUpload({ objectKey: 'bkt/paged' });
    for (const n of [3, 1, 5, 2, 4]) await putPart(store, up.uploadId, n, n * 10, etagOf(`p${n}`));
    const numbers = (parts: readonly UploadPart[]) => parts.map((p) => p.partNumber);

    const all = await store.multipart.listParts(up.uploadId);
    expect(numbers(all.parts)).toEqual([1, 2, 3, 4, 5]);
    expect(all.parts.map((p) => p.sizeBytes)).toEqual([10, 20, 30, 40, 50]);
    expect(all.parts.map((p) => p.etag)).toEqual([1, 2, 3, 4, 5].map((n) => etagOf(`p${n}`)));
    expect(all.isTruncated).toBe(false);

    const p1 = await store.multipart.listParts(up.uploadId, { maxParts: 2 });
    expect(numbers(p1.parts)).toEqual([1, 2]);
    expect(p1.isTruncated).toBe(true);
    const p2 = await store.multipart.listParts(up.uploadId, { afterPart: 2, maxParts: 2 });
    expect(numbers(p2.parts)).toEqual([3, 4]);
    expect(p2.isTruncated).toBe(true);
    const p3 = await store.multipart.listParts(up.uploadId, { afterPart: 4, maxParts: 2 });
    expect(numbers(p3.parts)).toEqual([5]);
    expect(p3.isTruncated).toBe(false);

    const exact = await store.multipart.listParts(up.uploadId, { maxParts: 5 });
    expect(numbers(exact.parts)).toEqual([1, 2, 3, 4, 5]);
    expect(exact.isTruncated).toBe(false);
    const past = await store.multipart.listParts(up.uploadId, { afterPart: 5 });
    expect(past).toEqual({ parts: [], isTruncated: false });
    const between = await store.multipart.listParts(up.uploadId, { afterPart: 3, maxParts: 1 });
    expect(numbers(between.parts)).toEqual([4]);
    expect(between.isTruncated).toBe(true);

    await expectInvalid(store.multipart.listParts(up.uploadId, { maxParts: 0 }), 'maxParts');
    await expectNotFound(store.multipart.listParts('no-such-upload'));
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 150 });
    await expectLedgerConsistent(store);
  });

  it('completes an upload into the current object like a commit write, displacing the existing object', async () => {
    const { store } = await open(engine);
    const key = 'bkt/movie.mp4';
    const oldIntent = await store.objects.beginWrite({ objectKey: key, sizeBytes: 3 * MiB, etag: etagOf('old') });
    const old = await store.objects.commitWrite(oldIntent);
    expect(await counters(store)).toEqual({ used: 3 * MiB, orphan: 0, inflight: 0 });
    const eventsBefore = await store.outbox.list();
    expect(eventsBefore).toHaveLength(1);

    const up = await store.multipart.createUpload({ objectKey: key, contentType: 'video/mp4', userMetadata: { camera: 'x100' } });
    const e = [1, 2, 3, 4].map((n) => etagOf(`movie-${n}`));
    const part1 = await putPart(store, up.uploadId, 1, 5 * MiB, e[0]!);
    const part2 = await putPart(store, up.uploadId, 2, 6 * MiB, e[1]!);
    const part3 = await putPart(store, up.uploadId, 3, 2 * MiB, e[2]!);
    const part4 = await putPart(store, up.uploadId, 4, 1 * MiB, e[3]!);
    expect(await counters(store)).toEqual({ used: 3 * MiB, orphan: 0, inflight: 14 * MiB });

    // Part 3 is left out: its bytes are not part of the object.
    const result = await store.multipart.completeUpload(up.uploadId, [
      { partNumber: 1, etag: e[0]! },
      { partNumber: 2, etag: e[1]! },
      { partNumber: 4, etag: e[3]! },
    ]);
    const etag = multipartEtag([e[0]!, e[1]!, e[3]!]);
    expect(etag).toBe(expectedMultipartEtag([e[0]!, e[1]!, e[3]!]));
    expect(etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const size = part1.sizeBytes + part2.sizeBytes + part4.sizeBytes;
    expect(size).toBe(12 * MiB);

    expect(result.copy).toMatchObject({
      objectKey: key,
      backendName: 'alpha',
      storageKey: up.storageKey,
      sizeBytes: size,
      etag,
      contentType: 'video/mp4',
      userMetadata: { camera: 'x100' },
    });
    expect(result.displaced).toEqual([old.copy]);

    const head = await store.objects.head(key);
    expect(head).toMatchObject({ objectKey: key, sizeBytes: size, etag, contentType: 'video/mp4', userMetadata: { camera: 'x100' } });
    expect(head.copies).toHaveLength(1);
    expect(head.copies[0]).toMatchObject({ backendName: 'alpha', storageKey: up.storageKey, sizeBytes: size, etag });
    expect(await store.objects.lookup(key)).toEqual(head.copies);

    // In-flight went to used; the displaced copy and the unused part are orphans.
    expect(await counters(store)).toEqual({ used: size, orphan: 3 * MiB + 2 * MiB, inflight: 0 });
    const cleanup = await store.cleanup.list();
    expect(cleanup.map((c) => ({ storageKey: c.storageKey, sizeBytes: c.sizeBytes, objectKey: c.objectKey, backendName: c.backendName })).sort((a, b) => byteOrder(a.storageKey, b.storageKey))).toEqual(
      [
        { storageKey: old.copy.storageKey, sizeBytes: 3 * MiB, objectKey: key, backendName: 'alpha' },
        { storageKey: part3.storageKey, sizeBytes: 2 * MiB, objectKey: key, backendName: 'alpha' },
      ].sort((a, b) => byteOrder(a.storageKey, b.storageKey)),
    );

    // The upload and its parts are gone.
    await expectNotFound(store.multipart.getUpload(up.uploadId));
    await expectNotFound(store.multipart.listParts(up.uploadId));
    await expectNotFound(store.multipart.abortUpload(up.uploadId));
    await expectNotFound(store.multipart.completeUpload(up.uploadId, [{ partNumber: 1, etag: e[0]! }]));
    await expectNotFound(store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 5, sizeBytes: 1 }));
    expect((await store.multipart.listUploads()).uploads).toEqual([]);
    expect(await intentCount(store)).toBe(0);

    const events = await store.outbox.list();
    expect(events).toHaveLength(2);
    const created = events.find((ev) => !eventsBefore.some((b) => b.id === ev.id));
    expect(created).toBeDefined();
    expect(created!.eventType).toBe('ObjectCreated');
    expect(created!.endpoint).toBe('hook');
    expect(created!.payload).toMatchObject({ objectKey: key, sizeBytes: size, etag, contentType: 'video/mp4', backends: ['alpha'], replaced: true });
    await expectLedgerConsistent(store);
  });

  it('completes into a new key with every part: nothing is queued, the ETag counts the parts, and a small last part is fine', async () => {
    const { store } = await open(engine);
    const key = 'bkt/new';
    const up = await store.multipart.createUpload({ objectKey: key });
    const e1 = etagOf('n1');
    const e2 = etagOf('n2');
    await putPart(store, up.uploadId, 1, MIN_PART, e1);
    await putPart(store, up.uploadId, 2, 1, e2);
    // ETags may come back with or without quotes.
    const result = await store.multipart.completeUpload(up.uploadId, [
      { partNumber: 1, etag: e1.replace(/"/g, '') },
      { partNumber: 2, etag: e2 },
    ]);
    const etag = expectedMultipartEtag([e1, e2]);
    expect(etag.endsWith('-2"')).toBe(true);
    expect(result.copy.etag).toBe(etag);
    expect(result.copy.sizeBytes).toBe(MIN_PART + 1);
    expect(result.displaced).toEqual([]);
    expect(await counters(store)).toEqual({ used: MIN_PART + 1, orphan: 0, inflight: 0 });
    expect(await store.cleanup.list()).toEqual([]);
    const events = await store.outbox.list();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventType: 'ObjectCreated', endpoint: 'hook' });
    expect(events[0]!.payload).toMatchObject({ objectKey: key, sizeBytes: MIN_PART + 1, etag, replaced: false });
    expect((await store.objects.head(key)).etag).toBe(etag);

    // A single-part upload: "-1", any size.
    const single = await store.multipart.createUpload({ objectKey: 'bkt/single' });
    await putPart(store, single.uploadId, 7, 42, etagOf('s'));
    const one = await store.multipart.completeUpload(single.uploadId, [{ partNumber: 7, etag: etagOf('s') }]);
    expect(one.copy.etag).toBe(expectedMultipartEtag([etagOf('s')]));
    expect(one.copy.etag).toMatch(/-1"$/);
    expect(one.copy.sizeBytes).toBe(42);
    expect(await counters(store)).toEqual({ used: MIN_PART + 43, orphan: 0, inflight: 0 });
    await expectLedgerConsistent(store);
  });

  it('a part committed after its upload completed is refused with NotFound and its bytes are queued', async () => {
    const { store } = await open(engine);
    const up = await store.multipart.createUpload({ objectKey: 'bkt/late' });
    await putPart(store, up.uploadId, 1, MIN_PART, etagOf('l1'));
    const late = await store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 2, sizeBytes: 3 * MiB });
    await store.multipart.completeUpload(up.uploadId, [{ partNumber: 1, etag: etagOf('l1') }]);
    // The late part's intent is still admitted in-flight.
    expect(await counters(store)).toEqual({ used: MIN_PART, orphan: 0, inflight: 3 * MiB });

    await expectNotFound(store.multipart.commitPart(late, { etag: etagOf('l2') }));
    expect(await counters(store)).toEqual({ used: MIN_PART, orphan: 3 * MiB, inflight: 0 });
    const cleanup = await store.cleanup.list();
    expect(cleanup).toHaveLength(1);
    expect(cleanup[0]).toMatchObject({ storageKey: late.storageKey, sizeBytes: 3 * MiB, backendName: 'alpha' });
    expect(await intentCount(store)).toBe(0);
    expect((await store.objects.head('bkt/late')).sizeBytes).toBe(MIN_PART);
    await expectLedgerConsistent(store);
  });

  it('leaves the upload intact and retryable after every completion failure', async () => {
    const { store } = await open(engine);
    const key = 'bkt/retry';
    const up = await store.multipart.createUpload({ objectKey: key });
    const e1 = etagOf('r1');
    const e2 = etagOf('r2');
    const e3 = etagOf('r3');
    await putPart(store, up.uploadId, 1, MIN_PART, e1);
    await putPart(store, up.uploadId, 2, MiB, e2); // too small to be anything but the last part
    await putPart(store, up.uploadId, 3, MIN_PART, e3);
    // One replaced part, so the cleanup queue and orphan counter are not trivially empty.
    await putPart(store, up.uploadId, 3, 2 * MIN_PART, e3);

    const snapshot = async () => ({
      upload: await store.multipart.getUpload(up.uploadId),
      parts: (await store.multipart.listParts(up.uploadId)).parts,
      counters: await counters(store),
      cleanup: await store.cleanup.list(),
      outbox: await store.outbox.list(),
      copies: await store.objects.lookup(key),
      intents: await intentCount(store),
    });
    const before = await snapshot();
    expect(before.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(before.counters).toEqual({ used: 0, orphan: MIN_PART, inflight: MIN_PART + MiB + 2 * MIN_PART });
    expect(before.copies).toEqual([]);
    expect(before.cleanup).toHaveLength(1);

    const failures: { name: string; run: () => Promise<unknown>; check: (err: unknown) => void }[] = [
      { name: 'empty part list', run: () => store.multipart.completeUpload(up.uploadId, []), check: invalid('parts') },
      {
        name: 'parts out of order',
        run: () =>
          store.multipart.completeUpload(up.uploadId, [
            { partNumber: 3, etag: e3 },
            { partNumber: 1, etag: e1 },
          ]),
        check: invalid('parts[1].partNumber'),
      },
      {
        name: 'a repeated part',
        run: () =>
          store.multipart.completeUpload(up.uploadId, [
            { partNumber: 1, etag: e1 },
            { partNumber: 1, etag: e1 },
          ]),
        check: invalid('parts[1].partNumber'),
      },
      {
        name: 'a part never uploaded',
        run: () =>
          store.multipart.completeUpload(up.uploadId, [
            { partNumber: 1, etag: e1 },
            { partNumber: 4, etag: e3 },
          ]),
        check: invalid('parts[1]'),
      },
      {
        name: 'an ETag that does not match',
        run: () =>
          store.multipart.completeUpload(up.uploadId, [
            { partNumber: 1, etag: e1 },
            { partNumber: 3, etag: e2 },
          ]),
        check: invalid('parts[1].etag'),
      },
      {
        name: 'a non-last part under 5 MiB',
        run: () =>
          store.multipart.completeUpload(up.uploadId, [
            { partNumber: 1, etag: e1 },
            { partNumber: 2, etag: e2 },
            { partNumber: 3, etag: e3 },
          ]),
        check: invalid('parts[1]'),
      },
      {
        name: 'an unknown upload id',
        run: () => store.multipart.completeUpload('no-such-upload', [{ partNumber: 1, etag: e1 }]),
        check: (err) => expect(err).toBeInstanceOf(NotFoundError),
      },
    ];
    for (const f of failures) {
      const err = await caught(f.run());
      expect(err, f.name).toBeDefined();
      f.check(err);
      expect(await snapshot(), `state after: ${f.name}`).toEqual(before);
      await expectLedgerConsistent(store);
    }

    // Now a correct completion: parts 1 and 3; part 2 is left out and queued.
    const result = await store.multipart.completeUpload(up.uploadId, [
      { partNumber: 1, etag: e1 },
      { partNumber: 3, etag: e3 },
    ]);
    expect(result.copy.sizeBytes).toBe(3 * MIN_PART);
    expect(result.copy.etag).toBe(expectedMultipartEtag([e1, e3]));
    expect(await counters(store)).toEqual({ used: 3 * MIN_PART, orphan: MIN_PART + MiB, inflight: 0 });
    expect((await store.cleanup.list()).map((c) => c.sizeBytes).sort((a, b) => a - b)).toEqual([MiB, MIN_PART]);
    await expectNotFound(store.multipart.getUpload(up.uploadId));
    await expectLedgerConsistent(store);
  });

  it('abort queues the parts for cleanup, releases in-flight, and a part committed afterwards is refused and queued', async () => {
    const { store } = await open(engine);
    const key = 'bkt/aborted';
    const up = await store.multipart.createUpload({ objectKey: key });
    const p1 = await putPart(store, up.uploadId, 1, MIN_PART, etagOf('a1'));
    const p2 = await putPart(store, up.uploadId, 2, 3 * MiB, etagOf('a2'));
    const pending: WriteIntent = await store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 3, sizeBytes: 2 * MiB });
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: MIN_PART + 5 * MiB });

    const aborted = await store.multipart.abortUpload(up.uploadId);
    expect(aborted).toEqual({ parts: 2, bytes: MIN_PART + 3 * MiB });
    // The uncommitted part is still an intent: its bytes stay in-flight until it resolves.
    expect(await counters(store)).toEqual({ used: 0, orphan: MIN_PART + 3 * MiB, inflight: 2 * MiB });
    const cleanup = await store.cleanup.list();
    expect(cleanup.map((c) => [c.storageKey, c.sizeBytes, c.objectKey, c.backendName]).sort()).toEqual(
      [
        [p1.storageKey, MIN_PART, key, 'alpha'],
        [p2.storageKey, 3 * MiB, key, 'alpha'],
      ].sort(),
    );

    await expectNotFound(store.multipart.listParts(up.uploadId));
    await expectNotFound(store.multipart.abortUpload(up.uploadId));
    await expectNotFound(store.multipart.getUpload(up.uploadId));
    await expectNotFound(store.multipart.beginPart({ uploadId: up.uploadId, partNumber: 4, sizeBytes: 1 }));
    await expectNotFound(store.multipart.completeUpload(up.uploadId, [{ partNumber: 1, etag: etagOf('a1') }]));
    expect((await store.multipart.listUploads({ prefix: 'bkt/' })).uploads).toEqual([]);
    await expectLedgerConsistent(store);

    await expectNotFound(store.multipart.commitPart(pending, { etag: etagOf('a3') }));
    expect(await counters(store)).toEqual({ used: 0, orphan: MIN_PART + 5 * MiB, inflight: 0 });
    const after = await store.cleanup.list();
    expect(after).toHaveLength(3);
    expect(after.find((c) => c.storageKey === pending.storageKey)).toMatchObject({ sizeBytes: 2 * MiB, backendName: 'alpha', objectKey: key });
    expect(await intentCount(store)).toBe(0);
    expect(await store.objects.lookup(key)).toEqual([]);
    expect(await store.outbox.list()).toEqual([]);
    await expectLedgerConsistent(store);
  });

  it('refuses a part that does not fit, counting in-flight parts of other uploads and orphan bytes, and changes nothing', async () => {
    const limit = 20 * MiB;
    const { store } = await open(engine, limit);
    const a = await store.multipart.createUpload({ objectKey: 'bkt/a' });
    const b = await store.multipart.createUpload({ objectKey: 'bkt/b' });
    await putPart(store, a.uploadId, 1, 12 * MiB, etagOf('a1'));
    const bPending = await store.multipart.beginPart({ uploadId: b.uploadId, partNumber: 1, sizeBytes: 5 * MiB });
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 17 * MiB });

    const state = async () => ({
      counters: await counters(store),
      intents: await intentCount(store),
      aParts: (await store.multipart.listParts(a.uploadId)).parts,
      bParts: (await store.multipart.listParts(b.uploadId)).parts,
      cleanup: await store.cleanup.list(),
    });
    const before = await state();
    const refused = await caught(store.multipart.beginPart({ uploadId: b.uploadId, partNumber: 2, sizeBytes: 3 * MiB + 1 }));
    expect(refused).toBeInstanceOf(NoSpaceError);
    expect((refused as NoSpaceError).code).toBe('NoSpace');
    expect(await state()).toEqual(before);
    await expectLedgerConsistent(store);

    // Exactly the room left fits.
    const fits = await store.multipart.beginPart({ uploadId: b.uploadId, partNumber: 2, sizeBytes: 3 * MiB });
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: limit });
    const full = await caught(store.multipart.beginPart({ uploadId: a.uploadId, partNumber: 2, sizeBytes: 1 }));
    expect(full).toBeInstanceOf(NoSpaceError);
    await expectLedgerConsistent(store);

    // Aborting A turns its part into orphan bytes: still no room until the cleanup removes them.
    await store.multipart.abortUpload(a.uploadId);
    expect(await counters(store)).toEqual({ used: 0, orphan: 12 * MiB, inflight: 8 * MiB });
    const stillFull = await caught(store.multipart.beginPart({ uploadId: b.uploadId, partNumber: 3, sizeBytes: 4 * MiB }));
    expect(stillFull).toBeInstanceOf(NoSpaceError);
    expect(await counters(store)).toEqual({ used: 0, orphan: 12 * MiB, inflight: 8 * MiB });
    for (const row of await store.cleanup.list()) expect(await store.cleanup.complete(row.id)).toBe(true);
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 8 * MiB });
    const third = await store.multipart.beginPart({ uploadId: b.uploadId, partNumber: 3, sizeBytes: 4 * MiB });
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 12 * MiB });

    await store.multipart.commitPart(bPending, { etag: etagOf('b1') });
    await store.multipart.commitPart(fits, { etag: etagOf('b2') });
    await store.multipart.commitPart(third, { etag: etagOf('b3') });
    expect((await store.multipart.listParts(b.uploadId)).parts.map((p) => p.sizeBytes)).toEqual([5 * MiB, 3 * MiB, 4 * MiB]);
    await expectNotFound(store.multipart.beginPart({ uploadId: 'no-such-upload', partNumber: 1, sizeBytes: 1 }));
    await expectLedgerConsistent(store);
  });

  it('lists uploads under a prefix in key byte order, then upload id, resuming at keyMarker/uploadIdMarker', async () => {
    const { store } = await open(engine);
    // Byte order differs from JS string order for U+FF61 vs an astral character.
    const keys = ['b/a', 'b/\u{1F600}', 'b/a_', 'b/b', 'b/Z', 'b/a/x', 'b/\uFF61', 'b/é', 'b/a%', 'b/a', 'b/a', 'c/other', 'a/first'];
    const created: MultipartUpload[] = [];
    for (const objectKey of keys) created.push(await store.multipart.createUpload({ objectKey }));
    const ordered = (list: readonly MultipartUpload[]) =>
      [...list].sort((x, y) => byteOrder(x.objectKey, y.objectKey) || byteOrder(x.uploadId, y.uploadId)).map((u) => u.uploadId);
    const ids = (list: readonly MultipartUpload[]) => list.map((u) => u.uploadId);
    const underB = created.filter((u) => u.objectKey.startsWith('b/'));
    expect(ordered(underB).map((id) => created.find((u) => u.uploadId === id)!.objectKey).slice(0, 5)).toEqual(['b/Z', 'b/a', 'b/a', 'b/a', 'b/a%']);

    const all = await store.multipart.listUploads({ prefix: 'b/' });
    expect(ids(all.uploads)).toEqual(ordered(underB));
    expect(all.uploads.map((u) => u.objectKey).slice(-3)).toEqual(['b/é', 'b/\uFF61', 'b/\u{1F600}']);
    expect(all.isTruncated).toBe(false);
    expect(all.nextKeyMarker).toBeUndefined();
    expect(all.nextUploadIdMarker).toBeUndefined();
    expect(all.uploads.find((u) => u.uploadId === created[0]!.uploadId)).toEqual(created[0]);

    expect(ids((await store.multipart.listUploads()).uploads)).toEqual(ordered(created));
    expect(ids((await store.multipart.listUploads({ prefix: 'b/a' })).uploads)).toEqual(ordered(created.filter((u) => u.objectKey.startsWith('b/a'))));
    expect((await store.multipart.listUploads({ prefix: 'zzz/' })).uploads).toEqual([]);

    for (const maxUploads of [1, 2, 4]) {
      const seen: string[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await store.multipart.listUploads({ prefix: 'b/', maxUploads, keyMarker, uploadIdMarker });
        pages++;
        expect(page.uploads.length).toBeLessThanOrEqual(maxUploads);
        seen.push(...ids(page.uploads));
        if (!page.isTruncated) {
          expect(page.nextKeyMarker).toBeUndefined();
          break;
        }
        expect(page.uploads).toHaveLength(maxUploads);
        expect(page.nextKeyMarker).toBe(page.uploads.at(-1)!.objectKey);
        expect(page.nextUploadIdMarker).toBe(page.uploads.at(-1)!.uploadId);
        keyMarker = page.nextKeyMarker;
        uploadIdMarker = page.nextUploadIdMarker;
        expect(pages).toBeLessThan(20);
      }
      expect(seen, `maxUploads ${maxUploads}`).toEqual(ordered(underB));
      expect(pages).toBe(Math.ceil(underB.length / maxUploads));
    }

    // keyMarker alone: keys after it (every upload of the marker key is skipped).
    const afterA = await store.multipart.listUploads({ prefix: 'b/', keyMarker: 'b/a' });
    expect(ids(afterA.uploads)).toEqual(ordered(underB.filter((u) => byteOrder(u.objectKey, 'b/a') > 0)));
    // keyMarker + uploadIdMarker: the marker key's later uploads, then the following keys.
    const sameKey = ordered(created.filter((u) => u.objectKey === 'b/a'));
    expect(sameKey).toHaveLength(3);
    const resumed = await store.multipart.listUploads({ prefix: 'b/', keyMarker: 'b/a', uploadIdMarker: sameKey[0]! });
    expect(ids(resumed.uploads)).toEqual([sameKey[1]!, sameKey[2]!, ...ids(afterA.uploads)]);
    // A key marker before the prefix does not widen the listing.
    expect(ids((await store.multipart.listUploads({ prefix: 'b/', keyMarker: 'a/first' })).uploads)).toEqual(ordered(underB));
    await expectInvalid(store.multipart.listUploads({ maxUploads: 0 }), 'maxUploads');
    await expectLedgerConsistent(store);
  });

  it('lists uploads created before a cutoff, oldest first', async () => {
    const { store, clock } = await open(engine);
    const t0 = clock.now().getTime();
    const u1 = await store.multipart.createUpload({ objectKey: 'z/oldest' });
    clock.advance(1000);
    const u2 = await store.multipart.createUpload({ objectKey: 'a/second' });
    clock.advance(1000);
    const u3 = await store.multipart.createUpload({ objectKey: 'm/third' });
    clock.advance(1000);
    const u4 = await store.multipart.createUpload({ objectKey: 'b/newest' });
    expect(u1.createdAt.getTime()).toBe(t0);
    expect(u4.createdAt.getTime()).toBe(t0 + 3000);
    const ids = (list: readonly MultipartUpload[]) => list.map((u) => u.uploadId);
    const stale = async (cutoffMs: number, limit?: number) => ids(await store.multipart.listStaleUploads(new Date(cutoffMs), limit));

    expect(await stale(t0 + 2500)).toEqual([u1.uploadId, u2.uploadId, u3.uploadId]);
    expect(await stale(t0 + 2000)).toEqual([u1.uploadId, u2.uploadId]);
    expect(await stale(t0)).toEqual([]);
    expect(await stale(t0 + 10_000)).toEqual([u1.uploadId, u2.uploadId, u3.uploadId, u4.uploadId]);
    expect(await stale(t0 + 10_000, 2)).toEqual([u1.uploadId, u2.uploadId]);
    const listed = await store.multipart.listStaleUploads(new Date(t0 + 500));
    expect(listed).toEqual([u1]);

    await store.multipart.abortUpload(u2.uploadId);
    expect(await stale(t0 + 10_000)).toEqual([u1.uploadId, u3.uploadId, u4.uploadId]);
    await expectLedgerConsistent(store);
  });

  it('rejects bad part numbers and sizes with InvalidArgument naming the field, changing nothing', async () => {
    const { store } = await open(engine);
    const up = await store.multipart.createUpload({ objectKey: 'bkt/bad' });
    const uploadId = up.uploadId;
    for (const partNumber of [0, 10_001, -1, 1.5, Number.NaN]) {
      await expectInvalid(store.multipart.beginPart({ uploadId, partNumber, sizeBytes: 1 }), 'partNumber');
    }
    for (const sizeBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expectInvalid(store.multipart.beginPart({ uploadId, partNumber: 1, sizeBytes }), 'sizeBytes');
    }
    await expectInvalid(store.multipart.completeUpload(uploadId, [{ partNumber: 0, etag: etagOf('x') }]), 'parts[0].partNumber');
    await expectInvalid(
      store.multipart.completeUpload(uploadId, [
        { partNumber: 1, etag: etagOf('x') },
        { partNumber: 10_001, etag: etagOf('y') },
      ]),
      'parts[1].partNumber',
    );
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 0 });
    expect(await intentCount(store)).toBe(0);
    expect((await store.multipart.listParts(uploadId)).parts).toEqual([]);

    // The bounds themselves are accepted.
    const first = await store.multipart.beginPart({ uploadId, partNumber: 1, sizeBytes: 0 });
    const last = await store.multipart.beginPart({ uploadId, partNumber: 10_000, sizeBytes: 1 });
    await expectInvalid(store.multipart.commitPart(first, { etag: '' }), 'etag');
    await store.multipart.commitPart(first, { etag: etagOf('first') });
    await store.multipart.commitPart(last, { etag: etagOf('last') });
    expect((await store.multipart.listParts(uploadId)).parts.map((p) => p.partNumber)).toEqual([1, 10_000]);
    expect(await counters(store)).toEqual({ used: 0, orphan: 0, inflight: 1 });
    await expectLedgerConsistent(store);
  });
  it('rejects bad paging and cutoff arguments with InvalidArgument instead of a driver error', async () => {
    const { store } = await open(engine);
    const up = await store.multipart.createUpload({ objectKey: 'bkt/args' });
    await putPart(store, up.uploadId, 1, 1, etagOf('x'));
    for (const afterPart of [1.5, Number.NaN]) {
      await expectInvalid(store.multipart.listParts(up.uploadId, { afterPart }), 'afterPart');
    }
    for (const limit of [-1, 1.5]) {
      await expectInvalid(store.multipart.listStaleUploads(new Date(Date.UTC(2100, 0, 1)), limit), 'limit');
    }
    await expectInvalid(store.multipart.listStaleUploads(new Date(Number.NaN)), 'cutoff');
    await expectLedgerConsistent(store);
  });
});

function invalid(field: string): (err: unknown) => void {
  return (err) => {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).field).toBe(field);
  };
}
