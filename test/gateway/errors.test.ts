import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines, type EngineName } from '../support/engines.js';
import { ADMIN, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';

afterEach(closeGateways);

const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function s3Escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A SigV4-signed (ADMIN) request sent with node:http; `query` values '' are sent as bare names. */
async function raw(tg: TestGateway, method: string, path: string, query: Record<string, string> = {}, body = Buffer.alloc(0), extraHeaders: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(tg.url);
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': sha256Hex(body), 'content-length': String(body.length), ...extraHeaders };
  const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const signed = (await signer.sign(new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query, headers }))) as HttpRequest;
  const q = Object.entries(query)
    .map(([k, v]) => (v === '' ? s3Escape(k) : `${s3Escape(k)}=${s3Escape(v)}`))
    .join('&');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: q ? `${path}?${q}` : path, headers: signed.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function element(body: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
}

/** An S3 error document: the code, the fields AWS sends, the request id of the header, nothing internal. */
function expectS3Error(r: RawResponse, status: number, code: string): void {
  expect(r.status, r.body).toBe(status);
  const requestId = r.headers['x-amz-request-id'];
  expect(requestId).toMatch(/^[0-9A-Za-z]+$/);
  expect(r.headers['content-type']).toBe('application/xml');
  expect(r.body).toMatch(/^<\?xml[^>]*\?>\s*<Error>/);
  expect(element(r.body, 'Code')).toBe(code);
  expect(element(r.body, 'Message')).toBeTruthy();
  expect(element(r.body, 'Resource')).toBeDefined();
  expect(element(r.body, 'RequestId')).toBe(requestId);
  expectNoInternalDetail(r.body);
}

function expectNoInternalDetail(body: string): void {
  expect(body).not.toMatch(/\/tmp\/|\/work\/|node_modules|\.ts:\d+|\.js:\d+|\n\s+at |SQLITE|sqlite|postgres|SELECT |INSERT |UPDATE |constraint|Error: /i);
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the request to fail');
}

async function text(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString();
}

async function gateway(engine: EngineName, options: { directoryOnly?: boolean } = {}) {
  const tg = await startTestGateway(engine, { buckets: ['bkt1', 'bkt2'], ...options });
  return { tg, s3: tg.client() };
}

describeEngines('errors: bucket lifecycle codes', (engine) => {
  it('NoSuchBucket, BucketAlreadyOwnedByYou, BucketNotEmpty (objects and open uploads), then a clean delete', async () => {
    const { tg, s3 } = await gateway(engine);
    expectS3Error(await raw(tg, 'GET', '/no-such-bucket/key'), 404, 'NoSuchBucket');
    expectS3Error(await raw(tg, 'GET', '/no-such-bucket', { 'list-type': '2' }), 404, 'NoSuchBucket');
    expectS3Error(await raw(tg, 'PUT', '/no-such-bucket/key', {}, Buffer.from('x')), 404, 'NoSuchBucket');
    expectS3Error(await raw(tg, 'DELETE', '/no-such-bucket'), 404, 'NoSuchBucket');
    expect((await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })))).status).toBe(404);

    await s3.send(new CreateBucketCommand({ Bucket: 'made-by-admin' }));
    const again = await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'made-by-admin' })));
    expect(again.name).toBe('BucketAlreadyOwnedByYou');
    expect(again.status).toBe(409);
    expectS3Error(await raw(tg, 'PUT', '/made-by-admin'), 409, 'BucketAlreadyOwnedByYou');
    // A bucket declared in the config is owned by "config": re-creating it is a conflict too.
    expect((await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'bkt1' })))).status).toBe(409);

    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'keeps-it', Body: 'x' }));
    const notEmpty = await raw(tg, 'DELETE', '/bkt1');
    expectS3Error(notEmpty, 409, 'BucketNotEmpty');
    expect(element(notEmpty.body, 'Resource')).toBe('/bkt1');
    expect(await text(s3, 'bkt1', 'keeps-it')).toBe('x');

    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bkt2', Key: 'pending' }));
    const uploads = await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'bkt2' })));
    expect(uploads.name).toBe('BucketNotEmpty');
    expect(uploads.status).toBe(409);

    await s3.send(new CreateBucketCommand({ Bucket: 'empty-one' }));
    expect((await s3.send(new DeleteBucketCommand({ Bucket: 'empty-one' }))).$metadata.httpStatusCode).toBe(204);
    expect((await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'empty-one' })))).status).toBe(404);
  });
});

