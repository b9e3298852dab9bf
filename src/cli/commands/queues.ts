import type { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { formatSize } from '../../config/size.js';
import type { AppConfig } from '../../config/types.js';
import type { DeadLetterSelector } from '../../store/core/cleanup-queue.js';
import type { MetadataStore } from '../../store/core/store.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { CommandFailure, UsageError } from '../errors.js';
import { formatAge, plural } from '../output.js';

type Run = (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>;

interface ListOptions {
  backend?: string;
  limit?: string;
  after?: string;
}

/** cleanup list; dlq list|requeue|purge; outbox list|requeue|purge; intents list. */
export function registerQueues(program: Command, run: Run): void {
  const listFlags = (c: Command) =>
    c.option('--backend <name>', 'only this backend').option('--limit <n>', 'rows to show', '100').option('--after <id>', 'start after this id (paging)', '0');

  const cleanup = program.command('cleanup').description('the cleanup queue (bytes waiting to be deleted from backends)');
  listFlags(cleanup.command('list').description('rows waiting for deletion')).action((opts: ListOptions, cmd: Command) =>
    run(cmd, (ctx) => {
      const page = { ...backendOf(opts), limit: int(opts.limit, '--limit'), afterId: int(opts.after, '--after', 0) };
      return ctx.withStore(async (store, config) => {
        await checkBackend(store, config, opts.backend);
        const rows = await store.cleanup.list(page);
        if (ctx.out.json) return ctx.out.printJson(rows);
        const now = store.context.clock.now().getTime();
        if (rows.length === 0) return ctx.out.line('the cleanup queue is empty');
        ctx.out.table(
          ['ID', 'BACKEND', 'SIZE', 'ATTEMPTS', 'NEXT TRY', 'REASON', 'STORAGE KEY', 'LAST ERROR'],
          rows.map((r) => [
            String(r.id),
            r.backendName,
            formatSize(r.sizeBytes),
            String(r.attempts),
            r.nextRetry.getTime() <= now ? 'due' : `in ${formatAge(r.nextRetry.getTime() - now)}`,
            r.reason,
            r.storageKey,
            r.lastError ?? '',
          ]),
          [0, 2, 3],
        );
      });
    }),
  );

  const dlq = program.command('dlq').description('the cleanup dead-letter table (deletes that used up their retries)');
  listFlags(dlq.command('list').description('dead letters')).action((opts: ListOptions, cmd: Command) =>
    run(cmd, (ctx) => {
      const page = { ...backendOf(opts), limit: int(opts.limit, '--limit'), afterId: int(opts.after, '--after', 0) };
      return ctx.withStore(async (store, config) => {
        await checkBackend(store, config, opts.backend);
        const rows = await store.cleanup.listDeadLetters(page);
        if (ctx.out.json) return ctx.out.printJson(rows);
        if (rows.length === 0) return ctx.out.line('no dead letters');
        ctx.out.table(
          ['ID', 'BACKEND', 'SIZE', 'ATTEMPTS', 'MOVED', 'REASON', 'STORAGE KEY', 'LAST ERROR'],
          rows.map((r) => [String(r.id), r.backendName, formatSize(r.sizeBytes), String(r.attempts), r.movedAt.toISOString(), r.reason, r.storageKey, r.lastError ?? '']),
          [0, 2, 3],
        );
      });
    }),
  );
  selectorFlags(dlq.command('requeue').description('move dead letters back to the queue with a fresh retry budget')).action((opts: SelectorOptions, cmd: Command) =>
    run(cmd, async (ctx) => {
      const selector = deadLetterSelector(opts);
      await ctx.withStore(async (store, config) => {
        await checkDeadLetterSelector(store, config, selector);
        if ('all' in selector && !(await confirm(ctx.io, 'requeue every dead letter?', Boolean(opts.yes)))) return ctx.out.line('nothing changed');
        const ids = await store.cleanup.requeueDeadLetters(selector);
        if (ctx.out.json) ctx.out.printJson({ requeued: ids.length, queueIds: ids });
        else ctx.out.line(`requeued ${plural(ids.length, 'dead letter')}`);
      });
    }),
  );
  selectorFlags(dlq.command('purge').description('write dead letters off after their bytes were removed by hand (credits orphan bytes)')).action(
    (opts: SelectorOptions, cmd: Command) =>
      run(cmd, async (ctx) => {
        const selector = deadLetterSelector(opts);
        await ctx.withStore(async (store, config) => {
          await checkDeadLetterSelector(store, config, selector);
          if (!(await confirm(ctx.io, `purge ${describeSelector(selector)}? The bytes must already be gone from the backend`, Boolean(opts.yes)))) {
            return ctx.out.line('nothing changed');
          }
          const { rows, bytes } = await store.cleanup.purgeDeadLetters(selector);
          if (ctx.out.json) ctx.out.printJson({ purged: rows, bytes });
          else ctx.out.line(`purged ${plural(rows, 'dead letter')} (${formatSize(bytes)} written off)`);
        });
      }),
  );

  const outbox = program.command('outbox').description('the notification outbox (webhook events)');
  outbox
    .command('list')
    .description('pending and failed events')
    .option('--failed', 'only events that used up their retries')
    .option('--pending', 'only events waiting for delivery')
    .option('--limit <n>', 'rows to show', '100')
    .option('--after <id>', 'start after this id (paging)', '0')
    .action((opts: { failed?: boolean; pending?: boolean; limit?: string; after?: string }, cmd: Command) =>
      run(cmd, (ctx) => {
        if (opts.failed && opts.pending) throw new UsageError('--failed and --pending exclude each other');
        const state: 'failed' | 'pending' | undefined = opts.failed ? 'failed' : opts.pending ? 'pending' : undefined;
        const page = { ...(state ? { state } : {}), limit: int(opts.limit, '--limit'), afterId: int(opts.after, '--after', 0) };
        return ctx.withStore(async (store) => {
          const rows = await store.outbox.list(page);
          if (ctx.out.json) return ctx.out.printJson(rows);
          if (rows.length === 0) return ctx.out.line('no events');
          ctx.out.table(
            ['ID', 'EVENT ID', 'TYPE', 'ENDPOINT', 'STATE', 'ATTEMPTS', 'CREATED', 'LAST ERROR'],
            rows.map((e) => [
              String(e.id),
              e.eventId,
              e.eventType,
              e.endpoint,
              e.failedAt ? ctx.out.color.red('failed') : 'pending',
              String(e.attempts),
              e.createdAt.toISOString(),
              e.lastError ?? '',
            ]),
            [0, 5],
          );
        });
      }),
    );
  outbox
    .command('requeue')
    .description('make failed events pending again, with a fresh retry budget')
    .option('--id <n>', 'one event')
    .option('--all', 'every failed event')
    .option('--yes', 'do not ask')
    .action((opts: SelectorOptions, cmd: Command) =>
      run(cmd, async (ctx) => {
        const selector = eventSelector(opts);
        await ctx.withStore(async (store) => {
          await checkEventSelector(store, selector);
          if ('all' in selector && !(await confirm(ctx.io, 'requeue every failed event?', Boolean(opts.yes)))) return ctx.out.line('nothing changed');
          const ids = await store.outbox.requeueFailed(selector);
          if (ctx.out.json) ctx.out.printJson({ requeued: ids.length, ids });
          else ctx.out.line(`requeued ${plural(ids.length, 'failed event')}`);
        });
      }),
    );
  outbox
    .command('purge')
    .description('delete failed events for good')
    .option('--id <n>', 'one event')
    .option('--all', 'every failed event')
    .option('--yes', 'do not ask')
    .action((opts: SelectorOptions, cmd: Command) =>
      run(cmd, async (ctx) => {
        const selector = eventSelector(opts);
        await ctx.withStore(async (store) => {
          await checkEventSelector(store, selector);
          if (!(await confirm(ctx.io, `delete ${'id' in selector ? `failed event ${selector.id}` : 'every failed event'}?`, Boolean(opts.yes)))) {
            return ctx.out.line('nothing changed');
          }
          const ids = await store.outbox.purgeFailed(selector);
          if (ctx.out.json) ctx.out.printJson({ purged: ids.length, ids });
          else ctx.out.line(`purged ${plural(ids.length, 'failed event')}`);
        });
      }),
    );

  program
    .command('intents')
    .description('writes begun and not committed (the reaper resolves old ones)')
    .command('list')
    .description('pending intents, oldest first')
    .option('--older-than <duration>', 'only intents at least this old, e.g. 5m', '0s')
    .option('--limit <n>', 'rows to show', '100')
    .action((opts: { olderThan: string; limit?: string }, cmd: Command) =>
      run(cmd, (ctx) => {
        const age = parseDuration(opts.olderThan);
        if (age === undefined) throw new UsageError(`--older-than: ${JSON.stringify(opts.olderThan)} is not a duration such as 30s, 5m or 1h`);
        const limit = int(opts.limit, '--limit');
        return ctx.withStore(async (store) => {
          const now = store.context.clock.now().getTime();
          const rows = await store.intents.listOlderThan(new Date(now - age + 1), limit);
          if (ctx.out.json) return ctx.out.printJson(rows);
          if (rows.length === 0) return ctx.out.line('no pending intents');
          ctx.out.table(
            ['INTENT', 'KIND', 'KEY', 'BACKEND', 'SIZE', 'AGE'],
            rows.map((i) => [i.intentId, i.kind, i.objectKey, i.backendName, formatSize(i.sizeBytes), formatAge(now - i.createdAt.getTime())]),
            [4, 5],
          );
        });
      }),
    );
}

interface SelectorOptions {
  id?: string;
  backend?: string;
  all?: boolean;
  yes?: boolean;
}

function selectorFlags(c: Command): Command {
  return c.option('--id <n>', 'one dead letter').option('--backend <name>', "one backend's dead letters").option('--all', 'every dead letter').option('--yes', 'do not ask');
}

function deadLetterSelector(opts: SelectorOptions): DeadLetterSelector {
  const given = [opts.id !== undefined, opts.backend !== undefined, Boolean(opts.all)].filter(Boolean).length;
  if (given !== 1) throw new UsageError('give exactly one of --id <n>, --backend <name> or --all');
  if (opts.id !== undefined) return { id: int(opts.id, '--id', 1) };
  if (opts.backend !== undefined) return { backendName: opts.backend };
  return { all: true };
}

function eventSelector(opts: SelectorOptions): { id: number } | { all: true } {
  if ((opts.id !== undefined) === Boolean(opts.all)) throw new UsageError('give exactly one of --id <n> or --all');
  return opts.id !== undefined ? { id: int(opts.id, '--id', 1) } : { all: true };
}

function describeSelector(selector: DeadLetterSelector): string {
  if ('id' in selector) return `dead letter ${selector.id}`;
  if ('backendName' in selector) return `every dead letter of backend ${selector.backendName}`;
  return 'every dead letter';
}

/**
 * An unknown --backend is a typo, not an empty result: exit 2 naming the backends there are (the
 * config's, and any the database still holds rows for after it left the config).
 */
async function checkBackend(store: MetadataStore, config: AppConfig, name: string | undefined): Promise<void> {
  if (name === undefined) return;
  const known = new Set(config.backends.map((b) => b.name));
  if (known.has(name)) return;
  const inDatabase = (await store.quota.totals()).map((q) => q.backendName);
  if (inDatabase.includes(name)) return;
  const configured = config.backends.map((b) => b.name);
  const others = inDatabase.filter((n) => !known.has(n));
  const list = `${configured.length === 0 ? 'none configured' : `configured: ${configured.join(', ')}`}${others.length > 0 ? `; also in the database: ${others.join(', ')}` : ''}`;
  throw new UsageError(`--backend: no backend named ${JSON.stringify(name)} (${list})`);
}

/** An --id that names no dead letter is an error (exit 1), never "0 requeued". */
async function checkDeadLetterSelector(store: MetadataStore, config: AppConfig, selector: DeadLetterSelector): Promise<void> {
  if ('backendName' in selector) return checkBackend(store, config, selector.backendName);
  if (!('id' in selector)) return;
  const [row] = await store.cleanup.listDeadLetters({ afterId: selector.id - 1, limit: 1 });
  if (row?.id !== selector.id) throw new CommandFailure(`no dead letter with id ${selector.id}`);
}

/** An --id must name a failed event: a missing one, or one still pending, is an error (exit 1). */
async function checkEventSelector(store: MetadataStore, selector: { id: number } | { all: true }): Promise<void> {
  if (!('id' in selector)) return;
  const [failed] = await store.outbox.list({ state: 'failed', afterId: selector.id - 1, limit: 1 });
  if (failed?.id === selector.id) return;
  const [any] = await store.outbox.list({ afterId: selector.id - 1, limit: 1 });
  if (any?.id === selector.id) throw new CommandFailure(`event ${selector.id} is pending, not failed: only failed events can be requeued or purged`);
  throw new CommandFailure(`no event with id ${selector.id}`);
}

function backendOf(opts: ListOptions): { backendName?: string } {
  return opts.backend === undefined ? {} : { backendName: opts.backend };
}

export function int(value: string | undefined, flag: string, min = 1): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a whole number >= ${min}`);
  return n;
}
