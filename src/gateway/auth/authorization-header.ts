import { S3Error } from '../errors.js';
import { isCredentialProblem, parseCredential, type Credential } from './credential.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/** What an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` carries. */
export interface AuthorizationHeader {
  readonly credential: Credential;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

function malformed(detail: string): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`);
}

/** Refuses SigV2 (`AWS AKID:sig`), SigV4a and anything else that is not AWS4-HMAC-SHA256. */
export function parseAuthorizationHeader(value: string): AuthorizationHeader {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) throw new S3Error('InvalidRequest', UNSUPPORTED_MECHANISM);

  const fields = new Map<string, string>();
  for (const component of trimmed.slice(space + 1).split(',')) {
    const part = component.trim();
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals <= 0) throw malformed(`the component "${part.slice(0, 40)}" is not of the form name=value.`);
    const name = part.slice(0, equals).trim();
    if (fields.has(name)) throw malformed(`${name} appears twice.`);
    fields.set(name, part.slice(equals + 1).trim());
  }
  const credentialText = fields.get('Credential');
  const signedHeadersText = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credentialText === undefined || signedHeadersText === undefined || signature === undefined) {
    throw malformed('Credential, SignedHeaders and Signature are all required.');
  }
  const credential = parseCredential(credentialText);
  if (isCredentialProblem(credential)) throw malformed(`${credential.problem}`);
  return { credential, signedHeaders: parseSignedHeaders(signedHeadersText, malformed), signature };
}

/**
 * `host;x-amz-date;…`: lower-case names, no empties, no repeats, `host` included (AWS requires the
 * host to be signed: without it a signature could be replayed against another endpoint).
 */
export function parseSignedHeaders(value: string, fail: (detail: string) => S3Error): string[] {
  const names = value.split(';');
  const seen = new Set<string>();
  for (const name of names) {
    if (!/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) throw fail(`invalid header name "${name.slice(0, 40)}" in SignedHeaders.`);
    if (seen.has(name)) throw fail(`header "${name}" is listed twice in SignedHeaders.`);
    seen.add(name);
  }
  if (!seen.has('host')) throw fail('the host header must be signed.');
  return names;
}
