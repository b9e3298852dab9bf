import { createHash, createHmac } from 'node:crypto';

/**
 * A minimal SigV4 query presigner for the load generator (not the gateway's code, so the gateway's
 * verifier is checked against an independent signer; the SigV4 section compares it with smithy's).
 * The signing key is derived once per day and kept: a URL then costs one SHA-256 and one HMAC,
 * a few microseconds, so the load generator can sign every request as it sends it.
 * Paths must already be in canonical form (the bench uses keys of [A-Za-z0-9/_.-] only).
 */
export interface SigningIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

const keys = new Map<string, Buffer>();

function signingKey(id: SigningIdentity, date: string): Buffer {
  const k = `${id.accessKeyId}\n${date}\n${id.region}`;
  let key = keys.get(k);
  if (!key) {
    const h = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
    key = h(h(h(h(`AWS4${id.secretAccessKey}`, date), id.region), 's3'), 'aws4_request');
    keys.set(k, key);
  }
  return key;
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** `path?query` (no scheme or host) of a presigned request for `host` (as sent in the Host header). */
export function presignPath(id: SigningIdentity, method: string, host: string, path: string, extraQuery: Record<string, string> = {}, now = new Date()): string {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${id.region}/s3/aws4_request`;
  const params: [string, string][] = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${id.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', '3600'],
    ['X-Amz-SignedHeaders', 'host'],
    ...Object.entries(extraQuery),
  ];
  const query = params
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = `${method}\n${path}\n${query}\nhost:${host}\n\nhost\nUNSIGNED-PAYLOAD`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const signature = createHmac('sha256', signingKey(id, date)).update(toSign).digest('hex');
  return `${path}?${query}&X-Amz-Signature=${signature}`;
}
