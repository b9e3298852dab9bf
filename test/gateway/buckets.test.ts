import http from 'node:http';
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines } from '../support/engines.js';
import { ADMIN, READER, SCOPED, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

async function failure(call: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode, code: err.name };
    throw err;
  }
  return { status: 200, code: 'no error' };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A SigV4-signed request (ADMIN unless told) with the path sent exactly as given (wire form). */
async function raw(tg: TestGateway, method: string, target: string, body = '', creds = ADMIN): Promise<RawResponse> {
  const url = new URL(tg.url);
  // "/bucket?sub" → the path and a value-less sub-resource, signed as "sub=".
  const [path, sub] = target.split('?') as [string, string | undefined];
  const query: Record<string, string> = sub === undefined ? {} : { [sub]: '' };
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: { host: url.host, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'), 'content-length': String(Buffer.byteLength(body)) },
    body,
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: sub === undefined ? path : `${path}?${sub}=`, headers: signed.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (xml: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describeEngines('gateway buckets', (engine) => {
  it('create, head, list (sorted, creation dates), delete; configured buckets exist at start', async () => {
    const tg = await startTestGateway(engine, { buckets: ['configured', 'also.configured'] });
    const s3 = tg.client();
    const before = Date.now() - 2000;
    const initial = await s3.send(new ListBucketsCommand({}));
    expect(initial.Buckets!.map((b) => b.Name)).toEqual(['also.configured', 'configured']);
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'configured' }))).$metadata.httpStatusCode).toBe(200);

    for (const name of ['zeta-bucket', 'alpha-bucket', 'mid.bucket.1', '123numeric']) {
      const r = await s3.send(new CreateBucketCommand({ Bucket: name }));
      expect(r.$metadata.httpStatusCode).toBe(200);
      expect(r.Location).toBe(`/${name}`);
    }
    const listed = await s3.send(new ListBucketsCommand({}));
    const names = listed.Buckets!.map((b) => b.Name!);
    expect(names).toEqual(['123numeric', 'alpha-bucket', 'also.configured', 'configured', 'mid.bucket.1', 'zeta-bucket']);
    for (const b of listed.Buckets!) {
      expect(b.CreationDate).toBeInstanceOf(Date);
      expect(b.CreationDate!.getTime()).toBeGreaterThanOrEqual(before);
      expect(b.CreationDate!.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
    }
    expect(listed.Owner?.ID).toBeTruthy();

    const head = await s3.send(new HeadBucketCommand({ Bucket: 'alpha-bucket' }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    expect(head.BucketRegion).toBe('us-east-1');
    // Creating it again: the owner is told it already has it.
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket: 'alpha-bucket' })))).toEqual({ status: 409, code: 'BucketAlreadyOwnedByYou' });

    expect((await s3.send(new DeleteBucketCommand({ Bucket: 'alpha-bucket' }))).$metadata.httpStatusCode).toBe(204);
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: 'alpha-bucket' })))).toEqual({ status: 404, code: 'NotFound' });
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'alpha-bucket' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'alpha-bucket' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'alpha-bucket', Key: 'k', Body: 'x' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: 'never-created' })))).toEqual({ status: 404, code: 'NotFound' });
    expect((await s3.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).not.toContain('alpha-bucket');

    // A configured bucket can be deleted; the next start creates it again (idempotently, the others kept).
    expect((await s3.send(new DeleteBucketCommand({ Bucket: 'configured' }))).$metadata.httpStatusCode).toBe(204);
    // It can be created again too.
    expect((await s3.send(new CreateBucketCommand({ Bucket: 'alpha-bucket' }))).$metadata.httpStatusCode).toBe(200);
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'alpha-bucket' }))).$metadata.httpStatusCode).toBe(200);
  });

  it('DeleteBucket refuses while the bucket holds an object or an open multipart upload (BucketNotEmpty)', async () => {
    const tg = await startTestGateway(engine);
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'busy' }));
    await s3.send(new PutObjectCommand({ Bucket: 'busy', Key: 'dir/one', Body: 'bytes' }));
    const notEmpty = { status: 409, code: 'BucketNotEmpty' };
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'busy' })))).toEqual(notEmpty);
    // The bucket and its object are intact.
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'busy' }))).Contents!.map((c) => c.Key)).toEqual(['dir/one']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'busy', Key: 'dir/one' }));

    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'busy', Key: 'pending' }));
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'busy' })))).toEqual(notEmpty);
    const r = await raw(tg, 'DELETE', '/busy');
    expect(r.status).toBe(409);
    expect(codeOf(r.body)).toBe('BucketNotEmpty');
    expect(r.body).toContain('<Resource>');
    expect(r.headers['x-amz-request-id']).toBeTruthy();
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'busy', Key: 'pending', UploadId }));

    // A bucket whose name is a prefix of a busy one's is not held by the other's objects.
    await s3.send(new CreateBucketCommand({ Bucket: 'busy-too' }));
    await s3.send(new PutObjectCommand({ Bucket: 'busy-too', Key: 'x', Body: 'y' }));
    expect((await s3.send(new DeleteBucketCommand({ Bucket: 'busy' }))).$metadata.httpStatusCode).toBe(204);
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'busy-too' })))).toEqual(notEmpty);
    await expectLedgerConsistent(tg.store);
  });
});

