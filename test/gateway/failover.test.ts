import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import type { ByteRange } from '../../src/backends/backend-client.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { describeEngines } from '../support/engines.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

async function put(s3: S3Client, key: string, body: string | Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: key, Body: body }));
}

async function get(s3: S3Client, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: key }));
  return out.Body!.transformToString();
}

async function backendOf(tg: TestGateway, key: string): Promise<string[]> {
  return (await tg.store.objects.lookup(`bkt/${key}`)).map((c) => c.backendName);
}

function rootOf(tg: TestGateway, backend: string): string {
  return tg.config.backends.find((b) => b.name === backend)!.directory!;
}

describeEngines('gateway routing over several backends', (engine) => {
  it(`pack fills the first backend, then spills to the next; 507 only when none has room [${engine}]`, async () => {
    const tg = await startTestGateway(engine, { backends: [{ name: 'a', bytesLimit: 2500 }, { name: 'b', bytesLimit: 2500 }], buckets: ['bkt'] });
    const s3 = tg.client();
    for (let i = 0; i < 4; i++) await put(s3, `k${i}`, Buffer.alloc(1000, i));
    expect(await backendOf(tg, 'k0')).toEqual(['a']);
    expect(await backendOf(tg, 'k1')).toEqual(['a']);
    expect(await backendOf(tg, 'k2')).toEqual(['b']);
    expect(await backendOf(tg, 'k3')).toEqual(['b']);
    const err = await put(s3, 'k4', Buffer.alloc(1000)).catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } });
    expect(err).toMatchObject({ name: 'InsufficientStorage', $metadata: { httpStatusCode: 507 } });
    await expectLedgerConsistent(tg.store);
  });

  it(`spread alternates between equally full backends [${engine}]`, async () => {
    const tg = await startTestGateway(engine, { backends: [{ name: 'a', bytesLimit: 100_000 }, { name: 'b', bytesLimit: 100_000 }], placement: 'spread', buckets: ['bkt'] });
    const s3 = tg.client();
    for (let i = 0; i < 6; i++) await put(s3, `k${i}`, Buffer.alloc(1000, i));
    const placed = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => backendOf(tg, `k${i}`)));
    expect(placed.flat().filter((b) => b === 'a')).toHaveLength(3);
    expect(placed.flat().filter((b) => b === 'b')).toHaveLength(3);
  });

  it(`a backend whose directory vanished: writes go to the next one transparently, its breaker opens, and closes after it is back [${engine}]`, async () => {
    const tg = await startTestGateway(engine, {
      backends: [{ name: 'a', bytesLimit: 0 }, { name: 'b', bytesLimit: 0 }],
      buckets: ['bkt'],
      breaker: { failureThreshold: 1, openMs: 300 },
    });
    const s3 = tg.client();
    await put(s3, 'on-a', 'first');
    expect(await backendOf(tg, 'on-a')).toEqual(['a']);
    const root = rootOf(tg, 'a');
    renameSync(root, `${root}.away`);

    // A streamed body (unknown to the SDK in advance) also fails over: the backend fails before it reads.
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'during', Body: Readable.from([Buffer.from('while a is down')]), ContentLength: 15 }));
    expect(await backendOf(tg, 'during')).toEqual(['b']);
    expect(tg.gateway.deps.router.states().a).not.toBe('closed');
    await put(s3, 'during-2', 'more');
    expect(await backendOf(tg, 'during-2')).toEqual(['b']);

    // The only copy of on-a is unreachable: 503, never NoSuchKey.
    const err = await get(s3, 'on-a').catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } });
    expect(err).toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });

    renameSync(`${root}.away`, root);
    await new Promise((r) => setTimeout(r, 400));
    expect(await get(s3, 'on-a')).toBe('first');
    expect(tg.gateway.deps.router.states().a).toBe('closed');
    expect(await get(s3, 'during')).toBe('while a is down');
    await expectLedgerConsistent(tg.store);
    // The aborted attempts on a are queued for deletion there, nothing is in flight.
    expect((await tg.store.intents.summary()).count).toBe(0);
  });

  it(`reads fail over to another copy; the headers stay those of the metadata [${engine}]`, async () => {
    const tg = await startTestGateway(engine, { backends: [{ name: 'a', bytesLimit: 0 }, { name: 'b', bytesLimit: 0 }], buckets: ['bkt'] });
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'twice', Body: 'replicated', ContentType: 'text/x-test', Metadata: { m: '1' } }));
    const intent = await tg.store.objects.beginCopy({ objectKey: 'bkt/twice', backendName: 'b' });
    await tg.backends.get('b')!.put(intent.storageKey, Readable.from([Buffer.from('replicated')]), 10);
    await tg.store.objects.commitCopy(intent);
    const root = rootOf(tg, 'a');
    renameSync(root, `${root}.away`);
    const out = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'twice' }));
    expect(await out.Body!.transformToString()).toBe('replicated');
    expect(out.ContentType).toBe('text/x-test');
    expect(out.Metadata).toEqual({ m: '1' });
    renameSync(`${root}.away`, root);
  });

  it(`a small object's copy whose stream closes halfway without an error is replaced by the next copy, and its breaker counts nothing [${engine}]`, async () => {
    const tg = await startTestGateway(engine, { backends: [{ name: 'a', bytesLimit: 0 }, { name: 'b', bytesLimit: 0 }], buckets: ['bkt'] });
    const s3 = tg.client();
    const small = randomBytes(10_000);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'small', Body: small }));
    expect(await backendOf(tg, 'small')).toEqual(['a']);
    const intent = await tg.store.objects.beginCopy({ objectKey: 'bkt/small', backendName: 'b' });
    await tg.backends.get('b')!.put(intent.storageKey, Readable.from([small]), small.length);
    await tg.store.objects.commitCopy(intent);
    // Fault injection: backend a gives the first half, then its stream is destroyed without an error.
    const a = tg.backends.get('a') as DirectoryBackend;
    let halfStreams = 0;
    a.get = async (storageKey: string, range?: ByteRange): Promise<Readable> => {
      const chunks: Buffer[] = [];
      for await (const c of await DirectoryBackend.prototype.get.call(a, storageKey, range)) chunks.push(c as Buffer);
      const half = new Readable({ read() {} });
      half.push(Buffer.concat(chunks).subarray(0, small.length >> 1));
      setTimeout(() => half.destroy(), 20);
      halfStreams++;
      return half;
    };
    const out = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'small' }));
    expect(Buffer.from(await out.Body!.transformToByteArray()).equals(small)).toBe(true);
    expect(halfStreams).toBe(1);
    expect(tg.gateway.deps.router.states()).toEqual({ a: 'closed', b: 'closed' });
  });

  it(`monthly limits: a backend past its request limit is skipped for writes; a failing or over-limit backend still serves the only copy; limits count flushed totals and unflushed counters [${engine}]`, async () => {
    const tg = await startTestGateway(engine, {
      backends: [
        { name: 'a', bytesLimit: 0, monthlyLimits: { apiRequests: 2, egressBytes: 0, ingressBytes: 0 } },
        { name: 'b', bytesLimit: 0, monthlyLimits: { apiRequests: 0, egressBytes: 5, ingressBytes: 0 } },
      ],
      buckets: ['bkt'],
    });
    const s3 = tg.client();
    await put(s3, 'k0', 'zero');
    await put(s3, 'k1', 'one');
    await put(s3, 'k2', 'two');
    expect(await backendOf(tg, 'k0')).toEqual(['a']);
    expect(await backendOf(tg, 'k1')).toEqual(['a']);
    expect(await backendOf(tg, 'k2')).toEqual(['b']);
    // a is past its request limit, but it holds the only copy of k0: it still serves it.
    expect(await get(s3, 'k0')).toBe('zero');
    // b is past its egress limit after one read of 3 bytes and another of 3: the second still works (only copy).
    expect(await get(s3, 'k2')).toBe('two');
    expect(await get(s3, 'k2')).toBe('two');
    // With the limits counted from flushed totals too (another instance's usage), the rule holds after a flush.
    await tg.store.usage.flush();
    await tg.gateway.deps.router.refreshUsage();
    await put(s3, 'k3', 'three');
    expect(await backendOf(tg, 'k3')).toEqual(['b']);
  });
});
