import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { crc32 } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines, type EngineName } from '../support/engines.js';
import { ADMIN, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

const md5Hex = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');
const md5Base64 = (data: Uint8Array | string): string => createHash('md5').update(data).digest('base64');
const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

function s3Escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
function s3Path(bucket: string, key?: string): string {
  return key === undefined ? `/${bucket}` : `/${bucket}/${key.split('/').map(s3Escape).join('/')}`;
}

interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly continued: boolean;
}

interface RawOptions {
  readonly method: string;
  /** The wire path (already escaped). */
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  readonly chunkedTransfer?: boolean;
  /** Send Expect: 100-continue and write the body only after 100 Continue. */
  readonly expectContinue?: boolean;
  readonly payloadHash?: string;
}

/** A SigV4-signed request (header auth, ADMIN) sent with node:http. */
async function raw(tg: TestGateway, o: RawOptions): Promise<RawResponse> {
  const url = new URL(tg.url);
  const body = o.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': o.payloadHash ?? sha256Hex(body),
    ...(o.headers ?? {}),
  };
  if (!o.chunkedTransfer) headers['content-length'] = String(body.length);
  const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const signed = (await signer.sign(
    new HttpRequest({ method: o.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: o.path, query: o.query ?? {}, headers }),
  )) as HttpRequest;
  const query = Object.entries(o.query ?? {})
    .map(([k, v]) => (v === '' ? s3Escape(k) : `${s3Escape(k)}=${s3Escape(v)}`))
    .join('&');
  const sendHeaders: Record<string, string> = { ...signed.headers };
  if (o.expectContinue) sendHeaders.expect = '100-continue';
  if (o.chunkedTransfer) sendHeaders['transfer-encoding'] = 'chunked';
  return new Promise<RawResponse>((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: url.hostname, port: url.port, method: o.method, path: query ? `${o.path}?${query}` : o.path, headers: sendHeaders, agent: false });
    req.on('error', reject);
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), continued }));
      res.on('error', reject);
    });
    if (o.expectContinue) {
      req.flushHeaders();
    } else if (o.chunkedTransfer) {
      req.write(body.subarray(0, Math.floor(body.length / 2)));
      req.end(body.subarray(Math.floor(body.length / 2)));
    } else {
      req.end(body);
    }
  });
}

function xmlCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; code: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, code: e.Code };
  }
  throw new Error('expected the request to fail');
}

async function getBytes(s3: S3Client, bucket: string, key: string, extra: Record<string, unknown> = {}) {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  return { out, bytes };
}

async function gatewayWithBucket(engine: EngineName, options: Parameters<typeof startTestGateway>[1] = {}) {
  const tg = await startTestGateway(engine, { buckets: ['bkt1', 'bkt2'], ...options });
  return { tg, s3: tg.client() };
}

