import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { launchChromium, signIn, textOf } from './fixture.js';

/**
 * The "done when", as a user does it: `serve` with no credentials in the config, the
 * credential that `s3-orchestrator credentials` prints, /ui in a browser showing the buckets,
 * objects and backends written through the S3 endpoint. `serve` runs from the sources (tsx), as
 * a process of its own; `ui.listen` puts the dashboard on a listener of its own; `ui.enabled: false`
 * leaves /ui to S3.
 */

const CLI = `import { main } from ${JSON.stringify(join(PACKAGE_ROOT, 'src/cli/main.ts'))}; process.exitCode = await main(process.argv.slice(1));`;
// tsx by its file URL: serve runs in its own temporary directory, where a bare `tsx` would not resolve.
const TSX = pathToFileURL(join(PACKAGE_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const NODE_ARGS = ['--import', TSX, '--input-type=module', '-e', CLI];

let browser: Browser;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await browser?.close();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function writeConfig(dir: string, port: number, ui: string[]): string {
  const file = join(dir, 's3-orchestrator.yaml');
  writeFileSync(
    file,
    ['database:', '  driver: sqlite', '  path: ./data/store.db', 'server:', `  listen: 127.0.0.1:${port}`, '  data_dir: ./data', 'logging:', '  level: info', ...ui, ''].join('\n'),
  );
  return file;
}

async function startServe(config: string, dir: string): Promise<{ child: ChildProcessWithoutNullStreams; log: () => string }> {
  const child = spawn(process.execPath, [...NODE_ARGS, 'serve', '--config', config], { cwd: dir, env: { ...process.env, S3O_ACCESS_KEY_ID: '', S3O_SECRET_ACCESS_KEY: '' } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout.resume();
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
  const deadline = Date.now() + 60_000;
  while (!err.includes('S3 endpoint listening')) {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}): ${err}`);
    if (Date.now() > deadline) throw new Error(`serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, log: () => err };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-dash-serve-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('serve', () => {
  it('a new user signs in at /ui with the credential `credentials` prints and sees their buckets, objects and backends', async () => {
    const dir = tempDir();
    const port = await freePort();
    const config = writeConfig(dir, port, []);
    const printed = spawnSync(process.execPath, [...NODE_ARGS, 'credentials', '--json', '--config', config], { cwd: dir, encoding: 'utf8', env: { ...process.env, S3O_ACCESS_KEY_ID: '', S3O_SECRET_ACCESS_KEY: '' } });
    expect(printed.status, printed.stderr).toBe(0);
    const credential = JSON.parse(printed.stdout) as { accessKeyId: string; secretAccessKey: string; endpoint: string };
    expect(credential.endpoint).toBe(`http://127.0.0.1:${port}`);

    const serve = await startServe(config, dir);
    const url = `http://127.0.0.1:${port}`;
    const s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: credential, maxAttempts: 1 });
    cleanups.push(() => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: 'first-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'first-bucket', Key: 'notes/hello.txt', Body: 'hello from the dashboard test\n', ContentType: 'text/plain' }));

    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    expect(await signIn(page, url, credential)).toBe(200);
    expect(page.url()).toBe(`${url}/ui/backends`);
    expect(await page.$$eval('.backend', (els) => els.map((e) => e.getAttribute('data-backend')))).toEqual(['local']);
    expect(await textOf(page, '[data-backend=local] [data-field=copies]')).toBe('1');
    expect(await textOf(page, '[data-backend=local] [data-field=used]')).toBe('30 B');

    await page.goto(`${url}/ui/buckets`, { waitUntil: 'load' });
    expect(await textOf(page, 'tr[data-bucket=first-bucket]')).toMatch(/first-bucket\s+1\s+30 B/);
    await Promise.all([page.waitForNavigation(), page.click('tr[data-bucket=first-bucket] a')]);
    await Promise.all([page.waitForNavigation(), page.click('tr.prefix a')]);
    await Promise.all([page.waitForNavigation(), page.click('tr.object a')]);
    expect(await textOf(page, 'h2.key')).toBe('notes/hello.txt');
    const href = await page.$eval('a.download', (a) => a.getAttribute('href')!);
    const download = await fetch(href);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('hello from the dashboard test\n');

    // The activity page saw the requests; the secret is in no page and no log line.
    await page.goto(`${url}/ui/activity`, { waitUntil: 'load' });
    expect(await textOf(page, 'table.changes')).toContain('notes/hello.txt');
    expect(await page.content()).not.toContain(credential.secretAccessKey);
    expect(serve.log()).toContain('dashboard sign-in');
    expect(serve.log()).not.toContain(credential.secretAccessKey);
    await context.close();
  });

  it('ui.listen: the dashboard on a listener of its own, its download links pointing at the S3 listener; /ui on the S3 listener is S3 again', async () => {
    const dir = tempDir();
    const [port, uiPort] = [await freePort(), await freePort()];
    const config = writeConfig(dir, port, ['ui:', `  listen: 127.0.0.1:${uiPort}`, '  session_ttl: 1h']);
    await startServe(config, dir);
    const printed = spawnSync(process.execPath, [...NODE_ARGS, 'credentials', '--json', '--config', config], { cwd: dir, encoding: 'utf8', env: { ...process.env, S3O_ACCESS_KEY_ID: '', S3O_SECRET_ACCESS_KEY: '' } });
    const credential = JSON.parse(printed.stdout) as { accessKeyId: string; secretAccessKey: string };
    const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: credential, maxAttempts: 1 });
    cleanups.push(() => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: 'elsewhere' }));
    await s3.send(new PutObjectCommand({ Bucket: 'elsewhere', Key: 'a.txt', Body: 'listener of its own' }));

    // On the S3 listener, /ui is an S3 request again (unsigned: refused the S3 way).
    const onS3 = await fetch(`http://127.0.0.1:${port}/ui/login`);
    expect(onS3.status).toBe(403);
    expect(await onS3.text()).toContain('<Code>');

    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const ui = `http://127.0.0.1:${uiPort}`;
    expect(await signIn(page, ui, credential)).toBe(200);
    const cookie = (await context.cookies()).find((c) => c.name === 's3o_ui')!;
    expect(cookie.expires - Date.now() / 1000).toBeGreaterThan(3500);
    expect(cookie.expires - Date.now() / 1000).toBeLessThan(3700);
    await page.goto(`${ui}/ui/buckets/elsewhere/object?key=a.txt`, { waitUntil: 'load' });
    const href = await page.$eval('a.download', (a) => a.getAttribute('href')!);
    expect(new URL(href).origin).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(href)).text()).toBe('listener of its own');
    await context.close();
  });

  it('ui.enabled: false serves no dashboard', async () => {
    const dir = tempDir();
    const port = await freePort();
    const config = writeConfig(dir, port, ['ui:', '  enabled: false']);
    await startServe(config, dir);
    const res = await fetch(`http://127.0.0.1:${port}/ui/login`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>');
  });
});
