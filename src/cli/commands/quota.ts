import type { Command } from 'commander';
import { formatSize } from '../../config/size.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { plural } from '../output.js';
import { describeOverLimit, overLimitBackends } from '../over-limit.js';
import { withProgress } from '../progress.js';

type Run = (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>;

export function registerQuota(program: Command, run: Run): void {
  const quota = program.command('quota').description('backend byte limits and the ledger');
  quota
    .command('sync')
    .description('upsert the limits of the config (counters untouched; also done at every start)')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, (ctx) =>
        ctx.withStore(async (store, config) => {
          await store.quota.syncLimits();
          // A limit lowered below what the backend already holds is legal (nothing is deleted), but
          // the backend then takes no writes: say so, on stderr, so scripts still get clean output.
          const over = overLimitBackends(await store.quota.totals());
          const configured = new Set(config.backends.map((b) => b.name));
          for (const b of over) if (configured.has(b.name)) ctx.out.error(`warning: ${describeOverLimit(b)}`);
          if (ctx.out.json) {
            const overNames = new Set(over.map((b) => b.name));
            return ctx.out.printJson(config.backends.map((b) => ({ name: b.name, bytesLimit: b.bytesLimit, overLimit: overNames.has(b.name) })));
          }
          for (const b of config.backends) ctx.out.line(`${b.name}: limit ${b.bytesLimit === 0 ? 'unlimited' : formatSize(b.bytesLimit)}`);
          ctx.out.line(`synced ${plural(config.backends.length, 'backend')}`);
        }),
      ),
    );
  quota
    .command('reconcile')
    .description('recompute every counter from the rows and fix drift (prints each drift)')
    .option('--dry-run', 'report drift, fix nothing')
    .option('--yes', 'do not ask before fixing')
    .action((opts: { dryRun?: boolean; yes?: boolean }, cmd: Command) =>
      run(cmd, (ctx) =>
        ctx.withStore(async (store) => {
          const audit = await withProgress(ctx.io.stderr, 'reading the ledger', () => store.quota.reconcile({ fix: false }));
          let report = audit;
          if (!opts.dryRun && audit.drifts.length > 0) {
            if (!(await confirm(ctx.io, `fix ${plural(audit.drifts.length, 'drift')}?`, Boolean(opts.yes)))) {
              return ctx.out.line('nothing changed');
            }
            report = await withProgress(ctx.io.stderr, 'fixing the ledger', () => store.quota.reconcile({ fix: true }));
          }
          if (ctx.out.json) return ctx.out.printJson(report);
          for (const d of report.drifts) {
            ctx.out.line(`${d.backendName} ${d.counter}: recorded ${d.recorded}, actual ${d.actual} (${d.actual - d.recorded >= 0 ? '+' : ''}${d.actual - d.recorded})${report.fixed ? ' fixed' : ''}`);
          }
          ctx.out.line(
            report.drifts.length === 0
              ? `ledger consistent (${plural(report.checkedBackends, 'backend')})`
              : `${plural(report.drifts.length, 'drift')} ${report.fixed ? 'fixed' : 'found (dry run: nothing changed)'}`,
          );
        }),
      ),
    );
}
