import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { closeS3rvers, startS3rver, type S3rver } from '../support/s3rver.js';
import { expectLedgerConsistent } from '../support/store.js';
import { CountingS3Backend } from '../support/counting-s3-backend.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const proxies: ResetProxy[] = [];

afterEach(async () => {
  await closeGateways();
  await closeS3rvers();
  for (const p of proxies.splice(0)) await p.close();
});

type SdkError = { name?: string; $metadata?: { httpStatusCode?: number } };

async function failure(p: Promise<unknown>): Promise<SdkError | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as SdkError,
  );
}

async function put(s3: S3Client, key: string, body: string | Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: key, Body: body }));
}

async function get(s3: S3Client, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: key }));
  return out.Body!.transformToString();
}

async function backendsOf(tg: TestGateway, key: string): Promise<string[]> {
  return (await tg.store.objects.lookup(`bkt/${key}`)).map((c) => c.backendName);
}

/** The keys the s3rver process itself holds under `prefix` (asked directly, not through the gateway). */
async function keysOn(server: S3rver, prefix: string): Promise<string[]> {
  const listed = await server.client().send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((c) => c.Key!).sort();
}

/**
 * A TCP proxy in front of a backend. Once armed, the first connection that carries more than
 * `cutAfter` bytes towards the backend is cut there: the proxy forwards exactly that many bytes,
 * then destroys both sockets (a backend resetting the connection halfway through a PUT). One-shot:
 * later connections pass untouched.
 */
