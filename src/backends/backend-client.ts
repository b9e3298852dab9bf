import type { Readable } from 'node:stream';

/** An inclusive byte range of an object, as HTTP ranges are. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** A multipart upload as the backend knows it. */
export interface MultipartHandle {
  readonly storageKey: string;
  /** What createMultipart returned. */
  readonly backendUploadId: string;
}

/** One part of a multipart object, in the order the object is made of. */
export interface PartRef {
  readonly storageKey: string;
  readonly sizeBytes: number;
}

/**
 * What the background workers need from a backend: whether bytes are there, and removing them.
 * "Cannot answer" is always a thrown error, never `undefined` or 'not-found' (issue 9: an
 * unreachable backend must not look like an absent object).
 */
export interface BackendHousekeeping {
  /** Deletes the bytes at `storageKey`. A key that is already gone is not an error (lessons.md #8). */
  delete(storageKey: string): Promise<'deleted' | 'not-found'>;
  /** The bytes at `storageKey`, or undefined when there are none. Throws when the backend cannot answer. */
  head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined>;
}

/**
 * A storage backend as the gateway sees it (spec §5). The gateway never looks behind it: storage
 * keys come from the store, one per write, so a put never touches the bytes of another version.
 */
export interface BackendClient extends BackendHousekeeping {
  readonly name: string;
  /**
   * Stores exactly `sizeBytes` bytes read from `body` at `storageKey`. The key holds the bytes only
   * once the promise resolves (the write is durable then); when it rejects (the body stream errored,
   * ended short, or the backend failed) nothing is left at `storageKey`.
   */
  put(storageKey: string, body: Readable, sizeBytes: number): Promise<void>;
  /** The bytes at `storageKey` (or a range of them). Throws BackendObjectMissing when there are none. */
  get(storageKey: string, range?: ByteRange): Promise<Readable>;
  /**
   * Opens a multipart upload of the object that will live at `storageKey`. The returned id names
   * it on the backend ('' for a backend that needs none: the directory backend keeps parts as files).
   */
  createMultipart(storageKey: string): Promise<string>;
  /** Stores one part: exactly `part.sizeBytes` bytes from `body`, durable when the promise resolves. */
  putPart(upload: MultipartHandle, part: PartRef & { readonly partNumber: number }, body: Readable): Promise<void>;
  /**
   * Makes the object at `upload.storageKey` out of `parts`, in order, without moving the bytes
   * through the gateway (S3: CompleteMultipartUpload; directory: a part list). Afterwards deleting
   * the object's storage key deletes its parts too.
   */
  completeMultipart(upload: MultipartHandle, parts: readonly (PartRef & { readonly partNumber: number; readonly etag: string })[]): Promise<void>;
  /**
   * Optional: makes part `partNumber` of `upload` out of the bytes this same backend holds at
   * `source.storageKey` (or the inclusive `source.range` of them), server-side, so that no byte flows
   * through the gateway (S3: UploadPartCopy). A part already there under that number is replaced,
   * as putPart replaces it.
   *
   * Resolves to the backend's ETag of the new part, as the service answered it: the caller decides
   * whether it can stand for the MD5 of the part's bytes (which clients and completion expect), and
   * streams the part through putPart instead when it cannot. Resolves to 'unsupported' when the
   * service does not implement the call (S3: 501 NotImplemented or 405 MethodNotAllowed, as s3rver
   * answers): nothing was written, and asking again will not help. Throws BackendObjectMissing when
   * there are no bytes at `source.storageKey`, and otherwise as putPart does.
   *
   * Backends without it (directory: its parts are files) always get parts streamed through putPart.
   */
  copyPart?(upload: MultipartHandle, partNumber: number, source: { readonly storageKey: string; readonly range?: ByteRange }): Promise<{ etag: string } | 'unsupported'>;
  /**
   * Optional: stores at `destStorageKey` a copy of the bytes this same backend holds at
   * `sourceStorageKey`, server-side, so that no byte flows through the gateway (S3: CopyObject).
   * Only bytes are copied: the backend holds no metadata of the gateway's. The destination is a key
   * of its own (a new write's), so nothing else is ever replaced; it holds the bytes once the promise
   * resolves, as after put.
   *
   * Resolves to the backend's ETag of the new object, as the service answered it: the caller decides
   * whether it can stand for the MD5 of the bytes (which the gateway records as the object's ETag),
   * and streams the bytes through put instead when it cannot. Resolves to 'unsupported' when the
   * service does not implement the call (S3: 501 NotImplemented or 405 MethodNotAllowed): nothing
   * was written, and asking again will not help. Throws BackendObjectMissing when there are no
   * bytes at `sourceStorageKey`, and otherwise as put does.
   *
   * Backends without it (directory: a file copy would gain nothing over streaming, and a hard link
   * would tie the cleanups of two storage keys together) always get copies streamed through put.
   */
  copyObject?(sourceStorageKey: string, destStorageKey: string): Promise<{ etag: string } | 'unsupported'>;
  /**
   * Drops the backend's side of an upload (its parts). Idempotent. 'unsupported' when the service
   * does not implement the call (S3: 405 or 501, as s3rver answers): nothing later could abort it
   * either, so the caller forgets the upload and says so in the log; its parts stay on the service
   * until the service's own lifecycle rule removes them.
   */
  abortMultipart(upload: MultipartHandle): Promise<void | 'unsupported'>;
  /** The byte range of part `partNumber` of a multipart object (GET ?partNumber); undefined when there is no such part. */
  partRange(storageKey: string, partNumber: number): Promise<ByteRange | undefined>;
  /**
   * The storage keys the backend holds that start with `prefix` (a multipart object counts as its
   * own key), in no particular order. The gateway's outage mode asks it for `{objectKey}!` to learn
   * whether a cached version is still the newest one there. Throws when the backend cannot answer.
   */
  list(prefix: string): Promise<string[]>;
}

/** The backend holds no bytes at the storage key (as opposed to an error reaching it). */
export class BackendObjectMissing extends Error {
  constructor(
    readonly backendName: string,
    readonly storageKey: string,
  ) {
    super(`backend ${JSON.stringify(backendName)} holds no bytes at ${JSON.stringify(storageKey)}`);
    this.name = 'BackendObjectMissing';
  }
}
