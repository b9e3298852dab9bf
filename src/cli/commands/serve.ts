import type { Command } from 'commander';
import type { BackendClient } from '../../backends/backend-client.js';
import { backendsWithoutClient, createBackendClients, withoutClientWarning } from '../../backends/backend-clients.js';
import { checkDirectoryBackends } from '../../backends/directory-identity.js';
import { provisionCredentials } from '../../gateway/default-credential.js';
import type { Gateway } from '../../gateway/index.js';
import { parseDuration } from '../../config/duration.js';
import type { AppConfig } from '../../config/types.js';
import { createLogger, type Logger, type RootLogger } from '../../logging.js';
import type { StoreApi } from '../../store/core/store.js';
import { openStore } from '../../store/open.js';
import { openStoreThread } from '../../store/thread/client.js';
import { startWorkers } from '../../workers/index.js';
import type { CommandContext } from '../context.js';
import { describeDatabase } from '../database-description.js';
import { engineChoiceReason } from '../engine-choice.js';
import { describeError, UsageError } from '../errors.js';
import { describeOverLimit, overLimitBackends } from '../over-limit.js';
import { ServiceConfig } from '../service-reload.js';
import { startSummary } from '../service-summary.js';

const DEFAULT_SUMMARY_INTERVAL = '5m';

/**
 * Runs the service until SIGINT or SIGTERM; SIGHUP reloads the config. The steps, in order:
 * open the store → check the backends → start the workers → [the S3 gateway] → wait for a signal →
 * stop in reverse order. Each step is one function below so the gateway slots in as one more.
 */
export function registerServe(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('serve')
    .description('run the metadata store and its background workers until SIGINT or SIGTERM (SIGHUP reloads the config)')
    .option('--summary-interval <duration>', 'how often to log a summary of the work done and the queues', DEFAULT_SUMMARY_INTERVAL)
    .action((opts: { summaryInterval: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const summaryMs = parseDuration(opts.summaryInterval);
        if (summaryMs === undefined || summaryMs <= 0) throw new UsageError(`--summary-interval: ${JSON.stringify(opts.summaryInterval)} is not a duration such as 30s, 5m or 1h`);
        await serve(ctx, summaryMs);
      }),
    );
}

async function serve(ctx: CommandContext, summaryMs: number): Promise<void> {
  const { config, source } = ctx.config();
  const pinnedLevel = ctx.options.debug ? 'debug' : undefined;
  const logger = createLogger(pinnedLevel ?? config.logging.level, ctx.io.stderr);
  const chosenBy = engineChoiceReason(config, source, ctx.io.env);
  logger.info(
    { config: source, engine: config.database.driver, database: describeDatabase(config.database), chosenBy },
    `database: ${config.database.driver} ${describeDatabase(config.database)}; chosen by ${chosenBy}`,
  );

  // Signals are taken from the start, so a SIGHUP during start-up cannot kill the process.
  const signals = listenForSignals();
  try {
    const store = await openStoreStep(config, logger);
    try {
      const clients = await checkBackendsStep(config, store, logger);
      const workers = startWorkers(store, config, clients, logger);
      const service = new ServiceConfig(config, { store, workers, logger, ...(pinnedLevel ? { pinnedLevel } : {}) });
      const gateway = await startGatewayStep(config, store, clients, logger, ctx.io.env);
      const summary = startSummary(store, workers, logger, summaryMs);
      logger.info(
        { config: source, engine: store.db.engine, database: describeDatabase(config.database), backends: config.backends.map((b) => b.name), reachable: [...clients.keys()], pid: process.pid },
        'serving; SIGHUP reloads the config, SIGINT or SIGTERM stops',
      );
      if (config.backends.length === 0) logger.warn({}, `no backends configured: ${ctx.suggest('init')} writes a starter config`);

      const signal = await signals.next({ onReload: () => reloadStep(ctx, service, logger) });

      // Graceful shutdown (spec §6). A second SIGINT/SIGTERM from here on exits at once.
      signals.onSecondSignal((second) => {
        logger.warn({ signal: second }, 'second signal: exiting at once, without waiting for requests in progress');
        process.exit(second === 'SIGINT' ? 130 : 143);
      });
      logger.info({ signal, inFlight: gateway.admission.inFlight, shutdownTimeoutMs: config.server.shutdownTimeoutMs }, 'stopping');
      summary.stop();
      // Stop taking requests before the workers stop: an upload in progress may still commit.
      await stopGatewayStep(gateway, config.server.shutdownTimeoutMs, logger);
      await workers.stop();
      for (const client of clients.values()) (client as { destroy?: () => void }).destroy?.();
    } finally {
      // Flushes the usage counters first.
      await store.close();
    }
    logger.info({}, 'stopped');
  } finally {
    signals.dispose();
  }
}

