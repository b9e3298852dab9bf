import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListPartsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, expect, it } from 'vitest';
import { storageKeyPath } from '../../src/backends/directory-paths.js';
import type { CleanupTask } from '../../src/store/core/types.js';
import { describeEngines } from '../support/engines.js';
import { ADMIN, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

/**
 * Spec gateway.md §7 Faults and issue 10 (Tests: Fault; Deliver 6): a client that goes away in the
 * middle of a body. The gateway admitted the write from Content-Length, streamed part of it into a
 * temporary file, and must then abort the intent: the prior version stays current, the quota's
 * in-flight bytes come back, the storage key is queued for cleanup and no partial file is left.
 */

const MiB = 1024 * 1024;
const BUCKET = 'drops';
const DECLARED = 8 * MiB;
const SENT = 3 * MiB;

const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256 });

afterEach(closeGateways);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The signed request line and headers of a PUT with an unhashed payload (x-amz-content-sha256: UNSIGNED-PAYLOAD). */
async function signedPut(tg: TestGateway, path: string, query: Record<string, string>, contentLength: number): Promise<{ host: string; port: number; path: string; headers: Record<string, string> }> {
  const url = new URL(tg.url);
  const request = new HttpRequest({
    method: 'PUT',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(contentLength) },
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  const qs = new URLSearchParams(query).toString();
  return { host: url.hostname, port: Number(url.port), path: qs ? `${path}?${qs}` : path, headers: signed.headers };
}

/** Files in the backend's tmp/ directory with their sizes. */
function tmpFiles(tg: TestGateway): { name: string; size: number }[] {
  const tmp = join(tg.backendDir, 'tmp');
  if (!existsSync(tmp)) return [];
  return readdirSync(tmp).map((name) => ({ name, size: statSync(join(tmp, name)).size }));
}

function objectFile(tg: TestGateway, storageKey: string): string {
  return join(tg.backendDir, 'objects', storageKeyPath(storageKey));
}

/** Resolves once the gateway streamed `bytes` of the pending body into a temporary file. */
async function waitForPartialFile(tg: TestGateway, bytes: number): Promise<void> {
  await waitFor(`${bytes} bytes in a tmp file`, () => (tmpFiles(tg).some((f) => f.size >= bytes) ? true : undefined));
}

/**
 * Starts a PUT declaring DECLARED bytes over node:http, writes SENT bytes, waits until they are on the
 * backend's disk, then destroys the socket. Resolves with whatever the client saw (no response is expected).
 */
async function putThenDisconnect(tg: TestGateway, path: string, query: Record<string, string> = {}): Promise<{ response: number | undefined }> {
  const target = await signedPut(tg, path, query, DECLARED);
  const req = http.request({ host: target.host, port: target.port, method: 'PUT', path: target.path, headers: target.headers, agent: false });
  let response: number | undefined;
  req.on('response', (res) => {
    response = res.statusCode;
    res.resume();
  });
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
  req.on('error', () => {}); // the destroy below
  req.write(randomBytes(SENT));
  await waitFor('the intent', async () => ((await tg.store.intents.summary()).count === 1 ? true : undefined));
  await waitForPartialFile(tg, SENT);
  req.destroy();
  await closed;
  return { response };
}

/** Waits until the gateway handled the aborted body: no pending intent, and a cleanup row other than `keep`'s storage keys. */
async function waitForAbort(tg: TestGateway, keep: readonly string[]): Promise<CleanupTask> {
  return waitFor('the aborted intent to be queued for cleanup', async () => {
    if ((await tg.store.intents.summary()).count !== 0) return undefined;
    const rows = await tg.store.cleanup.list();
    return rows.find((r) => !keep.includes(r.storageKey));
  });
}

async function getBytes(tg: TestGateway, key: string): Promise<Buffer> {
  const out = await tg.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Byte equality by length and digest: a deep toEqual of MiB-sized buffers takes seconds. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(sha256(actual)).toBe(sha256(expected));
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function local(tg: TestGateway): Promise<{ used: number; orphan: number; inflight: number }> {
  const t = (await tg.store.quota.totals()).find((b) => b.backendName === 'local')!;
  return { used: t.bytesUsed, orphan: t.orphanBytes, inflight: t.inflightBytes };
}

/** Puts a whole object with the same raw signing (UNSIGNED-PAYLOAD); returns its status. */
async function putWhole(tg: TestGateway, key: string, body: Buffer): Promise<number> {
  const target = await signedPut(tg, `/${BUCKET}/${key}`, {}, body.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.host, port: target.port, method: 'PUT', path: target.path, headers: target.headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.end(body);
  });
}

describeEngines('gateway: client disconnect mid-upload', (engine) => {
  it('PutObject: the socket dies after 3 of 8 MiB; version 1 stays, the intent is aborted, quota back, the partial file gone', async () => {
    const tg = await startTestGateway(engine, { buckets: [BUCKET], bytesLimit: 64 * MiB, directoryOnly: true });
    const v1 = randomBytes(MiB + 17);
    expect(await putWhole(tg, 'key', v1)).toBe(200);
    const v1Key = (await tg.store.objects.head(`${BUCKET}/key`)).copies[0]!.storageKey;
    const before = await local(tg);
    expect(before).toEqual({ used: v1.length, orphan: 0, inflight: 0 });

    const { response } = await putThenDisconnect(tg, `/${BUCKET}/key`);
    expect(response).toBeUndefined();
    const row = await waitForAbort(tg, [v1Key]);

    expectSameBytes(await getBytes(tg, 'key'), v1);
    const info = await tg.store.objects.head(`${BUCKET}/key`);
    expect(info.copies.map((c) => c.storageKey)).toEqual([v1Key]);
    expect(info.sizeBytes).toBe(v1.length);
    expect(row).toMatchObject({ backendName: 'local', objectKey: `${BUCKET}/key`, sizeBytes: DECLARED, reason: 'aborted' });
    expect(await local(tg)).toEqual({ used: v1.length, orphan: DECLARED, inflight: 0 });
    await expectLedgerConsistent(tg.store);
    // No partial file: neither at the storage key nor in tmp/; version 1's file is intact.
    expect(existsSync(objectFile(tg, row.storageKey))).toBe(false);
    expect(tmpFiles(tg)).toEqual([]);
    expect(statSync(objectFile(tg, v1Key)).size).toBe(v1.length);

    // The gateway is still healthy: the next upload of the key commits.
    const v2 = randomBytes(2 * MiB);
    expect(await putWhole(tg, 'key', v2)).toBe(200);
    expectSameBytes(await getBytes(tg, 'key'), v2);
    await expectLedgerConsistent(tg.store);
  });

  it('UploadPart: the socket dies mid-part; the upload keeps part 1, part 2 is not recorded, its bytes are queued for cleanup', async () => {
    const tg = await startTestGateway(engine, { buckets: [BUCKET], bytesLimit: 64 * MiB, directoryOnly: true });
    const s3 = tg.client();
    const v1 = randomBytes(300_000);
    expect(await putWhole(tg, 'mp', v1)).toBe(200);
    const v1Key = (await tg.store.objects.head(`${BUCKET}/mp`)).copies[0]!.storageKey;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp' }));
    const part1 = randomBytes(5 * MiB);
    const { ETag: etag1 } = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'mp', UploadId, PartNumber: 1, Body: part1 }));
    const [stored1] = (await tg.store.multipart.listParts(UploadId!)).parts;
    const before = await local(tg);
    expect(before).toEqual({ used: v1.length, orphan: 0, inflight: part1.length });

    const { response } = await putThenDisconnect(tg, `/${BUCKET}/mp`, { partNumber: '2', uploadId: UploadId! });
    expect(response).toBeUndefined();
    const row = await waitForAbort(tg, [v1Key, stored1!.storageKey]);

    expect(row).toMatchObject({ backendName: 'local', objectKey: `${BUCKET}/mp`, sizeBytes: DECLARED, reason: 'aborted' });
    expect(await local(tg)).toEqual({ used: v1.length, orphan: DECLARED, inflight: part1.length });
    await expectLedgerConsistent(tg.store);
    expect(existsSync(objectFile(tg, row.storageKey))).toBe(false);
    expect(tmpFiles(tg)).toEqual([]);
    // Part 1 is untouched; part 2 was never recorded.
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'mp', UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, etag1, part1.length]]);
    expect(statSync(objectFile(tg, stored1!.storageKey)).size).toBe(part1.length);
    // The object is still version 1 until the upload completes, then it is part 1's bytes.
    expectSameBytes(await getBytes(tg, 'mp'), v1);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag1 }] } }));
    expectSameBytes(await getBytes(tg, 'mp'), part1);
    expect((await local(tg)).inflight).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('PutObject whose body is shorter than Content-Length, then the client ends its side: nothing is committed', async () => {
    const tg = await startTestGateway(engine, { buckets: [BUCKET], bytesLimit: 64 * MiB, directoryOnly: true });
    const v1 = randomBytes(100_000);
    expect(await putWhole(tg, 'short', v1)).toBe(200);
    const v1Key = (await tg.store.objects.head(`${BUCKET}/short`)).copies[0]!.storageKey;

    // A raw socket: the request head, 3 MiB of the 8 declared, then FIN (a half-close, not a reset).
    const target = await signedPut(tg, `/${BUCKET}/short`, {}, DECLARED);
    const socket = net.connect(target.port, target.host);
    let answer = '';
    socket.setEncoding('latin1').on('data', (s: string) => (answer += s));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    const head = [`PUT ${target.path} HTTP/1.1`, ...Object.entries(target.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(head);
    socket.write(randomBytes(SENT));
    await waitFor('the intent', async () => ((await tg.store.intents.summary()).count === 1 ? true : undefined));
    await waitForPartialFile(tg, SENT);
    socket.end();
    const row = await waitForAbort(tg, [v1Key]);
    await waitFor('the gateway to close the connection', () => (socket.closed ? true : undefined));
    await closed;

    // Never a success: S3's IncompleteBody (from the operation, or from the clientError handler when
    // node:http's parser sees the early end of the body first), or a connection closed unanswered.
    const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
    if (status !== undefined) {
      expect(answer, answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer, answer).toContain('<Code>IncompleteBody</Code>');
    }
    expectSameBytes(await getBytes(tg, 'short'), v1);
    expect((await tg.store.objects.head(`${BUCKET}/short`)).copies.map((c) => c.storageKey)).toEqual([v1Key]);
    expect(row).toMatchObject({ objectKey: `${BUCKET}/short`, sizeBytes: DECLARED, reason: 'aborted' });
    expect(await local(tg)).toEqual({ used: v1.length, orphan: DECLARED, inflight: 0 });
    await expectLedgerConsistent(tg.store);
    expect(existsSync(objectFile(tg, row.storageKey))).toBe(false);
    expect(tmpFiles(tg)).toEqual([]);
  });
});
