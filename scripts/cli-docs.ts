/**
 * npm run docs:cli — writes docs/cli.md from real runs of the built binary (run `npm run build`
 * first) on a scratch SQLite setup: every command with the output it printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DirectoryBackend } from '../src/backends/directory.js';
import { checkDirectoryBackends } from '../src/backends/directory-identity.js';
import { storageKeyPath } from '../src/backends/directory-paths.js';
import { loadConfig } from '../src/config/load.js';
import type { NotificationEndpoint } from '../src/config/types.js';
import { silentLogger } from '../src/logging.js';
import { errorChain } from '../src/workers/error-chain.js';
import { JobRunner } from '../src/workers/job-runner.js';
import { outboxDelivery } from '../src/workers/outbox-delivery.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { openStore } from '../src/store/open.js';

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');
const dir = mkdtempSync(join(tmpdir(), 's3o-cli-docs-'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PG|DATABASE_URL$|FORCE_COLOR$)/.test(k)));
const sections: string[] = [];

function run(args: string[], options: { input?: string; note?: string } = {}): void {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8', input: options.input ?? '' });
  const output = `${r.stdout}${r.stderr}`.trimEnd();
  sections.push(
    [
      `\`\`\`console`,
      `$ s3-orchestrator ${args.join(' ')}`,
      output,
      `# exit ${r.status}`,
      '```',
      options.note ? `${options.note}\n` : '',
    ].join('\n'),
  );
}

function heading(title: string, text = ''): void {
  sections.push(`## ${title}\n\n${text}`.trimEnd() + '\n');
}

try {
  heading('Getting started', 'Global options, valid before or after the command: `--config FILE` (default `./s3-orchestrator.yaml` when present, else the built-in defaults), `--json`, `--debug`. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.');
  run(['--help']);
  run(['init'], {
    note: 'The starter config is commented key by key and written with mode 0600: SQLite (its keys commented, their defaults shown), one example backend kept in a local directory, and commented examples of the server, credentials and buckets sections. Uncommenting its `url:` line (or setting `DATABASE_URL`) switches it to PostgreSQL. Hints name `npx s3-orchestrator` unless the command is installed on the PATH.',
  });
  run(['init']);
  run(['validate']);
  run(['migrate', '--dry-run']);
  run(['migrate']);
  run(['migrate']);

  // Some state to show: objects, a pending intent, cleanup rows, a dead letter, events, usage.
  // The store's clock is moved forward by hand to let a delete fail ten times on its real schedule.
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };
  const { config } = loadConfig(join(dir, 's3-orchestrator.yaml'));
  // A port where nothing listens any more (fetch refuses well-known ports such as 9 as "bad port").
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const deadEndpoint: NotificationEndpoint = { name: 'audit', url: `http://127.0.0.1:${closedPort}/hooks`, secret: undefined, timeoutMs: 1000, maxAttempts: 1, events: ['ObjectCreated', 'ObjectRemoved'] };
  const store = await openStore(
    { ...config, notifications: { ...config.notifications, endpoints: [deadEndpoint] } },
    { role: 'serve', clock },
  );
  // The backend directory gets its identity marker while the database still records nothing on it.
  await checkDirectoryBackends(config, store);
  for (let i = 0; i < 5; i++) {
    const w = await store.objects.beginWrite({ objectKey: `photos/2026/img-${i}.jpg`, sizeBytes: (i + 1) * 3_000_000, contentType: 'image/jpeg' });
    await store.objects.commitWrite(w, { etag: `"etag-${i}"` });
  }
  // A delete that really fails: a directory stands where the object's file should be, so
  // unlink(2) refuses (EISDIR). Ten real attempts on the real backoff schedule.
  await store.objects.deleteObject('photos/2026/img-0.jpg');
  const backendDir = join(dir, 'data', 'backends', 'local');
  for (let attempt = 0; attempt < 10; attempt++) {
    const [task] = await store.cleanup.claim('docs-worker', 1, 60_000);
    const file = join(backendDir, 'objects', storageKeyPath(task!.storageKey));
    mkdirSync(file, { recursive: true });
    const error = await unlink(file).then(
      () => undefined,
      (err: unknown) => errorChain(err),
    );
    if (error === undefined) throw new Error('the delete was meant to fail');
    await store.cleanup.fail(task!, 'docs-worker', error);
    offset += 25 * 3600_000; // past the longest backoff (24 h)
  }
  offset = 0;
  rmSync(join(backendDir, 'objects'), { recursive: true, force: true });
  await store.objects.deleteObject('photos/2026/img-1.jpg');
  await store.objects.beginWrite({ objectKey: 'photos/2026/upload-in-progress.jpg', sizeBytes: 7_500_000 });
  // The outbox worker itself tries the events against a port where nothing listens.
  const outbox = outboxDelivery(
    store,
    { workerId: 'docs-worker', intervalMs: 1000, batchSize: 2, concurrency: 2, claimGraceMs: 60_000, source: 's3-orchestrator', endpoints: [deadEndpoint] },
    silentLogger,
  );
  await new JobRunner(store.db, outbox, silentLogger).runOnce();
  store.usage.record('local', { apiRequests: 1_240, egressBytes: 310_000_000, ingressBytes: 45_000_000 });
  // A file put into the backend by hand (as an operator copying data in), for `backends check`.
  await new DirectoryBackend('local', backendDir).put('notes/readme.txt', Readable.from([Buffer.from('hello')]), 5);
  await store.close();

  heading('Looking at the store');
  run(['status']);
  run(['status', '--json']);
  run(['usage']);
  run(['usage', '--period', '2026-13']);
  run(['intents', 'list']);

  heading('Cleanup queue and dead letters', 'Bytes waiting for deletion from their backends; after `max_attempts` failed deletes a row moves to the dead-letter table, where its bytes still count as orphan bytes.');
  run(['cleanup', 'list']);
  run(['dlq', 'list']);
  run(['dlq', 'list', '--json']);
  run(['dlq', 'requeue', '--id', String(1)]);
  run(['dlq', 'purge', '--all'], { note: 'Destructive commands ask on a terminal; anywhere else (a script, CI) they need `--yes`.' });

  heading('Outbox (webhook events)');
  run(['outbox', 'list', '--failed']);
  run(['outbox', 'requeue', '--all', '--yes']);
  run(['outbox', 'purge', '--all', '--yes']);

  heading('Quotas and the ledger');
  run(['quota', 'sync']);
  run(['quota', 'reconcile', '--dry-run']);

  heading(
    'The S3 endpoint',
    '`s3-orchestrator credentials` prints the endpoint and the credential a client needs. With no `credentials:` in the config, that is the one `admin` credential `serve` provisions: from `S3O_ACCESS_KEY_ID` / `S3O_SECRET_ACCESS_KEY` when set, else generated once into `<server.data_dir>/credentials.json` (mode 0600; the command generates it if `serve` has not run yet). This is the one place a secret is printed on purpose. Credentials declared in the config are listed without their secrets. `--shell` prints `export` lines for `eval "$(s3-orchestrator credentials --shell)"`.',
  );
  run(['credentials']);
  run(['credentials', '--shell']);

  heading(
    'Backends',
    '`backends check [--backend NAME] [--import] [--yes]` compares each backend that has a client (`directory` or `endpoint`) with the metadata: (a) it lists the backend\'s storage keys and reports those the metadata does not know (no copy, intent, upload, part, cleanup or dead-letter row), with the object key guessed from the storage key (the part before the last `!` when the rest is a UUID, else the whole key) and the size and ETag from a HEAD; (b) it pages the backend\'s copies and reports those whose bytes are gone (never removed here: DELETE the object through the S3 API). Dry run by default; `--import` imports each unknown key as an object (asks on a terminal, needs `--yes` elsewhere), skipping keys whose object already exists. Exit 0 when everything is consistent, 1 when anything was found (also after an import: run it again to see what is left) or a backend could not be checked, 2 on usage errors. Here the scratch store\'s objects were recorded without writing their bytes, and one file was put into the backend by hand.',
  );
  run(['backends', 'check']);
  run(['backends', 'check', '--import']);
  run(['backends', 'check', '--import', '--yes']);

  heading('Errors', 'One line each (a config error lists every problem with its field path); a stack trace only with `--debug`.');
  writeFileSync(join(dir, 'broken.yaml'), 'database:\n  driver: mysql\n  min_conns: 20\n  max_conns: 10\nbackends:\n  - name: a\n    bytes_limit: lots\nplacment: pack\n');
  run(['validate', '--config', 'broken.yaml']);
  writeFileSync(join(dir, 'bad-yaml.yaml'), 'database:\n  path: [unclosed\n');
  run(['validate', '--config', 'bad-yaml.yaml']);
  run(['status', '--config', 'missing.yaml']);
  writeFileSync(join(dir, 'unreachable.yaml'), 'database:\n  host: 127.0.0.1\n  port: 1\n  database: meta\n  user: s3o\n  password: ${DB_PASSWORD:-s3cret}\n');
  run(['status', '--config', 'unreachable.yaml']);
  run(['dlq', 'requeue']);
  run(['dlq', 'requeue', '--id', '999']);
  run(['dlq', 'list', '--backend', 'nope']);
  run(['nonsense']);
  run(['dlq', 'nonsense']);

  heading(
    'Running the service',
    '`s3-orchestrator serve` logs which database engine it chose and why, opens the store as an instance (schema applied, quotas synced, a warning per backend holding more than its limit), checks the directory backends (their identity markers), runs the six background jobs and the S3 endpoint on `server.listen` (with `/health`, `/metrics` and the dashboard at `/ui`), and logs until SIGINT or SIGTERM; then it turns readiness off, lets requests in progress finish (`server.shutdown_timeout`), aborts the intents of uploads still unfinished, stops the jobs, flushes usage and closes the database. A second signal exits at once. `npm start` runs it. Logs are JSON lines with ISO timestamps on stderr, or pretty lines when stderr is a terminal; each job tick that handled something logs one info line, and every `--summary-interval` (default 5m) one line sums up the work done and the queue depths. SIGHUP re-reads the config file: the log level, the backends\' byte limits and the webhook endpoints change at once, all or nothing (a file that does not validate changes nothing and is logged as an error); changes to other sections are logged as needing a restart.',
  );

  const page = [
    '# s3-orchestrator command line',
    '',
    'Every command below was run by `npm run docs:cli` (scripts/cli-docs.ts) against a scratch SQLite setup; the output is what the binary printed. Timestamps and ids are from that run.',
    '',
    ...sections,
  ].join('\n');
  writeFileSync(join(PACKAGE_ROOT, 'docs', 'cli.md'), `${page.trimEnd()}\n`);
  console.log('wrote docs/cli.md');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
