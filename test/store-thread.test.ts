import { afterEach, describe, expect, it } from 'vitest';
import { LEADER_JOBS } from '../src/store/core/leader-jobs.js';
import { DatabaseInUseError, DatabaseUnavailableError, InvalidArgumentError, NoSpaceError, NotFoundError, PreconditionFailedError } from '../src/store/core/errors.js';
import type { StoreApi } from '../src/store/core/store.js';
import { utcMonth } from '../src/store/core/usage-meter.js';
import { openStore } from '../src/store/open.js';
import { openStoreThread, storeThreadOf } from '../src/store/thread/client.js';
import { decodeError, encodeError } from '../src/store/thread/protocol.js';
import type { AppConfig } from '../src/config/types.js';
import { appConfig, createTestDatabase } from './support/engines.js';
import { expectLedgerConsistent } from './support/store.js';

/**
 * The store on its own thread (what `serve` runs on SQLite): every operation crosses a message
 * channel, so what is checked here is what the crossing could lose: results (dates, maps), errors
 * (their classes and fields), the usage meter's synchronous side, leader locks, close and failure.
 */

const handles: StoreApi[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close().catch(() => {});
});

async function threadStore(): Promise<{ store: StoreApi; config: AppConfig }> {
  const config = appConfig(await createTestDatabase('sqlite'), { backends: [{ name: 'alpha', bytesLimit: 10_000 }, { name: 'beta', bytesLimit: 0 }] });
  const store = await openStoreThread(config, { role: 'serve' });
  handles.push(store);
  return { store, config };
}

