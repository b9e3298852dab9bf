import type { Command } from 'commander';
import { formatSize } from '../../config/size.js';
import { utcMonth } from '../../store/core/usage-meter.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';

export function registerUsage(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('usage')
    .description('requests and traffic per backend for a UTC month')
    .option('--period <YYYY-MM>', 'the month (default: the current one)')
    .action((opts: { period?: string }, cmd: Command) =>
      run(cmd, (ctx) =>
        checkedPeriod(opts.period) ??
        ctx.withStore(async (store) => {
          const period = opts.period ?? utcMonth(store.context.clock.now());
          const rows = await store.usage.totals(period);
          if (ctx.out.json) return ctx.out.printJson({ period, backends: rows });
          if (rows.length === 0) return ctx.out.line(`no usage recorded for ${period}`);
          ctx.out.table(
            ['BACKEND', 'REQUESTS', 'EGRESS', 'INGRESS'],
            rows.map((u) => [u.backendName, String(u.apiRequests), formatSize(u.egressBytes), formatSize(u.ingressBytes)]),
            [1, 2, 3],
          );
        }),
      ),
    );
}

/** Rejects a malformed --period before anything is opened (bad usage: exit 2). */
function checkedPeriod(period: string | undefined): undefined {
  if (period !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
    throw new UsageError(`--period must be a UTC month as YYYY-MM, got ${JSON.stringify(period)}`);
  }
  return undefined;
}
