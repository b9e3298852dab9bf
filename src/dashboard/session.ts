import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Dashboard sessions: a cookie `base64url(payload).base64url(HMAC-SHA256(key, payload))`, the key
 * random per process (a restart signs everyone out, and no key is ever stored or configured). The
 * payload names the access key id, a random session id and the expiry; the CSRF token of a session
 * is an HMAC of its id, so it needs no server-side state either. Nothing secret is in the cookie:
 * the credential's secret stays in the process and is looked up by access key id when needed.
 */

export const SESSION_COOKIE = 's3o_ui';
/** A working day; a browser left open overnight signs in again. */
export const DEFAULT_SESSION_TTL_MS = 8 * 3600_000;
/** How long the sign-in form's own CSRF token stays valid. */
const SIGNIN_TOKEN_TTL_MS = 3600_000;

export interface Session {
  readonly accessKeyId: string;
  readonly sessionId: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

function b64(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function sameText(a: string, b: string): boolean {
  // Digests first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

export class SessionSigner {
  readonly #key = randomBytes(32);

  constructor(readonly ttlMs: number = DEFAULT_SESSION_TTL_MS) {}

  #mac(purpose: string, data: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}\n${data}`, 'utf8').digest('base64url');
  }

  issue(accessKeyId: string, now: number): { cookie: string; session: Session } {
    const session: Session = { accessKeyId, sessionId: randomBytes(16).toString('base64url'), expiresAt: now + this.ttlMs };
    const payload = b64(JSON.stringify({ k: session.accessKeyId, s: session.sessionId, e: session.expiresAt }));
    return { cookie: `${payload}.${this.#mac('session', payload)}`, session };
  }

  /** The session of a cookie value, or why not. */
  verify(cookie: string | undefined, now: number): Session | 'missing' | 'invalid' | 'expired' {
    if (!cookie) return 'missing';
    const dot = cookie.indexOf('.');
    if (dot <= 0) return 'invalid';
    const payload = cookie.slice(0, dot);
    if (!sameText(cookie.slice(dot + 1), this.#mac('session', payload))) return 'invalid';
    let parsed: { k?: unknown; s?: unknown; e?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof parsed;
    } catch {
      return 'invalid';
    }
    if (typeof parsed.k !== 'string' || typeof parsed.s !== 'string' || typeof parsed.e !== 'number') return 'invalid';
    if (parsed.e <= now) return 'expired';
    return { accessKeyId: parsed.k, sessionId: parsed.s, expiresAt: parsed.e };
  }

  csrfToken(session: Session): string {
    return this.#mac('csrf', session.sessionId);
  }

  checkCsrf(session: Session, token: string | undefined): boolean {
    return token !== undefined && sameText(token, this.csrfToken(session));
  }

  /** The sign-in form's token: the issue time and its MAC (no session exists yet). */
  signinToken(now: number): string {
    const issued = String(now);
    return `${issued}.${this.#mac('signin', issued)}`;
  }

  checkSigninToken(token: string | undefined, now: number): boolean {
    if (!token) return false;
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const issued = Number(token.slice(0, dot));
    if (!Number.isFinite(issued) || now - issued > SIGNIN_TOKEN_TTL_MS || issued > now + 60_000) return false;
    return sameText(token.slice(dot + 1), this.#mac('signin', token.slice(0, dot)));
  }
}

export interface ThrottleOptions {
  /** Failed sign-ins allowed per address within the window (default 5). */
  readonly maxFailures?: number;
  /** Default 5 minutes. */
  readonly windowMs?: number;
}

/**
 * Sign-in throttling per client address: after `maxFailures` failed attempts within the window,
 * further attempts are refused (429) until the oldest failure leaves the window. A good sign-in
 * clears the address. Bounded: at most 10,000 addresses are remembered (oldest forgotten first).
 */
export class SigninThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly maxFailures: number;
  readonly windowMs: number;

  constructor(options: ThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 5 * 60_000;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string, now: number): number {
    const recent = this.#recent(address, now);
    if (recent.length < this.maxFailures) return 0;
    return recent[recent.length - this.maxFailures]! + this.windowMs - now;
  }

  failed(address: string, now: number): void {
    const recent = this.#recent(address, now);
    recent.push(now);
    this.#failures.delete(address);
    this.#failures.set(address, recent.slice(-this.maxFailures));
    if (this.#failures.size > 10_000) this.#failures.delete(this.#failures.keys().next().value!);
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  #recent(address: string, now: number): number[] {
    return (this.#failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
  }
}
