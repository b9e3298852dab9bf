import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { PACKAGE_ROOT } from '../paths.js';
import { registerBackends } from './commands/backends.js';
import { registerCredentials } from './commands/credentials.js';
import { registerInit } from './commands/init.js';
import { registerMigrate } from './commands/migrate.js';
import { registerQueues } from './commands/queues.js';
import { registerQuota } from './commands/quota.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerUsage } from './commands/usage.js';
import { registerValidate } from './commands/validate.js';
import { CommandContext } from './context.js';
import { describeError, EXIT_OK, EXIT_USAGE, exitCodeFor } from './errors.js';
import { invocationName } from './invocation.js';
import { processIo, type Io } from './output.js';

const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The `s3-orchestrator` command line (commander: subcommands, help and option parsing done for us).
 * Returns the exit code: 0 ok, 1 runtime failure, 2 usage or config error.
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('s3-orchestrator')
    .description('metadata store of the s3-orchestrator gateway: schema, quotas, queues and workers')
    .version(VERSION)
    .option('-c, --config <file>', 'config file (default: ./s3-orchestrator.yaml when present, else built-in defaults)')
    .option('--json', 'machine-readable output')
    .option('--debug', 'stack traces and debug logs')
    .exitOverride()
    .showHelpAfterError(`(${invocationName(io.env)} --help lists the commands)`)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const run = async (cmd: Command, fn: (ctx: CommandContext) => Promise<void>): Promise<void> => {
    let ctx: CommandContext | undefined;
    try {
      ctx = new CommandContext(io, cmd);
      await fn(ctx);
    } catch (err) {
      io.stderr.write(`${describeError(err, Boolean(ctx?.options.debug))}\n`);
      exitCode = exitCodeFor(err);
    }
  };
  registerInit(program, run);
  registerValidate(program, run);
  registerMigrate(program, run);
  registerStatus(program, run);
  registerServe(program, run);
  registerQueues(program, run);
  registerQuota(program, run);
  registerUsage(program, run);
  registerCredentials(program, run);
  registerBackends(program, run);
  // A group's unknown subcommand (`dlq frobnicate`) points at that group's help, not the top level.
  for (const group of program.commands) {
    if (group.commands.length > 0) group.showHelpAfterError(`(${invocationName(io.env)} ${group.name()} --help lists its commands)`);
  }

  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with code 0; everything else commander rejects is bad usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`${describeError(err, argv.includes('--debug'))}\n`);
    return exitCodeFor(err);
  }
  return exitCode;
}
