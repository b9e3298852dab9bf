import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { AppConfig } from '../../config/types.js';
import { silentLogger } from '../../logging.js';
import { openDatabase } from '../../store/open.js';
import { SCHEMA_VERSION } from '../../store/sqlite/schema.js';
import type { CommandContext } from '../context.js';
import { describeDatabase } from '../database-description.js';
import { plural } from '../output.js';
import { withProgress } from '../progress.js';

export function registerMigrate(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('migrate')
    .description('apply the SQLite schema or the pending PostgreSQL migrations')
    .option('--dry-run', 'list what would run, change nothing')
    .action((opts: { dryRun?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { config } = ctx.config();
        if (opts.dryRun) return dryRun(ctx, config);
        const db = await withProgress(ctx.io.stderr, 'migrating', () =>
          openDatabase(config, {
            role: 'serve',
            logger: silentLogger,
            migrationProgress: {
              onStart: (name) => !ctx.out.json && ctx.out.line(`applying ${name} ...`),
              onDone: (name, ms) => !ctx.out.json && ctx.out.line(`applied  ${name} (${Math.round(ms)} ms)`),
            },
          }),
        );
        try {
          const status = await db.schemaStatus();
          const ran = db.appliedAtOpen;
          const database = describeDatabase(config.database);
          if (ctx.out.json) ctx.out.printJson({ engine: db.engine, database, applied: ran, current: status.current ?? null, pending: status.pending });
          else if (ran.length === 0) ctx.out.line(`${database}: nothing to apply; schema at ${status.current}`);
          else if (db.engine === 'sqlite') ctx.out.line(`${database}: applied ${ran.join(', ')}`);
          else ctx.out.line(`${database}: ${plural(ran.length, 'migration')} applied; schema at ${status.current}`);
        } finally {
          await db.close();
        }
      }),
    );
}

async function dryRun(ctx: CommandContext, config: AppConfig): Promise<void> {
  let pending: readonly string[];
  let current: string | undefined;
  if (config.database.driver === 'sqlite' && !existsSync(config.database.path)) {
    pending = [`sqlite schema ${SCHEMA_VERSION} (creates the file)`];
  } else {
    const db = await openDatabase(config, { role: 'inspect', logger: silentLogger });
    try {
      ({ pending, current } = await db.schemaStatus());
    } finally {
      await db.close();
    }
  }
  const database = describeDatabase(config.database);
  if (ctx.out.json) ctx.out.printJson({ dryRun: true, engine: config.database.driver, database, current: current ?? null, pending });
  else if (pending.length === 0) ctx.out.line(`${database}: nothing to apply; schema at ${current}`);
  else {
    ctx.out.line(`${database}: would apply ${plural(pending.length, 'migration')}:`);
    for (const p of pending) ctx.out.line(`  ${p}`);
  }
}
