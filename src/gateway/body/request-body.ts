import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { S3Error } from '../errors.js';
import type { AuthResult } from '../auth/sigv4.js';
import { AwsChunkedDecoder } from './aws-chunked-decoder.js';
import { ThreadHash } from './hash-thread.js';
import { createChecksum, isChecksumAlgorithm, isWellFormedChecksum, type ChecksumAlgorithm, type IncrementalChecksum } from './checksums.js';

/**
 * A request body that verifies itself while it streams: the object bytes flow through with
 * bounded memory, and every integrity check the client asked for (x-amz-content-sha256,
 * Content-MD5, x-amz-checksum-* in headers or aws-chunked trailers, chunk and trailer
 * signatures, the declared length) is settled before the stream ends. A body that fails any
 * check makes `stream` emit 'error' and never 'end': a consumer that writes to a temporary file
 * and commits on 'finish' never commits a bad body.
 */

export interface RequestBodyOptions {
  /**
   * The x-amz-content-sha256 value: a hex SHA-256 of the body, UNSIGNED-PAYLOAD,
   * STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or
   * STREAMING-UNSIGNED-PAYLOAD-TRAILER (the last three mean aws-chunked framing).
   */
  readonly payloadHash: string;
  /** The object's length: Content-Length, or x-amz-decoded-content-length for aws-chunked bodies. */
  readonly decodedLength: number;
  /** The Content-MD5 header (base64), when sent. */
  readonly contentMd5?: string | undefined;
  /** Algorithm (`crc32`… or the full `x-amz-checksum-crc32` header name) → base64 value from the headers. */
  readonly checksumHeaders?: Readonly<Record<string, string | undefined>> | undefined;
  /** The x-amz-trailer header (e.g. `x-amz-checksum-crc32`), when sent. */
  readonly trailer?: string | undefined;
  /** The request's authentication: the signed aws-chunked variants chain their signatures from it. */
  readonly auth?: AuthResult | undefined;
}

export interface BodyDigest {
  readonly sizeBytes: number;
  /** MD5 of the object bytes, lower-case hex: the single-part ETag. */
  readonly md5Hex: string;
  /** Every x-amz-checksum that was verified (from a header or the trailer): algorithm → base64. */
  readonly checksums: Record<string, string>;
}

export interface VerifiedBody {
  /** The decoded object bytes; errors (S3Error) instead of ending when any check fails. */
  readonly stream: Readable;
  /** Resolves once `stream` has ended after every check passed; rejects with the stream's error. */
  readonly done: Promise<BodyDigest>;
}

const STREAMING_MODES = {
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': { signed: true, trailer: false },
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': { signed: true, trailer: true },
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': { signed: false, trailer: true },
} as const satisfies Record<string, { signed: boolean; trailer: boolean }>;

const CHECKSUM_HEADER_PREFIX = 'x-amz-checksum-';

/**
 * Wrap a request's raw body. Problems visible in the headers alone (a malformed Content-MD5,
 * an unknown checksum algorithm or payload hash mode, …) are thrown here, synchronously, before
 * a byte is read. `source` is piped, never destroyed: after an error the caller decides whether
 * to drain it or drop the connection.
 */
export function openRequestBody(source: Readable, options: RequestBodyOptions): VerifiedBody {
  const plan = planVerification(options);
  const transform = new VerifyingTransform(plan);
  const done = new Promise<BodyDigest>((resolve, reject) => {
    let digest: BodyDigest | undefined;
    let settled = false;
    transform.on('digest', (value: BodyDigest) => {
      digest = value;
    });
    transform.once('end', () => {
      settled = true;
      if (digest !== undefined) resolve(digest);
      else reject(new S3Error('InternalError', 'The request body ended without being verified.'));
    });
    transform.once('error', (err) => {
      settled = true;
      reject(err);
    });
    // Every body closes; only an unsettled one needs the error (building it costs a stack capture).
    transform.once('close', () => {
      if (!settled) reject(new S3Error('IncompleteBody', 'The request body was not read to its end.'));
    });
  });
  // Callers that only use `stream` must not see an unhandled rejection.
  done.catch(() => undefined);

  source.once('error', (error: unknown) => {
    transform.destroy(new S3Error('IncompleteBody', 'The request body could not be read to its end.', { cause: error }));
  });
  source.once('close', () => {
    if (!source.readableEnded) transform.destroy(new S3Error('IncompleteBody', 'The connection closed before the request body was complete.'));
  });
  source.pipe(transform);
  return { stream: transform, done };
}

export interface WholeBody {
  readonly bytes: Buffer;
  readonly digest: BodyDigest;
}

/**
 * Reads a verified body to its end into one buffer, for bodies small enough to hold (the caller
 * bounds the size by the declared length, which the verifier enforces). Rejects as `done` does:
 * nothing of a body that fails a check is returned.
 */
