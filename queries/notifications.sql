/* @name ClaimOutbox */
-- As ClaimCleanup: disjoint claims, and a claim older than the grace period is taken over.
UPDATE notification_outbox o
SET claimed_at = :now!, claimed_by = :worker!, next_retry = :claimUntil!
FROM (SELECT id FROM notification_outbox
      WHERE failed_at IS NULL AND next_retry <= :now!
      ORDER BY next_retry, id
      LIMIT :limit!
      FOR UPDATE SKIP LOCKED) due
WHERE o.id = due.id
RETURNING o.id, o.event_id, o.event_type, o.payload, o.endpoint, o.attempts, o.next_retry, o.last_error,
          o.claimed_at, o.claimed_by, o.created_at, o.failed_at;

/* @name ReleaseOutboxClaims */
UPDATE notification_outbox
SET claimed_at = NULL, claimed_by = NULL, next_retry = :now!
WHERE id = ANY (:ids!::int8[]) AND claimed_by = :worker!;

/* @name DeleteOutboxEvent */
-- Delivered: the row goes.
DELETE FROM notification_outbox
WHERE id = :id!;

/* @name RetryOutboxEvent */
UPDATE notification_outbox
SET attempts = attempts + 1, next_retry = :nextRetry!, last_error = :lastError!, claimed_at = NULL, claimed_by = NULL
WHERE id = :id! AND claimed_by = :worker!
RETURNING attempts;

/* @name FailOutboxEvent */
-- The endpoint's retry budget is used up: kept, visible to operators, never deleted silently.
UPDATE notification_outbox
SET attempts = attempts + 1, failed_at = :now!, last_error = :lastError!, claimed_at = NULL, claimed_by = NULL
WHERE id = :id! AND claimed_by = :worker!;

/* @name ListOutboxEvents */
SELECT id, event_id, event_type, payload, endpoint, attempts, next_retry, last_error, claimed_at, claimed_by,
       created_at, failed_at
FROM notification_outbox
WHERE (:failed::boolean IS NULL OR (failed_at IS NOT NULL) = :failed) AND id > :afterId!
ORDER BY id
LIMIT :limit!;

/* @name RequeueFailedOutbox */
UPDATE notification_outbox
SET failed_at = NULL, attempts = 0, next_retry = :now!, claimed_at = NULL, claimed_by = NULL
WHERE failed_at IS NOT NULL AND (:id::int8 IS NULL OR id = :id)
RETURNING id;

/* @name PurgeFailedOutbox */
DELETE FROM notification_outbox
WHERE failed_at IS NOT NULL AND (:id::int8 IS NULL OR id = :id)
RETURNING id;

/* @name OutboxSummary */
SELECT count(*) FILTER (WHERE failed_at IS NULL)::int8 AS "pending!",
       count(*) FILTER (WHERE failed_at IS NOT NULL)::int8 AS "failed!",
       min(created_at) FILTER (WHERE failed_at IS NULL) AS oldest_pending
FROM notification_outbox;
