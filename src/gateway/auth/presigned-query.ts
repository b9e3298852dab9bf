import { S3Error } from '../errors.js';
import { SIGV4_ALGORITHM, parseSignedHeaders } from './authorization-header.js';
import { isCredentialProblem, parseCredential, type Credential } from './credential.js';
import { decodeQueryComponent, type RawQueryParameter } from './uri-encoding.js';

/** A presigned URL may live at most seven days (AWS's limit). */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

/** The X-Amz-* parameters of a presigned (query-authenticated) SigV4 request. */
export interface PresignedQuery {
  readonly credential: Credential;
  readonly amzDate: string;
  readonly expiresSeconds: number;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** `X-Amz-Content-Sha256` when the URL was signed with one (the S3 presigner hoists it here). */
  readonly contentSha256: string | undefined;
}

function malformed(detail: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', detail);
}

/** Whether the query carries SigV4 query authentication at all. */
export function hasPresignedAlgorithm(parameters: readonly RawQueryParameter[]): boolean {
  return parameters.some((parameter) => decodeQueryComponent(parameter.name) === 'X-Amz-Algorithm');
}

/** Whether the query carries SigV2 query authentication (`AWSAccessKeyId` + `Signature`). */
export function hasSigV2Query(parameters: readonly RawQueryParameter[]): boolean {
  const names = new Set(parameters.map((parameter) => decodeQueryComponent(parameter.name)));
  return names.has('AWSAccessKeyId') && names.has('Signature');
}

export function parsePresignedQuery(parameters: readonly RawQueryParameter[]): PresignedQuery {
  const values = new Map<string, string>();
  for (const { name, value } of parameters) {
    const decodedName = decodeQueryComponent(name);
    const key = decodedName.toLowerCase();
    if (!key.startsWith('x-amz-')) continue;
    if (values.has(key)) throw malformed(`The query parameter ${decodedName} appears more than once.`);
    values.set(key, decodeQueryComponent(value));
  }
  const algorithm = values.get('x-amz-algorithm');
  if (algorithm !== SIGV4_ALGORITHM) throw malformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credentialText = values.get('x-amz-credential');
  const amzDate = values.get('x-amz-date');
  const expiresText = values.get('x-amz-expires');
  const signedHeadersText = values.get('x-amz-signedheaders');
  const signature = values.get('x-amz-signature');
  if (credentialText === undefined || amzDate === undefined || expiresText === undefined || signedHeadersText === undefined || signature === undefined) {
    throw malformed(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(credentialText);
  if (isCredentialProblem(credential)) throw malformed(`Error parsing the X-Amz-Credential parameter; ${credential.problem}`);
  if (!/^\d{1,7}$/.test(expiresText)) throw malformed('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expiresText);
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw malformed('X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds');
  }
  return {
    credential,
    amzDate,
    expiresSeconds,
    signedHeaders: parseSignedHeaders(signedHeadersText, (detail) => malformed(`Error parsing the X-Amz-SignedHeaders parameter; ${detail}`)),
    signature,
    contentSha256: values.get('x-amz-content-sha256'),
  };
}