interface ResetProxy {
  readonly port: number;
  arm(cutAfter: number): void;
  /** How many connections were cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

async function startResetProxy(targetPort: number): Promise<ResetProxy> {
  let armedAt: number | undefined;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    let forwarded = 0;
    const cut = () => {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (armedAt !== undefined && forwarded + chunk.length > armedAt) {
        const limit = armedAt;
        armedAt = undefined;
        cuts++;
        upstream.write(chunk.subarray(0, limit - forwarded), () => cut());
        forwarded = limit;
        client.pause();
        return;
      }
      forwarded += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    arm(cutAfter: number) {
      armedAt = cutAfter;
    },
    get cuts() {
      return cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// SQLite only: the same scenarios over directory backends run on both engines (test/gateway/failover.test.ts),
// and the protocol round over s3 backends too (mixed-backends.test.ts); this file stays within a minute.
const engine = 'sqlite';

describe('failover over s3rver backends', () => {
  it(`pack fills s3rver A until writes spill to s3rver B; 507 when neither has room [${engine}]`, async () => {
    const [a, b] = await Promise.all([startS3rver({ bucket: 'a-bytes' }), startS3rver({ bucket: 'b-bytes' })]);
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'a', bytesLimit: 2500, s3: a.backendConfig() },
        { name: 'b', bytesLimit: 2500, s3: b.backendConfig() },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    for (let i = 0; i < 4; i++) await put(s3, `k${i}`, Buffer.alloc(1000, i));
    expect(await Promise.all([0, 1, 2, 3].map((i) => backendsOf(tg, `k${i}`)))).toEqual([['a'], ['a'], ['b'], ['b']]);
    // The bytes really live on the two processes, each at the storage key the store recorded.
    const keysOf = async (i: number) => (await tg.store.objects.lookup(`bkt/k${i}`))[0]!.storageKey;
    expect(await keysOn(a, 'bkt/')).toEqual([await keysOf(0), await keysOf(1)].sort());
    expect(await keysOn(b, 'bkt/')).toEqual([await keysOf(2), await keysOf(3)].sort());
    for (let i = 0; i < 4; i++) expect(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: `k${i}` }))).Body!.transformToByteArray()).equals(Buffer.alloc(1000, i))).toBe(true);
    expect(await failure(put(s3, 'k4', Buffer.alloc(1000)))).toMatchObject({ name: 'InsufficientStorage', $metadata: { httpStatusCode: 507 } });
    // An overwrite that still fits A (2000 + 400 <= 2500) lands there; the displaced copy waits in the
    // cleanup queue and counts as orphan bytes until it is gone.
    const old = await keysOf(0);
    await put(s3, 'k0', Buffer.alloc(400, 9));
    expect(await backendsOf(tg, 'k0')).toEqual(['a']);
    expect((await tg.store.cleanup.list()).map((t) => `${t.backendName}:${t.storageKey}`)).toContain(`a:${old}`);
    expect(await failure(put(s3, 'k5', Buffer.alloc(600)))).toMatchObject({ name: 'InsufficientStorage' });
    await expectLedgerConsistent(tg.store);
  });

  it(`s3rver A killed: PUTs go to B (200), a read with a copy on B works, the only copy on A answers 503, A's breaker opens and closes after restart [${engine}]`, async () => {
    const [a, b] = await Promise.all([startS3rver({ bucket: 'a-bytes' }), startS3rver({ bucket: 'b-bytes' })]);
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'a', bytesLimit: 0, s3: a.backendConfig({ timeoutMs: 3000 }) },
        { name: 'b', bytesLimit: 0, s3: b.backendConfig({ timeoutMs: 3000 }) },
      ],
      buckets: ['bkt'],
      breaker: { failureThreshold: 1, openMs: 300 },
    });
    const s3 = tg.client();
    await put(s3, 'on-a', 'only on a');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'twice', Body: 'on a and b', ContentType: 'text/x-twice', Metadata: { m: '1' } }));
    expect(await backendsOf(tg, 'on-a')).toEqual(['a']);
    // A second copy of "twice" on B, made as a replication job would.
    const intent = await tg.store.objects.beginCopy({ objectKey: 'bkt/twice', backendName: 'b' });
    await tg.backends.get('b')!.put(intent.storageKey, Readable.from([Buffer.from('on a and b')]), 10);
    await tg.store.objects.commitCopy(intent);
    expect((await backendsOf(tg, 'twice')).sort()).toEqual(['a', 'b']);
    expect(tg.gateway.deps.router.states().a).toBe('closed');

    await a.stop();

    // A streamed body and a buffered one both fail over: A refuses the connection before any byte.
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'during', Body: Readable.from([Buffer.from('written while a is down')]), ContentLength: 23 }));
    expect(await backendsOf(tg, 'during')).toEqual(['b']);
    expect(tg.gateway.deps.router.states().a).not.toBe('closed');
    await put(s3, 'during-2', Buffer.alloc(300 * KiB, 7));
    expect(await backendsOf(tg, 'during-2')).toEqual(['b']);
    expect(await keysOn(b, 'bkt/during')).toHaveLength(2);

    // A read with a copy on B is served from it, with the metadata's headers.
    const twice = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'twice' }));
    expect(await twice.Body!.transformToString()).toBe('on a and b');
    expect(twice.ContentType).toBe('text/x-twice');
    expect(twice.Metadata).toEqual({ m: '1' });
    // The only copy is on the dead backend: 503, never NoSuchKey; HEAD answers from the metadata alone.
    expect(await failure(get(s3, 'on-a'))).toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    expect(tg.gateway.deps.router.states().a).not.toBe('closed');

    // Wait past the breaker's jittered timeout while A is still down: the probe fails and it opens again.
    await new Promise((r) => setTimeout(r, 400));
    expect(tg.gateway.deps.router.states().a).toBe('half-open');
    expect(await failure(get(s3, 'on-a'))).toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    expect(tg.gateway.deps.router.states().a).toBe('open');

    await a.restart();
    await new Promise((r) => setTimeout(r, 400));
    expect(await get(s3, 'on-a')).toBe('only on a');
    expect(tg.gateway.deps.router.states().a).toBe('closed');
    // Writes come back to A (pack: first in order).
    await put(s3, 'after', 'a is back');
    expect(await backendsOf(tg, 'after')).toEqual(['a']);
    expect(await get(s3, 'during')).toBe('written while a is down');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('a backend that resets the connection halfway through a 2 MiB PUT: the client gets a 5xx, nothing is committed, the intent\'s key is queued for cleanup; within the replay window it fails over', async () => {
    const a = await startS3rver({ bucket: 'a-bytes' });
    const proxy = await startResetProxy(a.port);
    proxies.push(proxy);
    const tg = await startTestGateway('sqlite', {
      backends: [
        { name: 'a', bytesLimit: 0, s3: a.backendConfig({ endpoint: `http://127.0.0.1:${proxy.port}`, timeoutMs: 5000 }) },
        { name: 'b', bytesLimit: 0 },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    await put(s3, 'big', 'prior version');
    const prior = (await tg.store.objects.lookup('bkt/big'))[0]!;
    expect(prior.backendName).toBe('a');

    proxy.arm(768 * KiB);
    const bytes = Buffer.alloc(2 * MiB, 0x5a);
    const err = await failure(put(s3, 'big', bytes));
    expect(proxy.cuts).toBe(1);
    process.stderr.write(`PUT cut mid-body: ${JSON.stringify({ name: err?.name, status: err?.$metadata?.httpStatusCode })}\n`);
    expect(err, 'the PUT must fail').toBeDefined();
    expect(err!.$metadata?.httpStatusCode ?? 0).toBeGreaterThanOrEqual(500);
    expect(err!.$metadata?.httpStatusCode ?? 0).toBeLessThan(600);

    // Nothing committed: the prior version is current, on A, and reads back.
    expect(await tg.store.objects.lookup('bkt/big')).toEqual([prior]);
    expect(await get(s3, 'big')).toBe('prior version');
    expect((await tg.store.intents.summary()).count).toBe(0);
    // B was not offered the body: past the replay window the write could not fail over.
    expect(await tg.store.objects.lookup('bkt/big')).toHaveLength(1);
    // The aborted write's own storage key on A is queued for deletion (never the prior version's).
    const queued = (await tg.store.cleanup.list()).filter((t) => t.objectKey === 'bkt/big');
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ backendName: 'a' });
    expect(queued[0]!.storageKey).not.toBe(prior.storageKey);
    expect(queued[0]!.storageKey.startsWith('bkt/big!')).toBe(true);
    // s3rver holds no partial object at that key.
    expect(await keysOn(a, 'bkt/big')).toEqual([prior.storageKey]);
    await expectLedgerConsistent(tg.store);

    // The connection after the cut works: the next PUT goes through.
    await put(s3, 'big', Buffer.alloc(2 * MiB, 0x33));
    expect(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'big' }))).Body!.transformToByteArray()).equals(Buffer.alloc(2 * MiB, 0x33))).toBe(true);

    // The same reset within the replay window (a 200 KiB body, cut after 64 KiB): the body can be
    // offered again, so the write fails over to B and the client never sees the reset.
    proxy.arm(64 * KiB);
    const small = Buffer.alloc(200 * KiB, 0x44);
    await put(s3, 'small', small);
    expect(proxy.cuts).toBe(2);
    expect(await backendsOf(tg, 'small')).toEqual(['b']);
    expect(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'small' }))).Body!.transformToByteArray()).equals(small)).toBe(true);
    expect((await tg.store.cleanup.list()).filter((t) => t.objectKey === 'bkt/small').map((t) => t.backendName)).toEqual(['a']);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('a 200 MiB multipart upload (40 parts of 5 MiB) on an s3rver backend completes with no byte read back through the gateway', async () => {
    const server = await startS3rver({ bucket: 'big-bytes' });
    const backend = new CountingS3Backend('remote', server.backendConfig({ timeoutMs: 60_000 }));
    const tg = await startTestGateway('sqlite', { backends: [{ name: 'remote', bytesLimit: 0, s3: server.backendConfig(), client: backend }], buckets: ['bkt'] });
    const s3 = tg.client();
    const PARTS = 40;
    const PART = 5 * MiB;
    // Part i repeats a random block of its own (an odd length, so no two parts align), made when it
    // is sent and made again to check a read: never the whole 200 MiB in memory.
    const seeds = Array.from({ length: PARTS }, (_, i) => randomBytes(4093 + 2 * i));
    const partBytes = (i: number) => Buffer.alloc(PART, seeds[i]!);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'huge.bin' }));
    const partMd5s: Buffer[] = [];
    const etags: string[] = [];
    const uploadStart = Date.now();
    for (let i = 0; i < PARTS; i++) {
      const body = partBytes(i);
      const md5 = createHash('md5').update(body).digest();
      partMd5s.push(md5);
      const res = await s3.send(new UploadPartCommand({ Bucket: 'bkt', Key: 'huge.bin', UploadId: created.UploadId, PartNumber: i + 1, Body: body }));
      expect(res.ETag).toBe(`"${md5.toString('hex')}"`);
      etags.push(res.ETag!);
    }
    const uploadMs = Date.now() - uploadStart;

    const before = { gets: backend.gets, getBytes: backend.getBytes, puts: backend.puts };
    const completeStart = Date.now();
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: 'bkt', Key: 'huge.bin', UploadId: created.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
    const completeMs = Date.now() - completeStart;
    process.stderr.write(
      `200 MiB multipart on s3rver: 40 parts uploaded in ${uploadMs} ms; Complete through the gateway ${completeMs} ms, of which s3rver's own CompleteMultipartUpload ${backend.completeMs} ms\n`,
    );
    expect({ gets: backend.gets, getBytes: backend.getBytes, puts: backend.puts }).toEqual(before);
    expect(done.ETag).toBe(`"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-40"`);
    // s3rver assembles the 200 MiB itself (a file copy: seconds on a loaded machine); what the gateway
    // adds around its one call (the part list, the commit) must stay small. Generous bounds: the
    // machine running the tests is shared.
    expect(completeMs - backend.completeMs).toBeLessThan(2000);
    expect(completeMs).toBeLessThan(30_000);

    const head = await s3.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'huge.bin' }));
    expect(head.ContentLength).toBe(PARTS * PART);
    const storageKey = (await tg.store.objects.lookup('bkt/huge.bin'))[0]!.storageKey;
    expect(await keysOn(server, 'bkt/')).toEqual([storageKey]);
    const direct = await server.client().send(new HeadObjectCommand({ Bucket: server.bucket, Key: storageKey }));
    expect(direct.ContentLength).toBe(PARTS * PART);

    // Read back across part boundaries and at both ends: the parts are assembled in order. (These
    // reads go through the counting client: the counter sees bytes when they do flow.)
    const ranges = [
      [0, 64 * KiB - 1],
      [PART - 1000, PART + 999],
      [20 * PART - 5000, 21 * PART + 5000],
      [39 * PART - 1, 40 * PART - 1],
    ] as const;
    const expectedRange = (start: number, end: number) => {
      const out: Buffer[] = [];
      for (let i = Math.floor(start / PART); i <= Math.floor(end / PART); i++) {
        const from = Math.max(start, i * PART) - i * PART;
        const to = Math.min(end, (i + 1) * PART - 1) - i * PART;
        out.push(partBytes(i).subarray(from, to + 1));
      }
      return Buffer.concat(out);
    };
    let read = 0;
    for (const [start, end] of ranges) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'huge.bin', Range: `bytes=${start}-${end}` }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(bytes.equals(expectedRange(start, end)), `bytes ${start}-${end}`).toBe(true);
      read += end - start + 1;
    }
    expect(backend.getBytes - before.getBytes).toBe(read);
    await expectLedgerConsistent(tg.store);
  }, 180_000);
});