describe('errors: the error document and request ids', () => {
  it('every response carries x-amz-request-id: success, HEAD, 304, 404, anonymous, unknown key', async () => {
    const { tg, s3 } = await gateway('sqlite');
    const put = await raw(tg, 'PUT', '/bkt1/obj', {}, Buffer.from('hello'));
    expect(put.status).toBe(200);
    const ids = new Set<string>();
    const responses: RawResponse[] = [
      put,
      await raw(tg, 'GET', '/bkt1/obj'),
      await raw(tg, 'HEAD', '/bkt1/obj'),
      await raw(tg, 'HEAD', '/bkt1/absent'),
      await raw(tg, 'GET', '/bkt1/obj', {}, Buffer.alloc(0), { 'if-none-match': put.headers.etag as string }),
      await raw(tg, 'GET', '/bkt1/absent'),
      await raw(tg, 'GET', '/'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 404, 304, 404, 200]);
    const anonymous = await fetch(`${tg.url}/bkt1/obj`);
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers.get('x-amz-request-id')).toBeTruthy();
    ids.add(anonymous.headers.get('x-amz-request-id')!);
    const anonymousAcl = await fetch(`${tg.url}/bkt1/obj?acl`);
    expect(anonymousAcl.headers.get('x-amz-request-id')).toBeTruthy();
    for (const r of responses) {
      const id = r.headers['x-amz-request-id'];
      expect(typeof id).toBe('string');
      ids.add(id as string);
    }
    // Each request has its own id.
    expect(ids.size).toBe(responses.length + 1);
    const sdk = await s3.send(new ListObjectsV2Command({ Bucket: 'bkt1' }));
    expect(sdk.$metadata.requestId).toBeTruthy();
  });

  it('error documents have Code, Message, Resource and RequestId, and no internal detail', async () => {
    const { tg } = await gateway('sqlite');
    const missing = await raw(tg, 'GET', '/bkt1/some/missing%20key');
    expectS3Error(missing, 404, 'NoSuchKey');
    expect(element(missing.body, 'Resource')).toBe('/bkt1/some/missing key');
    expectS3Error(await raw(tg, 'GET', '/bkt1', { 'max-keys': 'abc' }), 400, 'InvalidArgument');
    expectS3Error(await raw(tg, 'GET', '/bkt1', { 'list-type': '2', 'max-keys': '-1' }), 400, 'InvalidArgument');
    expectS3Error(await raw(tg, 'POST', '/bkt1', { delete: '' }, Buffer.from('<Delete><Object><Key>a</Key></Object'), { 'content-md5': createHash('md5').update('<Delete><Object><Key>a</Key></Object').digest('base64') }), 400, 'MalformedXML');
    expectS3Error(await raw(tg, 'PUT', '/bkt1/k', {}, Buffer.from('abc'), { 'content-md5': 'not-base64-md5' }), 400, 'InvalidDigest');
    expectS3Error(await raw(tg, 'GET', '/bkt1/k', { versionId: '3HL4kqtJlcpXroDTDmJ' }), 404, 'NoSuchVersion');
    // A body whose SHA-256 does not match x-amz-content-sha256.
    const mismatch = await raw(tg, 'PUT', '/bkt1/k', {}, Buffer.from('abc'), { 'x-amz-content-sha256': sha256Hex('abd') });
    expectS3Error(mismatch, 400, 'XAmzContentSHA256Mismatch');
    const list = await raw(tg, 'GET', '/bkt1', { 'list-type': '2' });
    expect(list.status).toBe(200);
    expect(list.body).not.toContain('<Key>k</Key>');
  });

  it('an unexpected failure is InternalError 500 with the request id and nothing internal (the backend\'s tmp directory replaced by a file)', async () => {
    const { tg, s3 } = await gateway('sqlite', { directoryOnly: true });
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'before', Body: 'stored before the failure' }));
    rmSync(join(tg.backendDir, 'tmp'), { recursive: true, force: true });
    writeFileSync(join(tg.backendDir, 'tmp'), 'a file where the temporary files go');
    const put = await raw(tg, 'PUT', '/bkt1/after', {}, Buffer.from('cannot be stored'));
    expectS3Error(put, 500, 'InternalError');
    expect(element(put.body, 'RequestId')).toBe(put.headers['x-amz-request-id']);
    expect(put.body).not.toContain(tg.backendDir);
    expect(put.body).not.toMatch(/EEXIST|ENOTDIR|mkdir|at \w+ \(/);
    // Nothing half-done: no pending intent, the prior version still current and readable.
    expect((await tg.store.intents.summary()).count).toBe(0);
    expect((await raw(tg, 'GET', '/bkt1/before')).body).toBe('stored before the failure');
  });

  it('a backend failure answers an S3 error without paths or stack (the backend root replaced by a file)', async () => {
    const { tg, s3 } = await gateway('sqlite', { directoryOnly: true });
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'before', Body: 'stored before the failure' }));
    rmSync(tg.backendDir, { recursive: true, force: true });
    writeFileSync(tg.backendDir, 'not a directory any more');
    const put = await raw(tg, 'PUT', '/bkt1/after', {}, Buffer.from('cannot be stored'));
    expect(put.status).toBeGreaterThanOrEqual(500);
    expectS3Error(put, put.status, element(put.body, 'Code')!);
    expect(['InternalError', 'ServiceUnavailable', 'InsufficientStorage']).toContain(element(put.body, 'Code'));
    expect(put.body).not.toContain(tg.backendDir);
    const get = await raw(tg, 'GET', '/bkt1/before');
    expect(get.status).toBeGreaterThanOrEqual(500);
    expectS3Error(get, get.status, element(get.body, 'Code')!);
    expect(get.body).not.toContain(tg.backendDir);
    // The failed write left nothing behind in the metadata.
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'after' })))).status).toBe(404);
    expect((await tg.store.intents.summary()).count).toBe(0);
  });

  it('InvalidArgument for max-keys=abc through ListObjects v1 and v2 names the argument', async () => {
    const { tg } = await gateway('sqlite');
    for (const query of <Record<string, string>[]>[{ 'max-keys': 'abc' }, { 'list-type': '2', 'max-keys': 'abc' }, { uploads: '', 'max-uploads': 'abc' }]) {
      const r = await raw(tg, 'GET', '/bkt1', query);
      expectS3Error(r, 400, 'InvalidArgument');
      expect(r.body).toContain('<ArgumentValue>abc</ArgumentValue>');
    }
  });
});

