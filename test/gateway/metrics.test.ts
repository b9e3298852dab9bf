import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';
import { describeEngines } from '../support/engines.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * Issue 12 item 2: GET /metrics (prom-client), one registry per gateway. The families are checked
 * by value after real S3 traffic, not only by name.
 */

afterEach(closeGateways);

const MiB = 1024 * 1024;

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function traffic(tg: TestGateway): Promise<{ putBytes: number; storedBytes: number }> {
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'metered' }));
  const body = randomBytes(3000);
  await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'a', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'a' }));
  expect((await got.Body!.transformToByteArray()).length).toBe(3000);
  await expect(s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'missing' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  // An overwrite: the first copy waits for cleanup (no workers run here), as orphan bytes.
  await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'a', Body: randomBytes(1000) }));
  // A multipart upload: completing it reads nothing back from the backend.
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'metered', Key: 'mp' }));
  const parts = [];
  for (const [n, size] of [[1, 5 * MiB], [2, 1234]] as const) {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: 'metered', Key: 'mp', UploadId, PartNumber: n, Body: randomBytes(size) }));
    parts.push({ PartNumber: n, ETag });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'metered', Key: 'mp', UploadId, MultipartUpload: { Parts: parts } }));
  return { putBytes: 3000 + 1000, storedBytes: 1000 + 5 * MiB + 1234 };
}

describeEngines('/metrics', (engine) => {
  it('exposes requests, latency, bytes, in-flight, backend calls, breakers, quota, queues, intents, outbox and process metrics with their values', async () => {
    const tg = await startTestGateway(engine, { bytesLimit: 64 * MiB, directoryOnly: true });
    const { putBytes, storedBytes } = await traffic(tg);
    const text = await scrape(tg.url);

    expect(sample(text, 's3o_requests_total', { operation: 'PutObject', status: '200' })).toBe(2);
    expect(sample(text, 's3o_requests_total', { operation: 'GetObject', status: '200' })).toBe(1);
    expect(sample(text, 's3o_requests_total', { operation: 'GetObject', status: '404' })).toBe(1);
    expect(sample(text, 's3o_requests_total', { operation: 'CompleteMultipartUpload', status: '200' })).toBe(1);
    expect(sample(text, 's3o_request_duration_seconds_count', { operation: 'PutObject' })).toBe(2);
    expect(sample(text, 's3o_request_duration_seconds_bucket', { operation: 'PutObject', le: '+Inf' })).toBe(2);
    expect(sample(text, 's3o_request_duration_seconds_sum', { operation: 'PutObject' })).toBeGreaterThan(0);
    // Bytes in are the bodies as sent (the SDK's aws-chunked framing adds a little around each body).
    expect(sample(text, 's3o_request_body_bytes_total', { operation: 'PutObject' })).toBeGreaterThanOrEqual(putBytes);
    expect(sample(text, 's3o_request_body_bytes_total', { operation: 'PutObject' })).toBeLessThan(putBytes + 1000);
    expect(sample(text, 's3o_request_body_bytes_total', { operation: 'UploadPart' })).toBeGreaterThanOrEqual(5 * MiB + 1234);
    expect(sample(text, 's3o_response_body_bytes_total', { operation: 'GetObject' })).toBeGreaterThanOrEqual(3000);
    expect(sample(text, 's3o_requests_in_flight')).toBe(0);

    expect(sample(text, 's3o_backend_calls_total', { backend: 'local', operation: 'put', outcome: 'success' })).toBe(2);
    expect(sample(text, 's3o_backend_calls_total', { backend: 'local', operation: 'get', outcome: 'success' })).toBe(1);
    expect(sample(text, 's3o_backend_calls_total', { backend: 'local', operation: 'putPart', outcome: 'success' })).toBe(2);
    expect(sample(text, 's3o_backend_call_duration_seconds_count', { backend: 'local', operation: 'put' })).toBe(2);
    expect(sample(text, 's3o_backend_breaker_state', { backend: 'local', state: 'closed' })).toBe(1);
    expect(sample(text, 's3o_backend_breaker_state', { backend: 'local', state: 'open' })).toBe(0);

    expect(sample(text, 's3o_quota_limit_bytes', { backend: 'local' })).toBe(64 * MiB);
    expect(sample(text, 's3o_quota_used_bytes', { backend: 'local' })).toBe(storedBytes);
    expect(sample(text, 's3o_quota_orphan_bytes', { backend: 'local' })).toBe(3000);
    expect(sample(text, 's3o_quota_inflight_bytes', { backend: 'local' })).toBe(0);
    expect(sample(text, 's3o_cleanup_queue_rows', { backend: 'local' })).toBe(1);
    expect(sample(text, 's3o_cleanup_queue_bytes', { backend: 'local' })).toBe(3000);
    expect(sample(text, 's3o_dead_letter_rows', { backend: 'local' })).toBe(0);
    expect(sample(text, 's3o_intents_open')).toBe(0);
    expect(sample(text, 's3o_intents_oldest_age_seconds')).toBe(0);
    expect(sample(text, 's3o_outbox_pending')).toBe(0);
    expect(sample(text, 's3o_outbox_failed')).toBe(0);
    expect(sample(text, 's3o_store_stats_up')).toBe(1);
    expect(sample(text, 's3o_database_available')).toBe(1);
    expect(sample(text, 's3o_admission_rejections_total')).toBeUndefined(); // no rejection, no series yet
    expect(text).toContain('# TYPE s3o_admission_rejections_total counter');
    // Completion is metadata only: not one byte read back.
    expect(sample(text, 's3o_multipart_complete_bytes_read_total')).toBe(0);

    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });
});

