import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { expectLedgerConsistent } from '../support/store.js';
import { bodyOf, killServes, startFleet, StoppablePostgres, waitFor } from './support.js';

/**
 * Issue 12 item 8 (e) and spec gateway.md §6/§7 "database stopped": three `serve` processes on a
 * PostgreSQL server this test owns; the server is stopped for 20 s under read and write load. Reads
 * of recently seen objects keep working (outage mode), writes get 503 and none is falsely
 * acknowledged, /health says degraded; after the restart everything works again without
 * restarting the gateways.
 */

const OUTAGE_MS = 20_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killServes();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function attempt<T>(p: Promise<T>): Promise<{ status: number; value?: T }> {
  try {
    return { status: 200, value: await p };
  } catch (err) {
    if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode ?? 0 };
    return { status: -1 };
  }
}

describe('a fleet through a database outage', () => {
  it('the database stopped for 20 s under load: known objects readable, writes 503 (never a false success), recovery without a restart', async () => {
    const server = await StoppablePostgres.start();
    cleanups.push(() => server.destroy());
    const f = await startFleet(server.url, 3, { workers: ['reaper: { interval: 1s, min_age: 2s }'] });
    cleanups.push(() => rmSync(f.root, { recursive: true, force: true }));
    const c: S3Client[] = f.serves.map((s) => s.client());
    cleanups.push(() => c.forEach((x) => x.destroy()));

    // Known objects: written through each instance, read through every instance (so each has seen them).
    const known = new Map<string, Buffer>();
    for (let i = 0; i < 9; i++) {
      const body = randomBytes(20_000 + i);
      known.set(`known/${i}`, body);
      await c[i % 3]!.send(new PutObjectCommand({ Bucket: 'fleet', Key: `known/${i}`, Body: body }));
    }
    for (const key of known.keys()) for (const client of c) await bodyOf((await client.send(new GetObjectCommand({ Bucket: 'fleet', Key: key }))).Body);

    await server.stop();
    const stoppedAt = Date.now();
    const acknowledged = new Map<string, Buffer>();
    let reads = 0;
    let writes = 0;
    const writeStatuses = new Map<number, number>();
    let n = 0;
    try {
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        const round = n++;
        await Promise.all(
          c.map(async (client, i) => {
            for (const [key, body] of known) {
              const got = await client.send(new GetObjectCommand({ Bucket: 'fleet', Key: key }));
              expect(md5(await bodyOf(got.Body)), `${key} through serve-${i}`).toBe(md5(body));
              reads++;
            }
            const body = randomBytes(5000);
            const key = `during/${round}-${i}`;
            const r = await attempt(client.send(new PutObjectCommand({ Bucket: 'fleet', Key: key, Body: body })));
            writes++;
            writeStatuses.set(r.status, (writeStatuses.get(r.status) ?? 0) + 1);
            if (r.status === 200) acknowledged.set(key, body);
          }),
        );
        if (round === 0) {
          for (const s of f.serves) expect((await (await fetch(`${s.url}/health`)).text()).trim(), s.name).toBe('degraded');
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await server.restart();
    }
    expect(reads).toBeGreaterThan(100);
    expect(writes).toBeGreaterThan(10);
    expect([...writeStatuses.keys()]).toEqual([503]);
    for (const s of f.serves) expect(s.alive, s.name).toBe(true);

    // Back without restarting the gateways: the breakers close, writes work through every instance.
    for (const s of f.serves) await waitFor(`${s.name} healthy`, async () => ((await (await fetch(`${s.url}/health`)).text()).trim() === 'ok' ? true : undefined), 30_000, 200);
    for (const [i, client] of c.entries()) {
      const body = randomBytes(3000);
      await client.send(new PutObjectCommand({ Bucket: 'fleet', Key: `after/${i}`, Body: body }));
      const got = await c[(i + 1) % 3]!.send(new GetObjectCommand({ Bucket: 'fleet', Key: `after/${i}` }));
      expect(md5(await bodyOf(got.Body))).toBe(md5(body));
    }
    // Never a false success: every PUT that got 200 is readable (none did), nothing written during the outage exists.
    for (const [key, body] of acknowledged) expect(md5(await bodyOf((await c[0]!.send(new GetObjectCommand({ Bucket: 'fleet', Key: key }))).Body))).toBe(md5(body));
    const store = await openStore(loadConfig(join(f.root, 'instance-0', 'config.yaml')).config, { role: 'inspect' });
    try {
      const listed = await store.listing.list({ prefix: 'fleet/during/' });
      expect(listed.objects.map((o) => o.objectKey)).toEqual([...acknowledged.keys()].map((k) => `fleet/${k}`).sort());
      await waitFor('no intents left', async () => ((await store.intents.summary()).count === 0 ? true : undefined), 15_000, 200);
      await expectLedgerConsistent(store);
    } finally {
      await store.close();
    }
  });
});