describe('errors: sub-resources and methods', () => {
  const SUBRESOURCES = ['acl', 'policy', 'tagging', 'lifecycle', 'cors'];

  it.each(SUBRESOURCES)('?%s on a bucket and an object, GET and PUT → 501 NotImplemented; the object is unchanged', async (name) => {
    const { tg, s3 } = await gateway('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'obj', Body: 'original bytes', ContentType: 'text/plain' }));
    const doc = Buffer.from('<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>');
    for (const path of ['/bkt1', '/bkt1/obj']) {
      expectS3Error(await raw(tg, 'GET', path, { [name]: '' }), 501, 'NotImplemented');
      expectS3Error(await raw(tg, 'PUT', path, { [name]: '' }, doc), 501, 'NotImplemented');
      expectS3Error(await raw(tg, 'DELETE', path, { [name]: '' }), 501, 'NotImplemented');
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'obj' }));
    expect(await got.Body!.transformToString()).toBe('original bytes');
    expect(got.ContentType).toBe('text/plain');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'bkt1' }))).KeyCount).toBe(1);
  });

  it('PutObjectAcl from the SDK is NotImplemented and leaves the object as it was', async () => {
    const { s3 } = await gateway('sqlite');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'obj', Body: 'original bytes' }));
    const e = await errorOf(s3.send(new PutObjectAclCommand({ Bucket: 'bkt1', Key: 'obj', ACL: 'public-read' })));
    expect(e.name).toBe('NotImplemented');
    expect(e.status).toBe(501);
    expect(await text(s3, 'bkt1', 'obj')).toBe('original bytes');
  });

  it('?versions lists each object once as version "null"; versioning reads as unversioned; location answers', async () => {
    const { s3 } = await gateway('sqlite');
    for (const key of ['a', 'b/c', 'b/d']) await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: key, Body: key }));
    await s3.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'a', Body: 'overwritten' }));
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'bkt1' }));
    expect(versions.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ['a', 'null', true],
      ['b/c', 'null', true],
      ['b/d', 'null', true],
    ]);
    expect(versions.Versions?.[0]?.Size).toBe(11);
    expect(versions.DeleteMarkers ?? []).toEqual([]);
    const prefixed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'bkt1', Prefix: 'b/', Delimiter: '/' }));
    expect(prefixed.Versions?.map((v) => v.Key)).toEqual(['b/c', 'b/d']);
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: 'bkt1' }));
    expect(versioning.$metadata.httpStatusCode).toBe(200);
    expect(versioning.Status).toBeUndefined();
    const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'bkt1' }));
    expect(location.$metadata.httpStatusCode).toBe(200);
    expect(location.LocationConstraint ?? '').toBe('');
  });

  it('methods a resource does not answer are 405 MethodNotAllowed', async () => {
    const { tg } = await gateway('sqlite');
    expectS3Error(await raw(tg, 'POST', '/bkt1'), 405, 'MethodNotAllowed');
    expectS3Error(await raw(tg, 'PUT', '/'), 405, 'MethodNotAllowed');
    expectS3Error(await raw(tg, 'DELETE', '/'), 405, 'MethodNotAllowed');
    expectS3Error(await raw(tg, 'PATCH', '/bkt1/obj'), 405, 'MethodNotAllowed');
    expectS3Error(await raw(tg, 'POST', '/bkt1/obj'), 405, 'MethodNotAllowed');
  });

  it('InvalidBucketName for bad names on CreateBucket; nothing is created', async () => {
    const { tg, s3 } = await gateway('sqlite');
    const bad = ['ab', 'UpperCase', 'under_score', '192.168.10.1', '-leading', 'trailing-', 'dots..dots', 'xn--punycode', 'a'.repeat(64), 'name-s3alias'];
    for (const name of bad) {
      const r = await raw(tg, 'PUT', `/${name}`);
      expectS3Error(r, 400, 'InvalidBucketName');
    }
    const list = await raw(tg, 'GET', '/');
    expect(list.status).toBe(200);
    const names = [...list.body.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1]);
    expect(names.sort()).toEqual(['bkt1', 'bkt2']);
    const sdk = await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'bad_name' })));
    expect(sdk.name).toBe('InvalidBucketName');
    expect(sdk.status).toBe(400);
  });
});