export async function readWhole(body: { readonly stream: Readable; readonly done: Promise<BodyDigest> }): Promise<WholeBody> {
  const chunks: Buffer[] = [];
  body.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const digest = await body.done;
  return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, digest.sizeBytes), digest };
}

/** Everything decided from the headers, before any byte arrives. */
interface VerificationPlan {
  readonly decodedLength: number;
  readonly expectedSha256: string | undefined;
  readonly expectedMd5Hex: string | undefined;
  /** Checksums from headers: their expected values are known now. */
  readonly headerChecksums: ReadonlyMap<ChecksumAlgorithm, string>;
  /** The checksum declared in x-amz-trailer: its value comes at the end of the body. */
  readonly trailerChecksum: ChecksumAlgorithm | undefined;
  readonly chunked: { readonly signed: boolean; readonly trailer: boolean } | undefined;
  readonly auth: AuthResult | undefined;
}

function planVerification(options: RequestBodyOptions): VerificationPlan {
  const { payloadHash, decodedLength } = options;
  if (!Number.isSafeInteger(decodedLength) || decodedLength < 0) {
    throw new S3Error('InvalidArgument', 'The declared content length is not a valid number of bytes.');
  }
  const chunked = Object.hasOwn(STREAMING_MODES, payloadHash) ? STREAMING_MODES[payloadHash as keyof typeof STREAMING_MODES] : undefined;
  let expectedSha256: string | undefined;
  if (chunked === undefined && payloadHash !== 'UNSIGNED-PAYLOAD') {
    if (!/^[0-9a-fA-F]{64}$/.test(payloadHash)) {
      if (payloadHash.startsWith('STREAMING-')) throw new S3Error('NotImplemented', `The payload mode ${payloadHash} is not supported.`);
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or a valid sha256 value.');
    }
    expectedSha256 = payloadHash.toLowerCase();
  }
  if (chunked?.signed === true && options.auth === undefined) {
    throw new S3Error('InternalError', 'A signed aws-chunked body needs the request authentication to verify its chunks.');
  }
  if (chunked?.signed === true && options.auth?.presigned === true) {
    throw new S3Error('InvalidRequest', 'Signed aws-chunked bodies require header authentication.');
  }

  let expectedMd5Hex: string | undefined;
  if (options.contentMd5 !== undefined) {
    const md5 = options.contentMd5.trim();
    const bytes = Buffer.from(md5, 'base64');
    if (bytes.length !== 16 || bytes.toString('base64') !== md5) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
    expectedMd5Hex = bytes.toString('hex');
  }

  const headerChecksums = new Map<ChecksumAlgorithm, string>();
  for (const [key, rawValue] of Object.entries(options.checksumHeaders ?? {})) {
    if (rawValue === undefined) continue;
    const name = key.toLowerCase();
    const algorithm = name.startsWith(CHECKSUM_HEADER_PREFIX) ? name.slice(CHECKSUM_HEADER_PREFIX.length) : name;
    // x-amz-checksum-type (FULL_OBJECT/COMPOSITE) and x-amz-checksum-mode share the prefix but carry no digest.
    if (algorithm === 'type' || algorithm === 'mode') continue;
    if (!isChecksumAlgorithm(algorithm)) throw new S3Error('InvalidRequest', `The checksum algorithm ${algorithm.slice(0, 32)} is not supported.`);
    const value = rawValue.trim();
    if (!isWellFormedChecksum(algorithm, value)) throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${algorithm} header is invalid.`);
    headerChecksums.set(algorithm, value);
  }

  let trailerChecksum: ChecksumAlgorithm | undefined;
  if (options.trailer !== undefined && options.trailer.trim() !== '') {
    if (chunked?.trailer !== true) throw new S3Error('InvalidRequest', 'x-amz-trailer requires an aws-chunked body with a trailer (STREAMING-*-TRAILER).');
    const names = options.trailer.split(',').map((part) => part.trim().toLowerCase()).filter((part) => part !== '');
    if (names.length !== 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- trailer.');
    const name = names[0] as string;
    const algorithm = name.startsWith(CHECKSUM_HEADER_PREFIX) ? name.slice(CHECKSUM_HEADER_PREFIX.length) : '';
    if (!isChecksumAlgorithm(algorithm)) throw new S3Error('InvalidRequest', `The trailer ${name.slice(0, 64)} is not supported: only x-amz-checksum-* trailers are.`);
    trailerChecksum = algorithm;
  }
  if (headerChecksums.size + (trailerChecksum === undefined ? 0 : 1) > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  return { decodedLength, expectedSha256, expectedMd5Hex, headerChecksums, trailerChecksum, chunked, auth: options.auth };
}

/** From this declared length on, MD5 and SHA-256 run on the hash thread (hash-thread.ts) instead of the event loop. */
export const THREAD_HASH_MIN_BYTES = 1024 * 1024;

class VerifyingTransform extends Transform {
  private received = 0;
  /** Inline hashes (small bodies), or the hash thread's session (large ones). */
  private readonly md5: Hash | null;
  private readonly sha256: Hash | null;
  private readonly threadHash: ThreadHash | null;
  /** Set by accept when the hash thread's window is full: the chunk's callback waits for it. */
  private hashWindow: Promise<void> | undefined;
  private readonly checksums: IncrementalChecksum[] = [];
  private readonly decoder: AwsChunkedDecoder | null;

  constructor(private readonly plan: VerificationPlan) {
    super();
    const threaded = plan.decodedLength >= THREAD_HASH_MIN_BYTES;
    this.threadHash = threaded ? new ThreadHash(plan.expectedSha256 !== undefined ? ['md5', 'sha256'] : ['md5']) : null;
    this.md5 = threaded ? null : createHash('md5');
    this.sha256 = !threaded && plan.expectedSha256 !== undefined ? createHash('sha256') : null;
    for (const algorithm of plan.headerChecksums.keys()) this.checksums.push(createChecksum(algorithm));
    if (plan.trailerChecksum !== undefined) this.checksums.push(createChecksum(plan.trailerChecksum));
    if (plan.chunked === undefined) {
      this.decoder = null;
    } else {
      const auth = plan.auth;
      this.decoder = new AwsChunkedDecoder({
        signing:
          plan.chunked.signed && auth !== undefined
            ? { signingKey: auth.signingKey, amzDate: auth.amzDate, scope: auth.scope, seedSignature: auth.signature }
            : null,
        trailer: plan.chunked.trailer,
        onData: (bytes) => this.accept(bytes),
      });
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.decoder !== null) this.decoder.write(chunk);
      else this.accept(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    const window = this.hashWindow;
    this.hashWindow = undefined;
    if (window) window.then(() => callback(), callback);
    else callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.threadHash?.drop();
    callback(error);
  }

  override _flush(callback: TransformCallback): void {
    this.verify().then(
      (digest) => {
        this.emit('digest', digest);
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  /** Object bytes, after any aws-chunked framing is removed. */
  private accept(bytes: Buffer): void {
    this.received += bytes.length;
    // Refuse at once: admission reserved room for decodedLength bytes, not one more.
    if (this.received > this.plan.decodedLength) {
      throw new S3Error('InvalidRequest', `The request body is longer than the declared length of ${this.plan.decodedLength} bytes.`);
    }
    if (this.threadHash) this.hashWindow = this.threadHash.update(bytes) ?? this.hashWindow;
    else {
      this.md5!.update(bytes);
      this.sha256?.update(bytes);
    }
    for (const checksum of this.checksums) checksum.update(bytes);
    this.push(bytes);
  }

  /** Every check, in the order AWS reports them; the first failure is the error. */
  private async verify(): Promise<BodyDigest> {
    const trailers = this.decoder?.end();
    for (const name of trailers?.keys() ?? []) {
      // A checksum that was not announced in x-amz-trailer was not computed: refuse it rather than ignore it.
      if (name !== `${CHECKSUM_HEADER_PREFIX}${this.plan.trailerChecksum}`) {
        throw new S3Error('InvalidRequest', `The trailer ${name.slice(0, 64)} was not declared in x-amz-trailer.`);
      }
    }
    if (this.received < this.plan.decodedLength) throw new S3Error('IncompleteBody');
    const threaded = this.threadHash ? await this.threadHash.digest() : undefined;
    const sha256Hex = threaded ? threaded.sha256 : this.sha256?.digest('hex');
    if (this.plan.expectedSha256 !== undefined && sha256Hex !== this.plan.expectedSha256) throw new S3Error('XAmzContentSHA256Mismatch');
    const md5Hex = threaded ? threaded.md5! : this.md5!.digest('hex');
    if (this.plan.expectedMd5Hex !== undefined && md5Hex !== this.plan.expectedMd5Hex) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what was received.');
    }
    const verified: Record<string, string> = {};
    for (const checksum of this.checksums) {
      const algorithm = checksum.algorithm;
      const expected = this.plan.headerChecksums.get(algorithm) ?? trailerValue(trailers, algorithm);
      const actual = await checksum.digestBase64();
      if (actual !== expected) {
        throw new S3Error('BadDigest', `The x-amz-checksum-${algorithm} you specified did not match the calculated checksum.`);
      }
      verified[algorithm] = actual;
    }
    return { sizeBytes: this.received, md5Hex, checksums: verified };
  }
}

/** The declared trailer's value: it must be there and well formed. */
function trailerValue(trailers: ReadonlyMap<string, string> | undefined, algorithm: ChecksumAlgorithm): string {
  const value = trailers?.get(`${CHECKSUM_HEADER_PREFIX}${algorithm}`);
  if (value === undefined) throw new S3Error('InvalidRequest', `The x-amz-checksum-${algorithm} trailer declared in x-amz-trailer was not sent.`);
  if (!isWellFormedChecksum(algorithm, value)) throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${algorithm} trailing header is invalid.`);
  return value;
}
