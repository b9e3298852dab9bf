import type { Command } from 'commander';
import { formatSize } from '../../config/size.js';
import { backendsWithoutClient, withoutClientWarning } from '../../backends/backend-clients.js';
import type { CommandContext } from '../context.js';
import { describeDatabase } from '../database-description.js';

export function registerValidate(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('validate')
    .description('check the config and print every problem at once (exit 2 on any)')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { config, source } = ctx.config();
        const db = config.database;
        const where = describeDatabase(db);
        if (ctx.out.json) {
          ctx.out.printJson({
            valid: true,
            source,
            engine: db.driver,
            database: where,
            backends: config.backends.map((b) => ({
              name: b.name,
              bytesLimit: b.bytesLimit,
              directory: b.directory ?? null,
              endpoint: b.s3?.endpoint ?? null,
              bucket: b.s3?.bucket ?? null,
            })),
            notificationEndpoints: config.notifications.endpoints.map((e) => e.name),
            s3: { listen: `${config.server.host}:${config.server.port}`, credentials: config.credentials.map((c) => c.accessKeyId), buckets: config.buckets },
            warnings: backendsWithoutClient(config.backends).map(withoutClientWarning),
          });
          return;
        }
        ctx.out.line(`${ctx.out.color.green('ok')}: ${source} is valid`);
        ctx.out.line(`  engine     ${db.driver}`);
        ctx.out.line(`  database   ${where}`);
        ctx.out.line(
          `  backends   ${config.backends.length === 0 ? '(none)' : config.backends.map((b) => `${b.name} (${b.bytesLimit === 0 ? 'unlimited' : formatSize(b.bytesLimit)})`).join(', ')}`,
        );
        ctx.out.line(`  placement  ${config.placement}`);
        ctx.out.line(`  webhooks   ${config.notifications.endpoints.length === 0 ? '(none)' : config.notifications.endpoints.map((e) => e.name).join(', ')}`);
        ctx.out.line(`  s3         ${config.server.tls ? 'https' : 'http'}://${config.server.host}:${config.server.port}`);
        ctx.out.line(
          `  credentials ${config.credentials.length === 0 ? '(none in the config: serve provisions one admin credential)' : config.credentials.map((c) => `${c.accessKeyId} (${c.permission})`).join(', ')}`,
        );
        for (const b of backendsWithoutClient(config.backends)) ctx.out.line(`${ctx.out.color.yellow('warning')}: ${withoutClientWarning(b)}`);
      }),
    );
}
