import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors.js';
import { parseAmzDate } from './amz-date.js';
import { parseAuthorizationHeader } from './authorization-header.js';
import { canonicalRequest, stringToSign, type RequestHeaders } from './canonical-request.js';
import type { Credential } from './credential.js';
import { hasPresignedAlgorithm, hasSigV2Query, parsePresignedQuery } from './presigned-query.js';
import { deriveSigningKey, signHex } from './signing-key.js';
import { canonicalQuery, canonicalUri, splitRawQuery, type RawQueryParameter } from './uri-encoding.js';

/** A request as it arrived, before any decoding: what SigV4 verification needs. */
export interface SignedRequest {
  readonly method: string;
  /** The path exactly as on the wire, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** The query exactly as on the wire, without '?'. */
  readonly rawQuery: string;
  /** Node's lower-cased headers (`req.headers`, or better `req.headersDistinct`). */
  readonly headers: RequestHeaders;
}

/**
 * Who signed the request, and what the body verifier needs to check aws-chunked signatures.
 * `signingKey` is as powerful as the secret for the scope's day: never log it, never put it (or
 * the object holding it) in an error or a log line.
 */
export interface AuthResult {
  readonly accessKeyId: string;
  /** The x-amz-content-sha256 value (hex, UNSIGNED-PAYLOAD or STREAMING-*); presigned: UNSIGNED-PAYLOAD unless one was signed. */
  readonly payloadHash: string;
  readonly presigned: boolean;
  readonly signingKey: Buffer;
  /** The request's signature (lower-case hex): the seed of the aws-chunked signature chain. */
  readonly signature: string;
  /** `date/region/s3/aws4_request`. */
  readonly scope: string;
  /** X-Amz-Date as signed (`YYYYMMDDTHHMMSSZ`). */
  readonly amzDate: string;
}

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** The x-amz-content-sha256 values S3 accepts besides a hex SHA-256. */
export const PAYLOAD_HASH_MODES = [
  UNSIGNED_PAYLOAD,
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
] as const;

const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

/** The facts common to both ways of signing, once parsed. */
interface SignatureClaim {
  readonly credential: Credential;
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly payloadHash: string;
  readonly presigned: boolean;
}

/**
 * Verify a SigV4 request (Authorization header or presigned query). Throws S3Error for every
 * refusal; returns who signed it. `secretFor` answers undefined for an unknown access key id.
 */