describe('errors: requests node:http cannot parse', () => {
  /** Writes `bytes` on a raw socket (then half-closes when `end`), and returns everything the gateway answered before closing. */
  async function rawExchange(tg: TestGateway, bytes: string | Buffer, end: boolean): Promise<string> {
    const { port, hostname } = new URL(tg.url);
    const net = await import('node:net');
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('latin1').on('data', (s: string) => (answer += s));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(bytes);
    if (end) socket.end();
    await closed;
    return answer;
  }

  function parse(answer: string): { status: number; headers: string; body: string } {
    const split = answer.indexOf('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]), headers: answer.slice(0, split), body: answer.slice(split + 4) };
  }

  it('a malformed request line is 400 BadRequest as an S3 error document, with a request id, and the connection closes', async () => {
    const tg = await startTestGateway('sqlite');
    const r = parse(await rawExchange(tg, 'THIS IS NOT HTTP\r\n\r\n', false));
    expect(r.status).toBe(400);
    expect(r.headers).toMatch(/\r\nConnection: close/i);
    expect(r.headers).toMatch(/\r\ncontent-type: application\/xml/i);
    expect(r.body).toContain('<Code>BadRequest</Code>');
    const id = /\r\nx-amz-request-id: ([0-9A-F]{16})/i.exec(r.headers)?.[1];
    expect(id).toBeDefined();
    expect(r.body).toContain(`<RequestId>${id}</RequestId>`);
    expect(Buffer.byteLength(r.body)).toBe(Number(/\r\ncontent-length: (\d+)/i.exec(r.headers)?.[1]));
  });

  it('a header section over the limit is 400 RequestHeaderSectionTooLarge', async () => {
    const tg = await startTestGateway('sqlite');
    const r = parse(await rawExchange(tg, `GET /bkt/k HTTP/1.1\r\nHost: x\r\nx-amz-meta-big: ${'a'.repeat(32 * 1024)}\r\n\r\n`, false));
    expect(r.status).toBe(400);
    expect(r.body).toContain('<Code>RequestHeaderSectionTooLarge</Code>');
  });

  it('a body shorter than its Content-Length, then a half-close: 400 IncompleteBody, nothing stored', async () => {
    const tg = await startTestGateway('sqlite', { buckets: ['bkt'] });
    const url = new URL(tg.url);
    const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256 });
    const signed = await signer.sign(new HttpRequest({ method: 'PUT', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/bkt/short', headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '1000' } }));
    const head = ['PUT /bkt/short HTTP/1.1', ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    const r = parse(await rawExchange(tg, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(400, 1)]), true));
    expect(r.status).toBe(400);
    expect(r.body).toContain('<Code>IncompleteBody</Code>');
    expect(await tg.store.objects.lookup('bkt/short')).toEqual([]);
  });
});
