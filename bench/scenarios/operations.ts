import { randomUUID } from 'node:crypto';
import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import { keyAfter, prefixEnd } from '../../src/store/core/keys.js';
import { SQL as CLEANUP } from '../../src/store/sqlite/queries/cleanup.js';
import { SQL as NOTIFICATIONS } from '../../src/store/sqlite/queries/notifications.js';
import { SQL as OBJECTS } from '../../src/store/sqlite/queries/objects.js';
import { SQL as PENDING } from '../../src/store/sqlite/queries/pending.js';
import { SQL as QUOTA } from '../../src/store/sqlite/queries/quota.js';
import { benchKey, loadCleanupRows, loadObjects, loadOutboxEvents } from '../lib/bulk-load.js';
import { compare, random, type Comparison, type Step } from '../lib/measure.js';
import { BENCH_BACKEND, openTarget, rawPostgres, rawSqlite, type EngineName, type Target } from '../lib/targets.js';

export interface OperationResult extends Comparison {
  readonly engine: EngineName;
  readonly operation: string;
  /** What one op is (for the table). */
  readonly unit: string;
}

interface Pair {
  readonly operation: string;
  readonly unit: string;
  readonly raw: Step;
  readonly store: Step;
  readonly unitsPerStep?: number;
}

const SIZE = 4096;
const CLAIM_BATCH = 100;
const WORKER = 'bench-worker';
const GRACE_MS = 300_000;
const EVENT = JSON.stringify({ objectKey: 'bench', sizeBytes: SIZE });

/**
 * Each operation of spec §12, run by the store and by the raw driver executing the same statements
 * (same SQL text, same order, same transactions), in the same process, alternating.
 */
export async function runOperations(engine: EngineName, server: PostgresServer | undefined, durationMs: number, synchronous?: 'full' | 'normal'): Promise<OperationResult[]> {
  const target = await openTarget(engine, server, { ...(synchronous ? { synchronous } : {}) });
  try {
    const pairs = engine === 'postgres' ? await postgresPairs(target, durationMs) : await sqlitePairs(target, durationMs);
    const results: OperationResult[] = [];
    for (const pair of pairs) {
      const c = await compare(durationMs, pair.raw, pair.store, { unitsPerStep: pair.unitsPerStep ?? 1 });
      const operation = synchronous ? `${pair.operation} (synchronous=${synchronous})` : pair.operation;
      results.push({ engine, operation, unit: pair.unit, ...c });
    }
    const audit = await target.store.quota.reconcile({ fix: false });
    if (audit.drifts.length > 0) throw new Error(`ledger drift after the benchmark: ${JSON.stringify(audit.drifts)}`);
    return results;
  } finally {
    await target.close();
  }
}

/** Keys, objects, queue rows and events enough for both sides for the whole run. */
async function seed(target: Target, durationMs: number, rates: { deletes: number; claims: number }) {
  const deletes = Math.ceil((rates.deletes * durationMs) / 1000) + 2000;
  await loadObjects(target, 'list/', 0, 20_000);
  await loadObjects(target, 'del-raw/', 0, deletes);
  await loadObjects(target, 'del-store/', 0, deletes);
  const rows = Math.ceil((rates.claims * durationMs) / 1000) * 2 + 5000;
  await loadCleanupRows(target, rows);
  await loadOutboxEvents(target, rows);
  // The first write rebalances the escrow (hands every stripe its share): not part of the measurement.
  await target.store.objects.commitWrite(await target.store.objects.beginWrite({ objectKey: 'warm/0', sizeBytes: SIZE }), { etag: '"w"' });
  return { deletes };
}

function counter(prefix: string) {
  let i = 0;
  return () => `${prefix}${i++}`;
}

function sequence(prefix: string, limit: number) {
  let i = 0;
  return () => (i < limit ? benchKey(prefix, i++) : undefined);
}

