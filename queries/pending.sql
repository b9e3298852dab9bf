/* @name InsertIntent */
INSERT INTO pending_objects
    (intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
     content_hash, upload_id, part_number, created_at)
VALUES (:intentId!, :kind!, :objectKey!, :backendName!, :storageKey!, :sizeBytes!, :etag, :contentType!, :userMetadata!,
        :contentHash, :uploadId, :partNumber, :createdAt!);

/* @name InsertAdmittedIntent */
-- The fast path of a write's admission and its intent in one statement (one round trip, committed
-- on its own): the bytes are taken from one quota stripe's share (as AdmitOnStripe) and the intent is
-- inserted only if they were. No row back: the share was too small, and the caller rebalances.
WITH admitted AS (
    UPDATE backend_quota_stripes s
    SET inflight_bytes = s.inflight_bytes + :sizeBytes!,
        free_bytes = CASE WHEN q.bytes_limit = 0 THEN s.free_bytes ELSE s.free_bytes - :sizeBytes! END
    FROM backend_quotas q
    WHERE q.backend_name = :backendName!
      AND s.backend_name = q.backend_name
      AND s.stripe = :stripe!
      AND (q.bytes_limit = 0 OR s.free_bytes >= :sizeBytes!)
    RETURNING s.backend_name
)
INSERT INTO pending_objects
    (intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
     content_hash, upload_id, part_number, created_at)
SELECT :intentId!, :kind!, :objectKey!, admitted.backend_name, :storageKey!, :sizeBytes!, :etag, :contentType!, :userMetadata!,
       :contentHash, :uploadId, :partNumber, :createdAt!
FROM admitted
RETURNING intent_id;

/* @name TakeIntent */
-- Locks the intent's object key (as LockObjectKey), then resolves the intent, in one round trip:
-- the lock is an init plan, taken before the row is deleted.
WITH key_lock AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(1, hashtext(:objectKey!))
)
DELETE FROM pending_objects
WHERE intent_id = :intentId! AND EXISTS (SELECT 1 FROM key_lock)
RETURNING intent_id, kind, object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata,
          content_hash, upload_id, part_number, created_at, superseded_at;

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

/* @name ListReapableIntents */
-- The reaper's page of one backend (it pages per backend it can reach, so intents of a backend it
-- cannot reach never fill its batch): intents created before the cutoff, oldest first. A write intent
-- waits while a newer write intent of its key is pending and not superseded: the newer one is resolved
-- first, so of several unacknowledged writes whose bytes all arrived, the newest wins (its promotion
-- marks the older ones superseded; if its bytes are absent it is dropped and the next older one is up).
SELECT p.intent_id, p.kind, p.object_key, p.backend_name, p.storage_key, p.size_bytes, p.etag, p.content_type,
       p.user_metadata, p.content_hash, p.upload_id, p.part_number, p.created_at, p.superseded_at
FROM pending_objects p
WHERE p.backend_name = :backendName!
  AND p.created_at < :cutoff!
  AND NOT (p.kind = 'write' AND p.superseded_at IS NULL AND EXISTS (
      SELECT 1 FROM pending_objects n
      WHERE n.object_key = p.object_key AND n.kind = 'write' AND n.superseded_at IS NULL
        AND (n.created_at > p.created_at OR (n.created_at = p.created_at AND n.intent_id > p.intent_id))))
ORDER BY p.created_at, p.intent_id
LIMIT :limit!;

/* @name IntentSummary */
SELECT count(*)::int8 AS "count!", min(created_at) AS oldest
FROM pending_objects;

/* @name SumIntentsByBackend */
SELECT backend_name, coalesce(sum(size_bytes), 0)::int8 AS "bytes!"
FROM pending_objects
GROUP BY backend_name
ORDER BY backend_name;