describeEngines('objects: round trips', (engine) => {
  it('objects land on every backend of the gateway (spread over the mixed project\'s s3rvers and directory)', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    const declared = tg.config.backends.map((b) => b.name);
    for (let i = 0; i < 3 * declared.length; i++) {
      await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: `spread/${i}`, Body: randomBytes(1000) }));
    }
    const holding = new Set<string>();
    for (let i = 0; i < 3 * declared.length; i++) {
      const info = await tg.store.objects.head(`bkt1/spread/${i}`);
      for (const c of info.copies) {
        holding.add(c.backendName);
        // The bytes are where the metadata says, under the copy's own storage key.
        expect((await tg.backends.get(c.backendName)!.head(c.storageKey))?.sizeBytes).toBe(1000);
      }
    }
    expect([...holding].sort()).toEqual([...declared].sort());
    await expectLedgerConsistent(tg.store);
  });

  it('PUT/GET/HEAD/DELETE of 0-byte, small and 3 MiB objects; ETag is the MD5; ledger consistent', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    const bodies: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['small.txt', Buffer.from('hello, gateway')],
      ['big/three-mib.bin', randomBytes(3 * 1024 * 1024 + 17)],
    ];
    for (const [key, body] of bodies) {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key, Body: body }));
      expect(put.$metadata.httpStatusCode).toBe(200);
      expect(put.ETag).toBe(`"${md5Hex(body)}"`);
      const { out, bytes } = await getBytes(s3, 'bkt1', key);
      expect(bytes.equals(body)).toBe(true);
      expect(out.ContentLength).toBe(body.length);
      expect(out.ETag).toBe(`"${md5Hex(body)}"`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: key }));
      expect(head.ContentLength).toBe(body.length);
      expect(head.ETag).toBe(`"${md5Hex(body)}"`);
      expect(head.LastModified).toBeInstanceOf(Date);
      expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(60_000);
    }
    await expectLedgerConsistent(tg.store);
    for (const [key] of bodies) {
      const del = await s3.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: key }));
      expect(del.$metadata.httpStatusCode).toBe(204);
      const e = await errorOf(s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: key })));
      expect(e.name).toBe('NoSuchKey');
      expect(e.status).toBe(404);
      const h = await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: key })));
      expect(h.status).toBe(404);
    }
    await expectLedgerConsistent(tg.store);
  });

  it('overwrite keeps exactly one version, serves the new bytes and keeps the ledger consistent', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'first version', ContentType: 'text/plain' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'second, longer version', ContentType: 'text/csv' }));
    const { out, bytes } = await getBytes(s3, 'bkt1', 'k');
    expect(bytes.toString()).toBe('second, longer version');
    expect(out.ContentType).toBe('text/csv');
    expect(out.ETag).toBe(`"${md5Hex('second, longer version')}"`);
    const copies = await tg.store.objects.lookup('bkt1/k');
    expect(copies).toHaveLength(1);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('concurrent PUTs with If-None-Match: * create the key once; the others are 412', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    const bodies = Array.from({ length: 6 }, (_, i) => `contender ${i}`);
    const outcomes = await Promise.allSettled(bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'race', Body, IfNoneMatch: '*' }))));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [bodies[i]!] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect((o.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(412);
    }
    expect((await getBytes(s3, 'bkt1', 'race')).bytes.toString()).toBe(won[0]);
    expect(await tg.store.objects.lookup('bkt1/race')).toHaveLength(1);
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('a wrong Content-MD5 is BadDigest and the prior version stays', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'original' }));
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'replacement', ContentMD5: md5Base64('something else') })));
    expect(e.name).toBe('BadDigest');
    expect(e.status).toBe(400);
    const { bytes } = await getBytes(s3, 'bkt1', 'k');
    expect(bytes.toString()).toBe('original');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
    // The right Content-MD5 is accepted.
    const ok = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'replacement', ContentMD5: md5Base64('replacement') }));
    expect(ok.ETag).toBe(`"${md5Hex('replacement')}"`);
  });

  it('a small body (read whole) that fails verification never reaches a backend; a large one (streamed) is written and removed', async () => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    let puts = 0;
    for (const backend of tg.backends.values()) {
      const put = backend.put.bind(backend);
      (backend as { put: typeof put }).put = (...args) => {
        puts++;
        return put(...args);
      };
    }
    const small = randomBytes(64 * 1024);
    expect((await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'small', Body: small, ContentMD5: md5Base64('other') })))).name).toBe('BadDigest');
    expect(puts).toBe(0);
    const large = randomBytes(64 * 1024 + 1);
    expect((await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'large', Body: large, ContentMD5: md5Base64('other') })))).name).toBe('BadDigest');
    expect(puts).toBe(1);
    expect(await tg.store.objects.lookup('bkt1/small')).toHaveLength(0);
    expect(await tg.store.objects.lookup('bkt1/large')).toHaveLength(0);
    await expectLedgerConsistent(tg.store);
    // Both sizes still store the bytes given the right digest.
    for (const [key, body] of [['small', small], ['large', large]] as const) {
      await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key, Body: body, ContentMD5: md5Base64(body) }));
      expect((await getBytes(s3, 'bkt1', key)).bytes.equals(body)).toBe(true);
    }
    expect(puts).toBe(3);
  });

});

