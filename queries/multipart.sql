/* @name InsertUpload */
INSERT INTO multipart_uploads (upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at)
VALUES (:uploadId!, :objectKey!, :backendName!, :storageKey!, :contentType!, :userMetadata!, :createdAt!);

/* @name GetUpload */
SELECT upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at, backend_upload_id
FROM multipart_uploads
WHERE upload_id = :uploadId!;

/* @name SetBackendUploadId */
-- Records the backend's id of the upload once; recording the same id again is a no-op.
UPDATE multipart_uploads
SET backend_upload_id = :backendUploadId!
WHERE upload_id = :uploadId! AND (backend_upload_id IS NULL OR backend_upload_id = :backendUploadId!);

/* @name LockUpload */
-- Serialises part commits, completion and abort of one upload.
SELECT upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at, backend_upload_id
FROM multipart_uploads
WHERE upload_id = :uploadId!
FOR UPDATE;

/* @name DeletePart */
DELETE FROM multipart_parts
WHERE upload_id = :uploadId! AND part_number = :partNumber!
RETURNING upload_id, part_number, etag, size_bytes, storage_key, created_at;

/* @name InsertPart */
INSERT INTO multipart_parts (upload_id, part_number, etag, size_bytes, storage_key, created_at)
VALUES (:uploadId!, :partNumber!, :etag!, :sizeBytes!, :storageKey!, :createdAt!);

/* @name ListParts */
SELECT upload_id, part_number, etag, size_bytes, storage_key, created_at
FROM multipart_parts
WHERE upload_id = :uploadId! AND part_number > :afterPart!
ORDER BY part_number
LIMIT :limit!;

/* @name DeleteParts */
DELETE FROM multipart_parts
WHERE upload_id = :uploadId!
RETURNING upload_id, part_number, etag, size_bytes, storage_key, created_at;

/* @name DeleteUpload */
DELETE FROM multipart_uploads
WHERE upload_id = :uploadId!;

/* @name ListUploadsFrom */
-- Open uploads in (object_key, upload_id) order after a position, below :toKey when given (a prefix's end).
SELECT upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at, backend_upload_id
FROM multipart_uploads
WHERE (object_key, upload_id) > (:afterKey!, :afterUploadId!) AND (:toKey::text IS NULL OR object_key < :toKey)
ORDER BY object_key, upload_id
LIMIT :limit!;

/* @name ListUploadsCreatedBefore */
SELECT upload_id, object_key, backend_name, storage_key, content_type, user_metadata, created_at, backend_upload_id
FROM multipart_uploads
WHERE created_at < :cutoff!
ORDER BY created_at, upload_id
LIMIT :limit!;

/* @name SumPartsByBackend */
SELECT u.backend_name, coalesce(sum(p.size_bytes), 0)::int8 AS "bytes!"
FROM multipart_parts p
JOIN multipart_uploads u ON u.upload_id = p.upload_id
GROUP BY u.backend_name
ORDER BY u.backend_name;
