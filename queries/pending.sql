/* @name InsertIntent */
INSERT INTO pending_objects
    (intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
     content_hash, upload_id, part_number, created_at)
VALUES (:intentId!, :kind!, :objectKey!, :backendName!, :storageKey!, :sizeBytes!, :etag, :contentType!, :userMetadata!,
        :contentHash, :uploadId, :partNumber, :createdAt!);

/* @name DeleteIntent */
-- Resolving an intent deletes it; only the transaction that deletes the row acts on it.
DELETE FROM pending_objects
WHERE intent_id = :intentId!
RETURNING intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
          content_hash, upload_id, part_number, created_at, superseded_at;

/* @name GetIntent */
SELECT intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
       content_hash, upload_id, part_number, created_at, superseded_at
FROM pending_objects
WHERE intent_id = :intentId!;

/* @name ListIntentsCreatedBefore */
SELECT intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
       content_hash, upload_id, part_number, created_at, superseded_at
FROM pending_objects
WHERE created_at < :cutoff!
ORDER BY created_at, intent_id
LIMIT :limit!;

/* @name IntentSummary */
SELECT count(*)::int8 AS "count!", min(created_at) AS oldest
FROM pending_objects;

/* @name SumIntentsByBackend */
SELECT backend_name, coalesce(sum(size_bytes), 0)::int8 AS "bytes!"
FROM pending_objects
GROUP BY backend_name
ORDER BY backend_name;
