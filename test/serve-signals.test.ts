import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/logging.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { openStore } from '../src/store/open.js';
import { exited } from './support/processes.js';

/**
 * `s3-orchestrator serve` as a real process (the built binary: `npm run build` first) receiving real
 * signals: SIGHUP reloads the reloadable parts of the config, all or nothing; SIGTERM stops it.
 */

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface LogLine {
  level: number;
  time: string;
  msg: string;
  [key: string]: unknown;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-serve-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(options: { level: string; limit: string; hookUrl?: string }): string {
  return [
    'database:',
    '  driver: sqlite',
    '  path: ./data/store.db',
    '  synchronous: normal',
    'backends:',
    '  - name: alpha',
    `    bytes_limit: ${options.limit}`,
    'workers:',
    '  outbox: { interval: 200ms }',
    'notifications:',
    ...(options.hookUrl ? ['  endpoints:', '    - name: hook', `      url: ${options.hookUrl}`] : ['  endpoints: []']),
    'logging:',
    `  level: ${options.level}`,
    '',
  ].join('\n');
}

/** The serve process and its stderr as parsed JSON lines (stderr is a pipe: JSON, not pretty). */
class Service {
  readonly lines: LogLine[] = [];
  stderr = '';

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      const complete = this.stderr.split('\n');
      this.stderr = complete.pop()!;
      for (const line of complete) if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
    });
  }

  async waitFor(predicate: (line: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`serve exited (${this.child.exitCode}) before ${what}: ${JSON.stringify(this.lines)}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify(this.lines.map((l) => l.msg))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function startServe(cwd: string, args: string[]): Service {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'DATABASE_URL' && !k.startsWith('PG')) env[k] = v;
  const child = spawn(process.execPath, [BIN, 'serve', '--config', 'config.yaml', ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const service = new Service(child);
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  });
  return service;
}

async function receiver(): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

describe('serve and signals', () => {
  it('SIGHUP reloads log level, quota limits and webhooks; a bad file changes nothing; SIGTERM stops cleanly', async () => {
    const cwd = tempDir();
    const file = join(cwd, 'config.yaml');
    writeFileSync(file, config({ level: 'info', limit: '10MiB' }));
    const hook = await receiver();
    const service = startServe(cwd, ['--summary-interval', '1s']);

    const engine = await service.waitFor((l) => l.msg.startsWith('database: '), 'the engine line');
    expect(engine).toMatchObject({ engine: 'sqlite', database: join(cwd, 'data', 'store.db'), chosenBy: `database.driver in ${file}` });
    expect(engine.time).toMatch(ISO);
    await service.waitFor((l) => l.msg.startsWith('serving'), 'serving');

    // A valid new file: the three reloadable parts change, in one line.
    writeFileSync(file, config({ level: 'debug', limit: '5MiB', hookUrl: hook.url }));
    service.child.kill('SIGHUP');
    const reloaded = await service.waitFor((l) => l.msg.startsWith('config reloaded'), 'the reload line');
    expect(reloaded.applied).toEqual(['backends[alpha].bytes_limit', 'notifications', 'logging.level']);
    expect(reloaded.needsRestart).toEqual([]);
    expect(service.child.exitCode).toBeNull();

    // The new limit is in the database; an object written now is announced to the new endpoint,
    // and the outbox tick that delivered it says so at info.
    const { config: loaded } = loadConfig(file);
    const store = await openStore(loaded, { role: 'inspect' });
    try {
      expect((await store.quota.totals()).find((q) => q.backendName === 'alpha')?.bytesLimit).toBe(5 * 1024 * 1024);
      const intent = await store.objects.beginWrite({ objectKey: 'photos/cat.jpg', sizeBytes: 10 });
      await store.objects.commitWrite(intent, { etag: '"e"' });
    } finally {
      await store.close();
    }
    const tick = await service.waitFor((l) => l.job === 'outbox' && l.handled === 1, 'the outbox tick line');
    expect(tick.level).toBe(30);
    expect(tick.msg).toMatch(/^outbox: handled 1 in \d+ ms$/);
    expect(hook.bodies).toHaveLength(1);
    expect(JSON.parse(hook.bodies[0]!)).toMatchObject({ subject: 'photos/cat.jpg', type: 's3orchestrator.ObjectCreated' });

    // The periodic summary: the service is alive, with per-job counts and queue depths.
    const summary = await service.waitFor((l) => typeof l.summary === 'object', 'a summary line');
    expect(summary.msg).toMatch(/^last 1s: handled cleanup \d+, reaper \d+, outbox \d+/);
    expect(summary.summary).toMatchObject({ queues: { cleanupRows: 0, deadLetters: 0, intents: 0, outboxFailed: 0 } });

    // An invalid file: refused with its problem, nothing changes (the level stays debug, the limit 5 MiB).
    writeFileSync(file, config({ level: 'info', limit: '1MiB', hookUrl: hook.url }).replace('bytes_limit: 1MiB', 'bytes_limit: lots'));
    service.child.kill('SIGHUP');
    const refused = await service.waitFor((l) => l.msg === 'config reload refused: nothing changed', 'the refusal');
    expect(refused.level).toBe(50);
    expect(refused.err).toMatch(/backends\[0\]\.bytes_limit/);
    expect(service.child.exitCode).toBeNull();
    const store2 = await openStore(loaded, { role: 'inspect' });
    try {
      expect((await store2.quota.totals()).find((q) => q.backendName === 'alpha')?.bytesLimit).toBe(5 * 1024 * 1024);
    } finally {
      await store2.close();
    }

    // A file that changes only a restart-only section: reported, and the process keeps running.
    writeFileSync(file, `${config({ level: 'debug', limit: '5MiB', hookUrl: hook.url })}placement: spread\n`);
    service.child.kill('SIGHUP');
    const second = await service.waitFor((l) => l.msg.startsWith('config reloaded') && l !== reloaded, 'the second reload line');
    expect(second.applied).toEqual([]);
    expect(second.needsRestart).toEqual(['placement']);

    service.child.kill('SIGTERM');
    expect(await exited(service.child)).toBe(0);
    // At debug level the shutdown steps log between the two; 'stopped' is always the last line.
    const messages = service.lines.map((l) => l.msg);
    expect(messages.at(-1)).toBe('stopped');
    expect(messages.indexOf('stopping')).toBeGreaterThan(messages.findLastIndex((m) => m.startsWith('config reloaded')));
    expect(service.lines.find((l) => l.msg === 'stopping')).toMatchObject({ signal: 'SIGTERM' });
    for (const line of service.lines) expect(line.time).toMatch(ISO);
  });

  it('SIGHUP with an unchanged file changes nothing; SIGINT stops with exit 0', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'config.yaml'), config({ level: 'info', limit: '10MiB' }));
    const service = startServe(cwd, []);
    await service.waitFor((l) => l.msg.startsWith('serving'), 'serving');
    service.child.kill('SIGHUP');
    const reloaded = await service.waitFor((l) => l.msg.startsWith('config reloaded'), 'the reload line');
    expect(reloaded).toMatchObject({ msg: 'config reloaded: nothing to change', applied: [], needsRestart: [] });
    service.child.kill('SIGINT');
    expect(await exited(service.child)).toBe(0);
    expect(service.lines.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(service.lines.find((l) => l.msg === 'stopping')).toMatchObject({ signal: 'SIGINT' });
  });
});

describe('log format', () => {
  it('pretty lines with an ISO timestamp on a terminal, JSON lines elsewhere', () => {
    const written: string[] = [];
    const sink = () =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          written.push(chunk.toString('utf8'));
          done();
        },
      });
    const terminal = Object.assign(sink(), { isTTY: true });
    createLogger('info', terminal, { colour: false }).info({ job: 'cleanup' }, 'hello');
    const pretty = written.join('');
    expect(pretty).toMatch(/^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\] INFO: hello\n/);
    expect(pretty).toContain('job: "cleanup"');
    expect(pretty).not.toContain('{"level"');

    written.length = 0;
    const logger = createLogger('info', sink());
    logger.info({}, 'hello');
    logger.debug({}, 'hidden');
    logger.setLevel('debug');
    logger.child({ job: 'reaper' }).debug({}, 'now shown');
    const lines = written.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as LogLine);
    expect(lines.map((l) => l.msg)).toEqual(['hello', 'now shown']);
    expect(lines[0]!.time).toMatch(ISO);
  });
});