describe('objects: checksums', () => {
  const engine: EngineName = 'sqlite';
  // The CRC catalogue's check values: the checksums of the ASCII "123456789".
  const CHECK = Buffer.from('123456789');
  const RIGHT = {
    CRC32: hexToBase64('cbf43926'),
    CRC32C: hexToBase64('e3069283'),
    CRC64NVME: hexToBase64('ae8b14860a799888'),
    SHA1: hexToBase64('f7c3bc1d808e04732adf679965ccc34ca7ae3441'),
    SHA256: hexToBase64('15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225'),
  } as const;
  const WRONG = {
    CRC32: hexToBase64('cbf43927'),
    CRC32C: hexToBase64('e3069284'),
    CRC64NVME: hexToBase64('ae8b14860a799889'),
    SHA1: hexToBase64('f7c3bc1d808e04732adf679965ccc34ca7ae3442'),
    SHA256: hexToBase64('15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb226'),
  } as const;

  it.each(Object.keys(RIGHT) as Array<keyof typeof RIGHT>)('x-amz-checksum-%s: right is stored, wrong is BadDigest with the prior version intact', async (algorithm) => {
    const { tg, s3 } = await gatewayWithBucket(engine);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'prior' }));
    const wrong = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: CHECK, [`Checksum${algorithm}`]: WRONG[algorithm] })));
    expect(wrong.name).toBe('BadDigest');
    expect(wrong.status).toBe(400);
    expect((await getBytes(s3, 'bkt1', 'k')).bytes.toString()).toBe('prior');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
    const right = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: CHECK, [`Checksum${algorithm}`]: RIGHT[algorithm] }));
    expect(right.$metadata.httpStatusCode).toBe(200);
    expect(right[`Checksum${algorithm}`]).toBe(RIGHT[algorithm]);
    expect((await getBytes(s3, 'bkt1', 'k')).bytes.equals(CHECK)).toBe(true);
    await expectLedgerConsistent(tg.store);
  });
});

describe('objects: headers from the metadata', () => {
  it('Content-Type, x-amz-meta-*, Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires', async () => {
    const { s3 } = await gatewayWithBucket('sqlite');
    const expires = new Date('2031-05-06T07:08:09Z');
    await s3.send(
      new PutObjectCommand({
        Bucket: 'bkt1',
        Key: 'doc',
        Body: 'payload',
        ContentType: 'application/x-thing',
        Metadata: { color: 'blue', 'two-words': 'a b' },
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="x.bin"',
        ContentEncoding: 'identity',
        ContentLanguage: 'fr-CA',
        Expires: expires,
      }),
    );
    for (const out of [await s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'doc' })), (await getBytes(s3, 'bkt1', 'doc')).out]) {
      expect(out.ContentType).toBe('application/x-thing');
      expect(out.ContentLength).toBe(7);
      expect(out.Metadata).toEqual({ color: 'blue', 'two-words': 'a b' });
      expect(out.CacheControl).toBe('max-age=60');
      expect(out.ContentDisposition).toBe('attachment; filename="x.bin"');
      expect(out.ContentEncoding).toBe('identity');
      expect(out.ContentLanguage).toBe('fr-CA');
      expect(out.Expires?.getTime()).toBe(expires.getTime());
      expect(out.AcceptRanges).toBe('bytes');
    }
  });

  it('response-* query parameters override the stored headers on GET', async () => {
    const { s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'doc', Body: 'payload', ContentType: 'text/plain', CacheControl: 'no-cache' }));
    const { out, bytes } = await getBytes(s3, 'bkt1', 'doc', {
      ResponseContentType: 'image/png',
      ResponseCacheControl: 'max-age=5',
      ResponseContentDisposition: 'inline',
      ResponseContentEncoding: 'gzip',
      ResponseContentLanguage: 'de',
      ResponseExpires: new Date('2030-01-01T00:00:00Z'),
    });
    expect(bytes.toString()).toBe('payload');
    expect(out.ContentType).toBe('image/png');
    expect(out.CacheControl).toBe('max-age=5');
    expect(out.ContentDisposition).toBe('inline');
    expect(out.ContentEncoding).toBe('gzip');
    expect(out.ContentLanguage).toBe('de');
    expect(out.Expires?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('x-amz-acl: private on PutObject is accepted and ignored', async () => {
    const { s3 } = await gatewayWithBucket('sqlite');
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'acl', Body: 'x', ACL: 'private' }));
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect((await getBytes(s3, 'bkt1', 'acl')).bytes.toString()).toBe('x');
  });
});

