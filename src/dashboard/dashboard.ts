import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import { mayUseBucket, type AccessControl } from '../gateway/access.js';
import type { BreakerState } from '../gateway/routing/circuit-breaker.js';
import { virtualHostBucket } from '../gateway/server.js';
import type { Logger } from '../logging.js';
import { NotFoundError, StoreError } from '../store/core/errors.js';
import type { StoreApi } from '../store/core/store.js';
import { ActivityRecorder, type RequestRecord } from './activity.js';
import { ASSETS } from './assets.js';
import { DashboardData } from './data.js';
import { bytes, count } from './format.js';
import { html, type Html } from './html.js';
import {
  activityLive,
  BASE,
  backendsLive,
  browseForm,
  browseLive,
  bucketsLive,
  confirmPage,
  layout,
  messagePage,
  objectLive,
  pageTitle,
  queuesLive,
  signinPage,
  type Chrome,
  type ObjectView,
  type PageName,
} from './pages.js';
import { presignGetObject } from './presign.js';
import { DEFAULT_SESSION_TTL_MS, SESSION_COOKIE, SessionSigner, SigninThrottle, sameText, type Session, type ThrottleOptions } from './session.js';

/**
 * The operator dashboard (issue 14), mounted at /ui on the S3 listener (or on a listener of its
 * own). Server-rendered pages over the store's public API; sign-in with an `admin` credential of
 * the gateway; every POST carries a CSRF token. See docs/dashboard.md.
 */

export interface DashboardOptions {
  readonly store: StoreApi;
  readonly config: AppConfig;
  readonly access: AccessControl;
  /** The router's breaker states (`router.states()`). */
  readonly breakers: () => Record<string, BreakerState>;
  readonly logger: Logger;
  /** Where presigned download links point: the S3 endpoint as the browser reaches it. Default: the origin of the request itself. */
  readonly s3Origin?: (req: IncomingMessage) => string;
  readonly sessionTtlMs?: number;
  readonly throttle?: ThrottleOptions;
  /** Whether /ui is answered on the S3 listener (false when `ui.listen` gives it a listener of its own). Default true. */
  readonly onS3Listener?: boolean;
}

/** How long a download link stays valid. */
export const DOWNLOAD_LINK_SECONDS = 300;
/** Objects per page of the bucket browser. */
export const BROWSE_PAGE_SIZE = 100;
const MAX_FORM_BYTES = 16 * 1024;
const ACTIVITY_MINUTES = 30;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // Pages hold presigned links and bucket names: never send them on in a Referer.
  'Referrer-Policy': 'no-referrer',
};

