import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/store/core/errors.js';
import type { DirectoryBackend } from '../../src/backends/directory.js';
import { closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';
import { openRequest, signedHeaders, signedPutHeaders, waitUntil } from './ops-support.js';

/**
 * Issue 12 item 4: server.max_concurrent_requests → 503 SlowDown with Retry-After before any body
 * byte is read; header, idle and slow-body timeouts.
 */

afterEach(closeGateways);

const MiB = 1024 * 1024;

async function metric(tg: TestGateway, name: string, label = ''): Promise<number | undefined> {
  const text = await (await fetch(`${tg.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `) || (label === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/** Opens a signed PUT of `declared` bytes and sends `first` of them; the request stays in flight. */
async function openPut(tg: TestGateway, key: string, declared: number, first: number): Promise<ReturnType<typeof openRequest>> {
  const open = openRequest(tg.url, 'PUT', `/adm/${key}`, await signedPutHeaders(tg.url, `/adm/${key}`, declared));
  open.req.write(randomBytes(first));
  return open;
}

/** Summed over the gateway's backends (one, or the mixed project's three). */
async function quotaOf(tg: TestGateway): Promise<{ used: number; inflight: number }> {
  const totals = await tg.store.quota.totals();
  return { used: totals.reduce((n, t) => n + t.bytesUsed, 0), inflight: totals.reduce((n, t) => n + t.inflightBytes, 0) };
}

describe('admission control', () => {
  it('past max_concurrent_requests: 503 SlowDown with Retry-After before the body (no 100 Continue), health and metrics exempt, slots come back', async () => {
    const tg = await startTestGateway('sqlite', { server: { maxConcurrentRequests: 2 } });
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'adm' }));
    const a = await openPut(tg, 'a', 20, 10);
    const b = await openPut(tg, 'b', 20, 10);
    await waitUntil(() => tg.gateway.admission.inFlight === 2, 10_000, 'two requests in flight');

    // A PUT asking Expect: 100-continue: refused at once; the client never gets to send its body.
    const headers = await signedPutHeaders(tg.url, '/adm/c', 4 * MiB, { expect: '100-continue' });
    const refused = openRequest(tg.url, 'PUT', '/adm/c', headers);
    let continued = false;
    refused.req.on('continue', () => {
      continued = true;
      refused.req.end(randomBytes(4 * MiB));
    });
    refused.req.flushHeaders();
    const r = await refused.response;
    expect(r.status).toBe(503);
    expect(r.body).toContain('<Code>SlowDown</Code>');
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers.connection).toBe('close');
    expect(continued).toBe(false);
    refused.req.destroy();

    // The SDK sees SlowDown (it would retry with its back-off; maxAttempts is 1 here).
    await expect(s3.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    // Health and metrics are not S3 requests: answered while full.
    expect((await fetch(`${tg.url}/health`)).status).toBe(200);
    expect((await fetch(`${tg.url}/health/ready`)).status).toBe(200);
    expect(await metric(tg, 's3o_admission_rejections_total', '{reason="max_concurrent_requests"}')).toBe(2);
    expect(await metric(tg, 's3o_requests_in_flight')).toBe(2);
    expect(await metric(tg, 's3o_request_body_bytes_total', '{operation="unknown"}')).toBeUndefined(); // not a byte read from the refused bodies
    expect((await quotaOf(tg)).inflight).toBe(40); // the two admitted PUTs only

    a.req.end(randomBytes(10));
    b.req.end(randomBytes(10));
    expect((await a.response).status).toBe(200);
    expect((await b.response).status).toBe(200);
    await waitUntil(() => tg.gateway.admission.inFlight === 0, 10_000, 'the slots to come back');
    await s3.send(new PutObjectCommand({ Bucket: 'adm', Key: 'c', Body: 'now admitted' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'adm', Key: 'c' }))).ContentLength).toBe(12);
  });
});