describe('gateway bucket protocol details [sqlite]', () => {
  it('GetBucketLocation, GetBucketVersioning, a CreateBucketConfiguration body', async () => {
    const tg = await startTestGateway('sqlite');
    const s3 = tg.client();
    const created = await s3.send(new CreateBucketCommand({ Bucket: 'located', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    expect(created.$metadata.httpStatusCode).toBe(200);
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'located' }))).$metadata.httpStatusCode).toBe(200);
    const rawCreate = await raw(
      tg,
      'PUT',
      '/raw-config',
      '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>',
    );
    expect(rawCreate.status).toBe(200);

    const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'located' }));
    expect(location.$metadata.httpStatusCode).toBe(200);
    // us-east-1 is an empty constraint on the wire; the SDK hands it back as undefined (or "").
    expect(location.LocationConstraint ?? '').toBe('');
    const rawLocation = await raw(tg, 'GET', '/located?location');
    expect(rawLocation.status).toBe(200);
    expect(rawLocation.body).toMatch(/<LocationConstraint[^>]*(\/>|><\/LocationConstraint>)/);

    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: 'located' }));
    expect(versioning.$metadata.httpStatusCode).toBe(200);
    expect(versioning.Status).toBeUndefined();
    expect(versioning.MFADelete).toBeUndefined();
    const rawVersioning = await raw(tg, 'GET', '/located?versioning');
    expect(rawVersioning.body).toContain('VersioningConfiguration');
    expect(rawVersioning.body).not.toContain('<Status>');

    expect(await failure(s3.send(new GetBucketLocationCommand({ Bucket: 'missing-one' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
    expect(await failure(s3.send(new GetBucketVersioningCommand({ Bucket: 'missing-one' })))).toEqual({ status: 404, code: 'NoSuchBucket' });
  });

  it('bucket-name rules: every bad name is InvalidBucketName 400 and creates nothing', async () => {
    const tg = await startTestGateway('sqlite');
    const bad = [
      'ab', // too short
      'a'.repeat(64), // too long
      'UpperCase',
      'under_score',
      '-leading-dash',
      'trailing-dash-',
      '.leading-dot',
      'trailing-dot.',
      'double..dot',
      '192.168.10.1',
      'xn--punycode',
      'sthree-reserved',
      'amzn-s3-demo-bucket',
      'name-s3alias',
      'name--ol-s3',
      'name--x-s3',
      'with%20space',
      'caf%C3%A9',
      'plus%2Bsign',
      'excl!',
    ];
    for (const name of bad) {
      const r = await raw(tg, 'PUT', `/${name}`);
      expect(r.status, name).toBe(400);
      expect(codeOf(r.body), name).toBe('InvalidBucketName');
    }
    const good = ['abc', 'a'.repeat(63), 'a.b-c', '0-9', 'my.bucket.name'];
    for (const name of good) expect((await raw(tg, 'PUT', `/${name}`)).status, name).toBe(200);
    const listed = await tg.client().send(new ListBucketsCommand({}));
    expect(listed.Buckets!.map((b) => b.Name).sort()).toEqual([...good].sort());
  });

  it('only admin creates and deletes buckets; scoped credentials list only their buckets', async () => {
    const tg = await startTestGateway('sqlite', { buckets: ['scoped', 'other'] });
    const denied = { status: 403, code: 'AccessDenied' };
    expect(await failure(tg.client(SCOPED).send(new CreateBucketCommand({ Bucket: 'scoped-new' })))).toEqual(denied);
    expect(await failure(tg.client(READER).send(new CreateBucketCommand({ Bucket: 'reader-new' })))).toEqual(denied);
    expect(await failure(tg.client(SCOPED).send(new DeleteBucketCommand({ Bucket: 'scoped' })))).toEqual(denied);
    expect(await failure(tg.client(READER).send(new DeleteBucketCommand({ Bucket: 'other' })))).toEqual(denied);
    expect((await tg.client(SCOPED).send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).toEqual(['scoped']);
    expect((await tg.client(READER).send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).toEqual(['other', 'scoped']);
    expect(await failure(tg.client(SCOPED).send(new HeadBucketCommand({ Bucket: 'other' })))).toMatchObject({ status: 403 });
    expect((await tg.client(SCOPED).send(new HeadBucketCommand({ Bucket: 'scoped' }))).$metadata.httpStatusCode).toBe(200);
    // Both buckets are still there.
    expect((await tg.client().send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).toEqual(['other', 'scoped']);
  });
});
