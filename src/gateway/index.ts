import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendClient } from '../backends/backend-client.js';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import { AccessControl } from './access.js';
import { BucketDirectory } from './bucket-directory.js';
import type { GatewayDeps } from './context.js';
import { BackendRouter } from './routing/backend-router.js';
import type { BreakerOptions } from './routing/circuit-breaker.js';
import { MonthlyUsageGuard } from './routing/monthly-usage.js';
import { AdmissionControl } from './admission.js';
import { Lifecycle, type HealthProvider } from './health.js';
import { GatewayMetrics } from './metrics.js';
import { OutageMode, type OutageOptions } from './outage/index.js';
import { createGatewayServer, createMetricsServer, type GatewayRuntime } from './server.js';
import { createDashboard } from '../dashboard/index.js';

export interface GatewayOptions {
  readonly store: StoreApi;
  readonly config: AppConfig;
  readonly backends: ReadonlyMap<string, BackendClient>;
  readonly credentials: readonly CredentialConfig[];
  readonly logger: Logger;
  /** Breaker thresholds and timing (defaults: open after 3 consecutive failures, probe after ~10 s). */
  readonly breaker?: BreakerOptions;
  /** What /health asks about the database (the outage mode's breaker); default: always ok. */
  readonly health?: HealthProvider;
  /** How long the store's figures in /metrics are reused between scrapes (default 5 s). */
  readonly metricsStoreTtlMs?: number;
  /** The database outage mode's breaker and cache (outage/index.ts); false turns it off. */
  readonly outage?: OutageOptions | false;
}

export interface Gateway {
  readonly server: Server;
  readonly deps: GatewayDeps;
  /** `http://host:port` (or `https://`) of the listening socket (the real port when the config asked for 0). */
  readonly url: string;
  /** `http://host:port` of the separate metrics listener, when `server.metrics_listen` is set. */
  readonly metricsUrl: string | undefined;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
  readonly admission: AdmissionControl;
  /** Readiness off (/health/ready answers 503; responses close their connections); the listener stays open. Idempotent. */
  beginShutdown(): void;
  /** Readiness off, stops accepting connections and waits (up to `graceMs`) for requests in progress. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves the S3 endpoint on `server.host:port`. The metrics listener (when configured) opens first,
 * so /health/ready answers 503 while the config's buckets are created (idempotent) and the usage
 * guard starts; the S3 listener opens last, and readiness turns on once it listens.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { store, config, logger } = options;
  const usage = new MonthlyUsageGuard(store, config, logger);
  const outage = options.outage === false ? undefined : new OutageMode(store, config.backends.map((b) => b.name), options.backends, logger, options.outage);
  const health = options.health ?? outage;
  const access = new AccessControl(options.credentials);
  const ui = createDashboard({ store, config, access, breakers: () => deps.router.states(), logger });
  const deps: GatewayDeps = {
    store,
    config,
    logger,
    backends: options.backends,
    access,
    buckets: new BucketDirectory(store),
    router: new BackendRouter(config, options.backends, logger, usage, options.breaker),
    ...(health ? { health } : {}),
    ...(outage ? { outage } : {}),
    ...(ui ? { ui: ui.dashboard } : {}),
  };
  const runtime: GatewayRuntime = {
    lifecycle: new Lifecycle(),
    metrics: new GatewayMetrics({ store, router: deps.router, logger, health, ...(options.metricsStoreTtlMs !== undefined ? { storeStatsTtlMs: options.metricsStoreTtlMs } : {}) }),
    admission: new AdmissionControl(config.server.maxConcurrentRequests),
    metricsOnMain: config.server.metricsListen === undefined,
  };
  deps.router.observer = runtime.metrics.backendCall;

  let metricsServer: Server | undefined;
  let server: Server | undefined;
  try {
    if (config.server.metricsListen) {
      metricsServer = createMetricsServer(deps, runtime);
      await listen(metricsServer, config.server.metricsListen.port, config.server.metricsListen.host);
    }
    for (const name of config.buckets) {
      const { created } = await store.buckets.create({ name, owner: 'config' });
      if (created) logger.info({ bucket: name }, 'bucket created from the config');
    }
    await usage.start();
    server = createGatewayServer(deps, runtime);
    await listen(server, config.server.port, config.server.host);
    await ui?.start(server);
  } catch (err) {
    usage.stop();
    if (server?.listening) await closeServer(server, 0);
    if (metricsServer) await closeServer(metricsServer, 0);
    throw err;
  }
  runtime.lifecycle.markReady();
  const main = server;
  let closing: Promise<void> | undefined;
  return {
    server: main,
    deps,
    url: urlOf(main, config.server.tls ? 'https' : 'http'),
    metricsUrl: metricsServer ? urlOf(metricsServer, 'http') : undefined,
    metrics: runtime.metrics,
    lifecycle: runtime.lifecycle,
    admission: runtime.admission,
    beginShutdown: () => runtime.lifecycle.beginShutdown(),
    close: (graceMs = 10_000) =>
      (closing ??= (async () => {
        runtime.lifecycle.beginShutdown();
        usage.stop();
        outage?.stop();
        await closeServer(main, graceMs);
        await ui?.close();
        // Last: /health/ready keeps answering 503 on the metrics listener while the S3 listener drains.
        if (metricsServer) await closeServer(metricsServer, 0);
      })()),
  };
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(server: Server, scheme: 'http' | 'https'): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
  }
}
