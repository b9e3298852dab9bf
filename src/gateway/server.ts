import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logging.js';
import { countBytes, logAccess } from './access-log.js';
import { AdmissionControl, watchForStalls } from './admission.js';
import { answerClientError } from './client-error.js';
import { verifySignature } from './auth/sigv4.js';
import { S3Context, type GatewayDeps } from './context.js';
import { S3Error } from './errors.js';
import { ALWAYS_OK, answerOps, Lifecycle, opsEndpoint, type OpsState } from './health.js';
import { GatewayMetrics } from './metrics.js';
import { OPERATIONS } from './operations/index.js';
import { sendError, toS3Error } from './respond.js';
import { route, withCopySource, type Route } from './router.js';

/** What the request lifecycle shares besides the operations' deps: state, counters, limits. */
export interface GatewayRuntime {
  readonly lifecycle: Lifecycle;
  readonly metrics: GatewayMetrics;
  readonly admission: AdmissionControl;
  /** Whether the S3 listener answers unsigned GET /metrics (false when a separate metrics listener is configured). */
  readonly metricsOnMain: boolean;
}

export function defaultRuntime(deps: GatewayDeps): GatewayRuntime {
  const health = deps.health ?? ALWAYS_OK;
  return {
    lifecycle: new Lifecycle(),
    metrics: new GatewayMetrics({ store: deps.store, router: deps.router, logger: deps.logger, health }),
    admission: new AdmissionControl(deps.config.server.maxConcurrentRequests),
    metricsOnMain: deps.config.server.metricsListen === undefined,
  };
}

/**
 * The HTTP server of the S3 endpoint. node:http rather than a framework: S3's routing (method +
 * path + sub-resource query) fits no framework's router, and the gateway needs direct control of
 * `Expect: 100-continue` (admission before the body) and of streaming both ways. HTTPS (node:https)
 * when `server.tls` names a certificate and key.
 */
export function createGatewayServer(deps: GatewayDeps, runtime: GatewayRuntime = defaultRuntime(deps)): Server {
  const cfg = deps.config.server;
  const options: ServerOptions = {
    // A large upload may take long: no whole-request deadline; stalled clients are found by watchForStalls.
    requestTimeout: 0,
    headersTimeout: cfg.headerTimeoutMs,
    keepAliveTimeout: cfg.idleTimeoutMs,
    // Node checks header deadlines on this interval (default 30 s): often enough for the configured timeout.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(cfg.headerTimeoutMs / 4))),
  };
  const server = cfg.tls ? createHttpsServer({ ...options, cert: readFileSync(cfg.tls.certFile), key: readFileSync(cfg.tls.keyFile) }) : createServer(options);
  const handle = (req: IncomingMessage, res: ServerResponse) => void handleRequest(deps, runtime, req, res);
  server.on('request', handle);
  // Admission happens before the body is read; the operation sends 100 Continue when it wants the body.
  server.on('checkContinue', handle);
  // Node answers 417 to any other Expect value by itself; S3 ignores unknown expectations.
  server.on('checkExpectation', handle);
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => answerClientError(err, socket, newRequestId(), deps.logger));
  return server;
}

/** The separate metrics listener (`server.metrics_listen`): plain HTTP, /metrics, /health, /health/ready; anything else 404. */
export function createMetricsServer(deps: GatewayDeps, runtime: GatewayRuntime): Server {
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 30_000 });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const endpoint = opsEndpoint(req, q < 0 ? url : url.slice(0, q), '', false);
    if (endpoint === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 10 });
      res.end('not found\n');
      return;
    }
    answerOps(endpoint, opsState(deps, runtime), req, res).catch((err: unknown) => failOps(deps.logger, res, err));
  });
  return server;
}

function opsState(deps: GatewayDeps, runtime: GatewayRuntime): OpsState {
  return { lifecycle: runtime.lifecycle, health: deps.health ?? ALWAYS_OK, router: deps.router, metrics: runtime.metrics };
}

function failOps(logger: Logger, res: ServerResponse, err: unknown): void {
  logger.error({ err: (err as Error).message }, 'operations endpoint failed');
  if (res.headersSent) res.destroy();
  else {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('error\n');
  }
}

