import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { bodyOf, freePort, killServes, serveConfig, signedRequest, startServe, tempDir, waitFor, type Serve } from '../fleet/support.js';
import { expectLedgerConsistent } from '../support/store.js';

/**
 * Spec gateway.md §6 graceful shutdown and issue 12 item 6, with a real `serve` process and real
 * signals: readiness off at once, the listener closed, an upload in progress finishes within
 * server.shutdown_timeout and is committed; one that does not is cut and its intent aborted; the
 * usage is flushed and the store closed; exit 0. A second signal exits at once, non-zero.
 */

const MiB = 1024 * 1024;
const dirs: string[] = [];
afterEach(async () => {
  await killServes();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(shutdownTimeout: string): Promise<{ serve: Serve; cwd: string; metricsUrl: string }> {
  const cwd = tempDir('s3o-shutdown-');
  dirs.push(cwd);
  const port = await freePort();
  const metricsPort = await freePort();
  const config = serveConfig({
    database: { path: join(cwd, 'store.db') },
    backends: [{ name: 'local', directory: join(cwd, 'backend') }],
    port,
    extraServer: [`shutdown_timeout: ${shutdownTimeout}`, `metrics_listen: 127.0.0.1:${metricsPort}`],
  });
  const serve = await startServe('serve', cwd, config, port);
  return { serve, cwd, metricsUrl: `http://127.0.0.1:${metricsPort}` };
}

/** Starts a PUT of `size` bytes and writes `first` of them; the rest is the caller's. */
async function slowPut(serve: Serve, key: string, size: number, first: Buffer) {
  const put = await signedRequest(serve.url, 'PUT', `/fleet/${key}`, { 'content-length': String(size) });
  put.response.catch(() => {});
  put.req.write(first);
  return put;
}

/** The gateway admitted the write and streams it into a temporary file of the backend. */
async function admitted(cwd: string): Promise<void> {
  const tmp = join(cwd, 'backend', 'tmp');
  await waitFor('the upload to be admitted', () => (existsSync(tmp) && readdirSync(tmp).length > 0 ? true : undefined));
}

async function readiness(metricsUrl: string): Promise<number> {
  return (await fetch(`${metricsUrl}/health/ready`)).status;
}

async function openInspect(cwd: string) {
  return openStore(loadConfig(join(cwd, 'config.yaml')).config, { role: 'inspect' });
}

describe('graceful shutdown of serve', () => {
  it('SIGTERM: readiness off, listener closed, a slow upload in progress finishes and is committed; exit 0', async () => {
    const { serve, cwd, metricsUrl } = await start('20s');
    expect(await readiness(metricsUrl)).toBe(200);
    const data = randomBytes(2 * MiB);
    const put = await slowPut(serve, 'slow.bin', data.length, data.subarray(0, MiB));
    await admitted(cwd);

    serve.child.kill('SIGTERM');
    await serve.waitForLog((l) => l.msg === 'stopping', 'the stopping line');
    // Readiness is off while the upload drains; new connections to the S3 listener are refused.
    expect(await readiness(metricsUrl)).toBe(503);
    await expect(fetch(`${serve.url}/fleet/other`)).rejects.toThrow();
    expect(serve.alive).toBe(true);

    // The rest of the body, slowly: the request in progress may finish.
    await new Promise((r) => setTimeout(r, 500));
    put.req.end(data.subarray(MiB));
    const answer = await put.response;
    expect(answer.status).toBe(200);

    expect(await serve.exited()).toEqual({ code: 0, signal: null });
    const msgs = serve.lines.map((l) => l.msg);
    expect(msgs.at(-1)).toBe('stopped');
    expect(msgs.some((m) => m.includes('did not finish'))).toBe(false);

    const store = await openInspect(cwd);
    try {
      const info = await store.objects.head('fleet/slow.bin');
      expect(info.sizeBytes).toBe(data.length);
      expect((await store.intents.summary()).count).toBe(0);
      await expectLedgerConsistent(store);
    } finally {
      await store.close();
    }
    // And the bytes are the ones sent (read back through a new serve on the same files).
    const again = await startServe('again', cwd, readFileText(cwd), Number(new URL(serve.url).port));
    const got = await again.client().send(new GetObjectCommand({ Bucket: 'fleet', Key: 'slow.bin' }));
    expect((await bodyOf(got.Body)).equals(data)).toBe(true);
  });

  it('an upload that does not finish within server.shutdown_timeout is cut: its intent aborted, nothing committed, no partial file; exit 0', async () => {
    const { serve, cwd } = await start('1s');
    const put = await slowPut(serve, 'stuck.bin', 4 * MiB, randomBytes(MiB));
    await admitted(cwd);
    const t0 = Date.now();
    serve.child.kill('SIGTERM');
    expect(await serve.exited()).toEqual({ code: 0, signal: null });
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(15_000);
    await expect(put.response).rejects.toThrow();
    expect(serve.lines.find((l) => l.msg.includes('did not finish within server.shutdown_timeout'))).toMatchObject({ cutAtDeadline: 1, unfinished: 0 });
    expect(serve.lines.at(-1)?.msg).toBe('stopped');

    const store = await openInspect(cwd);
    try {
      expect(await store.objects.lookup('fleet/stuck.bin')).toEqual([]);
      expect((await store.intents.summary()).count).toBe(0);
      await expectLedgerConsistent(store);
      const queued = await store.cleanup.list();
      // The aborted write's key was queued (the cleanup worker may already have removed it).
      for (const row of queued) expect(row.objectKey).toBe('fleet/stuck.bin');
    } finally {
      await store.close();
    }
    const tmp = join(cwd, 'backend', 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });

  it('a second SIGTERM during the drain exits at once with a non-zero code', async () => {
    const { serve, cwd } = await start('30s');
    const put = await slowPut(serve, 'pending.bin', 4 * MiB, randomBytes(MiB));
    await admitted(cwd);
    serve.child.kill('SIGTERM');
    await serve.waitForLog((l) => l.msg === 'stopping', 'the stopping line');
    await new Promise((r) => setTimeout(r, 300));
    expect(serve.alive).toBe(true); // still draining: the upload is in progress
    const t0 = Date.now();
    serve.child.kill('SIGTERM');
    const exit = await serve.exited();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(exit.code).toBe(143);
    expect(serve.lines.some((l) => l.msg.startsWith('second signal'))).toBe(true);
    expect(serve.lines.some((l) => l.msg === 'stopped')).toBe(false);
    await expect(put.response).rejects.toThrow();
  });
});

function readFileText(cwd: string): string {
  return readFileSync(join(cwd, 'config.yaml'), 'utf8');
}
