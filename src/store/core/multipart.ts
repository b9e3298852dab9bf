import type { StoreContext } from './context.js';
import { InvalidArgumentError, NoSpaceError, NotFoundError, PreconditionFailedError } from './errors.js';
import type { IGetIntentResult, TxQueries } from './generated/queries.js';
import { compareKeys, newId, prefixEnd, storageKeyFor, validateKeyFragment, validateObjectKey, validateSize } from './keys.js';
import { LedgerChanges } from './ledger-changes.js';
import { multipartEtag } from './multipart-etag.js';
import { validateContentType, validateCursor, validateDate, validateEtag, validateLimit, validateUserMetadata } from './object-input.js';
import { cleanupItem, type IntentRef } from './objects.js';
import { partSizeRuns } from './part-sizes.js';
import { placementOrder } from './placement.js';
import type { QuotaLedger } from './quota.js';
import { toPart, toUpload } from './rows.js';
import type { CommitResult, MultipartUpload, UploadPart, UserMetadata, WriteIntent } from './types.js';
import { installVersion } from './versions.js';

export const MAX_PART_NUMBER = 10_000;
/** S3's minimum size for every part but the last. */
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/** Sorts after every upload id (UUIDs are hex and dashes): "every upload of this key". */
const AFTER_ALL_UPLOAD_IDS = '~';

export interface CreateUploadInput {
  readonly objectKey: string;
  readonly contentType?: string;
  readonly userMetadata?: UserMetadata;
  readonly backendName?: string;
  readonly candidates?: readonly string[];
}

export interface ListUploadsInput {
  readonly prefix?: string;
  readonly keyMarker?: string;
  readonly uploadIdMarker?: string;
  readonly maxUploads?: number;
}

export interface ListUploadsResult {
  readonly uploads: readonly MultipartUpload[];
  readonly isTruncated: boolean;
  readonly nextKeyMarker: string | undefined;
  readonly nextUploadIdMarker: string | undefined;
}

export type PartCommitResult = { readonly status: 'committed'; readonly part: UploadPart } | { readonly status: 'upload-gone' };

/**
 * Multipart uploads (spec §6). A part is written like an object: `beginPart` admits its bytes and
 * records an intent, the caller writes them, `commitPart` turns the intent into the part (re-uploading
 * a part number replaces the old part, whose bytes are queued for deletion). Part bytes count as
 * in-flight until completion or abort.
 */
export class MultipartOperations {
  constructor(
    private readonly ctx: StoreContext,
    private readonly quota: QuotaLedger,
  ) {}

  async createUpload(input: CreateUploadInput): Promise<MultipartUpload> {
    const objectKey = validateObjectKey(input.objectKey);
    const contentType = validateContentType(input.contentType);
    const userMetadata = validateUserMetadata(input.userMetadata);
    const candidates = input.backendName !== undefined ? [input.backendName] : (input.candidates ?? [...this.ctx.backends.keys()]);
    const [backendName] = placementOrder(await this.quota.totals(), candidates, 0, this.ctx.placement);
    if (backendName === undefined) throw new NoSpaceError(0, candidates);
    const uploadId = newId();
    const upload = {
      uploadId,
      objectKey,
      backendName,
      storageKey: storageKeyFor(objectKey, uploadId),
      contentType,
      userMetadata,
      createdAt: this.ctx.clock.now(),
    };
    await this.ctx.db.transaction((q) => q.insertUpload(upload));
    return { ...upload, userMetadata: JSON.parse(userMetadata) as UserMetadata, backendUploadId: null };
  }

  /**
   * Records the id the upload's backend gave its side of the upload (S3: CreateMultipartUpload's
   * UploadId). The backend is chosen by createUpload, so the caller opens the backend upload after it
   * and records the id here. Recording the same id again is a no-op; another id is refused (the
   * first backend upload would be lost track of). NotFound when the upload is gone.
   */
  async recordBackendUpload(uploadId: string, backendUploadId: string): Promise<MultipartUpload> {
    if (typeof backendUploadId !== 'string' || backendUploadId === '' || backendUploadId.length > 1024) {
      throw new InvalidArgumentError('backendUploadId', 'must be a non-empty text of at most 1024 characters');
    }
    return this.ctx.db.transaction(async (q) => {
      const changed = await q.setBackendUploadId({ uploadId, backendUploadId });
      const [row] = await q.getUpload({ uploadId });
      if (!row) throw new NotFoundError('upload', uploadId);
      if (changed === 0 && row.backend_upload_id !== backendUploadId) {
        throw new PreconditionFailedError(`upload ${uploadId} already has backend upload id ${JSON.stringify(row.backend_upload_id)}`);
      }
      return toUpload(row);
    });
  }

