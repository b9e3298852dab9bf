import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { S3BackendConfig } from '../config/types.js';
import { redactUrl } from '../config/redact-url.js';
import { BackendObjectMissing, type BackendClient, type ByteRange, type MultipartHandle, type PartRef } from './backend-client.js';
import { BackendUnavailableError, type AvailabilityProbe } from './backend-unavailable.js';

export interface S3BackendOptions {
  /** Sockets kept open to the service (HTTP/1.1 keep-alive); default 64. */
  readonly maxSockets?: number;
  /**
   * SDK attempts per call; default 1. A streamed body cannot be replayed, so the SDK must not retry
   * puts; the gateway's failover, the breaker and the workers' next tick are the retries.
   */
  readonly maxAttempts?: number;
}

/** Errors that say "the service could not answer", as opposed to an answer about one object. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

const SILENT_SDK_LOGGER = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

function codeOf(err: unknown): string | undefined {
  const e = err as SdkError | undefined;
  return e?.Code ?? e?.name;
}

/** Connection failures, timeouts and 5xx: the service, not the object. */
function isUnreachable(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e || typeof e !== 'object') return false;
  const status = statusOf(err);
  if (status !== undefined) return status >= 500;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return true;
  return e.cause !== undefined && e.cause !== err && isUnreachable(e.cause);
}

/**
 * A backend that is a bucket of any S3-compatible service, through @aws-sdk/client-s3: one client
 * per backend over HTTP/1.1 keep-alive. Bodies are streamed with their length (no buffering, no
 * checksum computed over them), and only the calls' own headers are sent: never a gateway's.
 *
 * A client multipart upload is a native multipart upload here: parts go to UploadPart, completion
 * is one CompleteMultipartUpload (the service assembles the object; no byte comes back), abort is
 * AbortMultipartUpload. The parts' own storage keys (which the store hands out) are never written.
 * A part copied from an object on this same backend is UploadPartCopy (copyPart), and an object
 * copied from one on this same backend is CopyObject (copyObject): the service copies.
 *
 * "Cannot answer" is always thrown (as BackendUnavailableError when the service is unreachable or
 * failing), never read as "absent": a 404 from HeadObject says nothing about a bucket that is gone,
 * so head and delete check the bucket before they answer "absent".
 */
export class S3Backend implements BackendClient, AvailabilityProbe {
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #location: string;

