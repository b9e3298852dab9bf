import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Dashboard } from './dashboard.js';
import { BASE } from './pages.js';

export { Dashboard, DOWNLOAD_LINK_SECONDS, requestOrigin, type DashboardOptions } from './dashboard.js';
export type { RequestRecord } from './activity.js';

/** What the gateway calls: requests under /ui, and one record per S3 request answered. */
export interface DashboardHook {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  record(r: import('./activity.js').RequestRecord): void;
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
