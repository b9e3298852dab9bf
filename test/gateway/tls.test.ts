import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ADMIN, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * Issue 12 item 7: server.tls serves HTTPS. The certificate is made here with openssl (for
 * 127.0.0.1 and localhost); where openssl is missing, the repository's test certificate for
 * localhost is used and the client checks the name `localhost`.
 */

afterEach(closeGateways);

let dir: string;
let certFile: string;
let keyFile: string;
let namesIp = true;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 's3o-tls-'));
  certFile = join(dir, 'cert.pem');
  keyFile = join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (made.error || made.status !== 0) {
    certFile = new URL('../fixtures/tls/localhost.crt', import.meta.url).pathname;
    keyFile = new URL('../fixtures/tls/localhost.key', import.meta.url).pathname;
    namesIp = false;
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An agent that trusts the test certificate (and nothing else). */
function trustingAgent(): https.Agent {
  return new https.Agent({
    ca: readFileSync(certFile),
    ...(namesIp ? {} : { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity('localhost', cert) }),
  });
}

function sdk(tg: TestGateway, agent: https.Agent): S3Client {
  return new S3Client({ endpoint: tg.url, region: 'us-east-1', forcePathStyle: true, credentials: ADMIN, maxAttempts: 1, requestHandler: { httpsAgent: agent } });
}

function httpsGet(url: string, agent: https.Agent): Promise<{ status: number; body: string; protocol: string | undefined }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, protocol: (res.socket as tls.TLSSocket).getProtocol?.() ?? undefined }));
      })
      .on('error', reject);
  });
}

it('with server.tls the endpoint is HTTPS: the SDK trusting the certificate reads and writes; health answers over TLS', async () => {
  const tg = await startTestGateway('sqlite', { server: { tls: { certFile, keyFile } } });
  expect(tg.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const agent = trustingAgent();
  const s3 = sdk(tg, agent);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'secure' }));
    const body = randomBytes(256 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'secure', Key: 'over/tls', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'secure', Key: 'over/tls' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'secure' }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['over/tls']);

    const health = await httpsGet(`${tg.url}/health`, agent);
    expect(health).toMatchObject({ status: 200, body: 'ok' });
    expect(health.protocol).toMatch(/^TLSv1\.[23]$/);
  } finally {
    s3.destroy();
    agent.destroy();
  }
});

it('a client that does not trust the certificate is refused in the handshake; plain HTTP on the port gets no S3 answer', async () => {
  const tg = await startTestGateway('sqlite', { server: { tls: { certFile, keyFile } } });
  const untrusting = new https.Agent();
  const s3 = sdk(tg, untrusting);
  try {
    await expect(s3.send(new CreateBucketCommand({ Bucket: 'nope' }))).rejects.toThrow(/self.signed certificate|unable to verify/i);
  } finally {
    s3.destroy();
    untrusting.destroy();
  }
  const plain = tg.url.replace('https://', 'http://');
  const answer = await new Promise<string>((resolve) => {
    http
      .get(`${plain}/health`, (res) => resolve(`status ${res.statusCode}`))
      .on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
  // Node's TLS server answers a plaintext request with 400 and closes (or resets): never "ok".
  expect(answer).toMatch(/^status 400$|^error /);
});
