/* @name KnownStorageKeys */
-- Which of :storageKeys the metadata knows on :backendName: a copy, a pending intent (write, copy
-- or part), an open multipart upload's own key, an uploaded part, or a row of the cleanup queue or
-- the dead-letter table. One bound array (the backend check sends its keys in batches), never SQL
-- text built from the keys. The copy and intent tables are probed through their
-- (backend_name, storage_key) indexes; uploads, parts and the queues are scanned within the batch.
SELECT storage_key AS "storage_key!" FROM object_locations
WHERE backend_name = :backendName! AND storage_key = ANY (:storageKeys!::text[])
UNION
SELECT storage_key FROM pending_objects
WHERE backend_name = :backendName! AND storage_key = ANY (:storageKeys!::text[])
UNION
SELECT storage_key FROM multipart_uploads
WHERE backend_name = :backendName! AND storage_key = ANY (:storageKeys!::text[])
UNION
SELECT p.storage_key FROM multipart_parts p JOIN multipart_uploads u ON u.upload_id = p.upload_id
WHERE u.backend_name = :backendName! AND p.storage_key = ANY (:storageKeys!::text[])
UNION
SELECT storage_key FROM cleanup_queue
WHERE backend_name = :backendName! AND storage_key = ANY (:storageKeys!::text[])
UNION
SELECT storage_key FROM cleanup_dlq
WHERE backend_name = :backendName! AND storage_key = ANY (:storageKeys!::text[]);

/* @name ListCopiesOfBackend */
-- One page of a backend's copies in storage-key order, after :afterKey ('' for the first page),
-- through the (backend_name, storage_key) index: the backend check HEADs each to find bytes gone.
SELECT object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes
FROM object_locations
WHERE backend_name = :backendName! AND storage_key > :afterKey!
ORDER BY storage_key
LIMIT :limit!;
