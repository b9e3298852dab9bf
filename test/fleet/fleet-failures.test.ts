import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LEADER_JOBS } from '../../src/store/core/leader-jobs.js';
import { expectLedgerConsistent } from '../support/store.js';
import { bodyOf, fleetHarness, md5, statusOf, signedRequest, waitFor } from './support.js';
import { Readable } from 'node:stream';

/**
 * Spec gateway.md §6 "several instances" and issue 12 item 8 (c) and (d): three real `serve` processes
 * on one PostgreSQL database and one shared directory backend, clients spread over them.
 */

const MiB = 1024 * 1024;
const { fleet, inspect, s3, defer } = fleetHarness();

describe('a fleet of three serve processes on PostgreSQL: failures', () => {
  it('(c, d) SIGKILL of one instance in the middle of 20 uploads: acknowledged objects intact through the survivors; a survivor reaper resolves the dead instance intents, each once; the ledger exact', async () => {
    const f = await fleet(3, { workers: ['reaper: { interval: 1s, min_age: 2s }', 'cleanup: { interval: 1s }'] });
    const [victim, s1, s2] = f.serves as [typeof f.serves[0], typeof f.serves[0], typeof f.serves[0]];
    const survivors = [s3(f, 1), s3(f, 2)];
    const acknowledged = new Map<string, Buffer>();
    const attempted = new Map<string, Buffer>();
    // Opened before the uploads start: on a loaded machine opening it could outlast the slow uploads.
    const store = await inspect(f);

    // Through the victim: 6 slow single-part uploads (bodies trickle in over ~5 s) and 2 slow multipart ones.
    const slow: Promise<void>[] = [];
    for (let i = 0; i < 6; i++) {
      const key = `kill/victim-${i}.bin`;
      const body = randomBytes(MiB);
      attempted.set(key, body);
      slow.push(trickle(victim.url, `/fleet/${key}`, body).then((code) => void (code === 200 && acknowledged.set(key, body))));
    }
    const victimClient = s3(f, 0);
    for (let i = 0; i < 2; i++) {
      const key = `kill/victim-mp-${i}.bin`;
      const parts = [randomBytes(5 * MiB), randomBytes(MiB)];
      attempted.set(key, Buffer.concat(parts));
      slow.push(
        (async () => {
          const { UploadId } = await victimClient.send(new CreateMultipartUploadCommand({ Bucket: 'fleet', Key: key }));
          const p1 = await victimClient.send(new UploadPartCommand({ Bucket: 'fleet', Key: key, UploadId, PartNumber: 1, Body: parts[0] }));
          const code = await trickle(victim.url, `/fleet/${key}?partNumber=2&uploadId=${encodeURIComponent(UploadId!)}`, parts[1]!);
          if (code !== 200) return;
          await victimClient.send(new CompleteMultipartUploadCommand({ Bucket: 'fleet', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: `"${md5(parts[1]!)}"` }] } }));
          acknowledged.set(key, Buffer.concat(parts));
        })().catch(() => {}),
      );
    }
    // Through the survivors at the same time: 8 single-part and 4 multipart uploads.
    const fast: Promise<void>[] = [];
    for (let i = 0; i < 12; i++) {
      const c = survivors[i % 2]!;
      const key = `kill/survivor-${i}.bin`;
      if (i < 8) {
        const body = randomBytes(200_000 + i);
        attempted.set(key, body);
        fast.push(c.send(new PutObjectCommand({ Bucket: 'fleet', Key: key, Body: body })).then(() => void acknowledged.set(key, body)));
      } else {
        const parts = [randomBytes(5 * MiB), randomBytes(3000 + i)];
        attempted.set(key, Buffer.concat(parts));
        fast.push(
          (async () => {
            const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'fleet', Key: key }));
            const etags: string[] = [];
            for (const [n, part] of parts.entries()) etags.push((await c.send(new UploadPartCommand({ Bucket: 'fleet', Key: key, UploadId, PartNumber: n + 1, Body: part }))).ETag!);
            await c.send(new CompleteMultipartUploadCommand({ Bucket: 'fleet', Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, n) => ({ PartNumber: n + 1, ETag })) } }));
            acknowledged.set(key, Buffer.concat(parts));
          })(),
        );
      }
    }
    expect(attempted.size).toBe(20);

    // Observed now: if an assertion below fails first, these must not end as unhandled rejections.
    const slowDone = Promise.all(slow);
    const fastDone = Promise.all(fast);
    slowDone.catch(() => {});
    fastDone.catch(() => {});

    // The victim holds intents of uploads in progress (its own: the survivors' count for nothing here): kill it then.
    const victimIntents = async () => (await store.intents.listOlderThan(new Date(Date.now() + 3600_000), 1000)).filter((i) => i.objectKey.startsWith('fleet/kill/victim'));
    await waitFor('the victim to have uploads in progress', async () => ((await victimIntents()).length >= 4 ? true : undefined), 15_000, 20);
    victim.child.kill('SIGKILL');
    expect(await victim.exited()).toEqual({ code: null, signal: 'SIGKILL' });
    // The dead instance's intents: uploads it admitted and never finished.
    const orphaned = await victimIntents();
    expect(orphaned.length).toBeGreaterThanOrEqual(4);
    await slowDone;
    await fastDone; // the survivors' uploads all succeed
    for (let i = 0; i < 12; i++) expect(acknowledged.has(`kill/survivor-${i}.bin`)).toBe(true);

    // A survivor's reaper resolves the dead instance's intents (min_age 2 s).
    await waitFor('the intents to be resolved', async () => ((await store.intents.summary()).count === 0 ? true : undefined), 30_000, 200);
    const resolved = [...s1.lines, ...s2.lines].filter((l) => l.msg === 'reaper resolved an intent');
    // (d) One instance at a time: each intent was resolved by exactly one reaper, never twice.
    for (const intent of orphaned) expect(resolved.filter((l) => l.intent === intent.intentId), intent.objectKey).toHaveLength(1);
    expect(resolved.every((l) => l.outcome !== 'gone')).toBe(true);

    // Every acknowledged object is intact through both survivors; an unacknowledged one is absent or,
    // when the reaper found all of its bytes, exactly what was sent.
    for (const [key, body] of attempted) {
      for (const c of survivors) {
        const code = await statusOf(c.send(new HeadObjectCommand({ Bucket: 'fleet', Key: key })));
        if (acknowledged.has(key)) expect(code, key).toBe(200);
        if (code === 200) {
          const got = await c.send(new GetObjectCommand({ Bucket: 'fleet', Key: key }));
          expect(md5(await bodyOf(got.Body)), key).toBe(md5(body));
        } else expect(code, key).toBe(404);
      }
    }
    // The ledger is exact (I1–I4) once the cleanup queue of the aborted bytes drained.
    await waitFor('the cleanup queue to drain', async () => ((await store.cleanup.list()).length === 0 ? true : undefined), 20_000, 200);
    await expectLedgerConsistent(store);
  });

  it('(d) a background job runs only where its leader lock is held, and moves when the holder dies', async () => {
    const f = await fleet(3, { workers: ['reaper: { interval: 500ms, min_age: 1s }'] });
    const store = await inspect(f);
    // A holder of the reaper's leader lock (as an instance in the middle of a tick holds it): taken
    // between two of the instances' ticks (they hold it only while they tick), so retried.
    const holder = new pg.Client({ connectionString: f.databaseUrl });
    holder.on('error', () => {});
    await holder.connect();
    defer(() => holder.end().catch(() => {}));
    await waitFor('the reaper lock', async () => ((await holder.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_JOBS.reaper.lockId.toString()])).rows[0]!.ok ? true : undefined), 5000, 10);
    // Then a crashed writer's intent whose bytes are on the backend: the reaper's work.
    const intent = await store.objects.beginWrite({ objectKey: 'fleet/orphan.txt', sizeBytes: 5 });
    const { DirectoryBackend } = await import('../../src/backends/directory.js');
    await new DirectoryBackend('shared', f.backendDir).put(intent.storageKey, Readable.from([Buffer.from('hello')]), 5);
    // While it holds the lock no instance runs the job, though the intent is old enough and they tick every 500 ms.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await store.intents.summary()).count).toBe(1);
    expect(f.serves.flatMap((s) => s.lines).filter((l) => l.msg === 'reaper resolved an intent')).toEqual([]);

    // The holder dies (its connection ends without an unlock): one of the instances takes the job over.
    await holder.end();
    await waitFor('another instance to resolve the intent', async () => ((await store.intents.summary()).count === 0 ? true : undefined), 10_000, 100);
    const resolved = f.serves.map((s) => s.lines.filter((l) => l.msg === 'reaper resolved an intent'));
    expect(resolved.flat()).toHaveLength(1);
    expect(resolved.flat()[0]).toMatchObject({ key: 'fleet/orphan.txt', outcome: 'committed' });
    const c = s3(f, (resolved.findIndex((r) => r.length > 0) + 1) % 3);
    expect((await bodyOf((await c.send(new GetObjectCommand({ Bucket: 'fleet', Key: 'orphan.txt' }))).Body)).toString()).toBe('hello');

    // Kill the instance that ran it: the job keeps running on the others.
    const ran = f.serves[resolved.findIndex((r) => r.length > 0)]!;
    ran.child.kill('SIGKILL');
    await ran.exited();
    const second = await store.objects.beginWrite({ objectKey: 'fleet/orphan-2.txt', sizeBytes: 5 });
    await new DirectoryBackend('shared', f.backendDir).put(second.storageKey, Readable.from([Buffer.from('world')]), 5);
    await waitFor('a survivor to resolve the second intent', async () => ((await store.intents.summary()).count === 0 ? true : undefined), 10_000, 100);
    const survivorsResolved = f.serves.filter((s) => s !== ran).flatMap((s) => s.lines.filter((l) => l.msg === 'reaper resolved an intent' && l.key === 'fleet/orphan-2.txt'));
    expect(survivorsResolved).toHaveLength(1);
    await expectLedgerConsistent(store);
  });
});

/** A signed PUT whose body trickles in 16 chunks over ~2.4 s; resolves with the status, or 0 when the connection died. */
async function trickle(base: string, path: string, body: Buffer): Promise<number> {
  const [p, q] = path.split('?') as [string, string | undefined];
  const { req, response } = await signedRequest(base, 'PUT', q ? `${p}?${q}` : p, { 'content-length': String(body.length) });
  response.catch(() => {});
  // 32 chunks 150 ms apart: the upload stays in progress for ~5 s, long enough to be caught mid-way on a busy machine.
  const chunk = Math.ceil(body.length / 32);
  try {
    for (let off = 0; off < body.length; off += chunk) {
      if (req.destroyed) break;
      req.write(body.subarray(off, off + chunk));
      await new Promise((r) => setTimeout(r, 150));
    }
    req.end();
    return (await response).status;
  } catch {
    return 0;
  }
}