interface Signed {
  readonly session: Session;
  readonly credential: CredentialConfig;
  readonly csrf: string;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Dashboard {
  readonly activity: ActivityRecorder;
  readonly #signer: SessionSigner;
  readonly #throttle: SigninThrottle;
  readonly #data: DashboardData;
  /** The clock (epoch ms); replaceable so a test can move time forward. */
  now: () => number = Date.now;

  constructor(private readonly options: DashboardOptions) {
    this.#signer = new SessionSigner(options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS);
    this.#throttle = new SigninThrottle(options.throttle);
    this.activity = new ActivityRecorder(() => this.now());
    this.#data = new DashboardData({ store: options.store, config: options.config, breakers: options.breakers, activity: this.activity, now: () => this.now() });
  }

  /** The gateway's request hook: one S3 request answered. */
  record(r: RequestRecord): void {
    this.activity.record(r);
  }

  /** Whether a request path belongs to the dashboard. */
  static owns(rawPath: string): boolean {
    return rawPath === BASE || rawPath.startsWith(`${BASE}/`);
  }

  /**
   * Whether the S3 listener should hand this request to the dashboard: a path under /ui, not
   * virtual-hosted (`bucket.domain/ui/...` is an object key). No path-style S3 request can start
   * with /ui: bucket names have at least three characters.
   */
  serves(req: IncomingMessage, rawPath: string): boolean {
    return this.options.onS3Listener !== false && Dashboard.owns(rawPath) && virtualHostBucket(req.headers.host, this.options.config.server.domain) === undefined;
  }

  /** Answers one request under /ui. Never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    try {
      await this.#route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof HttpFailure ? err.status : err instanceof StoreError ? err.httpStatus : 500;
      if (status >= 500) this.options.logger.error({ err: (err as Error).message, url: req.url }, 'dashboard request failed');
      const text = err instanceof HttpFailure || err instanceof StoreError ? err.message : 'The dashboard could not answer; the gateway log has the details.';
      if (wantsJson(req)) sendJson(res, status, { error: text });
      else sendHtml(res, status, messagePage({ title: 'Error', page: 'signin' }, status === 404 ? 'Not found' : 'Something went wrong', text));
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';

    if (path === BASE || path === `${BASE}/`) return redirect(res, `${BASE}/backends`);
    if (path.startsWith(`${BASE}/static/`)) {
      if (!isGet) throw new HttpFailure(405, 'Method not allowed.');
      return this.#static(req, res, path.slice(`${BASE}/static/`.length));
    }
    if (path === `${BASE}/login`) {
      if (isGet) return this.#signinForm(req, res, url);
      if (method === 'POST') return this.#signin(req, res);
      throw new HttpFailure(405, 'Method not allowed.');
    }

    const api = path.startsWith(`${BASE}/api/`);
    const page = api ? `${BASE}/${path.slice(`${BASE}/api/`.length)}` : path;
    const signed = this.#session(req);
    if (typeof signed === 'string') {
      if (api || !isGet) {
        res.setHeader('Set-Cookie', clearCookie());
        if (api) return sendJson(res, 401, { error: `not signed in (${signed})` });
        return sendHtml(res, 401, signinPage({ token: this.#signer.signinToken(this.now()), error: signed === 'expired' ? 'Your session expired: sign in again (nothing was changed).' : 'You are not signed in (nothing was changed).' }));
      }
      if (signed !== 'missing') res.setHeader('Set-Cookie', clearCookie());
      return redirect(res, `${BASE}/login?${new URLSearchParams({ next: url.pathname + url.search, ...(signed === 'expired' ? { reason: 'expired' } : {}) }).toString()}`);
    }

    if (method === 'POST') {
      const form = await this.#form(req, signed);
      if (path === `${BASE}/logout`) {
        res.setHeader('Set-Cookie', clearCookie());
        return redirect(res, `${BASE}/login?reason=signed-out`);
      }
      if (path === `${BASE}/queues/dead-letters`) return this.#deadLetterAction(req, res, signed, form);
      if (path === `${BASE}/queues/outbox`) return this.#outboxAction(req, res, signed, form);
      throw new HttpFailure(404, 'No such action.');
    }
    if (!isGet) throw new HttpFailure(405, 'Method not allowed.');

    const render = await this.#page(req, page, url.searchParams, signed);
    if (render === undefined) throw new HttpFailure(404, 'No such page.');
    if (api) return sendJson(res, 200, { generatedAt: new Date(this.now()).toISOString(), view: render.view, fragments: { live: render.live.text } });
    const notice = noticeOf(url.searchParams);
    sendHtml(
      res,
      200,
      layout({ title: render.title, page: render.nav, accessKeyId: signed.session.accessKeyId, csrf: signed.csrf, refresh: `${BASE}/api${page.slice(BASE.length)}${url.search}`, notice }, render.live, render.head),
    );
  }

  async #page(req: IncomingMessage, page: string, params: URLSearchParams, signed: Signed): Promise<{ title: string; nav: PageName; view: unknown; live: Html; head?: Html } | undefined> {
    const now = this.now();
    if (page === `${BASE}/backends`) {
      const view = await this.#data.backends();
      return { title: pageTitle('backends'), nav: 'backends', view, live: backendsLive(view), head: html`<h1>Backends</h1>` };
    }
    if (page === `${BASE}/buckets`) {
      const view = await this.#data.buckets(signed.credential);
      return { title: pageTitle('buckets'), nav: 'buckets', view, live: bucketsLive(view), head: html`<h1>Buckets</h1>` };
    }
    if (page === `${BASE}/queues`) {
      const view = await this.#data.queues();
      return { title: pageTitle('queues'), nav: 'queues', view, live: queuesLive(view, signed.csrf, now), head: html`<h1>Queues</h1>` };
    }
    if (page === `${BASE}/activity`) {
      const view = await this.#data.activity(ACTIVITY_MINUTES);
      return { title: pageTitle('activity'), nav: 'activity', view, live: activityLive(view, now), head: html`<h1>Activity</h1>` };
    }
    const match = /^\/ui\/buckets\/([^/]+)(\/object)?$/.exec(page);
    if (!match) return undefined;
    const bucket = decodeURIComponent(match[1]!);
    if (!mayUseBucket(signed.credential, bucket) || (await this.options.store.buckets.get(bucket)) === undefined) throw new HttpFailure(404, `No bucket named ${JSON.stringify(bucket)}.`);
    if (match[2] === undefined) {
      const prefix = params.get('prefix') ?? '';
      const delimiter = params.has('delimiter') ? params.get('delimiter')! : '/';
      const token = params.get('token') ?? undefined;
      const view = await this.#data.browse(bucket, { prefix, delimiter, token, pageSize: BROWSE_PAGE_SIZE });
      return { title: bucket, nav: 'buckets', view, live: browseLive(view), head: html`<h1>Bucket ${bucket}</h1>${browseForm(view)}` };
    }
    const key = params.get('key');
    if (!key) throw new HttpFailure(404, 'No object key given.');
    let info;
    try {
      info = await this.options.store.objects.head(`${bucket}/${key}`);
    } catch (err) {
      if (err instanceof NotFoundError) throw new HttpFailure(404, `No object ${JSON.stringify(key)} in ${bucket}.`);
      throw err;
    }
    const breakers = this.options.breakers();
    const secret = this.options.access.secretFor(signed.session.accessKeyId);
    const expiresAt = now + DOWNLOAD_LINK_SECONDS * 1000;
    const filename = key.slice(key.lastIndexOf('/') + 1) || 'download';
    const view: ObjectView = {
      bucket,
      key,
      size: info.sizeBytes,
      etag: info.etag,
      contentType: info.contentType,
      metadata: info.userMetadata,
      createdAt: info.createdAt.toISOString(),
      contentHash: info.contentHash,
      copies: info.copies.map((c) => ({ backend: c.backendName, storageKey: c.storageKey, size: c.sizeBytes, createdAt: c.createdAt.toISOString(), breaker: breakers[c.backendName] ?? 'unknown' })),
      download:
        secret === undefined
          ? null
          : {
              url: presignGetObject({
                origin: (this.options.s3Origin ?? requestOrigin)(req),
                bucket,
                key,
                accessKeyId: signed.session.accessKeyId,
                secret,
                region: this.options.config.server.region,
                expiresSeconds: DOWNLOAD_LINK_SECONDS,
                now: new Date(now),
                query: { 'response-content-disposition': `attachment; filename="${filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}` },
              }),
              expiresAt,
            },
    };
    return { title: key, nav: 'buckets', view, live: objectLive(view, now), head: html`<h1>Object in ${bucket}</h1>` };
  }

  // ------------------------------------------------------------ sign-in

  #signinForm(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const signed = this.#session(req);
    const next = safeNext(url.searchParams.get('next'));
    if (typeof signed !== 'string') return redirect(res, next);
    const reason = url.searchParams.get('reason');
    const status = reason === 'expired' ? 'Your session expired: sign in again.' : reason === 'signed-out' ? 'You are signed out.' : undefined;
    sendHtml(res, 200, signinPage({ token: this.#signer.signinToken(this.now()), next, ...(status ? { status } : {}) }));
  }

  async #signin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const now = this.now();
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = this.#throttle.retryAfter(address, now);
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      return sendHtml(res, 429, signinPage({ token: this.#signer.signinToken(now), error: `Too many failed sign-ins from ${address}: try again in ${Math.ceil(wait / 1000)} s.` }));
    }
    checkOrigin(req);
    const form = await readForm(req);
    if (!this.#signer.checkSigninToken(form.get('_csrf') ?? undefined, now)) {
      throw new HttpFailure(403, 'The sign-in form is stale or was not served by this gateway: reload it and try again.');
    }
    const accessKeyId = (form.get('accessKeyId') ?? '').trim();
    const secret = form.get('secretAccessKey') ?? '';
    const credential = this.#verify(accessKeyId, secret);
    const next = safeNext(form.get('next'));
    if (credential === undefined) {
      this.#throttle.failed(address, now);
      this.options.logger.warn({ accessKeyId: accessKeyId.slice(0, 128), address }, 'dashboard sign-in refused');
      return sendHtml(res, 401, signinPage({ token: this.#signer.signinToken(now), accessKeyId, next, error: 'Sign-in failed: unknown access key id, wrong secret, or not an admin credential.' }));
    }
    this.#throttle.succeeded(address);
    const { cookie } = this.#signer.issue(credential.accessKeyId, now);
    res.setHeader('Set-Cookie', sessionCookie(cookie, Math.floor(this.#signer.ttlMs / 1000), isTls(req)));
    this.options.logger.info({ accessKeyId: credential.accessKeyId, address }, 'dashboard sign-in');
    redirect(res, next);
  }

  /** The admin credential for this id and secret; the secret compared in constant time, the same work for an unknown id. */
  #verify(accessKeyId: string, secret: string): CredentialConfig | undefined {
    const known = accessKeyId === '' ? undefined : this.options.access.secretFor(accessKeyId);
    const matches = sameText(secret, known ?? `\u0000unknown\u0000${secret}`);
    if (known === undefined || !matches) return undefined;
    const credential = this.options.access.credential(accessKeyId);
    return credential.permission === 'admin' ? credential : undefined;
  }

