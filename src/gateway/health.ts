import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayMetrics } from './metrics.js';
import type { BackendRouter } from './routing/backend-router.js';

/**
 * Liveness, readiness and the metrics endpoint (spec gateway.md §6). All are answered from memory:
 * a call never touches the backends or the database, so a load balancer probing every second costs
 * nothing and a slow dependency never makes the probe itself time out.
 */

/**
 * What `/health` asks about the database. The database outage mode plugs its breaker in here; the
 * default says the database is fine (a failing database then shows in the requests, not in /health).
 */
export interface HealthProvider {
  database(): 'ok' | 'unavailable';
}

export const ALWAYS_OK: HealthProvider = { database: () => 'ok' };

export type LifecycleState = 'starting' | 'ready' | 'stopping';

/** Start-up → ready → stopping; `/health/ready` answers 200 only while ready. */
export class Lifecycle {
  #state: LifecycleState = 'starting';

  get state(): LifecycleState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  markReady(): void {
    if (this.#state === 'starting') this.#state = 'ready';
  }

  /** Readiness off for good: the load balancer takes the instance out while requests drain. */
  beginShutdown(): void {
    this.#state = 'stopping';
  }
}

export type OpsEndpoint = 'health' | 'ready' | 'metrics';

/**
 * Which operations endpoint a request is, if any. On the S3 listener only unsigned requests count:
 * a signed `GET /health` is still ListObjects on a bucket named "health" (and an unsigned request
 * to a bucket could only ever be refused, since the gateway has no anonymous access).
 */
export function opsEndpoint(req: IncomingMessage, rawPath: string, rawQuery: string, signedMayBeS3: boolean): OpsEndpoint | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const endpoint = rawPath === '/health' ? 'health' : rawPath === '/health/ready' ? 'ready' : rawPath === '/metrics' ? 'metrics' : undefined;
  if (endpoint === undefined || !signedMayBeS3) return endpoint;
  if (req.headers.authorization !== undefined || /(?:^|&)x-amz-(?:credential|signature)=/i.test(rawQuery)) return undefined;
  return endpoint;
}

export interface OpsState {
  readonly lifecycle: Lifecycle;
  readonly health: HealthProvider;
  readonly router: BackendRouter;
  readonly metrics: GatewayMetrics;
}

/**
 * `/health`: 200 `ok`, or 200 `degraded` when the database is unavailable or a backend's breaker is
 * not closed (the instance still serves what it can; liveness must not restart it for that).
 * `/health/ready`: 200 `ready`, or 503 `starting` / `stopping`.
 */
export async function answerOps(endpoint: OpsEndpoint, state: OpsState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Cache-Control', 'no-store');
  if (endpoint === 'metrics') {
    const { contentType, body } = await state.metrics.text();
    send(res, req, 200, body, contentType);
    return;
  }
  if (endpoint === 'ready') {
    const status = state.lifecycle.ready ? 200 : 503;
    if (status === 503) res.setHeader('Retry-After', '1');
    send(res, req, status, state.lifecycle.state, 'text/plain; charset=utf-8');
    return;
  }
  send(res, req, 200, healthOf(state), 'text/plain; charset=utf-8');
}

export function healthOf(state: Pick<OpsState, 'health' | 'router'>): 'ok' | 'degraded' {
  if (state.health.database() === 'unavailable') return 'degraded';
  return Object.values(state.router.states()).every((s) => s === 'closed') ? 'ok' : 'degraded';
}

function send(res: ServerResponse, req: IncomingMessage, status: number, body: string, contentType: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
