import type * as Q from '../../core/generated/queries.js';
import { ms, SqliteQueryContext, withDates, withExact } from './context.js';

/** Written by insertUpload (backend_upload_id is set later, by setBackendUploadId). */
const UPLOAD_INSERT_COLUMNS = 'upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at';
const UPLOAD_COLUMNS = `${UPLOAD_INSERT_COLUMNS}, backend_upload_id`;
const PART_COLUMNS = 'upload_id, part_number, etag, size_bytes, storage_key, created_at';

/** The statements of this mirror, by query name (the benchmark runs the same text through the raw driver). */
export const SQL = {
  insertUpload: `INSERT INTO multipart_uploads (${UPLOAD_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  setBackendUploadId: `UPDATE multipart_uploads SET backend_upload_id = @backendUploadId
    WHERE upload_id = @uploadId AND (backend_upload_id IS NULL OR backend_upload_id = @backendUploadId)`,
  getUpload: `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?`,
  deletePart: `DELETE FROM multipart_parts WHERE upload_id = ? AND part_number = ? RETURNING ${PART_COLUMNS}`,
  insertPart: `INSERT INTO multipart_parts (${PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`,
  listParts: `SELECT ${PART_COLUMNS} FROM multipart_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?`,
  deleteParts: `DELETE FROM multipart_parts WHERE upload_id = ? RETURNING ${PART_COLUMNS}`,
  deleteUpload: `DELETE FROM multipart_uploads WHERE upload_id = ?`,
  listUploadsFrom: `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads
    WHERE (object_key, upload_id) > (@afterKey, @afterUploadId) AND (@toKey IS NULL OR object_key < @toKey)
    ORDER BY object_key, upload_id LIMIT @limit`,
  listUploadsCreatedBefore: `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads WHERE created_at < ? ORDER BY created_at, upload_id LIMIT ?`,
  sumPartsByBackend: `SELECT u.backend_name, coalesce(sum(p.size_bytes), 0) AS bytes
    FROM multipart_parts p JOIN multipart_uploads u ON u.upload_id = p.upload_id
    GROUP BY u.backend_name ORDER BY u.backend_name`,
} as const;

/** Mirror of queries/multipart.sql. */
export class MultipartQueries extends SqliteQueryContext {
  async insertUpload(p: Q.IInsertUploadParams): Promise<number> {
    return this.stmt(SQL.insertUpload).run(
      p.uploadId,
      p.objectKey,
      p.backendName,
      p.storageKey,
      p.contentType,
      p.userMetadata,
      ms(p.createdAt),
    ).changes;
  }

  async getUpload(p: Q.IGetUploadParams): Promise<Q.IGetUploadResult[]> {
    return withDates(this.stmt(SQL.getUpload).all(p.uploadId), 'created_at');
  }

  async setBackendUploadId(p: Q.ISetBackendUploadIdParams): Promise<number> {
    return this.stmt(SQL.setBackendUploadId).run({ uploadId: p.uploadId, backendUploadId: p.backendUploadId }).changes;
  }

  /** Transactions are serialised: reading the row is all there is to locking it. */
  async lockUpload(p: Q.ILockUploadParams): Promise<Q.ILockUploadResult[]> {
    return this.getUpload(p);
  }

  async deletePart(p: Q.IDeletePartParams): Promise<Q.IDeletePartResult[]> {
    const rows = this.stmt(SQL.deletePart).all(
      p.uploadId,
      p.partNumber,
    );
    return withDates(rows, 'created_at');
  }

  async insertPart(p: Q.IInsertPartParams): Promise<number> {
    return this.stmt(SQL.insertPart).run(
      p.uploadId,
      p.partNumber,
      p.etag,
      p.sizeBytes,
      p.storageKey,
      ms(p.createdAt),
    ).changes;
  }

  async listParts(p: Q.IListPartsParams): Promise<Q.IListPartsResult[]> {
    const rows = this.stmt(SQL.listParts).all(p.uploadId, p.afterPart, p.limit);
    return withDates(rows, 'created_at');
  }

  async deleteParts(p: Q.IDeletePartsParams): Promise<Q.IDeletePartsResult[]> {
    return withDates(this.stmt(SQL.deleteParts).all(p.uploadId), 'created_at');
  }

  async deleteUpload(p: Q.IDeleteUploadParams): Promise<number> {
    return this.stmt(SQL.deleteUpload).run(p.uploadId).changes;
  }

  async listUploadsFrom(p: Q.IListUploadsFromParams): Promise<Q.IListUploadsFromResult[]> {
    const rows = this.stmt(SQL.listUploadsFrom).all({ afterKey: p.afterKey, afterUploadId: p.afterUploadId, toKey: p.toKey ?? null, limit: p.limit });
    return withDates(rows, 'created_at');
  }

  async listUploadsCreatedBefore(p: Q.IListUploadsCreatedBeforeParams): Promise<Q.IListUploadsCreatedBeforeResult[]> {
    const rows = this.stmt(SQL.listUploadsCreatedBefore).all(ms(p.cutoff), p.limit);
    return withDates(rows, 'created_at');
  }

  async sumPartsByBackend(): Promise<Q.ISumPartsByBackendResult[]> {
    const rows = this.stmt(SQL.sumPartsByBackend).all() as Q.ISumPartsByBackendResult[];
    return withExact(rows, 'bytes');
  }
}