describe('objects: Range and partNumber', () => {
  const body = Buffer.from('0123456789abcdefghij'); // 20 bytes

  it.each<[string, number, number]>([
    ['bytes=2-5', 2, 5],
    ['bytes=15-', 15, 19],
    ['bytes=-4', 16, 19],
    ['bytes=10-999', 10, 19],
    ['bytes=-100', 0, 19],
  ])('%s → 206 with the right bytes and Content-Range', async (range, start, end) => {
    const { s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'r', Body: body }));
    const { out, bytes } = await getBytes(s3, 'bkt1', 'r', { Range: range });
    expect(out.$metadata.httpStatusCode).toBe(206);
    expect(bytes.equals(body.subarray(start, end + 1))).toBe(true);
    expect(out.ContentRange).toBe(`bytes ${start}-${end}/20`);
    expect(out.ContentLength).toBe(end - start + 1);
    expect(out.ETag).toBe(`"${md5Hex(body)}"`);
  });

  it('an unsatisfiable range is 416 InvalidRange (with Content-Range: bytes */size)', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'r', Body: body }));
    const e = await errorOf(s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'r', Range: 'bytes=20-30' })));
    expect(e.name).toBe('InvalidRange');
    expect(e.status).toBe(416);
    const r = await raw(tg, { method: 'GET', path: '/bkt1/r', headers: { range: 'bytes=-0' } });
    expect(r.status).toBe(416);
    expect(xmlCode(r.body)).toBe('InvalidRange');
    expect(r.headers['content-range']).toBe('bytes */20');
  });

  it('partNumber=1 of a single-part object is the whole object; partNumber=2 is refused', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'r', Body: body }));
    const { out, bytes } = await getBytes(s3, 'bkt1', 'r', { PartNumber: 1 });
    expect(out.$metadata.httpStatusCode).toBe(206);
    expect(bytes.equals(body)).toBe(true);
    expect(out.ContentRange).toBe('bytes 0-19/20');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'r', PartNumber: 1 }));
    expect(head.ContentLength).toBe(20);
    const two = await raw(tg, { method: 'GET', path: '/bkt1/r', query: { partNumber: '2' } });
    expect(two.status).toBe(416);
    expect(xmlCode(two.body)).toBe('InvalidPartNumber');
    const both = await raw(tg, { method: 'GET', path: '/bkt1/r', query: { partNumber: '1' }, headers: { range: 'bytes=0-1' } });
    expect(both.status).toBe(400);
    expect(xmlCode(both.body)).toBe('InvalidRequest');
  });
});

describe('objects: conditional GET/HEAD', () => {
  async function setup() {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const body = Buffer.from('conditional body');
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'c', Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'c' }));
    return { tg, s3, body, etag: put.ETag!, modified: head.LastModified! };
  }
  const httpDate = (d: Date) => d.toUTCString();

  it('If-Match / If-Unmodified-Since failures are 412 PreconditionFailed, also with Range', async () => {
    const { tg, s3, etag, modified } = await setup();
    const past = new Date(modified.getTime() - 3600_000);
    for (const headers of <Record<string, string>[]>[{ 'if-match': '"0123"' }, { 'if-unmodified-since': httpDate(past) }, { 'if-match': '"0123"', range: 'bytes=0-3' }]) {
      const r = await raw(tg, { method: 'GET', path: '/bkt1/c', headers });
      expect(r.status, JSON.stringify(headers)).toBe(412);
      expect(xmlCode(r.body)).toBe('PreconditionFailed');
      const h = await raw(tg, { method: 'HEAD', path: '/bkt1/c', headers });
      expect(h.status).toBe(412);
    }
    const e = await errorOf(s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'c', IfMatch: '"nope"' })));
    expect(e.status).toBe(412);
    expect(e.name).toBe('PreconditionFailed');
    // Holding conditions serve the object.
    const ok = await getBytes(s3, 'bkt1', 'c', { IfMatch: etag, IfUnmodifiedSince: new Date(modified.getTime() + 3600_000), Range: 'bytes=0-3' });
    expect(ok.out.$metadata.httpStatusCode).toBe(206);
    expect(ok.bytes.toString()).toBe('cond');
  });

  it('If-None-Match match / If-Modified-Since unchanged are 304 with no body, also with Range', async () => {
    const { tg, s3, etag, modified } = await setup();
    const future = new Date(modified.getTime() + 3600_000);
    for (const headers of <Record<string, string>[]>[{ 'if-none-match': etag }, { 'if-none-match': '*' }, { 'if-modified-since': httpDate(future) }, { 'if-none-match': etag, range: 'bytes=1-2' }]) {
      const r = await raw(tg, { method: 'GET', path: '/bkt1/c', headers });
      expect(r.status, JSON.stringify(headers)).toBe(304);
      expect(r.body.length).toBe(0);
      expect(r.headers.etag).toBe(etag);
    }
    const e = await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'c', IfNoneMatch: etag })));
    expect(e.status).toBe(304);
    // A modified object passes If-Modified-Since, a different ETag passes If-None-Match.
    const past = new Date(modified.getTime() - 3600_000);
    expect((await getBytes(s3, 'bkt1', 'c', { IfModifiedSince: past })).bytes.toString()).toBe('conditional body');
    expect((await getBytes(s3, 'bkt1', 'c', { IfNoneMatch: '"other"' })).out.$metadata.httpStatusCode).toBe(200);
  });

  it('If-Match wins over If-Unmodified-Since, If-None-Match over If-Modified-Since (RFC 7232 order)', async () => {
    const { tg, etag, modified } = await setup();
    const past = new Date(modified.getTime() - 3600_000);
    const a = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { 'if-match': etag, 'if-unmodified-since': httpDate(past) } });
    expect(a.status).toBe(200);
    const b = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { 'if-none-match': etag, 'if-modified-since': httpDate(past) } });
    expect(b.status).toBe(304);
  });

  it('If-Range: the range applies while the validator matches, else the whole object is sent', async () => {
    const { tg, etag, modified } = await setup();
    const same = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { range: 'bytes=0-3', 'if-range': etag } });
    expect(same.status).toBe(206);
    expect(same.body.toString()).toBe('cond');
    const dateOk = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { range: 'bytes=0-3', 'if-range': httpDate(new Date(modified.getTime() + 1000)) } });
    expect(dateOk.status).toBe(206);
    const changed = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { range: 'bytes=0-3', 'if-range': '"stale"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.toString()).toBe('conditional body');
    const old = await raw(tg, { method: 'GET', path: '/bkt1/c', headers: { range: 'bytes=0-3', 'if-range': httpDate(new Date(modified.getTime() - 3600_000)) } });
    expect(old.status).toBe(200);
  });
});

