import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { BackendClient } from '../backends/backend-client.js';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import type { StoreApi } from '../store/core/store.js';
import type { AccessControl } from './access.js';
import type { AuthResult } from './auth/sigv4.js';
import type { BucketDirectory } from './bucket-directory.js';
import type { BackendRouter } from './routing/backend-router.js';
import type { HealthProvider } from './health.js';
import type { OutageMode } from './outage/index.js';
import type { Dashboard } from '../dashboard/index.js';
import { S3Error } from './errors.js';
import type { Route } from './router.js';
import { openRequestBody, type BodyDigest } from './body/request-body.js';

/** What every operation shares: the store, the backends, the config. */
export interface GatewayDeps {
  readonly store: StoreApi;
  readonly backends: ReadonlyMap<string, BackendClient>;
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly access: AccessControl;
  readonly buckets: BucketDirectory;
  readonly router: BackendRouter;
  /** What /health asks about the database (the outage mode's breaker); absent: always 'ok'. */
  readonly health?: HealthProvider;
  /** The database outage mode (breaker, location cache, degraded GET/HEAD); absent: reads need the database. */
  readonly outage?: OutageMode;
  /** The operator dashboard (`ui` in the config); absent when turned off. */
  readonly ui?: Dashboard;
}

export interface VerifiedBody {
  readonly stream: Readable;
  readonly done: Promise<BodyDigest>;
}

/** XML request bodies (DeleteObjects, CompleteMultipartUpload) are small: 10,000 parts fit in 2 MiB. */
const MAX_XML_BODY_BYTES = 2 * 1024 * 1024;

const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;

/** One authenticated request on its way through an operation. */
export class S3Context {
  #continued = false;

  constructor(
    readonly deps: GatewayDeps,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly route: Route,
    readonly credential: CredentialConfig,
    readonly auth: AuthResult,
  ) {}

  get bucket(): string {
    if (this.route.bucket === undefined) throw new Error('operation without a bucket');
    return this.route.bucket;
  }

  get key(): string {
    if (this.route.key === undefined) throw new Error('operation without a key');
    return this.route.key;
  }

  /** The store's key of the object: "{bucket}/{key}". */
  get objectKey(): string {
    return `${this.bucket}/${this.key}`;
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  }

  /** Lets a client that sent `Expect: 100-continue` send its body: called only once admission passed. */
  continue(): void {
    if (this.#continued) return;
    this.#continued = true;
    if (/^100-continue$/i.test(this.header('expect') ?? '')) this.res.writeContinue();
  }

  /** The client went away mid-request: a failure that follows is the client's, not a backend's. */
  readonly clientGone = (): boolean => this.req.destroyed && !this.req.complete;

  /** Whether the body is aws-chunked (its wire length is not the object's length). */
  get isChunked(): boolean {
    return this.auth.payloadHash.startsWith('STREAMING-');
  }

  /**
   * The object's length as declared before any byte is read: `x-amz-decoded-content-length` for
   * aws-chunked bodies, else Content-Length.
   */
  declaredLength(): number {
    const text = this.isChunked ? this.header('x-amz-decoded-content-length') : this.header('content-length');
    if (text === undefined) {
      if (this.header('transfer-encoding') !== undefined && !this.isChunked) throw new S3Error('MissingContentLength');
      if (this.isChunked) throw new S3Error('MissingContentLength', 'An aws-chunked body needs the x-amz-decoded-content-length header.');
      return 0;
    }
    if (!/^\d{1,16}$/.test(text)) throw new S3Error('InvalidArgument', `Invalid content length: ${JSON.stringify(text.slice(0, 40))}.`);
    return Number(text);
  }

  /** The request body, decoded and verified as it streams (signatures, SHA-256, Content-MD5, checksums). */
  openBody(decodedLength: number): VerifiedBody {
    this.continue();
    const checksumHeaders: Record<string, string> = {};
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = this.header(`x-amz-checksum-${algorithm}`);
      if (value !== undefined) checksumHeaders[algorithm] = value;
    }
    const body = openRequestBody(this.req, {
      payloadHash: this.auth.payloadHash,
      decodedLength,
      contentMd5: this.header('content-md5'),
      checksumHeaders,
      trailer: this.header('x-amz-trailer'),
      auth: this.auth,
    });
    // A consumer that fails first must not leave this rejection unhandled.
    body.done.catch(() => {});
    return body;
  }

  /** A small verified body (XML), read whole. */
  async bodyText(): Promise<string> {
    const length = this.declaredLength();
    if (length > MAX_XML_BODY_BYTES) throw new S3Error('InvalidRequest', `The request body is larger than ${MAX_XML_BODY_BYTES} bytes.`);
    const body = this.openBody(length);
    const chunks: Buffer[] = [];
    for await (const chunk of body.stream) chunks.push(chunk as Buffer);
    await body.done;
    return Buffer.concat(chunks).toString('utf8');
  }
}