  constructor(
    readonly name: string,
    config: S3BackendConfig,
    options: S3BackendOptions = {},
  ) {
    this.bucket = config.bucket;
    this.#location = `${redactUrl(config.endpoint)} bucket ${JSON.stringify(config.bucket)}`;
    const maxSockets = options.maxSockets ?? 64;
    this.#client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey.reveal() },
      maxAttempts: options.maxAttempts ?? 1,
      // Without a logger of its own the SDK warns on the console about every failed streamed call.
      logger: SILENT_SDK_LOGGER,
      // The SDK would otherwise add a CRC32 of every body: over a stream that means buffering it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK builds its NodeHttpHandler from these options.
      requestHandler: {
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: config.timeoutMs,
        requestTimeout: config.timeoutMs,
      },
    });
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.#client.destroy();
  }

  async put(storageKey: string, body: Readable, sizeBytes: number): Promise<void> {
    await this.#streamed(body, sizeBytes, (stream, abortSignal) =>
      this.#client.send(new PutObjectCommand({ Bucket: this.bucket, Key: storageKey, Body: stream, ContentLength: sizeBytes }), { abortSignal }),
    ).catch(async (err: unknown) => {
      await this.#removeLeftover(storageKey);
      throw err;
    });
  }

  /**
   * After a failed put: services do not keep a body that ended short, but a partial write must never
   * stay behind (the key is this write's own, so removing whatever is there touches no other
   * version). A service may still be finishing the aborted request when the delete arrives (s3rver
   * then stores an empty object after it): the delete is confirmed, a few times over ~1 s. What
   * still escapes is the store's cleanup queue's: the aborted intent queued this key for deletion.
   */
  async #removeLeftover(storageKey: string): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: storageKey })).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      const left = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: storageKey })).then(
        () => true,
        () => false,
      );
      if (!left) return;
    }
  }

  async get(storageKey: string, range?: ByteRange): Promise<Readable> {
    try {
      const res = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: storageKey, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      if (!(res.Body instanceof Readable)) throw new Error('GetObject answered without a body stream');
      return res.Body;
    } catch (err) {
      if (codeOf(err) === 'NoSuchKey' || (statusOf(err) === 404 && codeOf(err) !== 'NoSuchBucket')) throw new BackendObjectMissing(this.name, storageKey);
      throw this.#wrap(err);
    }
  }

  async head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined> {
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: storageKey }));
      return { sizeBytes: res.ContentLength ?? 0, etag: res.ETag ?? '' };
    } catch (err) {
      if (statusOf(err) !== 404) throw this.#wrap(err);
    }
    // A HEAD answer has no body: a missing bucket and a missing key are the same 404.
    await this.checkAvailable();
    return undefined;
  }

  /** DeleteObject answers 204 whether or not the key existed: a HEAD first tells which. */
  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    const found = await this.head(storageKey);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: storageKey }));
    } catch (err) {
      if (codeOf(err) !== 'NoSuchKey') throw this.#wrap(err);
      return 'not-found';
    }
    return found ? 'deleted' : 'not-found';
  }

  /** HeadBucket: the bucket exists and these credentials reach it. */
  async checkAvailable(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = statusOf(err);
      const reason =
        status === 404 ? 'has no such bucket' : status === 403 ? 'refuses these credentials' : `cannot be reached (${(err as Error).name}: ${(err as Error).message})`;
      throw new BackendUnavailableError(this.name, this.#location, reason);
    }
  }

  async createMultipart(storageKey: string): Promise<string> {
    try {
      const res = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: storageKey }));
      if (!res.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
      return res.UploadId;
    } catch (err) {
      throw this.#wrap(err);
    }
  }

  async putPart(upload: MultipartHandle, part: PartRef & { readonly partNumber: number }, body: Readable): Promise<void> {
    await this.#streamed(body, part.sizeBytes, (stream, abortSignal) =>
      this.#client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: upload.storageKey,
          UploadId: this.#uploadId(upload),
          PartNumber: part.partNumber,
          Body: stream,
          ContentLength: part.sizeBytes,
        }),
        { abortSignal },
      ),
    );
  }

  /**
   * UploadPartCopy from this backend's own bucket: the service copies the bytes (CopySource is
   * `bucket/key` with the key percent-encoded, `/` kept as it is: services that decode the value
   * with decodeURI, as s3rver does, would keep a `%2F`). A service that does not implement it
   * answers 501 or 405: 'unsupported'. A missing source is NoSuchKey: BackendObjectMissing.
   */
  async copyPart(upload: MultipartHandle, partNumber: number, source: { readonly storageKey: string; readonly range?: ByteRange }): Promise<{ etag: string } | 'unsupported'> {
    const uploadId = this.#uploadId(upload);
    let etag: string | undefined;
    try {
      const res = await this.#client.send(
        new UploadPartCopyCommand({
          Bucket: this.bucket,
          Key: upload.storageKey,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: copySourceOf(this.bucket, source.storageKey),
          ...(source.range ? { CopySourceRange: `bytes=${source.range.start}-${source.range.end}` } : {}),
        }),
      );
      etag = res.CopyPartResult?.ETag;
    } catch (err) {
      const status = statusOf(err);
      if (status === 501 || status === 405 || codeOf(err) === 'NotImplemented') return 'unsupported';
      if (codeOf(err) === 'NoSuchKey') throw new BackendObjectMissing(this.name, source.storageKey);
      throw this.#wrap(err);
    }
    if (etag === undefined || etag === '') throw new Error('UploadPartCopy answered without an ETag');
    return { etag };
  }

  /**
   * CopyObject within this backend's own bucket: the service copies the bytes. CopySource is encoded
   * as copyPart encodes it. No metadata directive or header of the gateway's is sent: the service's
   * own (empty) metadata of the source comes along, the client's stays in the metadata store. A
   * service that does not implement it answers 501 or 405: 'unsupported'. A missing source is
   * NoSuchKey: BackendObjectMissing.
   */
  async copyObject(sourceStorageKey: string, destStorageKey: string): Promise<{ etag: string } | 'unsupported'> {
    let etag: string | undefined;
    try {
      const res = await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: destStorageKey,
          CopySource: copySourceOf(this.bucket, sourceStorageKey),
        }),
      );
      etag = res.CopyObjectResult?.ETag;
    } catch (err) {
      const status = statusOf(err);
      if (status === 501 || status === 405 || codeOf(err) === 'NotImplemented') return 'unsupported';
      if (codeOf(err) === 'NoSuchKey') throw new BackendObjectMissing(this.name, sourceStorageKey);
      throw this.#wrap(err);
    }
    if (etag === undefined || etag === '') throw new Error('CopyObject answered without an ETag');
    return { etag };
  }

  async completeMultipart(upload: MultipartHandle, parts: readonly (PartRef & { readonly partNumber: number; readonly etag: string })[]): Promise<void> {
    const sizeBytes = parts.reduce((sum, p) => sum + p.sizeBytes, 0);
    try {
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: upload.storageKey,
          UploadId: this.#uploadId(upload),
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: quoted(p.etag) })) },
        }),
      );
    } catch (err) {
      // A retry after a completion whose answer was lost: the upload is gone and the object is there.
      if (codeOf(err) === 'NoSuchUpload') {
        const found = await this.head(upload.storageKey);
        if (found && found.sizeBytes === sizeBytes) return;
      }
      throw this.#wrap(err);
    }
  }

  /** A service that does not implement AbortMultipartUpload (405 or 501: s3rver) gives 'unsupported'. */
  async abortMultipart(upload: MultipartHandle): Promise<void | 'unsupported'> {
    if (upload.backendUploadId === '') return;
    try {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.storageKey, UploadId: upload.backendUploadId }));
    } catch (err) {
      if (codeOf(err) === 'NoSuchUpload') return;
      if (statusOf(err) === 405 || statusOf(err) === 501) return 'unsupported';
      throw this.#wrap(err);
    }
  }

  /**
   * HeadObject with PartNumber: the part's Content-Range. A service that ignores PartNumber (it
   * answers without a parts count) cannot tell: undefined rather than a guess.
   */
  async partRange(storageKey: string, partNumber: number): Promise<ByteRange | undefined> {
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: storageKey, PartNumber: partNumber }));
      const m = /^bytes (\d+)-(\d+)\/\d+$/.exec(res.ContentRange ?? '');
      if (!m || res.PartsCount === undefined || partNumber > res.PartsCount) return undefined;
      return { start: Number(m[1]), end: Number(m[2]) };
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 416 || status === 400) return undefined;
      throw this.#wrap(err);
    }
  }

  /** ListObjectsV2 by prefix, every page (unfinished multipart uploads are not objects, so not listed). */
  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.#wrap(err);
    }
    return keys;
  }

  #uploadId(upload: MultipartHandle): string {
    if (upload.backendUploadId === '') throw new Error(`the multipart upload of ${JSON.stringify(upload.storageKey)} has no upload id on backend ${JSON.stringify(this.name)}`);
    return upload.backendUploadId;
  }

  /**
   * Sends exactly `sizeBytes` bytes of `body`. A body that errors, ends short or runs long aborts
   * the request (the SDK pipes the body without watching it: the request would otherwise wait for
   * bytes until the timeout), and the body's error is the one thrown.
   */
  async #streamed(body: Readable, sizeBytes: number, send: (stream: Readable, signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const controller = new AbortController();
    let bodyError: Error | undefined;
    let seen = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > sizeBytes) done(new Error(`the body is longer than the ${sizeBytes} bytes declared`));
        else done(null, chunk);
      },
      flush(done) {
        done(seen === sizeBytes ? null : new Error(`the body was ${seen} bytes; ${sizeBytes} were declared`));
      },
    });
    const fail = (err: Error) => {
      bodyError ??= err;
      controller.abort(err);
    };
    counted.on('error', fail);
    body.on('error', (err) => {
      fail(err);
      counted.destroy(err);
    });
    body.pipe(counted);
    try {
      await send(counted, controller.signal);
    } catch (err) {
      // Left unread (like the directory backend's pipeline, but without destroying the caller's stream).
      body.unpipe(counted);
      throw bodyError ?? this.#wrap(err);
    }
    if (bodyError) throw bodyError;
  }

  /** Unreachable/failing service → BackendUnavailableError (workers hand work back, breakers open). */
  #wrap(err: unknown): unknown {
    if (err instanceof BackendUnavailableError || !isUnreachable(err)) return err;
    const e = err as Error;
    const wrapped = new BackendUnavailableError(this.name, this.#location, `cannot be reached (${e.name}: ${e.message})`);
    (wrapped as Error & { cause?: unknown }).cause = err;
    return wrapped;
  }
}

/**
 * The `x-amz-copy-source` of a key of `bucket`: `bucket/key` with the key percent-encoded, `/` kept
 * as it is (services that decode the value with decodeURI, as s3rver does, would keep a `%2F`).
 */
function copySourceOf(bucket: string, storageKey: string): string {
  return `${bucket}/${encodeURIComponent(storageKey).replaceAll('%2F', '/')}`;
}

function quoted(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}