describe('objects: conditional PUT', () => {
  it('If-None-Match: * is 412 when the key exists and creates it when it does not', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const created = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'once', Body: 'first', IfNoneMatch: '*' }));
    expect(created.$metadata.httpStatusCode).toBe(200);
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'once', Body: 'second', IfNoneMatch: '*' })));
    expect(e.status).toBe(412);
    expect(e.name).toBe('PreconditionFailed');
    expect((await getBytes(s3, 'bkt1', 'once')).bytes.toString()).toBe('first');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('If-Match replaces only the version it names', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const v1 = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'cas', Body: 'v1' }));
    const stale = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'cas', Body: 'v2', IfMatch: `"${md5Hex('other')}"` })));
    expect(stale.status).toBe(412);
    expect(stale.name).toBe('PreconditionFailed');
    const v2 = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'cas', Body: 'v2', IfMatch: v1.ETag }));
    expect(v2.ETag).toBe(`"${md5Hex('v2')}"`);
    expect((await getBytes(s3, 'bkt1', 'cas')).bytes.toString()).toBe('v2');
    const missing = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'absent', Body: 'x', IfMatch: v1.ETag })));
    expect(missing.status).toBe(404);
    expect(missing.name).toBe('NoSuchKey');
    await expectLedgerConsistent(tg.store);
  });
});

describe('objects: delete', () => {
  it('DeleteObject of a missing key is 204', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const out = await s3.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: 'never-existed' }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    const r = await raw(tg, { method: 'DELETE', path: '/bkt1/never-existed' });
    expect(r.status).toBe(204);
  });

  it('DeleteObjects: verbose lists every key (missing ones too), Quiet lists none; the objects are gone', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    for (const k of ['a', 'b', 'c', 'd']) await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: k, Body: k }));
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket: 'bkt1', Delete: { Objects: [{ Key: 'a' }, { Key: 'b' }, { Key: 'missing' }] } }));
    expect(verbose.Deleted?.map((d) => d.Key).sort()).toEqual(['a', 'b', 'missing']);
    expect(verbose.Errors ?? []).toEqual([]);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: 'bkt1', Delete: { Quiet: true, Objects: [{ Key: 'c' }, { Key: 'nope' }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    expect(quiet.Errors ?? []).toEqual([]);
    for (const k of ['a', 'b', 'c']) expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: k })))).status).toBe(404);
    expect((await getBytes(s3, 'bkt1', 'd')).bytes.toString()).toBe('d');
    await expectLedgerConsistent(tg.store);
  });

  it('DeleteObjects with more than 1000 keys is MalformedXML and deletes nothing', async () => {
    const { s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k0', Body: 'x' }));
    const objects = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
    const e = await errorOf(s3.send(new DeleteObjectsCommand({ Bucket: 'bkt1', Delete: { Objects: objects } })));
    expect(e.name).toBe('MalformedXML');
    expect(e.status).toBe(400);
    expect((await getBytes(s3, 'bkt1', 'k0')).bytes.toString()).toBe('x');
  });
});

