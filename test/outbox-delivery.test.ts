import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { Secret } from '../src/config/secret.js';
import type { EventType, NotificationEndpoint } from '../src/config/types.js';
import { createLogger, silentLogger } from '../src/logging.js';
import { Writable } from 'node:stream';
import { errorChain } from '../src/workers/error-chain.js';
import { OUTBOX_BACKOFF } from '../src/store/core/backoff.js';
import { NotFoundError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import type { OutboxEvent } from '../src/store/core/types.js';
import { openStore } from '../src/store/open.js';
import { verifySignature } from '../src/workers/cloud-event.js';
import { JobRunner } from '../src/workers/job-runner.js';
import { deliver, outboxDelivery } from '../src/workers/outbox-delivery.js';
import { ManualClock } from './support/clock.js';
import { appConfig, createTestDatabase, describeEngines, type EngineName } from './support/engines.js';
import { closeStores } from './support/store.js';

const SOURCE = 's3-orchestrator/test';
const GRACE_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// A real local webhook receiver.

type Mode = 200 | 500 | 'hang';

interface Received {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

class Receiver {
  mode: Mode = 200;
  readonly received: Received[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    let self: Receiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        self!.received.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (self!.mode === 'hang') return; // never answers
        res.writeHead(self!.mode, { 'content-type': 'text/plain' });
        res.end(self!.mode === 200 ? 'ok' : 'boom');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new Receiver(server, `http://127.0.0.1:${port}/hook`);
    servers.push(self);
    return self;
  }

  bodies(): Record<string, unknown>[] {
    return this.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.received.length} requests, expected ${count}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const servers: Receiver[] = [];
const stores: MetadataStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  await closeStores();
  for (const r of servers.splice(0)) await r.close().catch(() => {});
});

// ---------------------------------------------------------------------------------------------
// Helpers.

function hook(name: string, url: string, overrides: Partial<NotificationEndpoint> = {}): NotificationEndpoint {
  const events: EventType[] = ['ObjectCreated', 'ObjectRemoved'];
  return { name, url, secret: undefined, timeoutMs: 5000, maxAttempts: 3, events, ...overrides };
}

async function openWith(engine: EngineName, endpoints: readonly NotificationEndpoint[]): Promise<{ store: MetadataStore; clock: ManualClock }> {
  const database = await createTestDatabase(engine);
  const clock = new ManualClock();
  const store = await openStore(appConfig(database, { endpoints }), { clock });
  stores.push(store);
  return { store, clock };
}

function runner(store: MetadataStore, endpoints: readonly NotificationEndpoint[], workerId = 'worker-1'): JobRunner {
  const job = outboxDelivery(
    store,
    { workerId, intervalMs: 1000, batchSize: 10, concurrency: 4, claimGraceMs: GRACE_MS, source: SOURCE, endpoints },
    silentLogger,
  );
  return new JobRunner(store.db, job, silentLogger);
}

async function put(store: MetadataStore, objectKey: string, sizeBytes = 10) {
  const intent = await store.objects.beginWrite({ objectKey, sizeBytes, backendName: 'alpha' });
  return store.objects.commitWrite(intent, { etag: `etag-${objectKey}` });
}

async function only(store: MetadataStore): Promise<OutboxEvent> {
  const events = await store.outbox.list();
  expect(events).toHaveLength(1);
  return events[0]!;
}

async function eventById(store: MetadataStore, id: number): Promise<OutboxEvent | undefined> {
  return (await store.outbox.list()).find((e) => e.id === id);
}

function hmacHex(body: string, secret: string): string {
  return createHmac('sha256', secret).update(Buffer.from(body, 'utf8')).digest('hex');
}

// ---------------------------------------------------------------------------------------------

describeEngines('notification outbox and delivery', (engine) => {
  it('events are written by the changing transaction, one per subscribed endpoint', async () => {
    const all = hook('all', 'http://127.0.0.1:9/all');
    const removedOnly = hook('removed-only', 'http://127.0.0.1:9/removed', { events: ['ObjectRemoved'] });
    const { store } = await openWith(engine, [all, removedOnly]);

    await put(store, 'b/k', 42);
    const created = await store.outbox.list();
    expect(created.map((e) => [e.eventType, e.endpoint])).toEqual([['ObjectCreated', 'all']]);
    expect(created[0]!.payload).toMatchObject({ objectKey: 'b/k', sizeBytes: 42, etag: 'etag-b/k' });
    expect(created[0]!).toMatchObject({ attempts: 0, lastError: null, claimedBy: null, failedAt: null });

    await store.objects.deleteObject('b/k');
    const after = await store.outbox.list();
    expect(after).toHaveLength(3);
    const removed = after.filter((e) => e.eventType === 'ObjectRemoved');
    expect(removed.map((e) => e.endpoint).sort()).toEqual(['all', 'removed-only']);
    for (const e of removed) expect(e.payload).toMatchObject({ objectKey: 'b/k' });
    // Every event has its own stable id.
    expect(new Set(after.map((e) => e.eventId)).size).toBe(3);
    expect(await store.outbox.summary()).toMatchObject({ pending: 3, failed: 0 });
  });

  it('a rolled-back change announces nothing (I5)', async () => {
    const { store } = await openWith(engine, [hook('all', 'http://127.0.0.1:9/all')]);
    await put(store, 'b/existing');
    const before = await store.outbox.list();
    expect(before).toHaveLength(1);

    // Delete of a missing key: NotFound, no event.
    await expect(store.objects.deleteObject('b/missing')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.outbox.list()).toEqual(before);

    // A commit that fails inside its transaction: the intent's (backend, storageKey) is taken by
    // another object's copy, so inserting the new copy row violates the unique constraint.
    const intent = await store.objects.beginWrite({ objectKey: 'b/doomed', sizeBytes: 10, backendName: 'alpha' });
    await store.db.transaction((q) =>
      q.insertCopy({
        objectKey: 'b/squatter',
        backendName: intent.backendName,
        storageKey: intent.storageKey,
        sizeBytes: 1,
        etag: 'squat',
        contentType: 'application/octet-stream',
        userMetadata: '{}',
        contentHash: null,
        createdAt: new Date(),
      }),
    );
    await expect(store.objects.commitWrite(intent, { etag: 'e' })).rejects.toThrow();
    expect(await store.outbox.list()).toEqual(before);
    await expect(store.objects.head('b/doomed')).rejects.toBeInstanceOf(NotFoundError);

    // Control: the same kind of commit without the conflict does write its event.
    await put(store, 'b/fine');
    const after = await store.outbox.list();
    expect(after).toHaveLength(2);
    expect(after[1]).toMatchObject({ eventType: 'ObjectCreated', payload: { objectKey: 'b/fine' } });
  });

  it('delivers a CloudEvents 1.0 JSON body and deletes the row after a 2xx', async () => {
    const receiver = await Receiver.start();
    const endpoints = [hook('hook', receiver.url)];
    const { store, clock } = await openWith(engine, endpoints);
    const writtenAt = clock.now();
    await put(store, 'photos/cat.jpg', 77);
    const event = await only(store);

    const outcome = await runner(store, endpoints).runOnce();
    expect(outcome).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(1);
    const req = receiver.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/cloudevents+json');
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      specversion: '1.0',
      id: event.eventId,
      type: expect.stringContaining('ObjectCreated'),
      source: SOURCE,
      subject: 'photos/cat.jpg',
      time: writtenAt.toISOString(),
    });
    expect(body.time).toBe(event.createdAt.toISOString());
    expect(body.data).toEqual(event.payload);
    expect(body.data).toMatchObject({ objectKey: 'photos/cat.jpg', sizeBytes: 77 });
    // No secret: no signature header.
    expect(req.headers['x-signature-256']).toBeUndefined();

    expect(await store.outbox.list()).toEqual([]);
    expect(await store.outbox.summary()).toMatchObject({ pending: 0, failed: 0 });
    // Nothing left to deliver.
    expect(await runner(store, endpoints).runOnce()).toEqual({ ran: true, handled: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it('delivers an ObjectRemoved event with its type and subject', async () => {
    const receiver = await Receiver.start();
    const endpoints = [hook('hook', receiver.url, { events: ['ObjectRemoved'] })];
    const { store } = await openWith(engine, endpoints);
    await put(store, 'docs/a.txt');
    expect(await store.outbox.list()).toEqual([]);
    await store.objects.deleteObject('docs/a.txt');
    const event = await only(store);
    await runner(store, endpoints).runOnce();
    expect(receiver.bodies()).toEqual([expect.objectContaining({ id: event.eventId, type: expect.stringContaining('ObjectRemoved'), subject: 'docs/a.txt' })]);
    expect(await store.outbox.list()).toEqual([]);
  });

  it('signs the body with HMAC-SHA256 when the endpoint has a secret', async () => {
    const receiver = await Receiver.start();
    const secret = 'correct horse battery staple';
    const endpoints = [hook('signed', receiver.url, { secret: new Secret(secret) })];
    const { store } = await openWith(engine, endpoints);
    await put(store, 'b/signed');
    await runner(store, endpoints).runOnce();

    expect(receiver.received).toHaveLength(1);
    const { headers, body } = receiver.received[0]!;
    const header = headers['x-signature-256'];
    expect(typeof header).toBe('string');
    expect(header).toBe(`sha256=${hmacHex(body, secret)}`);
    expect(header).not.toBe(`sha256=${hmacHex(body, 'another secret')}`);
    expect(verifySignature(body, secret, header as string)).toBe(true);
    expect(verifySignature(body.replace('b/signed', 'b/signet'), secret, header as string)).toBe(false);
    expect(verifySignature(body, 'wrong secret', header as string)).toBe(false);
    expect(verifySignature(body, secret, undefined)).toBe(false);
    expect(await store.outbox.list()).toEqual([]);
  });

  it('at least once: a crash after the POST means the same id is delivered again after the grace period', async () => {
    const receiver = await Receiver.start();
    const endpoints = [hook('hook', receiver.url)];
    const { store, clock } = await openWith(engine, endpoints);
    await put(store, 'b/crash');

    const claimed = await store.outbox.claim('crashed-worker', 10, GRACE_MS);
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.claimedBy).toBe('crashed-worker');
    expect(await deliver(claimed[0]!, endpoints[0]!, SOURCE, fetch)).toBeUndefined();
    expect(receiver.received).toHaveLength(1);
    // ... crash: markDelivered never runs.

    const survivor = runner(store, endpoints, 'worker-2');
    clock.advance(GRACE_MS - 1);
    expect(await survivor.runOnce()).toEqual({ ran: true, handled: 0 }); // still claimed
    expect(receiver.received).toHaveLength(1);

    clock.advance(2);
    expect(await survivor.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.bodies();
    expect(first!.id).toBe(claimed[0]!.eventId);
    expect(second!.id).toBe(claimed[0]!.eventId);
    expect(second).toEqual(first);
    expect(await store.outbox.list()).toEqual([]);
  });

  it('a 500 answer schedules a retry with backoff; after maxAttempts the event is failed and kept', async () => {
    const receiver = await Receiver.start();
    receiver.mode = 500;
    const endpoints = [hook('hook', receiver.url, { maxAttempts: 3 })];
    const { store, clock } = await openWith(engine, endpoints);
    await put(store, 'b/retry');
    const { id } = await only(store);
    const run = runner(store, endpoints);

    // Failure 1: attempts 0 -> 1, next try after 5 s.
    const t1 = clock.now();
    expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(1);
    let e = (await eventById(store, id))!;
    expect(e).toMatchObject({ attempts: 1, claimedBy: null, failedAt: null });
    expect(e.lastError).toMatch(/500/);
    expect(e.nextRetry.getTime()).toBe(t1.getTime() + OUTBOX_BACKOFF.baseMs);
    expect(e.nextRetry.getTime()).toBe(t1.getTime() + 5_000);

    // Not due before then.
    clock.advance(4_999);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 0 });
    expect(await store.outbox.claim('peek', 10, GRACE_MS)).toEqual([]);
    expect(receiver.received).toHaveLength(1);

    // Failure 2: attempts 1 -> 2, next try after 10 s.
    const t2 = clock.advance(1);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(2);
    e = (await eventById(store, id))!;
    expect(e).toMatchObject({ attempts: 2, failedAt: null });
    expect(e.nextRetry.getTime()).toBe(t2.getTime() + 10_000);
    clock.advance(9_999);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 0 });
    expect(receiver.received).toHaveLength(2);

    // Failure 3 = maxAttempts: failed, kept.
    const t3 = clock.advance(1);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(3);
    e = (await eventById(store, id))!;
    expect(e).toBeDefined();
    expect(e.attempts).toBe(3);
    expect(e.failedAt?.getTime()).toBe(t3.getTime());
    expect(e.lastError).toMatch(/500/);
    expect((await store.outbox.list({ state: 'failed' })).map((x) => x.id)).toEqual([id]);
    expect(await store.outbox.list({ state: 'pending' })).toEqual([]);
    expect(await store.outbox.summary()).toMatchObject({ pending: 0, failed: 1 });

    // Never delivered again on its own.
    clock.advance(24 * 3600_000);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 0 });
    expect(receiver.received).toHaveLength(3);

    // Requeue: pending again with a fresh budget; the next tick delivers it.
    receiver.mode = 200;
    expect(await store.outbox.requeueFailed({ id })).toEqual([id]);
    e = (await eventById(store, id))!;
    expect(e).toMatchObject({ attempts: 0, failedAt: null });
    expect(await store.outbox.summary()).toMatchObject({ pending: 1, failed: 0 });
    expect(await run.runOnce()).toEqual({ ran: true, handled: 1 });
    expect(receiver.received).toHaveLength(4);
    expect(receiver.bodies().map((b) => b.id)).toEqual(Array(4).fill(e.eventId));
    expect(await store.outbox.list()).toEqual([]);
  });

  it('a refused connection is recorded and logged with its cause, not only "fetch failed"', async () => {
    const closed = await Receiver.start();
    const url = closed.url;
    await closed.close(); // nothing listens on this port any more: the connection is refused
    const port = new URL(url).port;
    const endpoints = [hook('down', url, { maxAttempts: 5 })];
    const { store } = await openWith(engine, endpoints);
    await put(store, 'b/refused');
    const { id } = await only(store);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const job = outboxDelivery(
      store,
      { workerId: 'w', intervalMs: 1000, batchSize: 10, concurrency: 1, claimGraceMs: GRACE_MS, source: SOURCE, endpoints },
      createLogger('warn', sink, { pretty: false }),
    );
    expect(await new JobRunner(store.db, job, silentLogger).runOnce()).toEqual({ ran: true, handled: 1 });
    const expected = `fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`;
    expect((await eventById(store, id))!.lastError).toBe(expected);
    await new Promise((r) => setImmediate(r));
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
    expect(logged.find((l) => l.msg === 'webhook delivery failed')?.err).toBe(expected);
  });

  it('a receiver that does not answer within timeoutMs counts as a failed attempt', async () => {
    const receiver = await Receiver.start();
    receiver.mode = 'hang';
    const endpoints = [hook('slow', receiver.url, { timeoutMs: 200, maxAttempts: 5 })];
    const { store, clock } = await openWith(engine, endpoints);
    await put(store, 'b/slow');
    const { id } = await only(store);

    const started = Date.now();
    const now = clock.now();
    expect(await runner(store, endpoints).runOnce()).toEqual({ ran: true, handled: 1 });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(5_000);
    expect(receiver.received).toHaveLength(1);
    const e = (await eventById(store, id))!;
    expect(e).toMatchObject({ attempts: 1, claimedBy: null, failedAt: null });
    expect(typeof e.lastError).toBe('string');
    expect(e.lastError!.length).toBeGreaterThan(0);
    expect(e.nextRetry.getTime()).toBe(now.getTime() + 5_000);
    expect(await store.outbox.claim('peek', 10, GRACE_MS)).toEqual([]);
  });

  it('backoff is capped at one hour', async () => {
    const { store, clock } = await openWith(engine, [hook('hook', 'http://127.0.0.1:9/x')]);
    await put(store, 'b/cap');
    const [claimed] = await store.outbox.claim('w', 10, GRACE_MS);
    // As if this were the 11th failure: 5 s × 2^10 is beyond the cap.
    expect(await store.outbox.fail({ id: claimed!.id, attempts: 10 }, 'w', 'HTTP 503', 100)).toBe('retry');
    const e = (await eventById(store, claimed!.id))!;
    expect(e.nextRetry.getTime()).toBe(clock.now().getTime() + OUTBOX_BACKOFF.capMs);
    expect(OUTBOX_BACKOFF.capMs).toBe(3600_000);
    expect(e.lastError).toBe('HTTP 503');
  });

  it('operators: requeue all and purge touch only failed events; summary counts both states', async () => {
    const receiver = await Receiver.start();
    receiver.mode = 500;
    const endpoints = [hook('hook', receiver.url, { maxAttempts: 1 })];
    const { store } = await openWith(engine, endpoints);
    await put(store, 'b/one');
    await put(store, 'b/two');
    const run = runner(store, endpoints);
    expect(await run.runOnce()).toEqual({ ran: true, handled: 2 });
    const failedIds = (await store.outbox.list({ state: 'failed' })).map((e) => e.id);
    expect(failedIds).toHaveLength(2);
    for (const e of await store.outbox.list()) {
      expect(e.attempts).toBe(1);
      expect(e.failedAt).not.toBeNull();
    }

    // A pending one next to them.
    await put(store, 'b/three');
    const pending = await store.outbox.list({ state: 'pending' });
    expect(pending).toHaveLength(1);
    expect(await store.outbox.summary()).toMatchObject({ pending: 1, failed: 2 });

    // Purge one failed id: only that row goes; purging the pending id does nothing.
    expect(await store.outbox.purgeFailed({ id: pending[0]!.id })).toEqual([]);
    expect(await store.outbox.purgeFailed({ id: failedIds[0]! })).toEqual([failedIds[0]]);
    expect(await store.outbox.summary()).toMatchObject({ pending: 1, failed: 1 });

    // Requeue all failed: the remaining failed row becomes pending with attempts 0.
    expect(await store.outbox.requeueFailed({ all: true })).toEqual([failedIds[1]]);
    const requeued = (await eventById(store, failedIds[1]!))!;
    expect(requeued).toMatchObject({ attempts: 0, failedAt: null });
    expect(await store.outbox.summary()).toMatchObject({ pending: 2, failed: 0 });

    // Both pending events are delivered by the next tick.
    receiver.mode = 200;
    const before = receiver.received.length;
    expect(await run.runOnce()).toEqual({ ran: true, handled: 2 });
    expect(receiver.received.length - before).toBe(2);
    expect(await store.outbox.list()).toEqual([]);

    // Purge all with only pending rows present removes nothing.
    await put(store, 'b/four');
    expect(await store.outbox.purgeFailed({ all: true })).toEqual([]);
    expect(await store.outbox.list()).toHaveLength(1);
  });

  it('an event for an endpoint that is no longer configured is marked failed and kept', async () => {
    const receiver = await Receiver.start();
    const live = hook('live', receiver.url);
    const gone = hook('gone', 'http://127.0.0.1:9/gone');
    const { store } = await openWith(engine, [live, gone]);
    await put(store, 'b/k');
    expect((await store.outbox.list()).map((e) => e.endpoint).sort()).toEqual(['gone', 'live']);

    // The delivery worker runs with the new configuration, without `gone`.
    expect(await runner(store, [live]).runOnce()).toEqual({ ran: true, handled: 2 });
    expect(receiver.received).toHaveLength(1);
    const left = await store.outbox.list();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ endpoint: 'gone', attempts: 1 });
    expect(left[0]!.failedAt).not.toBeNull();
    expect(left[0]!.lastError).toMatch(/gone/);
    expect((await store.outbox.list({ state: 'failed' })).map((e) => e.endpoint)).toEqual(['gone']);
    expect(await store.outbox.summary()).toMatchObject({ pending: 0, failed: 1 });
  });

  it('stop() during an in-flight delivery returns promptly and hands the event back', async () => {
    const receiver = await Receiver.start();
    receiver.mode = 'hang';
    const endpoints = [hook('hook', receiver.url, { timeoutMs: 30_000 })];
    const { store } = await openWith(engine, endpoints);
    await put(store, 'b/stop');
    const { id } = await only(store);

    const run = runner(store, endpoints);
    const tick = run.runOnce();
    await receiver.waitFor(1);
    const claimedNow = (await eventById(store, id))!;
    expect(claimedNow.claimedBy).toBe('worker-1');

    const started = Date.now();
    await run.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(tick).resolves.toMatchObject({ ran: true });

    const e = (await eventById(store, id))!;
    expect(e).toMatchObject({ attempts: 0, claimedBy: null, claimedAt: null, lastError: null, failedAt: null });
    // Claimable again at once (same clock instant), by another worker.
    const reclaimed = await store.outbox.claim('worker-2', 10, GRACE_MS);
    expect(reclaimed.map((x) => x.id)).toEqual([id]);
    expect(reclaimed[0]!.attempts).toBe(0);
    // A stopped runner does nothing more.
    expect(await run.runOnce()).toEqual({ ran: false, reason: 'stopped' });
  });
});

it('errorChain joins causes, skips repeats and lists the errors of an AggregateError', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  expect(errorChain(new TypeError('fetch failed', { cause: refused }))).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
  const both = new AggregateError([new Error('connect ECONNREFUSED ::1:9'), new Error('connect ECONNREFUSED 127.0.0.1:9')], '');
  expect(errorChain(new TypeError('fetch failed', { cause: both }))).toBe('fetch failed: connect ECONNREFUSED ::1:9; connect ECONNREFUSED 127.0.0.1:9');
  expect(errorChain(new Error('delete failed: EACCES', { cause: new Error('EACCES') }))).toBe('delete failed: EACCES');
  expect(errorChain('plain')).toBe('plain');
});