it('each gateway has its own registry: two in one process count apart', async () => {
  const one = await startTestGateway('sqlite');
  const two = await startTestGateway('sqlite');
  const s3 = one.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'only-one' }));
  await s3.send(new PutObjectCommand({ Bucket: 'only-one', Key: 'k', Body: 'x' }));
  expect(sample(await scrape(one.url), 's3o_requests_total', { operation: 'PutObject', status: '200' })).toBe(1);
  expect(sample(await scrape(two.url), 's3o_requests_total', { operation: 'PutObject', status: '200' })).toBeUndefined();
});

it("the store's figures are read at most once per few seconds, however often /metrics is scraped", async () => {
  const tg = await startTestGateway('sqlite', { storeThread: false });
  let reads = 0;
  const db = tg.store.db as unknown as { read: (...args: unknown[]) => unknown };
  const read = db.read.bind(tg.store.db);
  db.read = (...args: unknown[]) => {
    reads++;
    return read(...args);
  };
  const first = await scrape(tg.url);
  const afterFirst = reads;
  expect(afterFirst).toBeGreaterThan(0);
  await Promise.all(Array.from({ length: 10 }, () => scrape(tg.url)));
  for (let i = 0; i < 10; i++) await scrape(tg.url);
  expect(reads).toBe(afterFirst);
  expect(sample(first, 's3o_store_stats_age_seconds')).toBeLessThan(1);
});

it('with server.metrics_listen, /metrics is served there only; on the S3 listener an unsigned GET /metrics is refused', async () => {
  const tg = await startTestGateway('sqlite', { server: { metricsListen: { host: '127.0.0.1', port: 0 } } });
  expect(tg.gateway.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(tg.gateway.metricsUrl).not.toBe(tg.url);
  const text = await scrape(tg.gateway.metricsUrl!);
  expect(sample(text, 's3o_requests_in_flight')).toBe(0);
  const onMain = await fetch(`${tg.url}/metrics`);
  expect(onMain.status).toBe(403);
  expect(await onMain.text()).toContain('<Code>AccessDenied</Code>');
  // Health stays on both.
  expect((await fetch(`${tg.url}/health`)).status).toBe(200);
  expect((await fetch(`${tg.gateway.metricsUrl}/health`)).status).toBe(200);
});