  #session(req: IncomingMessage): Signed | 'missing' | 'invalid' | 'expired' {
    const result = this.#signer.verify(cookieValue(req, SESSION_COOKIE), this.now());
    if (typeof result === 'string') return result;
    // The credential must still exist and still be an admin one.
    if (this.options.access.secretFor(result.accessKeyId) === undefined) return 'invalid';
    const credential = this.options.access.credential(result.accessKeyId);
    if (credential.permission !== 'admin') return 'invalid';
    return { session: result, credential, csrf: this.#signer.csrfToken(result) };
  }

  /** A POST's form, after the same-origin and CSRF checks. */
  async #form(req: IncomingMessage, signed: Signed): Promise<URLSearchParams> {
    checkOrigin(req);
    const form = await readForm(req);
    const token = form.get('_csrf') ?? (headerValue(req, 'x-csrf-token') || undefined);
    if (!this.#signer.checkCsrf(signed.session, token ?? undefined)) throw new HttpFailure(403, 'The form carried no valid CSRF token: nothing was changed. Reload the page and try again.');
    return form;
  }

  // ------------------------------------------------------------ actions

  async #deadLetterAction(req: IncomingMessage, res: ServerResponse, signed: Signed, form: URLSearchParams): Promise<void> {
    const action = form.get('action');
    if (action !== 'requeue' && action !== 'purge') throw new HttpFailure(400, 'Unknown action.');
    const { selector, fields, what } = await this.#deadLetterSelector(form);
    if (form.get('confirmed') !== 'yes') {
      const text =
        action === 'requeue'
          ? `Move ${what} back to the cleanup queue with a fresh retry budget? The cleanup worker will try to delete the bytes again.`
          : `Write off ${what}? The rows are deleted and their bytes stop counting as orphan bytes. Do this only after removing the bytes from the backend by hand: otherwise they stay on the backend, uncounted.`;
      return sendHtml(
        res,
        200,
        confirmPage(this.#chrome(signed, action === 'requeue' ? 'Requeue dead letters' : 'Purge dead letters'), {
          heading: action === 'requeue' ? 'Requeue dead letters' : 'Purge dead letters',
          text,
          action: 'queues/dead-letters',
          fields: { action, ...fields },
          button: action === 'requeue' ? 'Requeue' : 'Purge',
          danger: action === 'purge',
        }),
      );
    }
    const store = this.options.store;
    if (action === 'requeue') {
      const ids = await store.cleanup.requeueDeadLetters(selector);
      this.options.logger.info({ accessKeyId: signed.session.accessKeyId, requeued: ids.length, selector }, 'dashboard: dead letters requeued');
      this.#data.invalidate();
      return redirect(res, `${BASE}/queues?done=dlq-requeued&n=${ids.length}#dead-letters`);
    }
    const purged = await store.cleanup.purgeDeadLetters(selector);
    this.options.logger.info({ accessKeyId: signed.session.accessKeyId, purged: purged.rows, bytes: purged.bytes, selector }, 'dashboard: dead letters purged');
    this.#data.invalidate();
    redirect(res, `${BASE}/queues?done=dlq-purged&n=${purged.rows}&b=${purged.bytes}#dead-letters`);
  }

  async #deadLetterSelector(form: URLSearchParams): Promise<{ selector: { id: number } | { all: true }; fields: Record<string, string>; what: string }> {
    const target = form.get('target');
    if (target === 'all') {
      const depths = await this.options.store.cleanup.depths();
      const rows = depths.reduce((s, d) => s + d.deadLetterRows, 0);
      const size = depths.reduce((s, d) => s + d.deadLetterBytes, 0);
      return { selector: { all: true }, fields: { target: 'all' }, what: `all ${count(rows)} dead letters (${bytes(size)})` };
    }
    const id = Number(form.get('id'));
    if (target !== 'id' || !Number.isSafeInteger(id) || id <= 0) throw new HttpFailure(400, 'Say which dead letter: target=all, or target=id with an id.');
    return { selector: { id }, fields: { target: 'id', id: String(id) }, what: `dead letter ${id}` };
  }

  async #outboxAction(req: IncomingMessage, res: ServerResponse, signed: Signed, form: URLSearchParams): Promise<void> {
    if (form.get('action') !== 'requeue') throw new HttpFailure(400, 'Unknown action.');
    const target = form.get('target');
    const id = Number(form.get('id'));
    if (!(target === 'all' || (target === 'id' && Number.isSafeInteger(id) && id > 0))) throw new HttpFailure(400, 'Say which event: target=all, or target=id with an id.');
    const selector = target === 'all' ? ({ all: true } as const) : { id };
    if (form.get('confirmed') !== 'yes') {
      const failed = (await this.options.store.outbox.summary()).failed;
      return sendHtml(
        res,
        200,
        confirmPage(this.#chrome(signed, 'Requeue failed events'), {
          heading: 'Requeue failed events',
          text: `Give ${target === 'all' ? `all ${count(failed)} failed events` : `event ${id}`} a fresh delivery budget? The outbox worker delivers them again.`,
          action: 'queues/outbox',
          fields: { action: 'requeue', target: target!, ...(target === 'id' ? { id: String(id) } : {}) },
          button: 'Requeue',
          danger: false,
        }),
      );
    }
    const ids = await this.options.store.outbox.requeueFailed(selector);
    this.options.logger.info({ accessKeyId: signed.session.accessKeyId, requeued: ids.length, selector }, 'dashboard: failed events requeued');
    redirect(res, `${BASE}/queues?done=outbox-requeued&n=${ids.length}#outbox`);
  }

  #chrome(signed: Signed, title: string): Chrome {
    return { title, page: 'queues', accessKeyId: signed.session.accessKeyId, csrf: signed.csrf };
  }

  #static(req: IncomingMessage, res: ServerResponse, name: string): void {
    const asset = ASSETS.get(name);
    if (!asset) throw new HttpFailure(404, 'No such file.');
    res.setHeader('ETag', asset.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (headerValue(req, 'if-none-match') === asset.etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': asset.contentType, 'Content-Length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }
}

