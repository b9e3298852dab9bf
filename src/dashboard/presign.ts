import { SIGV4_ALGORITHM } from '../gateway/auth/authorization-header.js';
import { canonicalRequest, stringToSign } from '../gateway/auth/canonical-request.js';
import { deriveSigningKey, signHex } from '../gateway/auth/signing-key.js';
import { awsUriEncodeBytes } from '../gateway/auth/uri-encoding.js';

/**
 * A SigV4 presigned GET URL for one object, path style. Signed with the gateway's own SigV4 pieces
 * (canonical request, signing key) so the URL is exactly what the gateway verifies, with no
 * run-time dependency on an AWS SDK signer. Only `host` is signed; the payload is UNSIGNED-PAYLOAD.
 */
export interface PresignInput {
  /** `http://host:port` the URL points at; its host is the signed `host` header. */
  readonly origin: string;
  readonly bucket: string;
  readonly key: string;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
  readonly expiresSeconds: number;
  readonly now: Date;
  /** Extra query parameters (response-content-disposition), signed with the rest. */
  readonly query?: Readonly<Record<string, string>>;
}

const encode = (text: string) => awsUriEncodeBytes(Buffer.from(text, 'utf8'));

export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function presignGetObject(input: PresignInput): string {
  const url = new URL(input.origin);
  const date = amzDate(input.now);
  const scope = `${date.slice(0, 8)}/${input.region}/s3/aws4_request`;
  const path = `/${encode(input.bucket)}/${input.key.split('/').map(encode).join('/')}`;
  const params: Array<[string, string]> = [
    ['X-Amz-Algorithm', SIGV4_ALGORITHM],
    ['X-Amz-Credential', `${input.accessKeyId}/${scope}`],
    ['X-Amz-Date', date],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
    ...Object.entries(input.query ?? {}),
  ];
  const encoded = params.map(([k, v]) => [encode(k), encode(v)] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const canonicalQuery = encoded.map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = canonicalRequest({
    method: 'GET',
    canonicalUri: path,
    canonicalQuery,
    headers: { host: url.host },
    signedHeaders: ['host'],
    payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const signature = signHex(deriveSigningKey(input.secret, date.slice(0, 8), input.region, 's3'), stringToSign(date, scope, canonical));
  return `${url.protocol}//${url.host}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

