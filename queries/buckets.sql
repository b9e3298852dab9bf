/* @name InsertBucket */
-- Idempotent and race-safe: of concurrent creates of one name exactly one inserts (and gets the row);
-- the others get no row and read the existing bucket.
INSERT INTO buckets (name, owner, created_at)
VALUES (:name!, :owner!, :createdAt!)
ON CONFLICT (name) DO NOTHING
RETURNING name, owner, created_at;

/* @name GetBucket */
SELECT name, owner, created_at
FROM buckets
WHERE name = :name!;

/* @name LockBucket */
-- Serialises deletes of one bucket (and any later operation that locks the row).
SELECT name, owner, created_at
FROM buckets
WHERE name = :name!
FOR UPDATE;

/* @name ListBuckets */
SELECT name, owner, created_at
FROM buckets
ORDER BY name;

/* @name DeleteBucket */
DELETE FROM buckets
WHERE name = :name!;

/* @name BucketContents */
-- Whether any object or open multipart upload has a key in [:fromKey, :toKey) ("{bucket}/" up to its
-- prefix end): two index probes (object_locations' primary key, multipart_uploads_by_key). The
-- ORDER BY ... LIMIT 1 keeps them probes: a bare EXISTS lets the planner pick a sequential scan that
-- expects an early match, which for an empty bucket (the case that matters) reads the whole table.
SELECT
    (SELECT object_key FROM object_locations WHERE object_key >= :fromKey! AND object_key < :toKey!
     ORDER BY object_key LIMIT 1) IS NOT NULL AS "hasObjects!",
    (SELECT object_key FROM multipart_uploads WHERE object_key >= :fromKey! AND object_key < :toKey!
     ORDER BY object_key LIMIT 1) IS NOT NULL AS "hasUploads!";

/* @name BucketStats */
-- Per bucket: its objects (keys) and their bytes, each key counted once however many copies it has
-- (the copy on the first backend by name). A bucket's keys are the range ["{name}/", "{name}0"): '0'
-- follows '/' in byte order and bucket names are ASCII. For status and dashboards, not the request path.
SELECT b.name, count(o.object_key)::int8 AS "objects!", coalesce(sum(o.size_bytes), 0)::int8 AS "bytes!"
FROM buckets b
LEFT JOIN object_locations o
    ON o.object_key >= b.name || '/' AND o.object_key < b.name || '0'
   AND NOT EXISTS (SELECT 1 FROM object_locations f WHERE f.object_key = o.object_key AND f.backend_name < o.backend_name)
GROUP BY b.name
ORDER BY b.name;