async function postgresPairs(target: Target, durationMs: number): Promise<Pair[]> {
  const { deletes } = await seed(target, durationMs, { deletes: 3000, claims: 8000 });
  const raw = rawPostgres(target);
  const store = target.store;
  const stripes = target.config.database.driver === 'postgres' ? target.config.database.quotaStripes : 1;
  const pick = random(7);
  const listKey = () => benchKey('list/', Math.floor(pick() * 19_000));
  const rawKey = counter('w-raw/');
  const storeKey = counter('w-store/');
  const rawDelete = sequence('del-raw/', deletes);
  const storeDelete = sequence('del-store/', deletes);
  const listEnd = prefixEnd('list/')!;

  return [
    {
      operation: 'commit write (with its intent)',
      unit: 'write',
      raw: async () => {
        const objectKey = rawKey();
        const intentId = randomUUID();
        const storageKey = `${objectKey}!${intentId}`;
        const admitted = await raw.run(raw.pool, 'insertAdmittedIntent', {
          intentId, kind: 'write', objectKey, backendName: BENCH_BACKEND, storageKey, sizeBytes: SIZE, etag: null, contentType: 'application/octet-stream',
          userMetadata: '{}', contentHash: null, uploadId: null, partNumber: null, createdAt: new Date(), stripe: Math.floor(Math.random() * stripes),
        });
        if (admitted.rowCount !== 1) throw new Error('raw admission refused');
        await raw.transaction(async (c) => {
          const now = new Date();
          const intent = (await raw.run<{ size_bytes: number; content_type: string; user_metadata: string }>(c, 'takeIntent', { intentId, objectKey })).rows[0]!;
          await raw.run(c, 'replaceVersion', {
            objectKey, backendName: BENCH_BACKEND, storageKey, sizeBytes: intent.size_bytes, etag: '"e"', contentType: intent.content_type,
            userMetadata: intent.user_metadata, contentHash: null, now,
          });
          await raw.run(c, 'recordChanges', {
            backendName: BENCH_BACKEND, stripe: Math.floor(Math.random() * stripes), usedDelta: SIZE, orphanDelta: 0, inflightDelta: -SIZE, now,
            cleanupBackends: [], cleanupStorageKeys: [], cleanupObjectKeys: [], cleanupReasons: [], cleanupSizes: [],
            eventIds: [randomUUID()], eventTypes: ['ObjectCreated'], eventPayloads: [EVENT], eventEndpoints: ['hook'],
          });
        });
      },
      store: async () => {
        const intent = await store.objects.beginWrite({ objectKey: storeKey(), sizeBytes: SIZE });
        await store.objects.commitWrite(intent, { etag: '"e"' });
      },
    },
    {
      operation: 'lookup',
      unit: 'lookup',
      raw: () => raw.run(raw.pool, 'lookupCopies', { objectKey: listKey() }),
      store: () => store.objects.lookup(listKey()),
    },
    {
      operation: 'list page (1000 keys)',
      unit: 'page',
      raw: () => raw.run(raw.pool, 'listObjectsRange', { fromKey: keyAfter(listKey()), toKey: listEnd, limit: 1001 }),
      store: () => store.listing.list({ prefix: 'list/', startAfter: listKey(), maxKeys: 1000 }),
    },
    {
      operation: 'delete',
      unit: 'delete',
      raw: async () => {
        const objectKey = rawDelete();
        if (!objectKey) return false;
        await raw.transaction(async (c) => {
          const now = new Date();
          await raw.run(c, 'lockObjectKey', { objectKey });
          const copies = (await raw.run<{ backend_name: string; storage_key: string; size_bytes: number }>(c, 'endVersion', { objectKey, now })).rows;
          const size = copies.reduce((s, r) => s + r.size_bytes, 0);
          await raw.run(c, 'recordChanges', {
            backendName: BENCH_BACKEND, stripe: Math.floor(Math.random() * stripes), usedDelta: -size, orphanDelta: size, inflightDelta: 0, now,
            cleanupBackends: copies.map((r) => r.backend_name), cleanupStorageKeys: copies.map((r) => r.storage_key),
            cleanupObjectKeys: copies.map(() => objectKey), cleanupReasons: copies.map(() => 'deleted'), cleanupSizes: copies.map((r) => r.size_bytes),
            eventIds: [randomUUID()], eventTypes: ['ObjectRemoved'], eventPayloads: [EVENT], eventEndpoints: ['hook'],
          });
        });
        return true;
      },
      store: async () => {
        const objectKey = storeDelete();
        if (!objectKey) return false;
        await store.objects.deleteObject(objectKey);
        return true;
      },
    },
    {
      operation: `cleanup claim+complete (batches of ${CLAIM_BATCH})`,
      unit: 'row',
      unitsPerStep: CLAIM_BATCH,
      raw: async () => {
        const now = new Date();
        const rows = await raw.transaction(async (c) =>
          (await raw.run<{ id: number; backend_name: string; size_bytes: number }>(c, 'claimCleanup', {
            now, claimUntil: new Date(now.getTime() + GRACE_MS), worker: WORKER, limit: CLAIM_BATCH, backendNames: [BENCH_BACKEND],
          })).rows,
        );
        if (rows.length < CLAIM_BATCH) return false;
        for (const row of rows) {
          await raw.transaction(async (c) => {
            const gone = (await raw.run<{ backend_name: string; size_bytes: number }>(c, 'deleteCleanupRow', { id: row.id })).rows[0];
            if (gone) await raw.run(c, 'addBaseDeltas', { backendName: gone.backend_name, usedDelta: 0, orphanDelta: -gone.size_bytes, inflightDelta: 0, now: new Date() });
          });
        }
        return true;
      },
      store: async () => {
        const tasks = await store.cleanup.claim(WORKER, CLAIM_BATCH, GRACE_MS, [BENCH_BACKEND]);
        if (tasks.length < CLAIM_BATCH) return false;
        for (const task of tasks) await store.cleanup.complete(task.id);
        return true;
      },
    },
    {
      operation: `outbox claim+ack (batches of ${CLAIM_BATCH})`,
      unit: 'event',
      unitsPerStep: CLAIM_BATCH,
      raw: async () => {
        const now = new Date();
        const rows = await raw.transaction(async (c) =>
          (await raw.run<{ id: number }>(c, 'claimOutbox', { now, claimUntil: new Date(now.getTime() + GRACE_MS), worker: WORKER, limit: CLAIM_BATCH })).rows,
        );
        if (rows.length < CLAIM_BATCH) return false;
        for (const row of rows) await raw.transaction((c) => raw.run(c, 'deleteOutboxEvent', { id: row.id }));
        return true;
      },
      store: async () => {
        const events = await store.outbox.claim(WORKER, CLAIM_BATCH, GRACE_MS);
        if (events.length < CLAIM_BATCH) return false;
        for (const event of events) await store.outbox.markDelivered(event.id);
        return true;
      },
    },
  ];
}