/** How long operations whose connections were cut at the deadline get to abort their intents. */
const ABORT_WAIT_MS = 10_000;

/**
 * Readiness off (/health/ready answers 503, responses close their connections), the listener closed;
 * requests in progress get `timeoutMs` to finish. Then the connections still open are cut: their
 * operations abort their write intents (the bytes go to the cleanup queue, the prior version stays
 * current), and the store must stay open until they did, so this waits for every operation to
 * return (bounded: an intent left behind is the reaper's on the next start or on another instance).
 */
async function stopGatewayStep(gateway: Gateway, timeoutMs: number, logger: Logger): Promise<void> {
  const started = Date.now();
  gateway.beginShutdown();
  // A kept-alive connection whose request ends during the drain becomes idle: close it then, not at the deadline.
  const sweep = setInterval(() => gateway.server.closeIdleConnections(), 100);
  try {
    await gateway.close(timeoutMs);
  } finally {
    clearInterval(sweep);
  }
  const cut = gateway.admission.inFlight;
  const deadline = Date.now() + ABORT_WAIT_MS;
  while (gateway.admission.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  const left = gateway.admission.inFlight;
  const fields = { ms: Date.now() - started, cutAtDeadline: cut, unfinished: left };
  if (left > 0) logger.warn(fields, `gateway stopped with ${left} request(s) still unfinished: the reaper resolves their intents`);
  else if (cut > 0) logger.warn(fields, `gateway stopped: ${cut} request(s) did not finish within server.shutdown_timeout and were cut (their intents aborted)`);
  else logger.debug(fields, 'gateway stopped: every request in progress finished');
}

/** Opens the store as an instance (schema applied, quota limits synced) and warns of over-full backends. */
async function openStoreStep(config: AppConfig, logger: Logger): Promise<StoreApi> {
  // SQLite's transactions and flushes are synchronous: on a thread of their own they no longer stop
  // the event loop (docs/performance.md §5). PostgreSQL's already run in the server's processes.
  const store =
    config.database.driver === 'sqlite'
      ? await openStoreThread(config, {
          role: 'serve',
          logger,
          // Nothing can be served without the store: exit, so that a supervisor starts the service again.
          onStopped: () => {
            logger.error({}, 'the store thread stopped: exiting');
            process.exit(1);
          },
        })
      : await openStore(config, { role: 'serve', logger });
  try {
    for (const b of overLimitBackends(await store.quota.totals())) logger.warn({ backend: b.name, limitBytes: b.limitBytes, heldBytes: b.heldBytes }, describeOverLimit(b));
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * The backends the workers (and later the gateway) can reach. Issue 9 items 1 and 3 hook in here:
 * the directory-backend identity check (refuse to start on an unavailable backend) and the warning,
 * per backend without a client, that its cleanup rows and intents wait.
 */
async function checkBackendsStep(config: AppConfig, store: StoreApi, logger: Logger): Promise<Map<string, BackendClient>> {
  const { created } = await checkDirectoryBackends(config, store);
  for (const name of created) logger.info({ backend: name, directory: config.backends.find((b) => b.name === name)?.directory }, 'directory backend initialised (identity marker written)');
  for (const b of backendsWithoutClient(config.backends)) logger.warn({ backend: b.name }, withoutClientWarning(b));
  return await createBackendClients(config.backends);
}

/** The S3 endpoint: credentials (the config's, or the provisioned admin one), then the listener. */
async function startGatewayStep(config: AppConfig, store: StoreApi, backends: ReadonlyMap<string, BackendClient>, logger: Logger, env: NodeJS.ProcessEnv): Promise<Gateway> {
  const provisioned = await provisionCredentials(config, env);
  if (provisioned.origin !== 'config') {
    // Never the secret: the file (0600) or the environment holds it; `credentials` prints it.
    logger.info(
      { accessKeyId: provisioned.credentials[0]!.accessKeyId, origin: provisioned.origin, ...(provisioned.file ? { file: provisioned.file } : {}) },
      provisioned.origin === 'environment'
        ? 'no credentials in the config: using S3O_ACCESS_KEY_ID / S3O_SECRET_ACCESS_KEY as the admin credential'
        : `no credentials in the config: the admin credential is kept in ${provisioned.file}`,
    );
  }
  // Loaded here, not at the top: the other commands never pay for the gateway's libraries.
  const { startGateway } = await import('../../gateway/index.js');
  const gateway = await startGateway({ store, config, backends, credentials: provisioned.credentials, logger });
  logger.info({ endpoint: gateway.url }, `S3 endpoint listening on ${gateway.url}`);
  if (gateway.metricsUrl) logger.info({ endpoint: gateway.metricsUrl }, `metrics and health listening on ${gateway.metricsUrl}`);
  return gateway;
}

/**
 * SIGHUP: reads the config file again; a file that does not load or validate changes nothing (one
 * error line), otherwise the reloadable parts switch and one line says what changed.
 */
async function reloadStep(ctx: CommandContext, service: ServiceConfig, logger: RootLogger): Promise<void> {
  let next: AppConfig;
  try {
    next = ctx.config().config;
  } catch (err) {
    logger.error({ err: describeError(err, false).replace(/^error: /, '') }, 'config reload refused: nothing changed');
    return;
  }
  try {
    const report = await service.reload(next);
    logger.info(
      { applied: report.applied, needsRestart: report.needsRestart },
      `config reloaded: ${report.applied.length === 0 ? 'nothing to change' : `applied ${report.applied.join(', ')}`}${report.needsRestart.length > 0 ? `; changes to ${report.needsRestart.join(', ')} take effect after a restart` : ''}`,
    );
  } catch (err) {
    logger.error({ err: describeError(err, false).replace(/^error: /, '') }, 'config reload failed: nothing changed');
  }
}

interface SignalWaiter {
  /** Resolves with SIGINT or SIGTERM; runs `onReload` for each SIGHUP meanwhile, one at a time. */
  next(handlers: { onReload: () => Promise<void> }): Promise<string>;
  /** Runs `fn` on the next SIGINT or SIGTERM (the one after the stop). */
  onSecondSignal(fn: (signal: NodeJS.Signals) => void): void;
  dispose(): void;
}

function listenForSignals(): SignalWaiter {
  let stop: ((signal: string) => void) | undefined;
  let stopped: string | undefined;
  let reload: (() => Promise<void>) | undefined;
  let reloading = Promise.resolve();
  let second: ((signal: NodeJS.Signals) => void) | undefined;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopped !== undefined && second) {
      second(signal);
      return;
    }
    stopped ??= signal;
    stop?.(signal);
  };
  const onHup = () => {
    // Before the service is up there is nothing to reload yet; the file is read at start anyway.
    if (reload) reloading = reloading.then(reload);
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  // The workers' timers do not hold the process open (so tests and commands can exit); this does.
  const keepAlive = setInterval(() => {}, 60_000);
  return {
    async next(handlers) {
      reload = handlers.onReload;
      const signal = stopped ?? (await new Promise<string>((resolve) => (stop = resolve)));
      reload = undefined;
      await reloading; // a reload in progress finishes before the stop
      return signal;
    },
    onSecondSignal(fn) {
      second = fn;
    },
    dispose() {
      clearInterval(keepAlive);
      process.off('SIGINT', onStop);
      process.off('SIGTERM', onStop);
      process.off('SIGHUP', onHup);
    },
  };
}
