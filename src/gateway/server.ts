import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../logging.js';
import { verifySignature } from './auth/sigv4.js';
import { S3Context, type GatewayDeps } from './context.js';
import { S3Error } from './errors.js';
import { OPERATIONS } from './operations/index.js';
import { sendError, toS3Error } from './respond.js';
import { route, withCopySource, type Route } from './router.js';

/**
 * The HTTP server of the S3 endpoint. node:http rather than a framework: S3's routing (method +
 * path + sub-resource query) fits no framework's router, and the gateway needs direct control of
 * `Expect: 100-continue` (admission before the body) and of streaming both ways.
 */
export function createGatewayServer(deps: GatewayDeps): Server {
  const server = createServer({
    // A large upload may take long: no whole-request deadline; a stalled socket is closed by the idle timeout.
    requestTimeout: 0,
    headersTimeout: 60_000,
    keepAliveTimeout: 5_000,
  });
  server.setTimeout(120_000, (socket) => socket.destroy());
  const handle = (req: IncomingMessage, res: ServerResponse) => void handleRequest(deps, req, res);
  server.on('request', handle);
  // Admission happens before the body is read; the operation sends 100 Continue when it wants the body.
  server.on('checkContinue', handle);
  // Node answers 417 to any other Expect value by itself; S3 ignores unknown expectations.
  server.on('checkExpectation', handle);
  return server;
}

async function handleRequest(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const started = process.hrtime.bigint();
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', requestId);
  res.setHeader('Server', 's3-orchestrator');
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const method = req.method ?? 'GET';
  let r: Route | undefined;
  try {
    const auth = verifySignature({ method, rawPath, rawQuery, headers: req.headersDistinct }, (id) => deps.access.secretFor(id), new Date());
    const credential = deps.access.credential(auth.accessKeyId);
    r = withCopySource(route(method, rawPath, rawQuery, virtualHostBucket(req.headers.host, deps.config.server.domain)), headerValue(req, 'x-amz-copy-source'));
    deps.access.authorize(credential, r.operation, r.bucket);
    await OPERATIONS[r.operation](new S3Context(deps, req, res, requestId, r, credential, auth));
  } catch (err) {
    const s3 = toS3Error(err);
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
    deps.logger.debug(
      { requestId, operation: r?.operation, bucket: r?.bucket, key: r?.key, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
      'request',
    );
  }
}

function logFailure(logger: Logger, err: S3Error, requestId: string, r: Route | undefined): void {
  if (err.code === 'InternalError') {
    const cause = err.cause as Error | undefined;
    logger.error({ requestId, operation: r?.operation, err: cause?.message ?? String(cause), stack: cause?.stack }, 'request failed');
  }
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

