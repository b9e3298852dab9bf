import { createHash } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines, type EngineName } from '../support/engines.js';
import { closeGateways, READER, SCOPED, startTestGateway } from '../support/gateway.js';
import { expectLedgerConsistent } from '../support/store.js';

afterEach(closeGateways);

const md5Hex = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');

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

async function setup(engine: EngineName) {
  const tg = await startTestGateway(engine, { buckets: ['src-bkt', 'dst-bkt', 'scoped'] });
  const s3 = tg.client();
  await s3.send(
    new PutObjectCommand({ Bucket: 'src-bkt', Key: 'source.txt', Body: 'the source bytes', ContentType: 'text/plain', Metadata: { origin: 'src' }, CacheControl: 'max-age=9' }),
  );
  return { tg, s3 };
}

describeEngines('CopyObject', (engine) => {
  it('copies within a bucket and across buckets with COPY (metadata kept); the ledger stays consistent', async () => {
    const { tg, s3 } = await setup(engine);
    const same = await s3.send(new CopyObjectCommand({ Bucket: 'src-bkt', Key: 'copy.txt', CopySource: 'src-bkt/source.txt' }));
    expect(same.$metadata.httpStatusCode).toBe(200);
    expect(same.CopyObjectResult?.ETag).toBe(`"${md5Hex('the source bytes')}"`);
    expect(same.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    const across = await s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'deep/copy.txt', CopySource: '/src-bkt/source.txt', MetadataDirective: 'COPY' }));
    expect(across.CopyObjectResult?.ETag).toBe(`"${md5Hex('the source bytes')}"`);
    for (const [bucket, key] of [['src-bkt', 'copy.txt'], ['dst-bkt', 'deep/copy.txt']] as const) {
      expect(await text(s3, bucket, key)).toBe('the source bytes');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentType).toBe('text/plain');
      expect(head.Metadata).toEqual({ origin: 'src' });
      expect(head.CacheControl).toBe('max-age=9');
      expect(head.ContentLength).toBe(16);
    }
    // The source is untouched.
    expect(await text(s3, 'src-bkt', 'source.txt')).toBe('the source bytes');
    expect((await tg.store.intents.summary()).count).toBe(0);
    await expectLedgerConsistent(tg.store);
  });

  it('REPLACE takes the metadata from the request; over an existing target it keeps one version', async () => {
    const { tg, s3 } = await setup(engine);
    await s3.send(new PutObjectCommand({ Bucket: 'dst-bkt', Key: 'target', Body: 'old target bytes, longer than the source' }));
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'dst-bkt',
        Key: 'target',
        CopySource: 'src-bkt/source.txt',
        MetadataDirective: 'REPLACE',
        ContentType: 'application/json',
        Metadata: { fresh: 'yes' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'dst-bkt', Key: 'target' }));
    expect(head.ContentType).toBe('application/json');
    expect(head.Metadata).toEqual({ fresh: 'yes' });
    expect(head.CacheControl).toBeUndefined();
    expect(await text(s3, 'dst-bkt', 'target')).toBe('the source bytes');
    expect(await tg.store.objects.lookup('dst-bkt/target')).toHaveLength(1);
    await expectLedgerConsistent(tg.store);
  });

  it('copy to itself: COPY is InvalidRequest, REPLACE rewrites the metadata and keeps the bytes', async () => {
    const { tg, s3 } = await setup(engine);
    const e = await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'src-bkt', Key: 'source.txt', CopySource: 'src-bkt/source.txt' })));
    expect(e.name).toBe('InvalidRequest');
    expect(e.status).toBe(400);
    const ok = await s3.send(
      new CopyObjectCommand({ Bucket: 'src-bkt', Key: 'source.txt', CopySource: 'src-bkt/source.txt', MetadataDirective: 'REPLACE', ContentType: 'text/markdown', Metadata: { v: '2' } }),
    );
    expect(ok.CopyObjectResult?.ETag).toBe(`"${md5Hex('the source bytes')}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'src-bkt', Key: 'source.txt' }));
    expect(head.ContentType).toBe('text/markdown');
    expect(head.Metadata).toEqual({ v: '2' });
    expect(await text(s3, 'src-bkt', 'source.txt')).toBe('the source bytes');
    await expectLedgerConsistent(tg.store);
  });
});

describe('CopyObject: sources, conditions and permissions', () => {
  it('x-amz-copy-source-if-* failures are 412 PreconditionFailed; holding ones copy', async () => {
    const { s3 } = await setup('sqlite');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'src-bkt', Key: 'source.txt' }));
    const etag = head.ETag!;
    const before = new Date(head.LastModified!.getTime() - 3600_000);
    const after = new Date(head.LastModified!.getTime() + 3600_000);
    const failing = [
      { CopySourceIfMatch: '"not-the-etag"' },
      { CopySourceIfNoneMatch: etag },
      { CopySourceIfModifiedSince: after },
      { CopySourceIfUnmodifiedSince: before },
    ];
    for (const condition of failing) {
      const e = await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'cond', CopySource: 'src-bkt/source.txt', ...condition })));
      expect(e.status, JSON.stringify(condition)).toBe(412);
      expect(e.name).toBe('PreconditionFailed');
      expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'dst-bkt', Key: 'cond' })))).status).toBe(404);
    }
    const holding = [
      { CopySourceIfMatch: etag },
      { CopySourceIfNoneMatch: '"other"' },
      { CopySourceIfModifiedSince: before },
      { CopySourceIfUnmodifiedSince: after },
      { CopySourceIfMatch: etag, CopySourceIfUnmodifiedSince: before },
    ];
    for (const [i, condition] of holding.entries()) {
      const out = await s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: `ok-${i}`, CopySource: 'src-bkt/source.txt', ...condition }));
      expect(out.$metadata.httpStatusCode, JSON.stringify(condition)).toBe(200);
      expect(await text(s3, 'dst-bkt', `ok-${i}`)).toBe('the source bytes');
    }
  });

  it('a missing source key is NoSuchKey, a missing source bucket NoSuchBucket, a missing target bucket NoSuchBucket', async () => {
    const { s3 } = await setup('sqlite');
    const key = await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'x', CopySource: 'src-bkt/absent' })));
    expect(key.name).toBe('NoSuchKey');
    expect(key.status).toBe(404);
    const bucket = await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'x', CopySource: 'no-such-bucket/source.txt' })));
    expect(bucket.name).toBe('NoSuchBucket');
    expect(bucket.status).toBe(404);
    const target = await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'no-such-target', Key: 'x', CopySource: 'src-bkt/source.txt' })));
    expect(target.name).toBe('NoSuchBucket');
    expect(target.status).toBe(404);
  });

  it('a source key with hard characters is found through its URL-encoded copy source', async () => {
    const { s3 } = await setup('sqlite');
    const key = 'dir with space/ünï+cødé%/x';
    await s3.send(new PutObjectCommand({ Bucket: 'src-bkt', Key: key, Body: 'hard' }));
    const encoded = `src-bkt/${key.split('/').map(encodeURIComponent).join('/')}`;
    await s3.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: key, CopySource: encoded }));
    expect(await text(s3, 'dst-bkt', key)).toBe('hard');
  });

  it('SCOPED may not copy from a bucket it cannot read (AccessDenied) but copies within its own', async () => {
    const { tg, s3 } = await setup('sqlite');
    const scoped = tg.client(SCOPED);
    const e = await errorOf(scoped.send(new CopyObjectCommand({ Bucket: 'scoped', Key: 'stolen', CopySource: 'src-bkt/source.txt' })));
    expect(e.name).toBe('AccessDenied');
    expect(e.status).toBe(403);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'scoped', Key: 'stolen' })))).status).toBe(404);
    const out = await errorOf(scoped.send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'pushed', CopySource: 'scoped/whatever' })));
    expect(out.name).toBe('AccessDenied');
    await scoped.send(new PutObjectCommand({ Bucket: 'scoped', Key: 'mine', Body: 'scoped bytes' }));
    await scoped.send(new CopyObjectCommand({ Bucket: 'scoped', Key: 'mine-too', CopySource: 'scoped/mine' }));
    expect(await text(scoped, 'scoped', 'mine-too')).toBe('scoped bytes');
  });

  it('READER may not copy (AccessDenied)', async () => {
    const { tg } = await setup('sqlite');
    const e = await errorOf(tg.client(READER).send(new CopyObjectCommand({ Bucket: 'dst-bkt', Key: 'r', CopySource: 'src-bkt/source.txt' })));
    expect(e.name).toBe('AccessDenied');
    expect(e.status).toBe(403);
  });
});
