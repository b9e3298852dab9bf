import { createHmac } from 'node:crypto';

/**
 * SigV4 signing keys: kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request").
 *
 * Deriving one costs four HMACs, more than verifying the request itself, and a client reuses the
 * same (secret, date, region) for a whole day: keep the latest few in a small bounded map. The map
 * is keyed by the secret itself, which the process holds anyway (the config's credentials):
 * hashing it for the key cost more on every request than the lookup it serves.
 * A signing key is as good as the secret for a day: it must never be logged or put in an error.
 */

const MAX_CACHED_KEYS = 256;
const cache = new Map<string, Buffer>();

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\n${region}\n${service}\n${secret}`;
  const cached = cache.get(cacheKey);
  if (cached !== undefined) {
    // Re-insert so the map's iteration order is least-recently-used first.
    cache.delete(cacheKey);
    cache.set(cacheKey, cached);
    return cached;
  }
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  if (cache.size >= MAX_CACHED_KEYS) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(cacheKey, key);
  return key;
}

/** HMAC-SHA256 of `data` under a signing key, as lower-case hex (the form signatures travel in). */
export function signHex(signingKey: Buffer, data: string): string {
  return createHmac('sha256', signingKey).update(data, 'utf8').digest('hex');
}

/** Number of keys cached now (for tests of the bound). */
export function cachedSigningKeyCount(): number {
  return cache.size;
}