describe('timeouts', () => {
  it('body_timeout: a body that stops mid-way fails the request and its intent is aborted; a slow but steady body is fine', async () => {
    const tg = await startTestGateway('sqlite', { server: { bodyTimeoutMs: 600 } });
    await tg.client().send(new CreateBucketCommand({ Bucket: 'adm' }));
    const stalled = await openPut(tg, 'stalled', 2 * MiB, 100 * 1024);
    const closedAt = new Promise<number>((resolve) => stalled.req.on('close', () => resolve(Date.now())));
    const started = Date.now();
    await expect(stalled.response).rejects.toThrow(/socket hang up|ECONNRESET/);
    const waited = (await closedAt) - started;
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(5_000);
    await waitUntil(async () => (await tg.store.intents.summary()).count === 0, 10_000, 'the intent to be aborted');
    expect(await quotaOf(tg)).toEqual({ used: 0, inflight: 0 });
    await expect(tg.client().send(new HeadObjectCommand({ Bucket: 'adm', Key: 'stalled' }))).rejects.toMatchObject({ name: 'NotFound' });

    // 20 chunks 150 ms apart: 3 s in all, five times the timeout, but never 600 ms without a byte.
    const steady = await openPut(tg, 'steady', 20 * 1024, 1024);
    for (let i = 1; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 150));
      steady.req.write(randomBytes(1024));
    }
    steady.req.end();
    expect((await steady.response).status).toBe(200);
    expect((await quotaOf(tg)).used).toBe(20 * 1024);
  });

  it('body_timeout does not count time the gateway itself holds the body back (a slow backend)', async () => {
    const tg = await startTestGateway('sqlite', { server: { bodyTimeoutMs: 400 } });
    await tg.client().send(new CreateBucketCommand({ Bucket: 'adm' }));
    const local = tg.backends.get('local') as DirectoryBackend;
    const put = local.put.bind(local);
    local.put = async (...args) => {
      await new Promise((r) => setTimeout(r, 1500));
      return put(...args);
    };
    const body = randomBytes(4 * MiB);
    const open = openRequest(tg.url, 'PUT', '/adm/slow-backend', await signedPutHeaders(tg.url, '/adm/slow-backend', body.length));
    open.req.end(body);
    expect((await open.response).status).toBe(200);
  });

  it('idle_timeout: a client that stops reading a download is disconnected, and its slot comes back', async () => {
    const tg = await startTestGateway('sqlite', { server: { idleTimeoutMs: 500 } });
    const s3 = tg.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'adm' }));
    await s3.send(new PutObjectCommand({ Bucket: 'adm', Key: 'big', Body: randomBytes(32 * MiB) }));
    const open = openRequest(tg.url, 'GET', '/adm/big', await signedHeaders(tg.url, 'GET', '/adm/big', 0));
    open.req.end();
    const res = await new Promise<http.IncomingMessage>((resolve) => open.req.on('response', resolve));
    expect(res.statusCode).toBe(200);
    res.pause(); // reads nothing more
    await waitUntil(() => tg.gateway.admission.inFlight === 0, 10_000, 'the stalled download to be cut');
    const closed = await new Promise<boolean>((resolve) => {
      if (res.socket?.destroyed || res.destroyed) resolve(true);
      res.once('close', () => resolve(true));
      res.resume();
    });
    expect(closed).toBe(true);
    // A reader that keeps reading gets the whole object.
    const got = await s3.send(new GetObjectCommand({ Bucket: 'adm', Key: 'big' }));
    expect((await got.Body!.transformToByteArray()).length).toBe(32 * MiB);
  });

  it('header_timeout: a client that never finishes its headers is answered 408 and disconnected', async () => {
    const tg = await startTestGateway('sqlite', { server: { headerTimeoutMs: 800 } });
    const url = new URL(tg.url);
    const socket = net.connect(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const started = Date.now();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(700);
    expect(waited).toBeLessThan(5_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('config', () => {
  const parse = (yaml: string) => parseConfigText(yaml, {}).server;
  it('reads max_concurrent_requests, the three timeouts and metrics_listen; defaults 256, 60s, 65s, 60s', () => {
    expect(parse('')).toMatchObject({ maxConcurrentRequests: 256, headerTimeoutMs: 60_000, idleTimeoutMs: 65_000, bodyTimeoutMs: 60_000 });
    expect(parse('').metricsListen).toBeUndefined();
    expect(parse('server:\n  max_concurrent_requests: 64\n  header_timeout: 10s\n  idle_timeout: 2m\n  body_timeout: 1m30s\n  metrics_listen: 127.0.0.1:9100\n')).toMatchObject({
      maxConcurrentRequests: 64,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 120_000,
      bodyTimeoutMs: 90_000,
      metricsListen: { host: '127.0.0.1', port: 9100 },
    });
  });

  it('bad values are reported at their paths', () => {
    let issues: string[] = [];
    try {
      parseConfigText('server:\n  max_concurrent_requests: 0\n  header_timeout: 30\n  idle_timeout: 10ms\n  body_timeout: soon\n  metrics_listen: 9100\n', {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues = err.issues.map((i) => i.path);
    }
    expect(issues.sort()).toEqual(['server.body_timeout', 'server.header_timeout', 'server.idle_timeout', 'server.max_concurrent_requests', 'server.metrics_listen']);
  });
});
