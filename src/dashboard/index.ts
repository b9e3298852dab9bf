import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/types.js';
import type { AccessControl } from '../gateway/access.js';
import type { BreakerState } from '../gateway/routing/circuit-breaker.js';
import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import { Dashboard, requestOrigin } from './dashboard.js';
import { BASE } from './pages.js';

export { Dashboard, DOWNLOAD_LINK_SECONDS, BROWSE_PAGE_SIZE, requestOrigin, type DashboardOptions } from './dashboard.js';
export type { RequestRecord } from './activity.js';

export interface DashboardMount {
  readonly dashboard: Dashboard;
  /** Opens the dashboard's own listener when `ui.listen` asks for one (after the S3 listener, whose port the download links need). */
  start(s3: Server): Promise<void>;
  /** `http://host:port` of the dashboard's own listener, if any. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** The dashboard of a gateway, per the config's `ui` section; undefined when `ui.enabled` is false. */
export function createDashboard(o: {
  store: StoreApi;
  config: AppConfig;
  access: AccessControl;
  breakers: () => Record<string, BreakerState>;
  logger: Logger;
}): DashboardMount | undefined {
  const ui = o.config.ui;
  if (ui?.enabled === false) return undefined;
  const listen = ui?.listen;
  let s3Port: number | undefined;
  const dashboard = new Dashboard({
    ...o,
    ...(ui ? { sessionTtlMs: ui.sessionTtlMs } : {}),
    onS3Listener: listen === undefined,
    // On a listener of its own, download links point at the S3 listener: the host the browser used, the S3 port.
    ...(listen ? { s3Origin: (req: IncomingMessage) => s3OriginFor(req, o.config, s3Port) } : {}),
  });
  let server: Server | undefined;
  let url: string | undefined;
  return {
    dashboard,
    get url() {
      return url;
    },
    async start(s3: Server) {
      if (!listen) return;
      s3Port = (s3.address() as AddressInfo).port;
      server = await startDashboardListener(dashboard, listen.host, listen.port);
      const address = server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      o.logger.info({ dashboard: `${url}${BASE}/` }, `dashboard listening on ${url}${BASE}/`);
    },
    async close() {
      if (!server) return;
      const s = server;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
  };
}

function s3OriginFor(req: IncomingMessage, config: AppConfig, s3Port: number | undefined): string {
  const own = new URL(requestOrigin(req));
  const scheme = config.server.tls ? 'https' : 'http';
  return `${scheme}://${own.hostname.includes(':') ? `[${own.hostname}]` : own.hostname}:${s3Port ?? config.server.port}`;
}

/**
 * `ui.listen`: the dashboard on a listener of its own (plain HTTP), e.g. on an internal interface
 * while the S3 endpoint faces the world. Only /ui is served there; `/` redirects to it.
 */
export async function startDashboardListener(dashboard: Dashboard, host: string, port: number): Promise<Server> {
  const server = createServer({ headersTimeout: 30_000, requestTimeout: 60_000, keepAliveTimeout: 5_000 });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (Dashboard.owns(path)) {
      void dashboard.handle(req, res);
      return;
    }
    if (path === '/') {
      res.writeHead(303, { Location: `${BASE}/`, 'Content-Length': 0 });
      res.end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found: the dashboard is at /ui\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
