import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { ListObjectsV2Command, PutObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Error, type S3ErrorCode } from '../../src/gateway/errors.js';
import { cachedSigningKeyCount, deriveSigningKey } from '../../src/gateway/auth/signing-key.js';
import { verifySignature, type SignedRequest } from '../../src/gateway/auth/sigv4.js';
import { awsUriEncodeBytes, canonicalizeComponent, canonicalUri, decodeQueryComponent, percentDecodeToBytes } from '../../src/gateway/auth/uri-encoding.js';

const AKID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SIGNED_AT = new Date('2026-12-01T10:20:30Z');
const secretFor = (id: string): string | undefined => (id === AKID ? SECRET : undefined);

/** The S3 client's key encoding: encodeURIComponent plus !'()* escaped, per segment, '/' kept. */
function s3Escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
function s3Path(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(s3Escape).join('/')}`;
}
function wireQuery(query: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === null) parts.push(s3Escape(name));
    else for (const one of Array.isArray(value) ? value : [value]) parts.push(`${s3Escape(name)}=${s3Escape(one)}`);
  }
  return parts.join('&');
}

function signer(secret = SECRET, region = 'eu-central-7', uriEscapePath = false): SignatureV4 {
  return new SignatureV4({ credentials: { accessKeyId: AKID, secretAccessKey: secret }, region, service: 's3', sha256: Sha256, uriEscapePath });
}

interface Unsigned {
  method?: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers?: Record<string, string>;
}

function toHttpRequest(request: Unsigned): HttpRequest {
  return new HttpRequest({
    method: request.method ?? 'GET',
    protocol: 'http:',
    hostname: 'gateway.test',
    port: 9000,
    path: request.path,
    query: request.query ?? {},
    headers: { host: 'gateway.test:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...request.headers },
  });
}

function asWire(signed: HttpRequest, path: string): SignedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return { method: signed.method, rawPath: path, rawQuery: wireQuery(signed.query as Record<string, string | string[] | null>), headers };
}

async function headerSigned(request: Unsigned, options: { secret?: string; at?: Date; uriEscapePath?: boolean } = {}): Promise<SignedRequest> {
  const signed = (await signer(options.secret, undefined, options.uriEscapePath).sign(toHttpRequest(request), { signingDate: options.at ?? SIGNED_AT })) as HttpRequest;
  return asWire(signed, request.path);
}

async function presigned(request: Unsigned, expiresIn = 3600, at = SIGNED_AT): Promise<SignedRequest> {
  const signed = (await signer().presign(toHttpRequest(request), { signingDate: at, expiresIn })) as HttpRequest;
  return asWire(signed, request.path);
}

function codeOf(action: () => unknown): S3ErrorCode | 'no error' {
  try {
    action();
    return 'no error';
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
}

function errorOf(action: () => unknown): S3Error {
  try {
    action();
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  throw new Error('expected an S3Error');
}

function replaceQuery(rawQuery: string, name: string, value: string): string {
  return rawQuery
    .split('&')
    .map((part) => (part.split('=')[0] === name ? `${name}=${value}` : part))
    .join('&');
}

describe('SigV4 header authentication against @smithy/signature-v4', () => {
  it('a signed request verifies and says who signed it', async () => {
    const request = await headerSigned({ path: '/bucket/key.txt', query: { 'list-type': '2', prefix: 'a b/' } });
    const result = verifySignature(request, secretFor, SIGNED_AT);
    const authorization = request.headers.authorization as string;
    expect(result.accessKeyId).toBe(AKID);
    expect(result.presigned).toBe(false);
    expect(result.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(result.scope).toBe('20261201/eu-central-7/s3/aws4_request');
    expect(result.amzDate).toBe('20261201T102030Z');
    expect(authorization.endsWith(`Signature=${result.signature}`)).toBe(true);
    expect(result.signingKey.equals(deriveSigningKey(SECRET, '20261201', 'eu-central-7', 's3'))).toBe(true);
  });

  it('accepts any region from the credential scope', async () => {
    for (const region of ['us-east-1', 'garage', 'auto']) {
      const signed = (await signer(SECRET, region).sign(toHttpRequest({ path: '/b/k' }), { signingDate: SIGNED_AT })) as HttpRequest;
      expect(verifySignature(asWire(signed, '/b/k'), secretFor, SIGNED_AT).scope).toBe(`20261201/${region}/s3/aws4_request`);
    }
  });

  it('a hex payload hash is returned for the body verifier', async () => {
    const hash = 'a'.repeat(64);
    const request = await headerSigned({ method: 'PUT', path: '/b/k', headers: { 'x-amz-content-sha256': hash } });
    expect(verifySignature(request, secretFor, SIGNED_AT).payloadHash).toBe(hash);
  });

  describe('tampering fails with SignatureDoesNotMatch', () => {
    let original: SignedRequest;
    beforeAll(async () => {
      original = await headerSigned({
        method: 'PUT',
        path: '/bucket/dir/key',
        query: { partNumber: '3', uploadId: 'abc' },
        headers: { 'x-amz-meta-colour': 'blue', 'content-type': 'text/plain' },
      });
      expect(codeOf(() => verifySignature(original, secretFor, SIGNED_AT))).toBe('no error');
    });

    it.each<[string, (request: SignedRequest) => SignedRequest]>([
      ['the method', (r) => ({ ...r, method: 'DELETE' })],
      ['the path', (r) => ({ ...r, rawPath: '/bucket/dir/kez' })],
      ['the path (one more slash)', (r) => ({ ...r, rawPath: '/bucket/dir//key' })],
      ['a query value', (r) => ({ ...r, rawQuery: replaceQuery(r.rawQuery, 'partNumber', '4') })],
      ['an added query parameter', (r) => ({ ...r, rawQuery: `${r.rawQuery}&versionId=1` })],
      ['a signed header', (r) => ({ ...r, headers: { ...r.headers, 'x-amz-meta-colour': 'red' } })],
      ['the signed content type', (r) => ({ ...r, headers: { ...r.headers, 'content-type': 'text/html' } })],
      ['the payload hash', (r) => ({ ...r, headers: { ...r.headers, 'x-amz-content-sha256': 'b'.repeat(64) } })],
      ['the date (same day, within the skew)', (r) => ({ ...r, headers: { ...r.headers, 'x-amz-date': '20261201T102031Z' } })],
      ['the signature', (r) => ({ ...r, headers: { ...r.headers, authorization: (r.headers.authorization as string).replace(/.$/, (c) => (c === '0' ? '1' : '0')) } })],
    ])('%s', (_what, tamper) => {
      expect(codeOf(() => verifySignature(tamper(original), secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
    });

    it('the secret', () => {
      expect(codeOf(() => verifySignature(original, () => 'another-secret', SIGNED_AT))).toBe('SignatureDoesNotMatch');
    });

    it('the error never carries the secret or the expected signature', async () => {
      const error = errorOf(() => verifySignature({ ...original, method: 'DELETE' }, secretFor, SIGNED_AT));
      const text = `${error.message} ${JSON.stringify(error.options)} ${String(error.stack)}`;
      expect(text).not.toContain(SECRET);
      const good = verifySignature(original, secretFor, SIGNED_AT);
      const tampered = { ...original, method: 'DELETE' };
      // The signature the server would have wanted for the tampered request is not leaked either.
      const wanted = await headerSigned({ method: 'DELETE', path: '/x' });
      expect(text).not.toContain(good.signingKey.toString('hex'));
      expect(text).not.toContain((wanted.headers.authorization as string).slice(-64));
      expect(codeOf(() => verifySignature(tampered, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
    });
  });

  it('an unknown access key id → InvalidAccessKeyId', async () => {
    const request = await headerSigned({ path: '/b/k' });
    expect(codeOf(() => verifySignature(request, () => undefined, SIGNED_AT))).toBe('InvalidAccessKeyId');
  });

  it('a scope date that is not the date of X-Amz-Date → AuthorizationHeaderMalformed', async () => {
    const request = await headerSigned({ path: '/b/k' });
    const headers = { ...request.headers, 'x-amz-date': '20261202T102030Z' };
    expect(codeOf(() => verifySignature({ ...request, headers }, secretFor, new Date('2026-12-02T10:20:30Z')))).toBe('AuthorizationHeaderMalformed');
  });

  it('clock skew: 14 minutes pass, 16 minutes either way → RequestTimeTooSkewed', async () => {
    const request = await headerSigned({ path: '/b/k' });
    const minutes = (n: number) => new Date(SIGNED_AT.getTime() + n * 60_000);
    expect(codeOf(() => verifySignature(request, secretFor, minutes(14)))).toBe('no error');
    expect(codeOf(() => verifySignature(request, secretFor, minutes(-14)))).toBe('no error');
    expect(codeOf(() => verifySignature(request, secretFor, minutes(16)))).toBe('RequestTimeTooSkewed');
    expect(codeOf(() => verifySignature(request, secretFor, minutes(-16)))).toBe('RequestTimeTooSkewed');
  });

  it('a missing or invalid X-Amz-Date → AccessDenied', async () => {
    const request = await headerSigned({ path: '/b/k' });
    const { 'x-amz-date': _date, ...without } = request.headers;
    expect(codeOf(() => verifySignature({ ...request, headers: without }, secretFor, SIGNED_AT))).toBe('AccessDenied');
    expect(codeOf(() => verifySignature({ ...request, headers: { ...request.headers, 'x-amz-date': '20261301T102030Z' } }, secretFor, SIGNED_AT))).toBe('AccessDenied');
  });

  it('x-amz-content-sha256 is required and must be a known mode or a SHA-256', async () => {
    const request = await headerSigned({ path: '/b/k' });
    const { 'x-amz-content-sha256': _hash, ...without } = request.headers;
    expect(codeOf(() => verifySignature({ ...request, headers: without }, secretFor, SIGNED_AT))).toBe('InvalidRequest');
    const odd = await headerSigned({ path: '/b/k', headers: { 'x-amz-content-sha256': 'not-a-hash' } });
    expect(codeOf(() => verifySignature(odd, secretFor, SIGNED_AT))).toBe('InvalidArgument');
  });

  it('an x-amz-* header that was not signed → AccessDenied naming it', async () => {
    const request = await headerSigned({ method: 'PUT', path: '/b/k' });
    const error = errorOf(() =>
      verifySignature({ ...request, headers: { ...request.headers, 'x-amz-copy-source': '/other/secret' } }, secretFor, SIGNED_AT),
    );
    expect(error.code).toBe('AccessDenied');
    expect(error.options.extra).toEqual({ HeadersNotSigned: 'x-amz-copy-source' });
  });

  it('signed header values: trimmed, inner spaces collapsed, repeated values joined with ","', async () => {
    const request = await headerSigned({ path: '/b/k', headers: { 'x-amz-meta-note': 'a b c', 'x-amz-meta-list': 'one,two' } });
    const wire = { ...request, headers: { ...request.headers, 'x-amz-meta-note': '  a   b \t c ', 'x-amz-meta-list': ['one', ' two '] } };
    expect(codeOf(() => verifySignature(wire, secretFor, SIGNED_AT))).toBe('no error');
  });

  it('a header value with UTF-8 bytes, as Node hands it over (latin1), verifies', async () => {
    const request = await headerSigned({ method: 'PUT', path: '/b/k', headers: { 'x-amz-meta-name': 'café €' } });
    const asNodeSeesIt = Buffer.from('café €', 'utf8').toString('latin1');
    expect(codeOf(() => verifySignature({ ...request, headers: { ...request.headers, 'x-amz-meta-name': asNodeSeesIt } }, secretFor, SIGNED_AT))).toBe('no error');
  });

  it.each<[string, string, S3ErrorCode]>([
    ['SigV2', 'AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=', 'InvalidRequest'],
    ['SigV4a', 'AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20261201/s3/aws4_request, SignedHeaders=host, Signature=00', 'InvalidRequest'],
    ['no Signature', `AWS4-HMAC-SHA256 Credential=${AKID}/20261201/us-east-1/s3/aws4_request, SignedHeaders=host`, 'AuthorizationHeaderMalformed'],
    ['a short Credential', `AWS4-HMAC-SHA256 Credential=${AKID}/20261201/us-east-1/s3, SignedHeaders=host, Signature=${'0'.repeat(64)}`, 'AuthorizationHeaderMalformed'],
    ['another service', `AWS4-HMAC-SHA256 Credential=${AKID}/20261201/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`, 'AuthorizationHeaderMalformed'],
    ['host not signed', `AWS4-HMAC-SHA256 Credential=${AKID}/20261201/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=${'0'.repeat(64)}`, 'AuthorizationHeaderMalformed'],
    ['garbage', 'AWS4-HMAC-SHA256 nonsense', 'AuthorizationHeaderMalformed'],
  ])('%s in the Authorization header → %s', (_what, authorization, code) => {
    const request: SignedRequest = {
      method: 'GET',
      rawPath: '/b/k',
      rawQuery: '',
      headers: { host: 'h', authorization, 'x-amz-date': '20261201T102030Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    };
    expect(codeOf(() => verifySignature(request, secretFor, SIGNED_AT))).toBe(code);
  });

  it('no authentication at all → AccessDenied (no anonymous access); SigV2 query → InvalidRequest', () => {
    expect(codeOf(() => verifySignature({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { host: 'h' } }, secretFor, SIGNED_AT))).toBe('AccessDenied');
    const v2: SignedRequest = { method: 'GET', rawPath: '/b/k', rawQuery: 'AWSAccessKeyId=AKID&Expires=1&Signature=abc', headers: { host: 'h' } };
    expect(codeOf(() => verifySignature(v2, secretFor, SIGNED_AT))).toBe('InvalidRequest');
  });

  it('a header signature and a presigned query at once → InvalidArgument', async () => {
    const request = await headerSigned({ path: '/b/k' });
    const url = await presigned({ path: '/b/k' });
    expect(codeOf(() => verifySignature({ ...request, rawQuery: url.rawQuery }, secretFor, SIGNED_AT))).toBe('InvalidArgument');
  });
});

describe('SigV4 presigned URLs', () => {
  it('verify, with UNSIGNED-PAYLOAD as the payload hash', async () => {
    const request = await presigned({ path: '/bucket/photo.jpg', headers: {} });
    const result = verifySignature(request, secretFor, new Date(SIGNED_AT.getTime() + 3_599_000));
    expect(result.presigned).toBe(true);
    expect(result.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(result.accessKeyId).toBe(AKID);
  });

  it('an expired URL → AccessDenied "Request has expired"', async () => {
    const request = await presigned({ path: '/b/k' }, 60);
    const error = errorOf(() => verifySignature(request, secretFor, new Date(SIGNED_AT.getTime() + 61_000)));
    expect(error.code).toBe('AccessDenied');
    expect(error.message).toBe('Request has expired');
  });

  it('valid for seven days, never longer', async () => {
    const week = await presigned({ path: '/b/k' }, 604_800);
    expect(codeOf(() => verifySignature(week, secretFor, new Date(SIGNED_AT.getTime() + 604_799_000)))).toBe('no error');
    expect(codeOf(() => verifySignature(week, secretFor, new Date(SIGNED_AT.getTime() + 604_801_000)))).toBe('AccessDenied');
    const tooLong = { ...week, rawQuery: replaceQuery(week.rawQuery, 'X-Amz-Expires', '604801') };
    expect(codeOf(() => verifySignature(tooLong, secretFor, SIGNED_AT))).toBe('AuthorizationQueryParametersError');
  });

  it('a URL dated in the future beyond the skew is not valid yet', async () => {
    const request = await presigned({ path: '/b/k' });
    expect(codeOf(() => verifySignature(request, secretFor, new Date(SIGNED_AT.getTime() - 16 * 60_000)))).toBe('AccessDenied');
  });

  it.each<[string, (q: string) => string, S3ErrorCode]>([
    ['a changed Expires', (q) => replaceQuery(q, 'X-Amz-Expires', '3000'), 'SignatureDoesNotMatch'],
    ['an added parameter', (q) => `${q}&response-content-type=text%2Fhtml`, 'SignatureDoesNotMatch'],
    ['a changed signature', (q) => q.replace(/X-Amz-Signature=(.)/, (_m, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`), 'SignatureDoesNotMatch'],
    ['no X-Amz-Signature', (q) => q.replace(/&?X-Amz-Signature=[0-9a-f]+/, ''), 'AuthorizationQueryParametersError'],
    ['no X-Amz-Credential', (q) => q.replace(/&?X-Amz-Credential=[^&]+/, ''), 'AuthorizationQueryParametersError'],
    ['another algorithm', (q) => replaceQuery(q, 'X-Amz-Algorithm', 'AWS4-HMAC-SHA1'), 'AuthorizationQueryParametersError'],
    ['a non-numeric Expires', (q) => replaceQuery(q, 'X-Amz-Expires', 'soon'), 'AuthorizationQueryParametersError'],
    ['a malformed date', (q) => replaceQuery(q, 'X-Amz-Date', '2026-12-01'), 'AuthorizationQueryParametersError'],
    ['a credential of another day', (q) => replaceQuery(q, 'X-Amz-Credential', `${AKID}%2F20261130%2Feu-central-7%2Fs3%2Faws4_request`), 'AuthorizationQueryParametersError'],
    ['an unknown key', (q) => replaceQuery(q, 'X-Amz-Credential', `NOBODY%2F20261201%2Feu-central-7%2Fs3%2Faws4_request`), 'InvalidAccessKeyId'],
    ['a repeated X-Amz-Date', (q) => `${q}&X-Amz-Date=20261201T102030Z`, 'AuthorizationQueryParametersError'],
  ])('%s → %s', async (_what, tamper, code) => {
    const request = await presigned({ path: '/bucket/key', query: { 'response-content-disposition': 'attachment; filename="a b.txt"' } });
    expect(codeOf(() => verifySignature(request, secretFor, SIGNED_AT))).toBe('no error');
    expect(codeOf(() => verifySignature({ ...request, rawQuery: tamper(request.rawQuery) }, secretFor, SIGNED_AT))).toBe(code);
  });

  it('tampering with the method or path of a presigned URL fails', async () => {
    const request = await presigned({ method: 'GET', path: '/bucket/key' });
    expect(codeOf(() => verifySignature({ ...request, method: 'PUT' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => verifySignature({ ...request, rawPath: '/bucket/other' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
  });
});

const HARD_KEYS: Array<[string, string]> = [
  ['percent', 'report 100%.txt'],
  ['percent escapes taken literally', 'a%2Fb%20c'],
  ['plus', 'a+b+c.txt'],
  ['spaces', 'my documents/annual report.pdf'],
  ['slash runs', 'a//b///c/'],
  ['leading slash', '/starts-with-slash'],
  ['dot segments (S3 does not normalise)', 'a/./b/../c'],
  ['unicode', 'фото/日本語/ünïcødé €.txt'],
  ['emoji', 'smile 😀.png'],
  ['reserved characters', "!$&'()*+,;=:@[]~"],
  ['1024-byte key', 'k'.repeat(1000) + '/' + 'é'.repeat(11) + 'x'],
];

describe('keys with hard characters', () => {
  it('the 1024-byte key really is 1024 bytes', () => {
    expect(Buffer.byteLength(HARD_KEYS.at(-1)![1])).toBe(1024);
  });

  it.each(HARD_KEYS)('%s: header-signed and presigned requests verify', async (_what, key) => {
    const path = s3Path('bucket', key);
    const get = await headerSigned({ path });
    expect(codeOf(() => verifySignature(get, secretFor, SIGNED_AT))).toBe('no error');
    const request = await headerSigned({ method: 'PUT', path });
    expect(codeOf(() => verifySignature(request, secretFor, SIGNED_AT))).toBe('no error');
    const url = await presigned({ path });
    expect(codeOf(() => verifySignature(url, secretFor, SIGNED_AT))).toBe('no error');
    // A neighbouring key must not verify with the same signature.
    expect(codeOf(() => verifySignature({ ...request, rawPath: s3Path('bucket', `${key}x`) }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
  });

  it('wire forms that differ from the signed form but decode to the same bytes verify (clients escape differently)', async () => {
    const key = "it's (a) *test*! ~ é";
    const request = await headerSigned({ path: s3Path('bucket', key) });
    // Canonical (what the SDK signs): it%27s%20%28a%29%20%2Atest%2A%21%20~%20%C3%A9
    const variants = [
      "/bucket/it's%20(a)%20*test*!%20~%20%C3%A9", // reserved characters sent raw
      "/bucket/it's%20(a)%20*test*!%20%7E%20%c3%a9", // ~ escaped, lower-case hex
      "/bucket/it's%20(a)%20*test*!%20~%20é", // raw unicode (a lenient parser hands it over as text)
    ];
    for (const rawPath of variants) {
      expect(canonicalUri(rawPath)).toBe(request.rawPath);
      expect(codeOf(() => verifySignature({ ...request, rawPath }, secretFor, SIGNED_AT))).toBe('no error');
    }
  });

  it('a raw "+" in the path is a literal plus: verifies against a signer that signed %2B, not one that signed a space', async () => {
    const plus = await headerSigned({ path: '/bucket/a%2Bb' });
    expect(codeOf(() => verifySignature({ ...plus, rawPath: '/bucket/a+b' }, secretFor, SIGNED_AT))).toBe('no error');
    const space = await headerSigned({ path: '/bucket/a%20b' });
    expect(codeOf(() => verifySignature({ ...space, rawPath: '/bucket/a+b' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
  });

  it('a client that signs the wire path verbatim (raw "+", "!", "*") also verifies', async () => {
    const rawPath = "/bucket/a+b!c*d'e(f)";
    const request = await headerSigned({ path: rawPath }, { uriEscapePath: false });
    expect(codeOf(() => verifySignature(request, secretFor, SIGNED_AT))).toBe('no error');
    expect(codeOf(() => verifySignature({ ...request, rawPath: '/bucket/a+b!c*d' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
  });

  it('an encoded slash stays distinct from a slash', async () => {
    const request = await headerSigned({ path: '/bucket/a%2Fb' });
    expect(codeOf(() => verifySignature({ ...request, rawPath: '/bucket/a/b' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
  });
});

describe('canonical query strings', () => {
  it('a parameter without "=" is signed as "name="; values are sorted; encodings normalised', async () => {
    const request = await headerSigned({ method: 'POST', path: '/bucket/key', query: { uploads: '', tag: ['b', 'a'], 'prefix': 'x y+z/€' } });
    const handWritten = 'uploads&tag=b&tag=a&prefix=x%20y%2bz/%E2%82%AC';
    expect(codeOf(() => verifySignature({ ...request, rawQuery: handWritten }, secretFor, SIGNED_AT))).toBe('no error');
  });

  it('a "+" in a query value is a space (form encoding), as the query parser reads it', async () => {
    const request = await headerSigned({ path: '/bucket', query: { prefix: 'a b' } });
    expect(codeOf(() => verifySignature({ ...request, rawQuery: 'prefix=a+b' }, secretFor, SIGNED_AT))).toBe('no error');
    const plus = await headerSigned({ path: '/bucket', query: { prefix: 'a+b' } });
    expect(codeOf(() => verifySignature({ ...plus, rawQuery: 'prefix=a+b' }, secretFor, SIGNED_AT))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => verifySignature({ ...plus, rawQuery: 'prefix=a%2Bb' }, secretFor, SIGNED_AT))).toBe('no error');
  });
});

describe('canonical components', () => {
  // canonicalizeComponent returns a component already in canonical form as it is: that shortcut
  // must give what decoding and re-encoding gives, for every shape of input.
  const samples = [
    '', 'plain-key_1.txt~', 'AKID%2F20261201%2Fus-east-1%2Fs3%2Faws4_request', 'a%2fb', '%41bc', '%7E', '%2', '%zz', '100%',
    'a+b', 'a%20b', 'x y', '€', '%E2%82%AC', '%e2%82%ac', '!*()', '%21', 'A%2FB%2f', '%%41',
  ];
  it.each(samples)('%j', (wire) => {
    for (const plusIsSpace of [false, true]) {
      expect(canonicalizeComponent(wire, plusIsSpace)).toBe(awsUriEncodeBytes(percentDecodeToBytes(wire, plusIsSpace)));
    }
    expect(decodeQueryComponent(wire)).toBe(percentDecodeToBytes(wire).toString('utf8'));
  });
});

describe('real requests from @aws-sdk/client-s3 and its presigner', () => {
  let server: http.Server;
  let endpoint: string;
  const captured: SignedRequest[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const question = url.indexOf('?');
      captured.push({
        method: req.method ?? 'GET',
        rawPath: question < 0 ? url : url.slice(0, question),
        rawQuery: question < 0 ? '' : url.slice(question + 1),
        headers: req.headersDistinct,
      });
      req.resume();
      req.on('end', () => {
        res.setHeader('ETag', '"0"');
        res.setHeader('Content-Type', 'application/xml');
        res.end(req.method === 'GET' && url.includes('list-type') ? '<ListBucketResult></ListBucketResult>' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  function client(): S3Client {
    return new S3Client({ endpoint, region: 'us-west-9', forcePathStyle: true, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
  }

  it('PutObject and ListObjectsV2 with hard keys and prefixes verify', async () => {
    captured.length = 0;
    const s3 = client();
    for (const [, key] of HARD_KEYS) {
      await s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: 'hello', Metadata: { note: 'spaced  out' } }));
    }
    await s3.send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a b+c/€', Delimiter: '/', StartAfter: "it's" }));
    s3.destroy();
    expect(captured).toHaveLength(HARD_KEYS.length + 1);
    for (const request of captured) {
      const result = verifySignature(request, secretFor, new Date());
      expect(result.accessKeyId).toBe(AKID);
      expect(result.scope.endsWith('/us-west-9/s3/aws4_request')).toBe(true);
      expect(codeOf(() => verifySignature({ ...request, method: request.method === 'PUT' ? 'POST' : 'HEAD' }, secretFor, new Date()))).toBe('SignatureDoesNotMatch');
    }
  });

  it('presigned GET and PUT URLs verify as the URL arrives', async () => {
    const s3 = client();
    for (const [, key] of HARD_KEYS.slice(0, 6)) {
      for (const command of [new GetObjectCommand({ Bucket: 'bucket', Key: key }), new PutObjectCommand({ Bucket: 'bucket', Key: key })]) {
        const url = new URL(await getSignedUrl(s3, command, { expiresIn: 900 }));
        const request: SignedRequest = {
          method: command instanceof GetObjectCommand ? 'GET' : 'PUT',
          rawPath: url.pathname,
          rawQuery: url.search.slice(1),
          headers: { host: url.host },
        };
        const result = verifySignature(request, secretFor, new Date());
        expect(result.presigned).toBe(true);
        expect(result.payloadHash).toBe('UNSIGNED-PAYLOAD');
        expect(codeOf(() => verifySignature({ ...request, headers: { host: 'elsewhere:1' } }, secretFor, new Date()))).toBe('SignatureDoesNotMatch');
      }
    }
    s3.destroy();
  });
});

describe('signing keys', () => {
  it('are cached in a bounded map', () => {
    for (let day = 1; day <= 400; day++) deriveSigningKey(SECRET, `2026${String(Math.ceil(day / 28)).padStart(2, '0')}${String((day % 28) + 1).padStart(2, '0')}`, `r${day}`, 's3');
    expect(cachedSigningKeyCount()).toBeLessThanOrEqual(256);
    expect(cachedSigningKeyCount()).toBeGreaterThan(0);
  });

  it('match the AWS documentation example', () => {
    // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4".
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });
});

