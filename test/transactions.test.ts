import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open.js';
import { appConfig, createTestDatabase, describeEngines } from './support/engines.js';
import { closeStores } from './support/store.js';

afterEach(closeStores);

function intentRow(id: string) {
  return {
    intentId: id,
    kind: 'write',
    objectKey: `b/${id}`,
    backendName: 'alpha',
    storageKey: `s/${id}`,
    sizeBytes: 0,
    etag: null,
    contentType: 'x/y',
    userMetadata: '{}',
    contentHash: null,
    uploadId: null,
    partNumber: null,
    createdAt: new Date(),
  };
}

describeEngines('transactions', (engine) => {
  it('commits when the function resolves', async () => {
    const store = await openStore(appConfig(await createTestDatabase(engine)));
    await store.db.transaction((q) => q.insertIntent(intentRow('a')));
    expect(await store.db.read((q) => q.getIntent({ intentId: 'a' }))).toHaveLength(1);
    await store.close();
  });

  it('rolls back when the function throws, and rethrows the original error', async () => {
    const store = await openStore(appConfig(await createTestDatabase(engine)));
    const original = new Error('boom');
    const run = store.db.transaction(async (q) => {
      await q.insertIntent(intentRow('a'));
      throw original;
    });
    await expect(run).rejects.toBe(original);
    expect(await store.db.read((q) => q.getIntent({ intentId: 'a' }))).toHaveLength(0);
    await store.close();
  });

  it('refuses queries on a handle whose transaction has ended', async () => {
    const store = await openStore(appConfig(await createTestDatabase(engine)));
    let leaked: Parameters<Parameters<typeof store.db.transaction>[0]>[0] | undefined;
    await store.db.transaction(async (q) => {
      leaked = q;
    });
    await expect(leaked!.getIntent({ intentId: 'a' })).rejects.toThrow(/after its transaction ended/);
    await store.close();
  });

  it('reports a constraint violation inside a transaction and leaves nothing behind', async () => {
    const store = await openStore(appConfig(await createTestDatabase(engine)));
    const run = store.db.transaction(async (q) => {
      await q.insertIntent(intentRow('a'));
      await q.insertIntent(intentRow('a'));
    });
    await expect(run).rejects.toMatchObject({ code: 'ConstraintViolation', kind: 'unique' });
    expect(await store.db.read((q) => q.getIntent({ intentId: 'a' }))).toHaveLength(0);
    await store.close();
  });

  it('never lets another transaction see uncommitted work, nor a reader', async () => {
    const store = await openStore(appConfig(await createTestDatabase(engine)));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = store.db.transaction(async (q) => {
      await q.insertIntent(intentRow('a'));
      await gate;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(await store.db.read((q) => q.getIntent({ intentId: 'a' }))).toHaveLength(0);
    release();
    await first;
    expect(await store.db.read((q) => q.getIntent({ intentId: 'a' }))).toHaveLength(1);
    await store.close();
  });
});

describe('SQLite transactions', () => {
  it('are serialised: a transaction that awaits is never interleaved with another on the same connection', async () => {
    const store = await openStore(appConfig(await createTestDatabase('sqlite')));
    const events: string[] = [];
    const slow = store.db.transaction(async (q) => {
      events.push('slow begins');
      await q.insertIntent(intentRow('slow-1'));
      await new Promise((r) => setTimeout(r, 30));
      await q.insertIntent(intentRow('slow-2'));
      events.push('slow ends');
    });
    const fast = store.db.transaction(async (q) => {
      events.push('fast begins');
      await q.insertIntent(intentRow('fast'));
      events.push('fast ends');
    });
    await Promise.all([slow, fast]);
    expect(events).toEqual(['slow begins', 'slow ends', 'fast begins', 'fast ends']);
    await store.close();
  });

  it('rolls back the failed one and goes on with the next queued transaction', async () => {
    const store = await openStore(appConfig(await createTestDatabase('sqlite')));
    const failing = store.db.transaction(async (q) => {
      await q.insertIntent(intentRow('x'));
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('fail');
    });
    const next = store.db.transaction((q) => q.insertIntent(intentRow('y')));
    await expect(failing).rejects.toThrow('fail');
    await next;
    expect(await store.db.read((q) => q.getIntent({ intentId: 'x' }))).toHaveLength(0);
    expect(await store.db.read((q) => q.getIntent({ intentId: 'y' }))).toHaveLength(1);
    await store.close();
  });
});