async function handleRequest(deps: GatewayDeps, runtime: GatewayRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const method = req.method ?? 'GET';

  // Health and metrics: before admission, before SigV4, from memory.
  const endpoint = opsEndpoint(req, rawPath, rawQuery, true);
  if (endpoint !== undefined && (endpoint !== 'metrics' || runtime.metricsOnMain)) {
    await answerOps(endpoint, opsState(deps, runtime), req, res).catch((err: unknown) => failOps(deps.logger, res, err));
    return;
  }
  // The operator dashboard (src/dashboard/): its own sign-in and session, not SigV4.
  if (deps.ui?.serves(req, rawPath)) return deps.ui.handle(req, res);

  const counts = countBytes(req, res);
  const requestId = newRequestId();
  const started = process.hrtime.bigint();
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', requestId);
  res.setHeader('Server', 's3-orchestrator');
  // Draining: every response closes its connection, so kept-alive clients move to another instance.
  if (runtime.lifecycle.state === 'stopping') res.shouldKeepAlive = false;
  let r: Route | undefined;
  let accessKeyId: string | undefined;
  let errorCode: string | undefined;

  // Admission, before a byte of the body is read (a client that sent Expect: 100-continue never sends it).
  const release = runtime.admission.tryAcquire();
  if (release === undefined) {
    runtime.metrics.admissionRejected('max_concurrent_requests');
    errorCode = 'SlowDown';
    res.once('close', () => finish());
    if (hasBody(req)) res.setHeader('Connection', 'close');
    sendError(res, new S3Error('SlowDown', undefined, { headers: { 'Retry-After': '1' } }), method, resourceOf(rawPath), requestId);
    return;
  }
  runtime.metrics.inFlight(1);
  let pending = 2; // the response is over, and the operation returned
  const done = () => {
    if (--pending > 0) return;
    release();
    runtime.metrics.inFlight(-1);
  };
  const stopWatching = watchForStalls(req, res, { bodyTimeoutMs: deps.config.server.bodyTimeoutMs, idleTimeoutMs: deps.config.server.idleTimeoutMs }, (reason) => {
    deps.logger.warn({ requestId, operation: r?.operation, reason, remoteAddress: req.socket.remoteAddress }, reason === 'body_timeout' ? 'request body stalled: connection closed' : 'client stopped reading the response: connection closed');
  });
  res.once('close', () => {
    stopWatching();
    finish();
    done();
  });
  try {
    if (runtime.lifecycle.state === 'starting') throw new S3Error('ServiceUnavailable', 'The gateway is starting; please retry.', { headers: { 'Retry-After': '1' } });
    const auth = verifySignature({ method, rawPath, rawQuery, headers: req.headersDistinct }, (id) => deps.access.secretFor(id), new Date());
    accessKeyId = auth.accessKeyId;
    const credential = deps.access.credential(auth.accessKeyId);
    r = withCopySource(route(method, rawPath, rawQuery, virtualHostBucket(req.headers.host, deps.config.server.domain)), headerValue(req, 'x-amz-copy-source'));
    deps.access.authorize(credential, r.operation, r.bucket);
    await OPERATIONS[r.operation](new S3Context(deps, req, res, requestId, r, credential, auth));
  } catch (err) {
    deps.outage?.observe(err); // the database breaker counts DatabaseUnavailable (only)
    const s3 = toS3Error(err);
    errorCode = s3.code;
    logFailure(deps.logger, s3, requestId, r);
    if (res.headersSent) {
      // The status line is gone: the only honest signal left is to cut the connection.
      res.destroy();
    } else {
      // A body not read to its end would otherwise be read and discarded (or never sent, after
      // Expect: 100-continue): close the connection instead.
      if (hasBody(req)) res.setHeader('Connection', 'close');
      sendError(res, s3, method, resourceOf(rawPath), requestId);
    }
  } finally {
    done();
  }

  function finish(): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const operation = r?.operation;
    runtime.metrics.request({ operation: operation ?? 'unknown', status: res.statusCode, seconds, bytesIn: counts.bytesIn, bytesOut: counts.bytesOut });
    deps.ui?.record({ operation, status: res.statusCode, bucket: r?.bucket, key: r?.key, accessKeyId });
    logAccess(deps.logger, {
      requestId,
      method,
      operation,
      bucket: r?.bucket,
      key: r?.key,
      status: res.statusCode,
      errorCode,
      bytesIn: counts.bytesIn,
      bytesOut: counts.bytesOut,
      ms: Math.round(seconds * 1e6) / 1e3,
      accessKeyId,
      remoteAddress: req.socket.remoteAddress,
      completed: res.writableFinished,
    });
  }
}

function logFailure(logger: Logger, err: S3Error, requestId: string, r: Route | undefined): void {
  if (err.code === 'InternalError') {
    const cause = err.cause as Error | undefined;
    logger.error({ requestId, operation: r?.operation, err: cause?.message ?? String(cause), stack: cause?.stack }, 'request failed');
  }
}

/**
 * A request id: 8 random bytes in upper-case hex. Taken from a pool refilled 512 ids at a time:
 * randomBytes(8) per request cost 5 µs (one RNG call each), 4% of a small GET's CPU.
 */
let idPool = Buffer.alloc(0);
let idOffset = 0;
function newRequestId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(4096);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + 8).toUpperCase();
  idOffset += 8;
  return id;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function hasBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function resourceOf(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}

/** `bucket.domain[:port]` → bucket, when the server has a domain. */
export function virtualHostBucket(host: string | undefined, domain: string | undefined): string | undefined {
  if (!host || !domain) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
}

