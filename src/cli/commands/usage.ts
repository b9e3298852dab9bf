import type { Command } from 'commander';
import { formatSize } from '../../config/size.js';
import { utcMonth } from '../../store/core/usage-meter.js';
import type { CommandContext } from '../context.js';

export function registerUsage(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('usage')
    .description('requests and traffic per backend for a UTC month')
    .option('--period <YYYY-MM>', 'the month (default: the current one)')
    .action((opts: { period?: string }, cmd: Command) =>
      run(cmd, (ctx) =>
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
