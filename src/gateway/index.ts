import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendClient } from '../backends/backend-client.js';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import type { MetadataStore } from '../store/core/store.js';
import { AccessControl } from './access.js';
import { BucketDirectory } from './bucket-directory.js';
import type { GatewayDeps } from './context.js';
import { BackendRouter } from './routing/backend-router.js';
import type { BreakerOptions } from './routing/circuit-breaker.js';
import { MonthlyUsageGuard } from './routing/monthly-usage.js';
import { createGatewayServer } from './server.js';

export interface GatewayOptions {
  readonly store: MetadataStore;
  readonly config: AppConfig;
  readonly backends: ReadonlyMap<string, BackendClient>;
  readonly credentials: readonly CredentialConfig[];
  readonly logger: Logger;
  /** Breaker thresholds and timing (defaults: open after 3 consecutive failures, probe after ~10 s). */
  readonly breaker?: BreakerOptions;
}

export interface Gateway {
  readonly server: Server;
  readonly deps: GatewayDeps;
  /** `http://host:port` of the listening socket (the real port when the config asked for 0). */
  readonly url: string;
  /** Stops accepting connections and waits (up to `graceMs`) for requests in progress. */
  close(graceMs?: number): Promise<void>;
}

/** Creates the config's buckets (idempotent), then serves the S3 endpoint on `server.host:port`. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { store, config, logger } = options;
  for (const name of config.buckets) {
    const { created } = await store.buckets.create({ name, owner: 'config' });
    if (created) logger.info({ bucket: name }, 'bucket created from the config');
  }
  const usage = new MonthlyUsageGuard(store, config, logger);
  await usage.start();
  const deps: GatewayDeps = {
    store,
    config,
    logger,
    backends: options.backends,
    access: new AccessControl(options.credentials),
    buckets: new BucketDirectory(store),
    router: new BackendRouter(config, options.backends, logger, usage, options.breaker),
  };
  const server = createGatewayServer(deps);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    deps,
    url: `http://${host}:${address.port}`,
    close: async (graceMs = 10_000) => {
      usage.stop();
      await closeServer(server, graceMs);
    },
  };
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
