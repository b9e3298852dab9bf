import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { STARTER_CONFIG } from '../starter-config.js';

export function registerInit(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('init')
    .description('write a commented starter config (SQLite, one example backend; PostgreSQL is one line away)')
    .argument('[file]', 'where to write it', DEFAULT_CONFIG_PATH)
    .option('--force', 'overwrite an existing file')
    .action((file: string, opts: { force?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        if (existsSync(file) && !opts.force) throw new UsageError(`${file} already exists; pass --force to overwrite it`);
        writeFileSync(file, STARTER_CONFIG, { mode: 0o600 });
        chmodSync(file, 0o600); // `mode` only applies when the file is created; --force overwrites

        if (ctx.out.json) ctx.out.printJson({ written: file });
        else {
          ctx.out.line(`wrote ${file}`);
          // The default file in the working directory is found without --config.
          const flag = resolve(file) === resolve(DEFAULT_CONFIG_PATH) ? undefined : file;
          ctx.out.line(`next: ${ctx.suggest('validate', flag)}, then ${ctx.suggest('serve', flag)}`);
        }
      }),
    );
}
