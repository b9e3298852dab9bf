import type { Command } from 'commander';
import { createLogger } from '../../logging.js';
import { openStore } from '../../store/open.js';
import type { BackendClient } from '../../backends/backend-client.js';
import { DirectoryBackend } from '../../backends/directory.js';
import { startWorkers } from '../../workers/index.js';
import type { CommandContext } from '../context.js';

/**
 * Runs the service: opens the store as an instance (schema applied, quotas synced), runs the
 * background jobs, and on SIGINT/SIGTERM stops them, flushes usage and closes the database.
 */
export function registerServe(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('serve')
    .description('run the metadata store and its background workers until SIGINT or SIGTERM')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { config, source } = ctx.config();
        const logger = createLogger(ctx.options.debug ? 'debug' : config.logging.level, ctx.io.stderr);
        const store = await openStore(config, { role: 'serve', logger });
        const clients = new Map<string, BackendClient>();
        for (const b of config.backends) if (b.directory) clients.set(b.name, new DirectoryBackend(b.name, b.directory));
        const workers = startWorkers(store, config, clients, logger);
        logger.info(
          {
            config: source,
            engine: store.db.engine,
            database: store.db.location,
            backends: config.backends.map((b) => b.name),
            reachable: [...clients.keys()],
          },
          'serving; SIGINT or SIGTERM stops',
        );
        if (config.backends.length === 0) logger.warn({}, 'no backends configured: run `s3-orchestrator init` for a starter config');
        // The workers' timers do not hold the process open (so tests and commands can exit); this does.
        const keepAlive = setInterval(() => {}, 60_000);
        const signal = await new Promise<string>((resolve) => {
          for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
        });
        clearInterval(keepAlive);
        logger.info({ signal }, 'stopping');
        await workers.stop();
        await store.close();
        logger.info({}, 'stopped');
      }),
    );
}