describe('a store on its own thread', () => {
  it('answers the store operations, with dates and maps intact, and its writes are in the database', async () => {
    const { store, config } = await threadStore();
    expect(store.db.engine).toBe('sqlite');
    await store.buckets.create({ name: 'bkt1', owner: 'test' });
    const intent = await store.objects.beginWrite({ objectKey: 'bkt1/k', sizeBytes: 5, contentType: 'text/plain', userMetadata: { colour: 'blue' } });
    expect(intent.backendName).toBe('alpha');
    expect(intent.createdAt).toBeInstanceOf(Date);
    const { copy } = await store.objects.commitWrite(intent, { etag: '"e1"' });
    const head = await store.objects.head('bkt1/k');
    expect(head).toMatchObject({ objectKey: 'bkt1/k', sizeBytes: 5, etag: '"e1"', contentType: 'text/plain', userMetadata: { colour: 'blue' } });
    expect(head.createdAt).toBeInstanceOf(Date);
    expect(head.createdAt.getTime()).toBe(copy.createdAt.getTime());
    const page = await store.listing.list({ prefix: 'bkt1/' });
    expect(page.objects.map((o) => o.objectKey)).toEqual(['bkt1/k']);
    expect(page.isTruncated).toBe(false);
    const counts = await store.quota.copyCounts();
    expect(counts).toBeInstanceOf(Map);
    expect(counts.get('alpha')).toBe(1);
    // 100 concurrent writes cross and commit.
    await Promise.all(Array.from({ length: 100 }, async (_, i) => store.objects.commitWrite(await store.objects.beginWrite({ objectKey: `bkt1/many/${i}`, sizeBytes: 10 }), { etag: '"m"' })));
    expect((await store.quota.totals()).find((t) => t.backendName === 'alpha')?.bytesUsed).toBe(1005);
    await store.close();
    // The same database, opened on this thread: everything the thread wrote is there.
    const direct = await openStore(config);
    try {
      expect((await direct.objects.lookup('bkt1/many/99'))[0]?.etag).toBe('"m"');
      await expectLedgerConsistent(direct);
    } finally {
      await direct.close();
    }
  });

  it('rebuilds errors as the store error classes, with their fields', async () => {
    const { store } = await threadStore();
    await store.buckets.create({ name: 'bkt1', owner: 'test' });
    const missing = await store.objects.head('bkt1/nope').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: 'NotFound', httpStatus: 404, resource: 'object', id: 'bkt1/nope' });
    expect((missing as Error).message).toBe('object not found: "bkt1/nope"');
    const full = await store.objects.beginWrite({ objectKey: 'bkt1/big', sizeBytes: 20_000, candidates: ['alpha'] }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(NoSpaceError);
    expect(full).toMatchObject({ sizeBytes: 20_000, backends: ['alpha'], httpStatus: 507 });
    const invalid = await store.objects.beginWrite({ objectKey: 'bkt1/x', sizeBytes: -1 }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    await store.objects.commitWrite(await store.objects.beginWrite({ objectKey: 'bkt1/k', sizeBytes: 1 }), { etag: '"a"' });
    const second = await store.objects.beginWrite({ objectKey: 'bkt1/k', sizeBytes: 1 });
    const refused = await store.objects.commitWrite(second, { etag: '"b"', condition: { ifNoneMatch: '*' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PreconditionFailedError);
    expect(refused).toMatchObject({ reason: 'if-none-match' });
    // Only the store's operation groups can be called.
    await expect((store.objects as unknown as Record<string, () => Promise<unknown>>).noSuchOperation!()).rejects.toThrow('the store has no operation objects.noSuchOperation');
  });

  it('usage: record is checked on the calling thread, pending follows the meter, flush writes it', async () => {
    const { store } = await threadStore();
    expect(() => store.usage.record('gamma', { apiRequests: 1 })).toThrow(InvalidArgumentError);
    expect(() => store.usage.record('alpha', { apiRequests: -1 })).toThrow(InvalidArgumentError);
    store.usage.record('alpha', { apiRequests: 1, ingressBytes: 100 });
    store.usage.record('alpha', { apiRequests: 2, egressBytes: 7 });
    const period = utcMonth(new Date());
    expect(store.usage.pending()).toEqual([{ backendName: 'alpha', period, apiRequests: 3, egressBytes: 7, ingressBytes: 100 }]);
    expect(await store.usage.flush()).toBe(1);
    expect(store.usage.pending()).toEqual([]);
    store.usage.record('alpha', { apiRequests: 1 });
    expect(store.usage.pending()).toEqual([{ backendName: 'alpha', period, apiRequests: 1, egressBytes: 0, ingressBytes: 0 }]);
    expect(await store.usage.totals(period)).toEqual([expect.objectContaining({ backendName: 'alpha', apiRequests: 3, egressBytes: 7, ingressBytes: 100 })]);
    // Closing flushes what is left.
    const location = store.db.location;
    await store.close();
    const direct = await openStore(appConfig({ driver: 'sqlite', path: location, synchronous: 'normal', busyTimeoutMs: 5000, mmapBytes: 0 }, { backends: [{ name: 'alpha', bytesLimit: 10_000 }, { name: 'beta', bytesLimit: 0 }] }));
    try {
      expect((await direct.usage.totals(period))[0]?.apiRequests).toBe(4);
    } finally {
      await direct.close();
    }
  });

  it('leader locks are taken and released on the store thread', async () => {
    const { store } = await threadStore();
    const lock = await store.db.tryLeaderLock(LEADER_JOBS.cleanup);
    expect(lock?.isHeld()).toBe(true);
    expect(await store.db.tryLeaderLock(LEADER_JOBS.cleanup)).toBeUndefined();
    await lock!.release();
    expect(lock!.isHeld()).toBe(false);
    const again = await store.db.tryLeaderLock(LEADER_JOBS.cleanup);
    expect(again).toBeDefined();
    expect((await store.db.schemaStatus()).pending).toEqual([]);
  });

  it('reconfigure reaches the store', async () => {
    const { store } = await threadStore();
    await store.reconfigure({ backendLimits: new Map([['alpha', 123_456]]) });
    expect((await store.quota.totals()).find((t) => t.backendName === 'alpha')?.bytesLimit).toBe(123_456);
  });

  it('a database that cannot be opened is refused with the store error; a closed store refuses calls', async () => {
    const { store, config } = await threadStore();
    // serve takes the single-instance lock: a second instance on the file is refused.
    await expect(openStoreThread(config, { role: 'serve' })).rejects.toBeInstanceOf(DatabaseInUseError);
    await store.close();
    await store.close();
    await expect(store.buckets.list()).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it('a thread that dies: the caller is told once, calls reject with DatabaseUnavailable, close still ends', async () => {
    const config = appConfig(await createTestDatabase('sqlite'), { backends: [{ name: 'alpha', bytesLimit: 10_000 }] });
    const stopped: Error[] = [];
    const store = await openStoreThread(config, { role: 'serve', onStopped: (err) => stopped.push(err) });
    handles.push(store);
    await store.buckets.create({ name: 'bkt1', owner: 'test' });
    const inFlight = store.buckets.list();
    await storeThreadOf(store)!.terminate();
    await expect(inFlight.then(() => 'answered', (e: unknown) => e)).resolves.toSatisfy((r) => r === 'answered' || r instanceof DatabaseUnavailableError);
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toBeInstanceOf(DatabaseUnavailableError);
    await expect(store.buckets.list()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    const closed = await Promise.race([store.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('hung'), 3000))]);
    expect(closed).toBe('closed');
  });

  it('close: concurrent closes share one, and calls made after it are refused', async () => {
    const { store } = await threadStore();
    const first = store.close();
    const second = store.close();
    await expect(store.buckets.list()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await Promise.all([first, second]);
    expect(storeThreadOf(store)!.threadId).toBe(-1);
  });

  it("errors keep their cause's message and every field that can cross", () => {
    const original = new DatabaseUnavailableError('the database went away', { cause: new Error('ECONNRESET from the driver') });
    (original as unknown as { handle: () => void }).handle = () => {};
    const decoded = decodeError(encodeError(original));
    expect(decoded).toBeInstanceOf(DatabaseUnavailableError);
    expect(decoded).toMatchObject({ code: 'DatabaseUnavailable', httpStatus: 503, message: 'the database went away' });
    expect((decoded.cause as { message: string }).message).toBe('ECONNRESET from the driver');
    expect((decoded as unknown as { handle?: unknown }).handle).toBeUndefined();
  });
});
