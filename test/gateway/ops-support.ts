import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ADMIN } from '../support/gateway.js';

/**
 * Raw HTTP for the operations tests (health, admission, access log): requests whose body the test
 * sends at its own pace, signed like the SDK signs them (x-amz-content-sha256: UNSIGNED-PAYLOAD).
 */

const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256 });

/** Signed headers of a request of `method` on `path` (with `contentLength` body bytes to follow). */
export async function signedHeaders(gatewayUrl: string, method: string, path: string, contentLength: number, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const url = new URL(gatewayUrl);
  const request = new HttpRequest({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path,
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(contentLength > 0 || method === 'PUT' ? { 'content-length': String(contentLength) } : {}), ...extra },
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  return signed.headers;
}

export function signedPutHeaders(gatewayUrl: string, path: string, contentLength: number, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return signedHeaders(gatewayUrl, 'PUT', path, contentLength, extra);
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Opens a request and returns it with a promise of its response (read whole). */
export function openRequest(gatewayUrl: string, method: string, path: string, headers: Record<string, string>, agent?: http.Agent): { req: http.ClientRequest; response: Promise<RawResponse> } {
  const url = new URL(gatewayUrl);
  const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: agent ?? false });
  const response = new Promise<RawResponse>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  response.catch(() => {});
  return { req, response };
}

export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
