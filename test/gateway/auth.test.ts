import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines, type EngineName } from '../support/engines.js';
import { ADMIN, closeGateways, READER, SCOPED, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

const md5Hex = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');
const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
const EMPTY_SHA256 = sha256Hex('');

type Creds = { accessKeyId: string; secretAccessKey: string };

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the request to fail');
}

function xmlCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
}

async function text(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString();
}

function clientFor(tg: TestGateway, credentials: Creds): S3Client {
  return new S3Client({ endpoint: tg.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

interface Signed {
  readonly headers: Record<string, string>;
  readonly signature: string;
  readonly amzDate: string;
  readonly scope: string;
}

/** Signs a request for the gateway with @smithy/signature-v4 (header auth). */
async function sign(tg: TestGateway, method: string, path: string, headers: Record<string, string>, options: { creds?: Creds; at?: Date } = {}): Promise<Signed> {
  const url = new URL(tg.url);
  const signer = new SignatureV4({ credentials: options.creds ?? ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const request = new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, headers: { host: url.host, ...headers } });
  const signed = (await signer.sign(request, options.at ? { signingDate: options.at } : {})) as HttpRequest;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = v;
  const signature = /Signature=([0-9a-f]{64})/.exec(out.authorization!)![1]!;
  const amzDate = out['x-amz-date']!;
  return { headers: out, signature, amzDate, scope: `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request` };
}

function send(tg: TestGateway, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const url = new URL(tg.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function gateway(engine: EngineName) {
  const tg = await startTestGateway(engine, { buckets: ['bkt1', 'bkt2', 'scoped'] });
  return { tg, s3: tg.client() };
}

describeEngines('auth: presigned URLs and credentials', (engine) => {
  it('presigned PUT then presigned GET (fetch) store and return the bytes', async () => {
    const { tg, s3 } = await gateway(engine);
    const body = 'presigned payload ' + randomBytes(8).toString('hex');
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bkt1', Key: 'pre signed/ü+x' }), { expiresIn: 300 });
    const put = await fetch(putUrl, { method: 'PUT', body });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe(`"${md5Hex(body)}"`);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bkt1', Key: 'pre signed/ü+x' }), { expiresIn: 300 });
    const get = await fetch(getUrl);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(body);
    expect(get.headers.get('x-amz-request-id')).toBeTruthy();
    // Using the GET URL for a PUT fails: the method is signed.
    const wrongMethod = await fetch(getUrl, { method: 'PUT', body: 'x' });
    expect(wrongMethod.status).toBe(403);
    expect(xmlCode(await wrongMethod.text())).toBe('SignatureDoesNotMatch');
    expect(await text(s3, 'bkt1', 'pre signed/ü+x')).toBe(body);
    await expectLedgerConsistent(tg.store);
  });

  it('an expired presigned URL is 403 AccessDenied', async () => {
    const { s3 } = await gateway(engine);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bkt1', Key: 'k' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
    const res = await fetch(url);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(xmlCode(body)).toBe('AccessDenied');
    expect(body).toContain('expired');
  });

  it('wrong secret → SignatureDoesNotMatch; unknown key → InvalidAccessKeyId; no auth → AccessDenied', async () => {
    const { tg } = await gateway(engine);
    const wrong = await errorOf(clientFor(tg, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret' }).send(new ListBucketsCommand({})));
    expect(wrong.name).toBe('SignatureDoesNotMatch');
    expect(wrong.status).toBe(403);
    const unknown = await errorOf(clientFor(tg, { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'whatever' }).send(new ListObjectsV2Command({ Bucket: 'bkt1' })));
    expect(unknown.name).toBe('InvalidAccessKeyId');
    expect(unknown.status).toBe(403);
    for (const [method, path] of [['GET', '/'], ['GET', '/bkt1'], ['PUT', '/bkt1/anon'], ['GET', '/bkt1/anon']] as const) {
      const res = await fetch(`${tg.url}${path}`, { method, ...(method === 'PUT' ? { body: 'anonymous' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(xmlCode(await res.text())).toBe('AccessDenied');
    }
    expect((await errorOf(tg.client().send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'anon' })))).status).toBe(404);
  });
});

describe('auth: clock skew', () => {
  it('a request signed 20 minutes ago is RequestTimeTooSkewed; 10 minutes ago is accepted', async () => {
    const { tg } = await gateway('sqlite');
    const old = await sign(tg, 'GET', '/bkt1', { 'x-amz-content-sha256': EMPTY_SHA256 }, { at: new Date(Date.now() - 20 * 60_000) });
    const res = await send(tg, 'GET', '/bkt1', old.headers);
    expect(res.status).toBe(403);
    expect(xmlCode(res.body)).toBe('RequestTimeTooSkewed');
    const future = await sign(tg, 'GET', '/bkt1', { 'x-amz-content-sha256': EMPTY_SHA256 }, { at: new Date(Date.now() + 20 * 60_000) });
    expect(xmlCode((await send(tg, 'GET', '/bkt1', future.headers)).body)).toBe('RequestTimeTooSkewed');
    const recent = await sign(tg, 'GET', '/bkt1', { 'x-amz-content-sha256': EMPTY_SHA256 }, { at: new Date(Date.now() - 10 * 60_000) });
    expect((await send(tg, 'GET', '/bkt1', recent.headers)).status).toBe(200);
  });
});

describe('auth: permissions', () => {
  it('READER can GET, HEAD and list but not PUT or DELETE', async () => {
    const { tg, s3 } = await gateway('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'readable', Body: 'for readers' }));
    const reader = tg.client(READER);
    expect(await text(reader, 'bkt1', 'readable')).toBe('for readers');
    expect((await reader.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'readable' }))).ContentLength).toBe(11);
    expect((await reader.send(new ListObjectsV2Command({ Bucket: 'bkt1' }))).Contents?.map((c) => c.Key)).toEqual(['readable']);
    const put = await errorOf(reader.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'readable', Body: 'overwritten' })));
    expect(put.name).toBe('AccessDenied');
    expect(put.status).toBe(403);
    const del = await errorOf(reader.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: 'readable' })));
    expect(del.name).toBe('AccessDenied');
    const mpu = await errorOf(reader.send(new CreateMultipartUploadCommand({ Bucket: 'bkt1', Key: 'm' })));
    expect(mpu.name).toBe('AccessDenied');
    expect(await text(s3, 'bkt1', 'readable')).toBe('for readers');
  });

  it('SCOPED works in its bucket only, cannot create or delete buckets, and lists only its bucket', async () => {
    const { tg, s3 } = await gateway('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'other', Body: 'not yours' }));
    const scoped = tg.client(SCOPED);
    await scoped.send(new PutObjectCommand({ Bucket: 'scoped', Key: 'mine', Body: 'yours' }));
    expect(await text(scoped, 'scoped', 'mine')).toBe('yours');
    for (const attempt of [
      () => scoped.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'other' })),
      () => scoped.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'other', Body: 'x' })),
      () => scoped.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: 'other' })),
      () => scoped.send(new ListObjectsV2Command({ Bucket: 'bkt1' })),
      () => scoped.send(new CreateBucketCommand({ Bucket: 'scoped-new' })),
      () => scoped.send(new CreateBucketCommand({ Bucket: 'scoped' })),
      () => scoped.send(new DeleteBucketCommand({ Bucket: 'scoped' })),
      () => scoped.send(new DeleteBucketCommand({ Bucket: 'bkt2' })),
    ]) {
      const e = await errorOf(attempt());
      expect(e.name).toBe('AccessDenied');
      expect(e.status).toBe(403);
    }
    const hidden = await errorOf(scoped.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'other' })));
    expect(hidden.status).toBe(403);
    const list = await scoped.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toEqual(['scoped']);
    const all = await s3.send(new ListBucketsCommand({}));
    expect(all.Buckets?.map((b) => b.Name).sort()).toEqual(['bkt1', 'bkt2', 'scoped']);
    expect(await text(s3, 'bkt1', 'other')).toBe('not yours');
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'scoped-new' })))).status).toBe(404);
  });

  it('the per-upload-id calls answer NoSuchUpload for an uploadId of another key or bucket', async () => {
    const { s3 } = await gateway('sqlite');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt1', Key: 'upload/a' }));
    expect(UploadId).toBeTruthy();
    const elsewhere: Array<[string, string]> = [['bkt1', 'upload/b'], ['bkt2', 'upload/a']];
    for (const [Bucket, Key] of elsewhere) {
      const where = `${Bucket}/${Key}`;
      const part = await errorOf(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'part bytes' })));
      expect(part.name, `UploadPart ${where}`).toBe('NoSuchUpload');
      expect(part.status).toBe(404);
      const list = await errorOf(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })));
      expect(list.name, `ListParts ${where}`).toBe('NoSuchUpload');
      const complete = await errorOf(
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: `"${md5Hex('part bytes')}"` }] } })),
      );
      expect(complete.name, `Complete ${where}`).toBe('NoSuchUpload');
      const abort = await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })));
      expect(abort.name, `Abort ${where}`).toBe('NoSuchUpload');
    }
    // The upload itself is untouched and completes where it belongs.
    const part = await s3.send(new UploadPartCommand({ Bucket: 'bkt1', Key: 'upload/a', UploadId, PartNumber: 1, Body: 'part bytes' }));
    expect((await s3.send(new ListPartsCommand({ Bucket: 'bkt1', Key: 'upload/a', UploadId }))).Parts?.map((p) => p.PartNumber)).toEqual([1]);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'bkt1', Key: 'upload/a', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    expect(await text(s3, 'bkt1', 'upload/a')).toBe('part bytes');
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'upload/b' })))).status).toBe(404);
  });
});

/** Builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body: each chunk signed, chained from the seed signature. */
async function signedChunkedUpload(tg: TestGateway, path: string, chunks: Buffer[], corruptChunk?: number) {
  const decoded = chunks.reduce((n, c) => n + c.length, 0);
  const frame = (n: number) => `${n.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`.length + n + 2;
  const encodedLength = chunks.reduce((n, c) => n + frame(c.length), 0) + frame(0);
  const signed = await sign(tg, 'PUT', path, {
    'content-encoding': 'aws-chunked',
    'content-length': String(encodedLength),
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-decoded-content-length': String(decoded),
  });
  const chunkSigner = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256 });
  const signingDate = new Date(
    `${signed.amzDate.slice(0, 4)}-${signed.amzDate.slice(4, 6)}-${signed.amzDate.slice(6, 8)}T${signed.amzDate.slice(9, 11)}:${signed.amzDate.slice(11, 13)}:${signed.amzDate.slice(13, 15)}Z`,
  );
  const parts: Buffer[] = [];
  let previous = signed.signature;
  for (const [index, data] of [...chunks, Buffer.alloc(0)].entries()) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', signed.amzDate, signed.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
    const signature = await chunkSigner.sign(stringToSign, { signingDate });
    previous = signature;
    let payload = data;
    if (index === corruptChunk) {
      payload = Buffer.from(data);
      payload[0] = payload[0]! ^ 0xff;
    }
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`), payload, Buffer.from('\r\n'));
  }
  const body = Buffer.concat(parts);
  expect(body.length).toBe(encodedLength);
  return send(tg, 'PUT', path, signed.headers, body);
}

describeEngines('auth: aws-chunked uploads', (engine) => {
  it('the SDK with a stream body of declared length sends STREAMING-UNSIGNED-PAYLOAD-TRAILER; the object is exact', async () => {
    const { tg, s3 } = await gateway(engine);
    const seen: string[] = [];
    s3.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        seen.push(`${headers['x-amz-content-sha256']} ${headers['x-amz-trailer'] ?? ''}`);
        return next(args);
      },
      { step: 'deserialize', name: 'captureHeaders' },
    );
    const data = randomBytes(200 * 1024 + 3);
    const pieces = [data.subarray(0, 70_000), data.subarray(70_000, 150_000), data.subarray(150_000)];
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'streamed', Body: Readable.from(pieces), ContentLength: data.length }));
    expect(seen[0]).toMatch(/^STREAMING-UNSIGNED-PAYLOAD-TRAILER x-amz-checksum-/);
    expect(put.ETag).toBe(`"${md5Hex(data)}"`);
    expect(put.ChecksumCRC32).toBeTruthy();
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'streamed' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(got.ContentLength).toBe(data.length);
    expect(got.ContentEncoding).toBeUndefined();
    await expectLedgerConsistent(tg.store);
  });

  it('a hand-signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload is stored; a corrupted chunk is SignatureDoesNotMatch and commits nothing', async () => {
    const { tg, s3 } = await gateway(engine);
    const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)];
    const whole = Buffer.concat(chunks);
    const ok = await signedChunkedUpload(tg, '/bkt1/chunked', chunks);
    expect(ok.status, ok.body).toBe(200);
    expect(ok.headers.etag).toBe(`"${md5Hex(whole)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'chunked' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(whole)).toBe(true);

    const bad = await signedChunkedUpload(tg, '/bkt1/chunked', [randomBytes(64 * 1024), randomBytes(500)], 1);
    expect(bad.status).toBe(403);
    expect(xmlCode(bad.body)).toBe('SignatureDoesNotMatch');
    const after = await s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'chunked' }));
    expect(Buffer.from(await after.Body!.transformToByteArray()).equals(whole)).toBe(true);
    const fresh = await signedChunkedUpload(tg, '/bkt1/never', [randomBytes(2000)], 0);
    expect(xmlCode(fresh.body)).toBe('SignatureDoesNotMatch');
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'never' })))).status).toBe(404);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });
});