// ---------------------------------------------------------------- HTTP helpers

function noticeOf(params: URLSearchParams): string | undefined {
  const n = Number(params.get('n') ?? 0);
  switch (params.get('done')) {
    case 'dlq-requeued':
      return `${count(n)} dead letter${n === 1 ? '' : 's'} moved back to the cleanup queue.`;
    case 'dlq-purged':
      return `${count(n)} dead letter${n === 1 ? '' : 's'} purged (${bytes(Number(params.get('b') ?? 0))} written off).`;
    case 'outbox-requeued':
      return `${count(n)} failed event${n === 1 ? '' : 's'} requeued for delivery.`;
    default:
      return undefined;
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true;
}

/** `http(s)://host[:port]` as the browser addressed this request. */
export function requestOrigin(req: IncomingMessage): string {
  const host = headerValue(req, 'host') ?? `${req.socket.localAddress}:${req.socket.localPort}`;
  return `${isTls(req) ? 'https' : 'http'}://${host}`;
}

/** A cross-site POST is refused before its body is read (browsers send Origin on every POST). */
function checkOrigin(req: IncomingMessage): void {
  const origin = headerValue(req, 'origin');
  if (origin !== undefined && origin !== 'null' && origin !== requestOrigin(req)) throw new HttpFailure(403, 'Cross-origin form posts are refused: nothing was changed.');
  const site = headerValue(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpFailure(403, 'Cross-site form posts are refused: nothing was changed.');
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (headerValue(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpFailure(415, 'Forms are posted as application/x-www-form-urlencoded.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new HttpFailure(413, 'The form is too large.');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = headerValue(req, 'cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=${BASE}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

function clearCookie(): string {
  return `${SESSION_COOKIE}=; Path=${BASE}; Max-Age=0; HttpOnly; SameSite=Strict`;
}

/** Only a path of this dashboard: never another site, never `//host`. */
function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith(`${BASE}/`) || next.startsWith('//') || /[\\\r\n]/.test(next) || next.startsWith(`${BASE}/login`)) return `${BASE}/backends`;
  return next;
}

function wantsJson(req: IncomingMessage): boolean {
  return (req.url ?? '').startsWith(`${BASE}/api/`) || (headerValue(req, 'accept') ?? '').startsWith('application/json');
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}

function sendHtml(res: ServerResponse, status: number, page: Html): void {
  const body = Buffer.from(page.text, 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}
