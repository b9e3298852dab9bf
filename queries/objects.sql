/* @name LockObjectKey */
-- Serialises every transaction on one object key until commit. Namespace 1 of the two-int4 advisory
-- key space is reserved for object keys; leader locks use the single-bigint space, so they never collide.
SELECT pg_advisory_xact_lock(1, hashtext(:objectKey!)) AS "locked";

/* @name LockObjectKeys */
-- Many keys, locked in the order given (callers sort them), so two multi-key transactions cannot deadlock.
SELECT count(pg_advisory_xact_lock(1, hashtext(t.k)))::int4 AS "locked!"
FROM unnest(:objectKeys!::text[]) WITH ORDINALITY AS t (k, n);

/* @name InsertCopy */
INSERT INTO object_locations
    (object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes)
VALUES (:objectKey!, :backendName!, :storageKey!, :sizeBytes!, :etag!, :contentType!, :userMetadata!, :contentHash, :createdAt!, :partSizes);

/* @name LookupCopies */
SELECT object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes
FROM object_locations
WHERE object_key = :objectKey!
ORDER BY backend_name;

/* @name EndVersion */
-- The key's current version ends (a new one replaces it, or it is deleted): every copy goes and is
-- returned (the caller credits quota and queues the bytes), and the key's pending write intents,
-- all older than this moment, are stamped superseded so the reaper never promotes them.
WITH superseded AS (
    UPDATE pending_objects SET superseded_at = :now!
    WHERE object_key = :objectKey! AND kind = 'write' AND superseded_at IS NULL
)
DELETE FROM object_locations
WHERE object_key = :objectKey!
RETURNING object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes;

/* @name ReplaceVersion */
-- EndVersion and the insert of the new version's copy, in one statement (commit write, promote,
-- multipart completion). All parts see the same snapshot: the delete returns the old copies only,
-- and a new copy may take the primary key of an old one on the same backend.
WITH superseded AS (
    UPDATE pending_objects SET superseded_at = :now!
    WHERE object_key = :objectKey! AND kind = 'write' AND superseded_at IS NULL
), inserted AS (
    INSERT INTO object_locations
        (object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes)
    VALUES (:objectKey!, :backendName!, :storageKey!, :sizeBytes!, :etag!, :contentType!, :userMetadata!, :contentHash, :now!, :partSizes)
)
DELETE FROM object_locations
WHERE object_key = :objectKey!
RETURNING object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes;

/* @name EndVersions */
-- EndVersion for many keys (a multi-object delete): only keys that have a version are affected.
WITH superseded AS (
    UPDATE pending_objects SET superseded_at = :now!
    WHERE object_key IN (SELECT object_key FROM object_locations WHERE object_key = ANY (:objectKeys!::text[]))
      AND kind = 'write' AND superseded_at IS NULL
)
DELETE FROM object_locations
WHERE object_key = ANY (:objectKeys!::text[])
RETURNING object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes;

/* @name DeleteCopy */
DELETE FROM object_locations
WHERE object_key = :objectKey! AND backend_name = :backendName!
RETURNING object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes;

/* @name ListObjectsFrom */
-- One row per key (a key with several copies appears once), keys >= :fromKey in byte order.
SELECT DISTINCT ON (object_key) object_key, size_bytes, etag, created_at
FROM object_locations
WHERE object_key >= :fromKey!
ORDER BY object_key, backend_name
LIMIT :limit!;

/* @name ListObjectsRange */
-- As ListObjectsFrom, bounded above (exclusive): the keys under a prefix.
SELECT DISTINCT ON (object_key) object_key, size_bytes, etag, created_at
FROM object_locations
WHERE object_key >= :fromKey! AND object_key < :toKey!
ORDER BY object_key, backend_name
LIMIT :limit!;

/* @name SumCopiesByBackend */
SELECT backend_name, coalesce(sum(size_bytes), 0)::int8 AS "bytes!", count(*)::int8 AS "copies!"
FROM object_locations
GROUP BY backend_name
ORDER BY backend_name;
