/**
 * The `Credential` of a SigV4 request: `AKID/YYYYMMDD/region/service/aws4_request`, the same in the
 * Authorization header and in X-Amz-Credential. Any region is accepted (the gateway has no region
 * of its own: clients send whatever they were configured with); the service must be `s3`.
 */
export interface Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** `date/region/service/aws4_request`, the credential scope of the string to sign. */
  readonly scope: string;
}

/** Why a credential string was refused (the caller turns it into its own error code). */
export type CredentialProblem = { readonly problem: string };

export function parseCredential(value: string): Credential | CredentialProblem {
  const parts = value.split('/');
  if (parts.length !== 5) return { problem: 'the Credential must have the form AKID/YYYYMMDD/region/s3/aws4_request' };
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (accessKeyId === '') return { problem: 'the Credential has an empty access key id' };
  if (!/^\d{8}$/.test(date)) return { problem: `incorrect date "${date}" in the Credential` };
  if (region === '' || !/^[A-Za-z0-9-_.]+$/.test(region)) return { problem: 'the Credential has an invalid region' };
  if (service !== 's3') return { problem: `incorrect service "${service}". This endpoint belongs to "s3".` };
  if (terminator !== 'aws4_request') return { problem: `incorrect terminal "${terminator}". This endpoint uses "aws4_request".` };
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/aws4_request` };
}

export function isCredentialProblem(value: Credential | CredentialProblem): value is CredentialProblem {
  return 'problem' in value;
}
