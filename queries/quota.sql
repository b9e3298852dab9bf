/* @name UpsertBackendQuota */
-- Rows come from config at start-up: a changed limit applies, the counters are left alone.
INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at)
VALUES (:backendName!, :bytesLimit!, :now!)
ON CONFLICT (backend_name) DO UPDATE
SET bytes_limit = EXCLUDED.bytes_limit,
    updated_at = CASE WHEN backend_quotas.bytes_limit = EXCLUDED.bytes_limit
                      THEN backend_quotas.updated_at ELSE EXCLUDED.updated_at END;

/* @name InsertQuotaStripe */
INSERT INTO backend_quota_stripes (backend_name, stripe)
VALUES (:backendName!, :stripe!)
ON CONFLICT (backend_name, stripe) DO NOTHING;

/* @name ListQuotaTotals */
-- A backend's counters are its backend_quotas row plus the sum of its stripes.
SELECT q.backend_name,
       q.bytes_limit,
       (q.bytes_used + coalesce(sum(s.bytes_used), 0))::int8 AS "bytes_used!",
       (q.orphan_bytes + coalesce(sum(s.orphan_bytes), 0))::int8 AS "orphan_bytes!",
       (q.inflight_bytes + coalesce(sum(s.inflight_bytes), 0))::int8 AS "inflight_bytes!",
       (q.free_bytes + coalesce(sum(s.free_bytes), 0))::int8 AS "free_bytes!",
       count(s.stripe)::int4 AS "stripes!",
       q.updated_at
FROM backend_quotas q
LEFT JOIN backend_quota_stripes s ON s.backend_name = q.backend_name
GROUP BY q.backend_name
ORDER BY q.backend_name;

/* @name LockQuotaBase */
-- First lock of a rebalance, limit change or reconcile. NO KEY UPDATE leaves foreign-key checks
-- (inserts that reference the backend) unblocked.
SELECT backend_name, bytes_limit, bytes_used, orphan_bytes, inflight_bytes, free_bytes
FROM backend_quotas
WHERE backend_name = :backendName!
FOR NO KEY UPDATE;

/* @name LockQuotaStripes */
-- Second lock of a rebalance: every stripe of the backend, always in stripe order.
SELECT stripe, bytes_used, orphan_bytes, inflight_bytes, free_bytes
FROM backend_quota_stripes
WHERE backend_name = :backendName!
ORDER BY stripe
FOR UPDATE;

/* @name AdmitOnStripe */
-- The fast path of admission: take the bytes from one stripe's share of the budget. No row comes
-- back when the share is too small (or the stripe does not exist): the caller then rebalances.
-- Unlimited backends (bytes_limit = 0) only count the bytes.
UPDATE backend_quota_stripes s
SET inflight_bytes = s.inflight_bytes + :sizeBytes!,
    free_bytes = CASE WHEN q.bytes_limit = 0 THEN s.free_bytes ELSE s.free_bytes - :sizeBytes! END
FROM backend_quotas q
WHERE q.backend_name = :backendName!
  AND s.backend_name = q.backend_name
  AND s.stripe = :stripe!
  AND (q.bytes_limit = 0 OR s.free_bytes >= :sizeBytes!)
RETURNING s.stripe;

/* @name AddStripeDeltas */
UPDATE backend_quota_stripes
SET bytes_used = bytes_used + :usedDelta!,
    orphan_bytes = orphan_bytes + :orphanDelta!,
    inflight_bytes = inflight_bytes + :inflightDelta!
WHERE backend_name = :backendName! AND stripe = :stripe!;

/* @name RecordChanges */
-- The end of a transaction's ledger changes in one round trip: one stripe's counter deltas (none when
-- :backendName is null), the cleanup rows (their bytes are in the orphan delta) and the outbox events.
-- Returns how many stripe rows were updated, so a missing stripe can be handled by the caller.
WITH quota AS (
    UPDATE backend_quota_stripes
    SET bytes_used = bytes_used + :usedDelta!,
        orphan_bytes = orphan_bytes + :orphanDelta!,
        inflight_bytes = inflight_bytes + :inflightDelta!
    WHERE backend_name = :backendName AND stripe = :stripe!
    RETURNING stripe
), cleanup AS (
    INSERT INTO cleanup_queue (backend_name, storage_key, object_key, reason, size_bytes, attempts, next_retry, created_at)
    SELECT t.backend_name, t.storage_key, t.object_key, t.reason, t.size_bytes, 0, :now!, :now!
    FROM unnest(:cleanupBackends!::text[], :cleanupStorageKeys!::text[], :cleanupObjectKeys!::text[],
                :cleanupReasons!::text[], :cleanupSizes!::int8[])
         AS t (backend_name, storage_key, object_key, reason, size_bytes)
), events AS (
    INSERT INTO notification_outbox (event_id, event_type, payload, endpoint, attempts, next_retry, created_at)
    SELECT e.event_id, e.event_type, e.payload::jsonb, e.endpoint, 0, :now!, :now!
    FROM unnest(:eventIds!::text[], :eventTypes!::text[], :eventPayloads!::text[], :eventEndpoints!::text[])
         AS e (event_id, event_type, payload, endpoint)
)
SELECT count(*)::int4 AS "stripes_updated!" FROM quota;

/* @name AddBaseDeltas */
-- Changes off the writers' path (cleanup done, intent dropped, write-off). Bytes that leave the
-- backend (a negative sum of the deltas) go back to the unassigned budget of a limited backend.
UPDATE backend_quotas
SET bytes_used = bytes_used + :usedDelta!,
    orphan_bytes = orphan_bytes + :orphanDelta!,
    inflight_bytes = inflight_bytes + :inflightDelta!,
    free_bytes = CASE WHEN bytes_limit = 0 THEN 0
                      ELSE free_bytes - (:usedDelta! + :orphanDelta! + :inflightDelta!) END,
    updated_at = :now!
WHERE backend_name = :backendName!;

/* @name SetQuotaBase */
-- Rebalance, limit change and reconcile write the whole record under the locks above.
UPDATE backend_quotas
SET bytes_used = :bytesUsed!, orphan_bytes = :orphanBytes!, inflight_bytes = :inflightBytes!,
    free_bytes = :freeBytes!, updated_at = :now!
WHERE backend_name = :backendName!;

/* @name SetStripesFree */
-- A rebalance gives every stripe of the backend the same share of the remaining budget.
UPDATE backend_quota_stripes
SET free_bytes = :freeBytes!
WHERE backend_name = :backendName!;

/* @name ResetStripeCounters */
-- After a fold into backend_quotas: the stripes start again from zero.
UPDATE backend_quota_stripes
SET bytes_used = 0, orphan_bytes = 0, inflight_bytes = 0, free_bytes = 0
WHERE backend_name = :backendName!;