describe('objects: hard keys', () => {
  // Some S3 services fold `//`, `.` and `..` segments (s3rver does): the storage key must not carry them.
  const KEYS = ['100%', 'a+b', 'with space', 'dir//double///triple', '/leading/slash', 'a/./dot/../dots', '../up', 'ünïcødé/日本語/🚀', "it's (a) *test*!", '?question&amp=1#hash', 'trailing/', '%2F literal'];

  it.each(KEYS)('key %j round-trips', async (key) => {
    const { s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key, Body: `body of ${key}` }));
    expect((await getBytes(s3, 'bkt1', key)).bytes.toString()).toBe(`body of ${key}`);
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'bkt1' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual([key]);
    await s3.send(new DeleteObjectCommand({ Bucket: 'bkt1', Key: key }));
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: key })))).status).toBe(404);
  });

  it('a 1024-byte key works; a 1025-byte key is 400 KeyTooLongError', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const key1024 = 'k/' + 'é'.repeat(511); // 2 + 1022 bytes
    expect(Buffer.byteLength(key1024)).toBe(1024);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key1024, Body: 'long' }));
    expect((await getBytes(s3, 'bkt1', key1024)).bytes.toString()).toBe('long');
    const key1025 = key1024 + 'x';
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key1025, Body: 'too long' })));
    expect(e.status).toBe(400);
    expect(e.name).toBe('KeyTooLongError');
    const r = await raw(tg, { method: 'GET', path: s3Path('bkt1', key1025) });
    expect(r.status).toBe(400);
    expect(xmlCode(r.body)).toBe('KeyTooLongError');
  });
});

describe('objects: body length and capacity', () => {
  it('a chunked-transfer PUT without a length is 411 MissingContentLength', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite');
    const r = await raw(tg, { method: 'PUT', path: '/bkt1/chunky', body: Buffer.from('some bytes'), chunkedTransfer: true, payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(r.status).toBe(411);
    expect(xmlCode(r.body)).toBe('MissingContentLength');
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'chunky' })))).status).toBe(404);
  });

  it('an object over maxObjectBytes is 400 EntityTooLarge', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite', { maxObjectBytes: 1000 });
    const e = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'big', Body: randomBytes(1001) })));
    expect(e.status).toBe(400);
    expect(e.name).toBe('EntityTooLarge');
    const ok = await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'fits', Body: randomBytes(1000) }));
    expect(ok.$metadata.httpStatusCode).toBe(200);
    await expectLedgerConsistent(tg.store);
  });

  it('no room is 507 InsufficientStorage before the body is read (no 100 Continue)', async () => {
    const { tg, s3 } = await gatewayWithBucket('sqlite', { bytesLimit: 64 * 1024 });
    const body = randomBytes(100 * 1024);
    const r = await raw(tg, { method: 'PUT', path: '/bkt1/huge', body, expectContinue: true, payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(r.status).toBe(507);
    expect(r.continued).toBe(false);
    expect(xmlCode(r.body)).toBe('InsufficientStorage');
    // A body that fits is admitted after 100 Continue.
    const small = Buffer.from('fits in the quota');
    const ok = await raw(tg, { method: 'PUT', path: '/bkt1/small', body: small, expectContinue: true, payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(ok.status).toBe(200);
    expect(ok.continued).toBe(true);
    expect(ok.headers.etag).toBe(`"${md5Hex(small)}"`);
    expect((await getBytes(s3, 'bkt1', 'small')).bytes.equals(small)).toBe(true);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'huge' })))).status).toBe(404);
    await expectLedgerConsistent(tg.store);
  });
});

describe('objects: SDK client basics', () => {
  it('CreateBucket then PutObject in it', async () => {
    const { s3 } = await gatewayWithBucket('sqlite');
    await s3.send(new CreateBucketCommand({ Bucket: 'fresh-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'fresh-bucket', Key: 'x', Body: 'y' }));
    expect((await getBytes(s3, 'fresh-bucket', 'x')).bytes.toString()).toBe('y');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.from('y')) >>> 0);
    // The default checksum (CRC32) computed by the SDK was verified and echoed.
    const put = await s3.send(new PutObjectCommand({ Bucket: 'fresh-bucket', Key: 'x', Body: 'y' }));
    expect(put.ChecksumCRC32).toBe(crc.toString('base64'));
  });
});
