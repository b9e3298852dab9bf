-- Up Migration
-- Escrow stripes for the quota counters (spec §12). One counter row per backend is a hot row: every
-- writer queues on its lock until commit. Each backend now also has N stripe rows; a writer charges
-- one stripe, so writers on different stripes do not wait for each other. For a backend with a limit,
-- each stripe holds a share of the remaining budget (free_bytes): an admission takes bytes from its
-- stripe's share, and when the share is too small it rebalances all shares under a lock on every
-- row of that backend. A backend's totals are the backend_quotas row plus the sum of its stripes;
-- for a limited backend, used + orphan + in-flight + free (all rows) = bytes_limit, so no admission
-- can pass the limit (I2).

-- The part of the remaining budget not handed to a stripe; releases (cleanup done, intent dropped)
-- return bytes here, off the writers' path.
ALTER TABLE backend_quotas ADD COLUMN free_bytes BIGINT NOT NULL DEFAULT 0;

CREATE TABLE backend_quota_stripes (
    backend_name   TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    stripe         INTEGER NOT NULL CHECK (stripe >= 0),
    -- deltas on top of the backend_quotas row; a single stripe may go negative, the sums may not
    bytes_used     BIGINT  NOT NULL DEFAULT 0,
    orphan_bytes   BIGINT  NOT NULL DEFAULT 0,
    inflight_bytes BIGINT  NOT NULL DEFAULT 0,
    -- this stripe's share of the remaining budget (limited backends only; never negative)
    free_bytes     BIGINT  NOT NULL DEFAULT 0 CHECK (free_bytes >= 0),
    PRIMARY KEY (backend_name, stripe)
);

-- Down Migration
-- Nothing is lost: the stripe deltas are folded into backend_quotas before the stripe table goes;
-- the escrowed budget is derived data (bytes_limit minus the counters).
UPDATE backend_quotas q
SET bytes_used = q.bytes_used + s.used, orphan_bytes = q.orphan_bytes + s.orphan, inflight_bytes = q.inflight_bytes + s.inflight
FROM (SELECT backend_name, sum(bytes_used) AS used, sum(orphan_bytes) AS orphan, sum(inflight_bytes) AS inflight
      FROM backend_quota_stripes GROUP BY backend_name) s
WHERE s.backend_name = q.backend_name;
DROP TABLE backend_quota_stripes;
ALTER TABLE backend_quotas DROP COLUMN free_bytes;
