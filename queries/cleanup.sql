/* @name ClaimCleanup */
-- Due rows for one worker; SKIP LOCKED keeps concurrent claimers on disjoint rows. The claim pushes
-- next_retry to :claimUntil, so the rows of a worker that died mid-claim come due again after the
-- grace period and are taken over.
-- Only rows of the backends the worker can reach (:backendNames).
UPDATE cleanup_queue q
SET claimed_at = :now!, claimed_by = :worker!, next_retry = :claimUntil!
FROM (SELECT id FROM cleanup_queue
      WHERE next_retry <= :now! AND backend_name = ANY (:backendNames!::text[])
      ORDER BY next_retry, id
      LIMIT :limit!
      FOR UPDATE SKIP LOCKED) due
WHERE q.id = due.id
RETURNING q.id, q.backend_name, q.storage_key, q.object_key, q.reason, q.size_bytes, q.attempts, q.next_retry,
          q.last_error, q.claimed_at, q.claimed_by, q.created_at;

/* @name ReleaseCleanupClaims */
-- A worker stopping with claimed rows it did not process hands them back at once, instead of
-- leaving them to the grace period.
UPDATE cleanup_queue
SET claimed_at = NULL, claimed_by = NULL, next_retry = :now!
WHERE id = ANY (:ids!::int8[]) AND claimed_by = :worker!;

/* @name DeleteCleanupRow */
-- Completion: idempotent, a row already completed (or taken over and completed) returns nothing.
DELETE FROM cleanup_queue
WHERE id = :id!
RETURNING backend_name, size_bytes;

/* @name RetryCleanup */
UPDATE cleanup_queue
SET attempts = attempts + 1, next_retry = :nextRetry!, last_error = :lastError!, claimed_at = NULL, claimed_by = NULL
WHERE id = :id! AND claimed_by = :worker!
RETURNING attempts;

/* @name MoveCleanupToDlq */
-- The bytes are still on the backend, so orphan_bytes does not change.
WITH moved AS (
    DELETE FROM cleanup_queue WHERE id = :id! AND claimed_by = :worker! RETURNING *
)
INSERT INTO cleanup_dlq
    (original_id, backend_name, storage_key, object_key, reason, size_bytes, attempts, last_error, first_enqueued_at, moved_at)
SELECT id, backend_name, storage_key, object_key, reason, size_bytes, attempts + 1, :lastError!, created_at, :now!
FROM moved
RETURNING id;

/* @name ListCleanupRows */
SELECT id, backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, last_error, claimed_at,
       claimed_by, created_at
FROM cleanup_queue
WHERE (:backendName::text IS NULL OR backend_name = :backendName) AND id > :afterId!
ORDER BY id
LIMIT :limit!;

/* @name ListDlqRows */
SELECT id, original_id, backend_name, storage_key, object_key, reason, size_bytes, attempts, last_error,
       first_enqueued_at, moved_at
FROM cleanup_dlq
WHERE (:backendName::text IS NULL OR backend_name = :backendName) AND id > :afterId!
ORDER BY id
LIMIT :limit!;

/* @name RequeueDlq */
-- Moves dead letters back to the queue (one row, a backend's rows, or all), with a fresh retry
-- budget. The bytes stay orphaned, so the counters do not change.
WITH moved AS (
    DELETE FROM cleanup_dlq
    WHERE (:id::int8 IS NULL OR id = :id) AND (:backendName::text IS NULL OR backend_name = :backendName)
    RETURNING *
)
INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, last_error, created_at)
SELECT backend_name, storage_key, object_key, reason, size_bytes, 0, :now!, last_error, first_enqueued_at
FROM moved
RETURNING id;

/* @name PurgeDlq */
-- Write-off after the bytes were removed by hand: the caller credits orphan_bytes.
DELETE FROM cleanup_dlq
WHERE (:id::int8 IS NULL OR id = :id) AND (:backendName::text IS NULL OR backend_name = :backendName)
RETURNING id, backend_name, size_bytes;

/* @name CleanupDepths */
-- Rows and bytes per backend in the queue and the dead-letter table (their bytes are orphan_bytes).
SELECT backend_name AS "backend_name!", 'queue' AS "place!", count(*)::int8 AS "rows!", coalesce(sum(size_bytes), 0)::int8 AS "bytes!"
FROM cleanup_queue GROUP BY backend_name
UNION ALL
SELECT backend_name, 'dlq' AS "place!", count(*)::int8 AS "rows!", coalesce(sum(size_bytes), 0)::int8 AS "bytes!"
FROM cleanup_dlq GROUP BY backend_name
ORDER BY 1, 2;