async function sqlitePairs(target: Target, durationMs: number): Promise<Pair[]> {
  const { deletes } = await seed(target, durationMs, { deletes: 40_000, claims: 40_000 });
  const { writer, reader } = rawSqlite(target);
  const store = target.store;
  const begin = writer.prepare('BEGIN IMMEDIATE');
  const commit = writer.prepare('COMMIT');
  const tx = <T>(fn: () => T): T => {
    begin.run();
    try {
      const result = fn();
      commit.run();
      return result;
    } catch (err) {
      writer.exec('ROLLBACK');
      throw err;
    }
  };
  const w = {
    admit: writer.prepare(PENDING.admitForIntent),
    insertIntent: writer.prepare(PENDING.insertIntent),
    deleteIntent: writer.prepare(PENDING.deleteIntent),
    supersede: writer.prepare(OBJECTS.endVersionSupersede),
    endVersion: writer.prepare(OBJECTS.endVersion),
    insertCopy: writer.prepare(OBJECTS.insertCopy),
    stripeDeltas: writer.prepare(QUOTA.addStripeDeltas),
    baseDeltas: writer.prepare(QUOTA.addBaseDeltas),
    enqueue: writer.prepare(QUOTA.recordChangesCleanup),
    event: writer.prepare(QUOTA.recordChangesEvent),
    claimCleanup: writer.prepare(CLEANUP.claimCleanup),
    deleteCleanupRow: writer.prepare(CLEANUP.deleteCleanupRow),
    claimOutbox: writer.prepare(NOTIFICATIONS.claimOutbox),
    deleteEvent: writer.prepare(NOTIFICATIONS.deleteOutboxEvent),
  };
  const r = { lookup: reader.prepare(OBJECTS.lookupCopies), list: reader.prepare(OBJECTS.listObjectsRange) };
  const pick = random(7);
  const listKey = () => benchKey('list/', Math.floor(pick() * 19_000));
  const rawKey = counter('w-raw/');
  const storeKey = counter('w-store/');
  const rawDelete = sequence('del-raw/', deletes);
  const storeDelete = sequence('del-store/', deletes);
  const listEnd = prefixEnd('list/')!;

  return [
    {
      operation: 'commit write (with its intent)',
      unit: 'write',
      raw: () => {
        const objectKey = rawKey();
        const intentId = randomUUID();
        const storageKey = `${objectKey}!${intentId}`;
        tx(() => {
          if (w.admit.all({ sizeBytes: SIZE, backendName: BENCH_BACKEND, stripe: 0 }).length !== 1) throw new Error('raw admission refused');
          w.insertIntent.run(intentId, 'write', objectKey, BENCH_BACKEND, storageKey, SIZE, null, 'application/octet-stream', '{}', null, null, null, Date.now());
        });
        tx(() => {
          const now = Date.now();
          const intent = w.deleteIntent.all(intentId)[0] as { size_bytes: number; content_type: string; user_metadata: string };
          w.supersede.run(now, objectKey);
          w.endVersion.all(objectKey);
          w.insertCopy.run(objectKey, BENCH_BACKEND, storageKey, intent.size_bytes, '"e"', intent.content_type, intent.user_metadata, null, now, null);
          w.stripeDeltas.run(SIZE, 0, -SIZE, BENCH_BACKEND, 0);
          w.event.run(randomUUID(), 'ObjectCreated', EVENT, 'hook', now, now);
        });
      },
      store: async () => {
        const intent = await store.objects.beginWrite({ objectKey: storeKey(), sizeBytes: SIZE });
        await store.objects.commitWrite(intent, { etag: '"e"' });
      },
    },
    {
      operation: 'lookup',
      unit: 'lookup',
      raw: () => r.lookup.all(listKey()),
      store: () => store.objects.lookup(listKey()),
    },
    {
      operation: 'list page (1000 keys)',
      unit: 'page',
      raw: () => r.list.all(keyAfter(listKey()), listEnd, 1001),
      store: () => store.listing.list({ prefix: 'list/', startAfter: listKey(), maxKeys: 1000 }),
    },
    {
      operation: 'delete',
      unit: 'delete',
      raw: () => {
        const objectKey = rawDelete();
        if (!objectKey) return false;
        tx(() => {
          const now = Date.now();
          w.supersede.run(now, objectKey);
          const copies = w.endVersion.all(objectKey) as { backend_name: string; storage_key: string; size_bytes: number }[];
          const size = copies.reduce((s, c) => s + c.size_bytes, 0);
          w.stripeDeltas.run(-size, size, 0, BENCH_BACKEND, 0);
          for (const c of copies) w.enqueue.run(c.backend_name, c.storage_key, objectKey, 'deleted', c.size_bytes, now, now);
          w.event.run(randomUUID(), 'ObjectRemoved', EVENT, 'hook', now, now);
        });
        return true;
      },
      store: async () => {
        const objectKey = storeDelete();
        if (!objectKey) return false;
        await store.objects.deleteObject(objectKey);
        return true;
      },
    },
    {
      operation: `cleanup claim+complete (batches of ${CLAIM_BATCH})`,
      unit: 'row',
      unitsPerStep: CLAIM_BATCH,
      raw: () => {
        const now = Date.now();
        const rows = tx(
          () => w.claimCleanup.all({ now, worker: WORKER, claimUntil: now + GRACE_MS, limit: CLAIM_BATCH, backends: JSON.stringify([BENCH_BACKEND]) }) as { id: number }[],
        );
        if (rows.length < CLAIM_BATCH) return false;
        for (const row of rows) {
          tx(() => {
            const gone = w.deleteCleanupRow.all(row.id)[0] as { backend_name: string; size_bytes: number } | undefined;
            if (gone) w.baseDeltas.run({ used: 0, orphan: -gone.size_bytes, inflight: 0, now: Date.now(), backendName: gone.backend_name });
          });
        }
        return true;
      },
      store: async () => {
        const tasks = await store.cleanup.claim(WORKER, CLAIM_BATCH, GRACE_MS, [BENCH_BACKEND]);
        if (tasks.length < CLAIM_BATCH) return false;
        for (const task of tasks) await store.cleanup.complete(task.id);
        return true;
      },
    },
    {
      operation: `outbox claim+ack (batches of ${CLAIM_BATCH})`,
      unit: 'event',
      unitsPerStep: CLAIM_BATCH,
      raw: () => {
        const now = Date.now();
        const rows = tx(() => w.claimOutbox.all({ now, worker: WORKER, claimUntil: now + GRACE_MS, limit: CLAIM_BATCH }) as { id: number }[]);
        if (rows.length < CLAIM_BATCH) return false;
        for (const row of rows) tx(() => w.deleteEvent.run(row.id));
        return true;
      },
      store: async () => {
        const events = await store.outbox.claim(WORKER, CLAIM_BATCH, GRACE_MS);
        if (events.length < CLAIM_BATCH) return false;
        for (const event of events) await store.outbox.markDelivered(event.id);
        return true;
      },
    },
  ];
}
