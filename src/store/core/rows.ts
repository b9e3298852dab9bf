import type * as Q from './generated/queries.js';
import { decodePartSizes, type PartSizes } from './part-sizes.js';
import type { CleanupTask, DeadLetter, EventType, IntentKind, MultipartUpload, ObjectCopy, OutboxEvent, UploadPart, UserMetadata, WriteIntent } from './types.js';

/** Maps the generated row types (snake_case, JSON as text) onto the API's domain types. */

export function parseMetadata(text: string): UserMetadata {
  return JSON.parse(text) as UserMetadata;
}

export function toCopy(r: Q.ILookupCopiesResult): ObjectCopy {
  return {
    objectKey: r.object_key,
    backendName: r.backend_name,
    storageKey: r.storage_key,
    sizeBytes: r.size_bytes,
    etag: r.etag,
    contentType: r.content_type,
    userMetadata: parseMetadata(r.user_metadata),
    contentHash: r.content_hash,
    createdAt: r.created_at,
    ...withPartSizes(decodePartSizes(r.part_sizes, r.size_bytes)),
  };
}

/** `{ partSizes }` when there are part sizes, else nothing (the field is absent, not undefined). */
export function withPartSizes(partSizes: PartSizes | undefined): { partSizes?: PartSizes } {
  return partSizes ? { partSizes } : {};
}

export function toIntent(r: Q.IGetIntentResult): WriteIntent {
  return {
    intentId: r.intent_id,
    kind: r.kind as IntentKind,
    objectKey: r.object_key,
    backendName: r.backend_name,
    storageKey: r.storage_key,
    sizeBytes: r.size_bytes,
    etag: r.etag,
    contentType: r.content_type,
    userMetadata: parseMetadata(r.user_metadata),
    contentHash: r.content_hash,
    uploadId: r.upload_id,
    partNumber: r.part_number,
    createdAt: r.created_at,
    supersededAt: r.superseded_at,
  };
}

export function toUpload(r: Q.IGetUploadResult): MultipartUpload {
  return {
    uploadId: r.upload_id,
    objectKey: r.object_key,
    backendName: r.backend_name,
    storageKey: r.storage_key,
    contentType: r.content_type,
    userMetadata: parseMetadata(r.user_metadata),
    createdAt: r.created_at,
    backendUploadId: r.backend_upload_id,
  };
}

export function toPart(r: Q.IListPartsResult): UploadPart {
  return {
    uploadId: r.upload_id,
    partNumber: r.part_number,
    etag: r.etag,
    sizeBytes: r.size_bytes,
    storageKey: r.storage_key,
    createdAt: r.created_at,
  };
}

export function toCleanupTask(r: Q.IListCleanupRowsResult): CleanupTask {
  return {
    id: r.id,
    backendName: r.backend_name,
    storageKey: r.storage_key,
    objectKey: r.object_key,
    reason: r.reason,
    sizeBytes: r.size_bytes,
    attempts: r.attempts,
    nextRetry: r.next_retry,
    lastError: r.last_error,
    claimedAt: r.claimed_at,
    claimedBy: r.claimed_by,
    createdAt: r.created_at,
  };
}

export function toDeadLetter(r: Q.IListDlqRowsResult): DeadLetter {
  return {
    id: r.id,
    originalId: r.original_id,
    backendName: r.backend_name,
    storageKey: r.storage_key,
    objectKey: r.object_key,
    reason: r.reason,
    sizeBytes: r.size_bytes,
    attempts: r.attempts,
    lastError: r.last_error,
    firstEnqueuedAt: r.first_enqueued_at,
    movedAt: r.moved_at,
  };
}

export function toOutboxEvent(r: Q.IListOutboxEventsResult): OutboxEvent {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type as EventType,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    endpoint: r.endpoint,
    attempts: r.attempts,
    nextRetry: r.next_retry,
    lastError: r.last_error,
    claimedAt: r.claimed_at,
    claimedBy: r.claimed_by,
    createdAt: r.created_at,
    failedAt: r.failed_at,
  };
}
