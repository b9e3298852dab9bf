import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { expectLedgerConsistent } from '../support/store.js';
import { bodyOf, fleetHarness, md5, statusOf } from './support.js';

/**
 * Spec gateway.md §6 "several instances" and issue 12 item 8 (a) and (b): three real `serve` processes
 * on one PostgreSQL database and one shared directory backend, clients spread over them.
 */

const { fleet, inspect, s3 } = fleetHarness();

describe('a fleet of three serve processes on PostgreSQL', () => {
  it('(a) 32 concurrent uploads for the last free bytes of a limited backend, across the three: exactly as many succeed as fit', async () => {
    const LIMIT = 400_000;
    const SIZE = 10_000;
    const f = await fleet(3, { bytesLimit: String(LIMIT) });
    const c = [s3(f, 0), s3(f, 1), s3(f, 2)];
    // Fill the backend up to room for exactly 7 more objects.
    const FILL = LIMIT - 7 * SIZE - 1234;
    expect(await statusOf(c[0]!.send(new PutObjectCommand({ Bucket: 'fleet', Key: 'fill', Body: randomBytes(FILL) })))).toBe(200);
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => statusOf(c[i % 3]!.send(new PutObjectCommand({ Bucket: 'fleet', Key: `race/${i}`, Body: randomBytes(SIZE) })))),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(7);
    expect(results.filter((s) => s === 507)).toHaveLength(25);
    // Every instance took part in the race.
    for (let k = 0; k < 3; k++) expect(results.filter((_, i) => i % 3 === k).length).toBeGreaterThan(0);
    const store = await inspect(f);
    const quota = (await store.quota.totals()).find((q) => q.backendName === 'shared')!;
    expect(quota.bytesUsed).toBe(FILL + 7 * SIZE);
    expect(quota.bytesUsed + quota.orphanBytes + quota.inflightBytes).toBeLessThanOrEqual(LIMIT);
    await expectLedgerConsistent(store);
    const listed = await c[1]!.send(new ListObjectsV2Command({ Bucket: 'fleet', Prefix: 'race/' }));
    expect(listed.KeyCount).toBe(7);
  });

  it('(b) an object written through one instance is readable and listable at once through the others; a delete is seen at once too', async () => {
    const f = await fleet(3);
    const c = [s3(f, 0), s3(f, 1), s3(f, 2)];
    for (let round = 0; round < 3; round++) {
      const writer = round % 3;
      const body = randomBytes(50_000 + round);
      const key = `shared/${round}.bin`;
      await c[writer]!.send(new PutObjectCommand({ Bucket: 'fleet', Key: key, Body: body, ContentType: 'application/x-test' }));
      for (let r = 0; r < 3; r++) {
        if (r === writer) continue;
        const got = await c[r]!.send(new GetObjectCommand({ Bucket: 'fleet', Key: key }));
        expect(got.ContentType).toBe('application/x-test');
        expect(md5(await bodyOf(got.Body))).toBe(md5(body));
        const listed = await c[r]!.send(new ListObjectsV2Command({ Bucket: 'fleet', Prefix: 'shared/' }));
        expect(listed.Contents?.map((o) => o.Key)).toContain(key);
      }
      // Overwritten through the next instance: the others read the new bytes at once.
      const next = randomBytes(1000);
      await c[(writer + 1) % 3]!.send(new PutObjectCommand({ Bucket: 'fleet', Key: key, Body: next }));
      const head = await c[(writer + 2) % 3]!.send(new HeadObjectCommand({ Bucket: 'fleet', Key: key }));
      expect(head.ETag).toBe(`"${md5(next)}"`);
    }
    await c[0]!.send(new DeleteObjectCommand({ Bucket: 'fleet', Key: 'shared/0.bin' }));
    expect(await statusOf(c[1]!.send(new GetObjectCommand({ Bucket: 'fleet', Key: 'shared/0.bin' })))).toBe(404);
    expect(await statusOf(c[2]!.send(new HeadObjectCommand({ Bucket: 'fleet', Key: 'shared/0.bin' })))).toBe(404);
    await expectLedgerConsistent(await inspect(f));
  });

});
