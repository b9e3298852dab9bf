import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { ADMIN, closeGateways, startTestGateway } from '../support/gateway.js';

/**
 * Issue 12 item 3: one JSON line per request at info, with the request's facts and never a secret
 * or a signature.
 */

afterEach(closeGateways);

function memoryLog(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString('utf8');
      cb();
    },
  });
  return { stream, text: () => text, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

it('one info line per S3 request with id, operation, bucket, key, status, bytes, duration, access key id and address; none for health', async () => {
  const log = memoryLog();
  const tg = await startTestGateway('sqlite', { logger: createLogger('info', log.stream, { pretty: false }) });
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'logged' }));
  const body = randomBytes(5000);
  const put = await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'dir/file.bin', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'dir/file.bin', Range: 'bytes=0-999' }));
  expect((await got.Body!.transformToByteArray()).length).toBe(1000);
  await expect(s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'nope' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  await fetch(`${tg.url}/health`);
  await fetch(`${tg.url}/metrics`);

  const requests = log.lines().filter((l) => l.msg === 'request');
  expect(requests.map((l) => [l.operation, l.status])).toEqual([
    ['CreateBucket', 200],
    ['PutObject', 200],
    ['GetObject', 206],
    ['GetObject', 404],
  ]);
  const [, putLine, getLine, missLine] = requests as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  expect(putLine).toMatchObject({ level: 30, method: 'PUT', bucket: 'logged', key: 'dir/file.bin', accessKeyId: ADMIN.accessKeyId, bytesOut: 0, completed: true, remoteAddress: '127.0.0.1' });
  expect(putLine.requestId).toBe(put.$metadata.requestId);
  // The SDK sends aws-chunked: the wire body is the object plus a little framing.
  expect(putLine.bytesIn as number).toBeGreaterThanOrEqual(5000);
  expect(putLine.bytesIn as number).toBeLessThan(5200);
  expect(typeof putLine.ms).toBe('number');
  expect(putLine.ms as number).toBeGreaterThan(0);
  expect(getLine).toMatchObject({ bytesIn: 0, bytesOut: 1000, key: 'dir/file.bin' });
  expect(missLine).toMatchObject({ errorCode: 'NoSuchKey', key: 'nope' });
  expect(missLine.bytesOut as number).toBeGreaterThan(0); // the error document
});

it('a presigned URL and a forged signature leave neither a signature nor a secret in the log', async () => {
  const log = memoryLog();
  const tg = await startTestGateway('sqlite', { logger: createLogger('debug', log.stream, { pretty: false }) });
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'secret-free' }));
  await s3.send(new PutObjectCommand({ Bucket: 'secret-free', Key: 'k', Body: 'presigned body' }));

  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'secret-free', Key: 'k' }), { expiresIn: 300 });
  const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
  expect(signature).toMatch(/^[0-9a-f]{64}$/);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('presigned body');
  // The same URL with a wrong signature: refused, and logged without it either.
  const forged = url.replace(signature, 'f'.repeat(64));
  expect((await fetch(forged)).status).toBe(403);
  // A header-signed request with a wrong secret.
  const wrong = new S3Client({ endpoint: tg.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret-0001' } });
  await expect(wrong.send(new GetObjectCommand({ Bucket: 'secret-free', Key: 'k' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  wrong.destroy();

  const text = log.text();
  const lines = log.lines().filter((l) => l.msg === 'request');
  const presigned = lines.filter((l) => l.operation === 'GetObject' && l.status === 200);
  expect(presigned).toHaveLength(1);
  expect(presigned[0]).toMatchObject({ accessKeyId: ADMIN.accessKeyId, bucket: 'secret-free', key: 'k', bytesOut: 14 });
  expect(lines.filter((l) => l.status === 403).map((l) => l.errorCode)).toEqual(['SignatureDoesNotMatch', 'SignatureDoesNotMatch']);
  for (const forbidden of [signature, 'f'.repeat(64), ADMIN.secretAccessKey, 'not-the-secret-0001', 'X-Amz-Signature', 'X-Amz-Credential', 'AWS4-HMAC-SHA256 Credential', 'Signature=']) {
    expect(text, `the log contains ${forbidden}`).not.toContain(forbidden);
  }
});
