import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConfig, SslMode } from '../src/config/types.js';
import { DatabaseUnavailableError } from '../src/store/core/errors.js';
import { openStore } from '../src/store/open.js';
import { appConfig, postgresConfig } from './support/engines.js';

const CERT_FILE = new URL('./fixtures/tls/localhost.crt', import.meta.url).pathname;
const KEY = readFileSync(new URL('./fixtures/tls/localhost.key', import.meta.url));
const CERT = readFileSync(CERT_FILE);

/**
 * Just enough of a PostgreSQL server to test the client's TLS: it answers the SSLRequest with 'S',
 * completes a TLS handshake with a self-signed certificate for `localhost`, then hangs up. What the
 * client then reports tells whether it accepted the certificate.
 */
class TlsProbeServer {
  readonly handshakes: string[] = [];
  #server: Server | undefined;

  async start(): Promise<number> {
    this.#server = createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  #serve(socket: Socket): void {
    socket.once('data', (first: Buffer) => {
      // SSLRequest: length 8, code 80877103. Anything else is a plain StartupMessage (no TLS asked).
      if (first.length >= 8 && first.readInt32BE(4) === 80877103) {
        socket.write('S');
        const tls = new TLSSocket(socket, { isServer: true, key: KEY, cert: CERT });
        tls.on('secure', () => {
          this.handshakes.push('tls');
          tls.destroy();
        });
        tls.on('error', () => this.handshakes.push('tls refused by client'));
      } else {
        this.handshakes.push('plain');
        socket.destroy();
      }
    });
    socket.on('error', () => {});
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

const servers: TlsProbeServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function connect(host: string, sslMode: SslMode, sslRootCert?: string): Promise<{ error: Error; handshakes: string[] }> {
  const server = new TlsProbeServer();
  servers.push(server);
  const port = await server.start();
  const config: PostgresConfig = { ...postgresConfig('meta'), host, port, sslMode, sslRootCert };
  let error: Error | undefined;
  try {
    await openStore(appConfig(config));
  } catch (err) {
    error = err as Error;
  }
  if (!error) throw new Error('the probe server cannot host a store: connecting should have failed');
  await new Promise((r) => setTimeout(r, 50)); // let the server record the end of the handshake
  return { error, handshakes: server.handshakes };
}

describe('PostgreSQL TLS (ssl_mode)', () => {
  it('verify-full accepts a certificate signed by ssl_root_cert that names the host', async () => {
    const { error, handshakes } = await connect('localhost', 'verify-full', CERT_FILE);
    expect(handshakes).toEqual(['tls']); // the handshake completed; the probe then hung up
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error.message).not.toMatch(/certificate|altnames|self.signed/i);
  });

  it('verify-full refuses a certificate that does not name the host', async () => {
    const { error } = await connect('127.0.0.1', 'verify-full', CERT_FILE);
    expect(`${error.message} ${String((error as { cause?: unknown }).cause)}`).toMatch(/does not match certificate's altnames|IP: 127\.0\.0\.1 is not in the cert/i);
  });

  it('verify-full refuses a certificate no trusted authority signed', async () => {
    const { error } = await connect('localhost', 'verify-full');
    expect(`${error.message} ${String((error as { cause?: unknown }).cause)}`).toMatch(/self.signed certificate/i);
  });

  it('verify-ca checks the chain but not the host name', async () => {
    const { handshakes } = await connect('127.0.0.1', 'verify-ca', CERT_FILE);
    expect(handshakes).toEqual(['tls']);
    const unsigned = await connect('127.0.0.1', 'verify-ca');
    expect(`${unsigned.error.message} ${String((unsigned.error as { cause?: unknown }).cause)}`).toMatch(/self.signed certificate/i);
  });

  it('require encrypts without checking, and disable does not ask for TLS at all', async () => {
    expect((await connect('127.0.0.1', 'require')).handshakes).toEqual(['tls']);
    expect((await connect('127.0.0.1', 'disable')).handshakes).toEqual(['plain']);
  });
});
