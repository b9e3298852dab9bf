import type { Command } from 'commander';
import { createBackendClients, hasClient } from '../../backends/backend-clients.js';
import type { BackendClient } from '../../backends/backend-client.js';
import { DirectoryBackend } from '../../backends/directory.js';
import { formatSize } from '../../config/size.js';
import type { AppConfig, BackendConfig } from '../../config/types.js';
import { guessObjectKey } from '../../store/core/backend-check.js';
import { InvalidArgumentError, PreconditionFailedError } from '../../store/core/errors.js';
import type { MetadataStore } from '../../store/core/store.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { CommandFailure, UsageError } from '../errors.js';
import { isTerminal, plural } from '../output.js';

type Run = (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>;

interface Options {
  backend?: string;
  import?: boolean;
  yes?: boolean;
}

interface UnknownKey {
  storageKey: string;
  /** The object key it would be imported as (guessed from the storage key). */
  objectKey: string;
  sizeBytes: number;
  etag: string;
  /** With --import: what became of it. */
  import?: { status: 'imported'; overLimitBytes: number } | { status: 'skipped'; reason: string };
}

interface GoneCopy {
  objectKey: string;
  storageKey: string;
  sizeBytes: number;
  etag: string;
}

interface BackendReport {
  name: string;
  status: 'checked' | 'no-client' | 'unavailable';
  error?: string;
  storageKeys: number;
  copiesChecked: number;
  unknown: UnknownKey[];
  gone: GoneCopy[];
}

const PAGE = 1000;
const HEAD_CONCURRENCY = 8;
const UUID_PART = /^(.*)![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part\d+$/i;

export function registerBackends(program: Command, run: Run): void {
  const backends = program.command('backends').description('the storage backends themselves');
  backends
    .command('check')
    .description('compare each backend with the metadata: bytes the metadata does not know, and copies whose bytes are gone (dry run unless --import)')
    .option('--backend <name>', 'check this backend only')
    .option('--import', 'import the unknown keys as objects (keys whose object exists are skipped)')
    .option('--yes', 'do not ask before importing')
    .action((opts: Options, cmd: Command) => run(cmd, (ctx) => checkBackends(ctx, opts)));
}

async function checkBackends(ctx: CommandContext, opts: Options): Promise<void> {
  const { config } = ctx.config();
  const selected = selectBackends(config, opts.backend);
  // Fail before the (long) scan when the import could not be confirmed anyway.
  if (opts.import && !opts.yes && (!isTerminal(ctx.io.stdin) || !isTerminal(ctx.io.stdout))) {
    throw new UsageError('import the unknown keys: not on a terminal, so pass --yes to confirm');
  }
  const clients = await createBackendClients(selected.filter(hasClient));
  try {
    await ctx.withStore(async (store) => {
      const reports: BackendReport[] = [];
      for (const backend of selected) {
        const client = clients.get(backend.name);
        reports.push(client ? await checkBackend(store, client) : emptyReport(backend.name, 'no-client'));
      }
      const unknown = reports.flatMap((r) => r.unknown.map((u) => ({ backend: r.name, u })));
      let imported = false;
      if (opts.import && unknown.length > 0 && (await confirm(ctx.io, `import ${plural(unknown.length, 'unknown key')} as objects?`, Boolean(opts.yes)))) {
        imported = true;
        for (const { backend, u } of unknown) u.import = await importKey(store, backend, u);
      }
      const gone = reports.reduce((n, r) => n + r.gone.length, 0);
      const failed = reports.filter((r) => r.status === 'unavailable');
      const consistent = unknown.length === 0 && gone === 0 && failed.length === 0;
      if (ctx.out.json) {
        ctx.out.printJson({
          backends: reports,
          unknown: unknown.length,
          imported: unknown.filter(({ u }) => u.import?.status === 'imported').length,
          gone,
          dryRun: !imported,
          consistent,
        });
      } else {
        printText(ctx, reports, imported);
      }
      if (!consistent) {
        const found = [
          unknown.length > 0 ? `${plural(unknown.length, 'unknown key')}${imported ? ' (imported or skipped, above)' : ''}` : '',
          gone > 0 ? `${plural(gone, 'copy', 'copies')} whose bytes are gone` : '',
          failed.length > 0 ? `${plural(failed.length, 'backend')} not checked` : '',
        ].filter(Boolean);
        throw new CommandFailure(`backends check found ${found.join(', ')}`);
      }
    });
  } finally {
    for (const client of clients.values()) (client as { destroy?: () => void }).destroy?.();
  }
}

function selectBackends(config: AppConfig, name: string | undefined): BackendConfig[] {
  if (name === undefined) return [...config.backends];
  const backend = config.backends.find((b) => b.name === name);
  if (!backend) throw new UsageError(`no backend named ${JSON.stringify(name)} in the config (backends: ${config.backends.map((b) => b.name).join(', ') || 'none'})`);
  if (!hasClient(backend)) throw new UsageError(`backend ${JSON.stringify(name)} has no client (neither \`directory\` nor \`endpoint\` is set): there is nothing to check`);
  return [backend];
}

function emptyReport(name: string, status: BackendReport['status'], error?: string): BackendReport {
  return { name, status, ...(error === undefined ? {} : { error }), storageKeys: 0, copiesChecked: 0, unknown: [], gone: [] };
}

async function checkBackend(store: MetadataStore, client: BackendClient): Promise<BackendReport> {
  const report = emptyReport(client.name, 'checked');
  try {
    const listed = await client.list('');
    report.storageKeys = listed.length;
    const known = await store.backendCheck.knownStorageKeys(client.name, listed);
    const candidates = await withoutCompletedParts(client, listed, known);
    // HEAD after the metadata said "unknown": a key deleted by the cleanup worker meanwhile is
    // absent now (skipped), and a new write's key is known before its bytes exist (intent first).
    const heads = await mapLimited(candidates, (key) => client.head(key));
    candidates.forEach((storageKey, i) => {
      const head = heads[i];
      if (head) report.unknown.push({ storageKey, objectKey: guessObjectKey(storageKey), sizeBytes: head.sizeBytes, etag: head.etag });
    });
    report.unknown.sort((a, b) => (a.storageKey < b.storageKey ? -1 : a.storageKey > b.storageKey ? 1 : 0));

    // Copies whose storage key the listing did not show are asked for directly (the listing is an
    // earlier snapshot and skips hashed file names), then the row is read again: only a copy that is
    // still current and still absent counts as gone.
    const present = new Set(listed);
    let afterKey: string | undefined = '';
    while (afterKey !== undefined) {
      const page = await store.backendCheck.copiesOf(client.name, { afterKey, limit: PAGE });
      report.copiesChecked += page.copies.length;
      const missing = page.copies.filter((c) => !present.has(c.storageKey));
      const missingHeads = await mapLimited(missing, (c) => client.head(c.storageKey));
      for (const [i, c] of missing.entries()) {
        if (missingHeads[i]) continue;
        const still = (await store.objects.lookup(c.objectKey)).some((now) => now.backendName === c.backendName && now.storageKey === c.storageKey);
        if (still) report.gone.push({ objectKey: c.objectKey, storageKey: c.storageKey, sizeBytes: c.sizeBytes, etag: c.etag });
      }
      afterKey = page.nextAfterKey;
    }
  } catch (err) {
    return emptyReport(client.name, 'unavailable', err instanceof Error ? err.message : String(err));
  }
  return report;
}

/**
 * The unknown keys, less the part files of completed multipart objects on a directory backend: the
 * metadata knows those only through their object, whose part list names them.
 */
async function withoutCompletedParts(client: BackendClient, listed: readonly string[], known: ReadonlySet<string>): Promise<string[]> {
  const unknown = listed.filter((k) => !known.has(k));
  if (!(client instanceof DirectoryBackend)) return unknown;
  const owners = new Set(unknown.map((k) => UUID_PART.exec(k)?.[1]).filter((k): k is string => k !== undefined));
  if (owners.size === 0) return unknown;
  const partsOfObjects = new Set<string>();
  for (const key of listed) {
    // Parts and their object share the storage key's own prefix (escaped or not) before `!{id}`.
    if (!known.has(key) || !owners.has(key.slice(0, Math.max(0, key.lastIndexOf('!'))))) continue;
    for (const part of (await client.partKeys(key)) ?? []) partsOfObjects.add(part);
  }
  return unknown.filter((k) => !partsOfObjects.has(k));
}

async function importKey(store: MetadataStore, backendName: string, u: UnknownKey): Promise<NonNullable<UnknownKey['import']>> {
  if (u.storageKey.startsWith('~long/')) return { status: 'skipped', reason: 'a hashed storage key: the object key it was written for is unknown' };
  try {
    const { overLimitBytes } = await store.backendCheck.importObject({ objectKey: u.objectKey, backendName, storageKey: u.storageKey, sizeBytes: u.sizeBytes, etag: u.etag });
    return { status: 'imported', overLimitBytes };
  } catch (err) {
    if (err instanceof PreconditionFailedError || err instanceof InvalidArgumentError) return { status: 'skipped', reason: err.message };
    throw err;
  }
}

function printText(ctx: CommandContext, reports: readonly BackendReport[], imported: boolean): void {
  const out = ctx.out;
  for (const r of reports) {
    if (r.status === 'no-client') {
      out.line(`${r.name}: skipped (no client: neither \`directory\` nor \`endpoint\` is set)`);
      continue;
    }
    if (r.status === 'unavailable') {
      out.line(`${r.name}: not checked: ${r.error}`);
      continue;
    }
    out.line(`${r.name}: ${plural(r.storageKeys, 'storage key')}, ${plural(r.copiesChecked, 'copy', 'copies')} checked`);
    for (const u of r.unknown) {
      const what = `${u.storageKey} (${formatSize(u.sizeBytes)}, ETag ${u.etag})`;
      if (!u.import) out.line(`  not in the metadata: ${what} -> object ${u.objectKey}`);
      else if (u.import.status === 'imported') {
        out.line(`  imported: ${what} as object ${u.objectKey}`);
        if (u.import.overLimitBytes > 0) out.line(`  warning: ${r.name} now holds ${formatSize(u.import.overLimitBytes)} more than its limit: writes to it are refused until space is freed`);
      } else out.line(`  skipped: ${what}: ${u.import.reason}`);
    }
    for (const g of r.gone) out.line(`  bytes gone: object ${g.objectKey} (storage key ${g.storageKey}, ${formatSize(g.sizeBytes)}); remove it with: aws s3 rm s3://${g.objectKey}`);
  }
  const unknown = reports.reduce((n, r) => n + r.unknown.length, 0);
  const gone = reports.reduce((n, r) => n + r.gone.length, 0);
  const failed = reports.filter((r) => r.status === 'unavailable').length;
  if (unknown === 0 && gone === 0 && failed === 0) {
    out.line(`backends consistent with the metadata (${plural(reports.filter((r) => r.status === 'checked').length, 'backend')} checked)`);
    return;
  }
  if (unknown > 0) {
    out.line(
      imported
        ? `${plural(reports.reduce((n, r) => n + r.unknown.filter((u) => u.import?.status === 'imported').length, 0), 'object')} imported, ${reports.reduce((n, r) => n + r.unknown.filter((u) => u.import?.status === 'skipped').length, 0)} skipped`
        : `${plural(unknown, 'unknown key')} (dry run: nothing changed; ${ctx.suggest('backends check --import')} imports them)`,
    );
  }
  if (gone > 0) {
    out.line(`${plural(gone, 'copy', 'copies')} whose bytes are gone (never removed here: DELETE each object through the S3 API)`);
  }
}

/** `fn` over `items`, at most HEAD_CONCURRENCY at a time, results in order. */
async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, items.length) }, worker));
  return results;
}
