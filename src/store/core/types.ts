/** Domain types of the metadata store's public API (documented in docs/store-api.md). */

import type { PartSizes } from './part-sizes.js';

export type { PartSizeRun, PartSizes } from './part-sizes.js';

export type UserMetadata = Readonly<Record<string, string>>;

/** One stored instance of an object on one backend. */
export interface ObjectCopy {
  readonly objectKey: string;
  readonly backendName: string;
  readonly storageKey: string;
  readonly sizeBytes: number;
  readonly etag: string;
  readonly contentType: string;
  readonly userMetadata: UserMetadata;
  readonly contentHash: string | null;
  /** When this version of the object was committed (copies of one version share it). */
  readonly createdAt: Date;
  /**
   * A multipart object's part sizes, run-length encoded in part order (`[[sizeBytes, count], ...]`;
   * `partByteRange` in part-sizes.ts gives part N's bytes). Absent for an object that is not multipart,
   * for one completed before the store kept part sizes (migration 0006), and when the stored value is
   * malformed: the backend then has to be asked.
   */
  readonly partSizes?: PartSizes;
}

/** What HEAD answers: the object's identity and where its copies are. */
export interface ObjectInfo {
  readonly objectKey: string;
  readonly sizeBytes: number;
  readonly etag: string;
  readonly contentType: string;
  readonly userMetadata: UserMetadata;
  readonly contentHash: string | null;
  readonly createdAt: Date;
  /** As ObjectCopy.partSizes: the part sizes of a multipart object, when the store has them. */
  readonly partSizes?: PartSizes;
  readonly copies: readonly ObjectCopy[];
}

export type IntentKind = 'write' | 'copy' | 'part';

/** An admitted write whose bytes may be (or are being) written at `storageKey`, not yet committed. */
export interface WriteIntent {
  readonly intentId: string;
  readonly kind: IntentKind;
  readonly objectKey: string;
  readonly backendName: string;
  readonly storageKey: string;
  readonly sizeBytes: number;
  readonly etag: string | null;
  readonly contentType: string;
  readonly userMetadata: UserMetadata;
  readonly contentHash: string | null;
  readonly uploadId: string | null;
  readonly partNumber: number | null;
  readonly createdAt: Date;
  /** Set when a newer version of the key (a write or a delete) ended the one current when this intent began. */
  readonly supersededAt: Date | null;
}

export interface CommitResult {
  readonly copy: ObjectCopy;
  /** The copies the write replaced; their bytes are queued for deletion. */
  readonly displaced: readonly ObjectCopy[];
}

export interface ListObjectsInput {
  readonly prefix?: string;
  readonly delimiter?: string;
  readonly startAfter?: string;
  /** `startAfter` is a common prefix: every key under it is skipped too (ListObjects v1 markers). */
  readonly startAfterRolledUp?: boolean;
  readonly continuationToken?: string;
  /** 0..1000, default 1000. */
  readonly maxKeys?: number;
}

export interface ListedObject {
  readonly objectKey: string;
  readonly sizeBytes: number;
  readonly etag: string;
  readonly createdAt: Date;
}

export interface ListObjectsResult {
  readonly objects: readonly ListedObject[];
  readonly commonPrefixes: readonly string[];
  readonly isTruncated: boolean;
  readonly nextContinuationToken: string | undefined;
}

export interface BackendQuota {
  readonly backendName: string;
  /** 0 = unlimited. */
  readonly bytesLimit: number;
  readonly bytesUsed: number;
  readonly orphanBytes: number;
  readonly inflightBytes: number;
  /** Room left for new writes (Infinity when unlimited; negative when the limit was lowered below use). */
  readonly freeBytes: number;
  readonly stripes: number;
  readonly updatedAt: Date;
}

export interface MultipartUpload {
  readonly uploadId: string;
  readonly objectKey: string;
  readonly backendName: string;
  readonly storageKey: string;
  readonly contentType: string;
  readonly userMetadata: UserMetadata;
  readonly createdAt: Date;
  /** The backend's own id of the upload (an S3 backend's UploadId); null when the backend needs none. */
  readonly backendUploadId: string | null;
}

export interface UploadPart {
  readonly uploadId: string;
  readonly partNumber: number;
  readonly etag: string;
  readonly sizeBytes: number;
  readonly storageKey: string;
  readonly createdAt: Date;
}

export interface CleanupTask {
  readonly id: number;
  readonly backendName: string;
  readonly storageKey: string;
  readonly objectKey: string;
  readonly reason: string;
  readonly sizeBytes: number;
  readonly attempts: number;
  readonly nextRetry: Date;
  readonly lastError: string | null;
  readonly claimedAt: Date | null;
  readonly claimedBy: string | null;
  readonly createdAt: Date;
}

export interface DeadLetter {
  readonly id: number;
  readonly originalId: number;
  readonly backendName: string;
  readonly storageKey: string;
  readonly objectKey: string;
  readonly reason: string;
  readonly sizeBytes: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly firstEnqueuedAt: Date;
  readonly movedAt: Date;
}

export type EventType = 'ObjectCreated' | 'ObjectRemoved';

export interface OutboxEvent {
  readonly id: number;
  readonly eventId: string;
  readonly eventType: EventType;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly endpoint: string;
  readonly attempts: number;
  readonly nextRetry: Date;
  readonly lastError: string | null;
  readonly claimedAt: Date | null;
  readonly claimedBy: string | null;
  readonly createdAt: Date;
  /** Set when the endpoint's retry budget ran out; such events wait for an operator. */
  readonly failedAt: Date | null;
}

export interface UsageDelta {
  readonly apiRequests?: number;
  readonly egressBytes?: number;
  readonly ingressBytes?: number;
}

export interface BackendUsage {
  readonly backendName: string;
  readonly period: string;
  readonly apiRequests: number;
  readonly egressBytes: number;
  readonly ingressBytes: number;
}

/** A bucket of the S3 gateway: a name over the shared backend pool; its objects are the keys "{name}/...". */
export interface Bucket {
  readonly name: string;
  /** Who created it (the access key id, or "config" for buckets named in the config). */
  readonly owner: string;
  readonly createdAt: Date;
}

/** A bucket's contents for status and dashboards. */
export interface BucketStats {
  readonly name: string;
  /** Object keys in the bucket (each once, however many copies it has). */
  readonly objects: number;
  /** The objects' sizes summed, each object once (not times its copies). */
  readonly bytes: number;
}