  /** Admits a part's bytes on the upload's backend (NoSpace when there is no room) and records its intent. */
  async beginPart(input: { uploadId: string; partNumber: number; sizeBytes: number }): Promise<WriteIntent> {
    const partNumber = validatePartNumber(input.partNumber);
    const sizeBytes = validateSize(input.sizeBytes);
    return this.quota.withAdmission(async (q, admit) => {
      const [upload] = await q.getUpload({ uploadId: input.uploadId });
      if (!upload) throw new NotFoundError('upload', input.uploadId);
      await admit(upload.backend_name, sizeBytes);
      const intentId = newId();
      const row = {
        intentId,
        kind: 'part' as const,
        objectKey: upload.object_key,
        backendName: upload.backend_name,
        storageKey: storageKeyFor(upload.object_key, intentId, `.part${partNumber}`),
        sizeBytes,
        etag: null,
        contentType: upload.content_type,
        userMetadata: upload.user_metadata,
        contentHash: null,
        uploadId: upload.upload_id,
        partNumber,
        createdAt: this.ctx.clock.now(),
      };
      await q.insertIntent(row);
      return { ...row, userMetadata: JSON.parse(upload.user_metadata) as UserMetadata, supersededAt: null };
    });
  }

  /**
   * Records the written part. When the upload was completed or aborted meanwhile, the part's bytes are
   * queued for deletion and NotFound is thrown.
   */
  async commitPart(intent: IntentRef, input: { etag: string }): Promise<UploadPart> {
    const etag = validateEtag(input.etag);
    const result = await this.ctx.db.transaction(async (q) => {
      const [pending] = await q.getIntent({ intentId: intent.intentId });
      if (!pending || pending.kind !== 'part') throw new PreconditionFailedError(`intent ${intent.intentId} is not a pending part`);
      await q.lockUpload({ uploadId: pending.upload_id! });
      const [row] = await q.deleteIntent({ intentId: intent.intentId });
      if (!row) throw new PreconditionFailedError(`intent ${intent.intentId} is not pending`);
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const committed = await commitPartInTx(q, changes, row, etag);
      await changes.apply(q);
      return { committed, uploadId: row.upload_id! };
    });
    if (result.committed.status === 'upload-gone') throw new NotFoundError('upload', result.uploadId);
    return result.committed.part;
  }

  async listParts(uploadId: string, options: { afterPart?: number; maxParts?: number } = {}): Promise<{ parts: UploadPart[]; isTruncated: boolean }> {
    const maxParts = validateLimit(options.maxParts ?? 1000, 'maxParts', 1000);
    const afterPart = validateCursor(options.afterPart ?? 0, 'afterPart');
    return this.ctx.db.read(async (q) => {
      const [upload] = await q.getUpload({ uploadId });
      if (!upload) throw new NotFoundError('upload', uploadId);
      const rows = await q.listParts({ uploadId, afterPart, limit: maxParts + 1 });
      return { parts: rows.slice(0, maxParts).map(toPart), isTruncated: rows.length > maxParts };
    });
  }

  /** Open uploads under a prefix, ordered by key then upload id, resumed with the markers. */
  async listUploads(input: ListUploadsInput = {}): Promise<ListUploadsResult> {
    const prefix = validateKeyFragment(input.prefix, 'prefix');
    const maxUploads = validateLimit(input.maxUploads ?? 1000, 'maxUploads', 1000);
    const keyMarker = validateKeyFragment(input.keyMarker, 'keyMarker');
    let afterKey = prefix;
    let afterUploadId = '';
    if (keyMarker && compareKeys(keyMarker, prefix) >= 0) {
      afterKey = keyMarker;
      afterUploadId = input.uploadIdMarker || AFTER_ALL_UPLOAD_IDS;
    }
    const rows = await this.ctx.db.read((q) => q.listUploadsFrom({ afterKey, afterUploadId, toKey: prefixEnd(prefix) ?? null, limit: maxUploads + 1 }));
    const uploads = rows.slice(0, maxUploads).map(toUpload);
    const truncated = rows.length > maxUploads;
    const last = uploads.at(-1);
    return {
      uploads,
      isTruncated: truncated,
      nextKeyMarker: truncated ? last?.objectKey : undefined,
      nextUploadIdMarker: truncated ? last?.uploadId : undefined,
    };
  }

  /**
   * Validates the part list, then in one transaction turns the upload into the current version of its
   * key exactly like a commit write; parts left out of the list are queued for deletion. Any failure
   * leaves the upload and its parts as they were, so the call can be retried.
   */
  async completeUpload(uploadId: string, parts: readonly { partNumber: number; etag: string }[]): Promise<CommitResult> {
    if (!Array.isArray(parts) || parts.length === 0) throw new InvalidArgumentError('parts', 'must list at least one part');
    if (parts.length > MAX_PART_NUMBER) throw new InvalidArgumentError('parts', `lists ${parts.length} parts; the limit is ${MAX_PART_NUMBER}`);
    parts.forEach((p, i) => {
      validatePartNumber(p.partNumber, `parts[${i}].partNumber`);
      validateEtag(p.etag, `parts[${i}].etag`);
      if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) throw new InvalidArgumentError(`parts[${i}].partNumber`, 'part numbers must be in ascending order without repeats');
    });
    const upload = await this.ctx.db.read((q) => q.getUpload({ uploadId }));
    if (!upload[0]) throw new NotFoundError('upload', uploadId);
    const objectKey = upload[0].object_key;

