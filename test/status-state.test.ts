import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function status(dir: string): { backends: { name: string; client: boolean; breaker: string | null }[]; instance: string | null } {
  const r = spawnSync(process.execPath, [BIN, 'status', '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof status>;
}

it('status marks a backend without a client, and shows each breaker of the running serve (none when it is not running)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's3o-status-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 's3-orchestrator.yaml'), `server:\n  listen: 127.0.0.1:${port}\nbackends:\n  - name: local\n    directory: ./data/backends/local\n  - name: ghost\n`);
  const serve: ChildProcess = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => serve.kill('SIGKILL'));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    serve.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('S3 endpoint listening')) resolve();
    });
    serve.on('exit', (code) => reject(new Error(`serve exited (${code}): ${log}`)));
  });

  const running = status(dir);
  expect(running.instance).toBe(`http://127.0.0.1:${port}/metrics`);
  expect(running.backends.map((b) => [b.name, b.client, b.breaker])).toEqual([
    ['ghost', false, null],
    ['local', true, 'closed'],
  ]);

  serve.kill('SIGTERM');
  await new Promise((resolve) => serve.on('exit', resolve));
  const stopped = status(dir);
  expect(stopped.instance).toBeNull();
  expect(stopped.backends.map((b) => [b.name, b.client, b.breaker])).toEqual([
    ['ghost', false, null],
    ['local', true, null],
  ]);
});