export function verifySignature(
  request: SignedRequest,
  secretFor: (accessKeyId: string) => string | undefined,
  now: Date,
): AuthResult {
  const parameters = splitRawQuery(request.rawQuery);
  const authorization = singleHeader(request.headers, 'authorization');
  const presigned = hasPresignedAlgorithm(parameters);
  if (authorization !== undefined && presigned) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  let claim: SignatureClaim;
  if (authorization !== undefined) claim = headerClaim(authorization, request.headers, now);
  else if (presigned) claim = presignedClaim(parameters, request.headers, now);
  else if (hasSigV2Query(parameters)) throw new S3Error('InvalidRequest', UNSUPPORTED_MECHANISM);
  else throw new S3Error('AccessDenied', 'Anonymous access is not allowed: sign the request with AWS Signature Version 4.');

  requireSignedAmzHeaders(request.headers, claim.signedHeaders);

  const secret = secretFor(claim.credential.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId');
  const { date, region, service, scope } = claim.credential;
  const signingKey = deriveSigningKey(secret, date, region, service);

  const query = canonicalQuery(parameters, 'X-Amz-Signature', true);
  const provided = claim.signature.toLowerCase();
  for (const uri of canonicalUriCandidates(request.rawPath)) {
    const canonical = canonicalRequest({
      method: request.method,
      canonicalUri: uri,
      canonicalQuery: query,
      headers: request.headers,
      signedHeaders: claim.signedHeaders,
      payloadHash: claim.payloadHash,
    });
    const expected = signHex(signingKey, stringToSign(claim.amzDate, scope, canonical));
    if (signaturesEqual(expected, provided)) {
      return {
        accessKeyId: claim.credential.accessKeyId,
        payloadHash: claim.payloadHash,
        presigned: claim.presigned,
        signingKey,
        signature: expected,
        scope,
        amzDate: claim.amzDate,
      };
    }
  }
  throw new S3Error('SignatureDoesNotMatch');
}

/**
 * The canonical URIs a legitimate client may have signed for this wire path. First AWS's rule
 * (decode, re-encode every byte but A-Z a-z 0-9 - _ . ~), which is what the official SDKs and
 * AWS's own servers use. Then, when it differs, the wire path verbatim: signers that were handed
 * an already-encoded path and sign it as-is (smithy's uriEscapePath: false) with characters the
 * rule would escape (`!`, `+`, `*`…). Accepting the verbatim form is safe: it is exactly what the
 * server received, so the gateway's reading of the path is the one that was signed.
 * `+` in a path is a literal plus (only query strings use form encoding).
 */
function canonicalUriCandidates(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  const byRule = canonicalUri(path);
  return byRule === path ? [byRule] : [byRule, path];
}

function headerClaim(authorization: string, headers: RequestHeaders, now: Date): SignatureClaim {
  const parsed = parseAuthorizationHeader(authorization);
  const amzDate = singleHeader(headers, 'x-amz-date');
  const instant = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || instant === undefined) {
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  if (parsed.credential.date !== amzDate.slice(0, 8)) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; Invalid credential date "${parsed.credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  if (Math.abs(now.getTime() - instant.getTime()) > MAX_CLOCK_SKEW_MS) throw tooSkewed(amzDate, now);
  const payloadHash = singleHeader(headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  requireValidPayloadHash(payloadHash);
  return { credential: parsed.credential, amzDate, signedHeaders: parsed.signedHeaders, signature: parsed.signature, payloadHash, presigned: false };
}

function presignedClaim(parameters: readonly RawQueryParameter[], headers: RequestHeaders, now: Date): SignatureClaim {
  const parsed = parsePresignedQuery(parameters);
  const instant = parseAmzDate(parsed.amzDate);
  if (instant === undefined) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  }
  if (parsed.credential.date !== parsed.amzDate.slice(0, 8)) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `Invalid credential date "${parsed.credential.date}". This date is not the same as X-Amz-Date: "${parsed.amzDate.slice(0, 8)}".`,
    );
  }
  if (instant.getTime() - now.getTime() > MAX_CLOCK_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  if (now.getTime() > instant.getTime() + parsed.expiresSeconds * 1000) throw new S3Error('AccessDenied', 'Request has expired');
  // The signer put the header's value (or the hoisted query parameter's) in the canonical request.
  const payloadHash = singleHeader(headers, 'x-amz-content-sha256') ?? parsed.contentSha256 ?? UNSIGNED_PAYLOAD;
  requireValidPayloadHash(payloadHash);
  return { credential: parsed.credential, amzDate: parsed.amzDate, signedHeaders: parsed.signedHeaders, signature: parsed.signature, payloadHash, presigned: true };
}

/**
 * Every x-amz-* header present must be signed, as AWS requires: otherwise anyone holding a
 * presigned URL or replaying a request could add x-amz-copy-source, x-amz-meta-*, … unnoticed.
 */
function requireSignedAmzHeaders(headers: RequestHeaders, signedHeaders: readonly string[]): void {
  const signed = new Set(signedHeaders);
  const unsigned = Object.keys(headers).filter((name) => name.startsWith('x-amz-') && headers[name] !== undefined && !signed.has(name));
  if (unsigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      extra: { HeadersNotSigned: unsigned.sort().join(', ') },
    });
  }
}

function requireValidPayloadHash(value: string): void {
  if (/^[0-9a-fA-F]{64}$/.test(value) || (PAYLOAD_HASH_MODES as readonly string[]).includes(value)) return;
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
  );
}

function tooSkewed(amzDate: string, now: Date): S3Error {
  return new S3Error('RequestTimeTooSkewed', undefined, {
    extra: { RequestTime: amzDate, ServerTime: now.toISOString(), MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS) },
  });
}

/** One header's value; a header sent twice where only one makes sense is refused by callers. */
function singleHeader(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 1) return value[0];
    if (value.length === 0) return undefined;
    throw new S3Error('InvalidArgument', `The ${name} header may be given only once.`);
  }
  return value;
}

/** Constant-time comparison of two signatures (hex strings): no early exit on the first difference. */
function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}