    return this.ctx.db.transaction(async (q) => {
      await q.lockObjectKey({ objectKey });
      const [locked] = await q.lockUpload({ uploadId });
      if (!locked) throw new NotFoundError('upload', uploadId);
      const stored = new Map((await q.listParts({ uploadId, afterPart: 0, limit: MAX_PART_NUMBER })).map((p) => [p.part_number, p]));
      let sizeBytes = 0;
      parts.forEach((p, i) => {
        const part = stored.get(p.partNumber);
        if (!part) throw new InvalidArgumentError(`parts[${i}]`, `part ${p.partNumber} was not uploaded`);
        if (stripQuotes(part.etag) !== stripQuotes(p.etag)) throw new InvalidArgumentError(`parts[${i}].etag`, `does not match the ETag of part ${p.partNumber}`);
        if (i < parts.length - 1 && part.size_bytes < MIN_PART_SIZE_BYTES) {
          throw new InvalidArgumentError(`parts[${i}]`, `part ${p.partNumber} is ${part.size_bytes} bytes; every part but the last must be at least ${MIN_PART_SIZE_BYTES}`);
        }
        sizeBytes += part.size_bytes;
      });

      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const chosen = new Set(parts.map((p) => p.partNumber));
      for (const part of await q.deleteParts({ uploadId })) {
        changes.inflight(locked.backend_name, -part.size_bytes);
        if (!chosen.has(part.part_number)) {
          changes.enqueueCleanup({ backendName: locked.backend_name, storageKey: part.storage_key, objectKey, sizeBytes: part.size_bytes }, 'part-unused');
        }
      }
      await q.deleteUpload({ uploadId });
      const result = await installVersion(q, changes, {
        objectKey,
        backendName: locked.backend_name,
        storageKey: locked.storage_key,
        sizeBytes,
        etag: multipartEtag(parts.map((p) => stored.get(p.partNumber)!.etag)),
        contentType: locked.content_type,
        userMetadata: locked.user_metadata,
        contentHash: null,
        // The sizes of the parts that make the object, in its order: ?partNumber=N reads them.
        partSizes: partSizeRuns(parts.map((p) => stored.get(p.partNumber)!.size_bytes)),
      });
      await changes.apply(q);
      return result;
    });
  }

  /** Removes the upload; its parts' bytes are queued for deletion. */
  async abortUpload(uploadId: string): Promise<{ parts: number; bytes: number }> {
    return this.ctx.db.transaction(async (q) => {
      const [upload] = await q.lockUpload({ uploadId });
      if (!upload) throw new NotFoundError('upload', uploadId);
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      let bytes = 0;
      const removed = await q.deleteParts({ uploadId });
      for (const part of removed) {
        bytes += part.size_bytes;
        changes
          .inflight(upload.backend_name, -part.size_bytes)
          .enqueueCleanup({ backendName: upload.backend_name, storageKey: part.storage_key, objectKey: upload.object_key, sizeBytes: part.size_bytes }, 'upload-aborted');
      }
      await q.deleteUpload({ uploadId });
      await changes.apply(q);
      return { parts: removed.length, bytes };
    });
  }

  /** Uploads created before `cutoff`, oldest first (for the expiry worker). */
  async listStaleUploads(cutoff: Date, limit = 100): Promise<MultipartUpload[]> {
    validateDate(cutoff, 'cutoff');
    validateLimit(limit);
    const rows = await this.ctx.db.read((q) => q.listUploadsCreatedBefore({ cutoff, limit }));
    return rows.map(toUpload);
  }

  async getUpload(uploadId: string): Promise<MultipartUpload> {
    const [row] = await this.ctx.db.read((q) => q.getUpload({ uploadId }));
    if (!row) throw new NotFoundError('upload', uploadId);
    return toUpload(row);
  }
}

/**
 * The part half of commitPart, also used by the reaper. The intent row is already deleted and the
 * upload row locked (or found missing). A part number uploaded again replaces the old part.
 */
export async function commitPartInTx(q: TxQueries, changes: LedgerChanges, row: IGetIntentResult, etag: string): Promise<PartCommitResult> {
  const uploadId = row.upload_id!;
  const partNumber = row.part_number!;
  const [upload] = await q.getUpload({ uploadId });
  if (!upload) {
    changes.inflight(row.backend_name, -row.size_bytes).enqueueCleanup(cleanupItem(row), 'upload-gone');
    return { status: 'upload-gone' };
  }
  const [old] = await q.deletePart({ uploadId, partNumber });
  if (old) {
    changes
      .inflight(row.backend_name, -old.size_bytes)
      .enqueueCleanup({ backendName: row.backend_name, storageKey: old.storage_key, objectKey: row.object_key, sizeBytes: old.size_bytes }, 'part-replaced');
  }
  const part = { uploadId, partNumber, etag, sizeBytes: row.size_bytes, storageKey: row.storage_key, createdAt: changes.now };
  await q.insertPart(part);
  return { status: 'committed', part };
}

function validatePartNumber(value: unknown, field = 'partNumber'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PART_NUMBER) {
    throw new InvalidArgumentError(field, `must be a whole number from 1 to ${MAX_PART_NUMBER}, got ${String(value)}`);
  }
  return value;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}
