-- Up Migration
-- The nine tables of the metadata store (spec §4). Keys that are compared or sorted (object keys,
-- backend names, upload and intent ids) use COLLATE "C": UTF-8 byte order, S3's listing order and
-- SQLite's BINARY order, whatever the database's default locale.

CREATE TABLE backend_quotas (
    backend_name   TEXT COLLATE "C" PRIMARY KEY,
    bytes_limit    BIGINT      NOT NULL DEFAULT 0 CHECK (bytes_limit >= 0), -- 0 = unlimited
    bytes_used     BIGINT      NOT NULL DEFAULT 0,
    orphan_bytes   BIGINT      NOT NULL DEFAULT 0,
    -- bytes admitted but not committed: live intents plus parts of open multipart uploads
    inflight_bytes BIGINT      NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE object_locations (
    object_key    TEXT COLLATE "C" NOT NULL,
    backend_name  TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT        NOT NULL,
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    etag          TEXT        NOT NULL,
    content_type  TEXT        NOT NULL,
    user_metadata JSONB       NOT NULL,
    content_hash  TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (object_key, backend_name),
    UNIQUE (backend_name, storage_key)
);

CREATE TABLE multipart_uploads (
    upload_id     TEXT COLLATE "C" PRIMARY KEY,
    object_key    TEXT COLLATE "C" NOT NULL,
    backend_name  TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT        NOT NULL,
    content_type  TEXT        NOT NULL,
    user_metadata JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX multipart_uploads_by_key ON multipart_uploads (object_key, upload_id);
CREATE INDEX multipart_uploads_by_age ON multipart_uploads (created_at);

CREATE TABLE multipart_parts (
    upload_id   TEXT COLLATE "C" NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER     NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    etag        TEXT        NOT NULL,
    size_bytes  BIGINT      NOT NULL CHECK (size_bytes >= 0),
    storage_key TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);

CREATE TABLE backend_usage (
    backend_name  TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    period        TEXT        NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'), -- UTC month YYYY-MM
    api_requests  BIGINT      NOT NULL DEFAULT 0,
    egress_bytes  BIGINT      NOT NULL DEFAULT 0,
    ingress_bytes BIGINT      NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (backend_name, period)
);

CREATE TABLE cleanup_queue (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    backend_name TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key  TEXT        NOT NULL,
    object_key   TEXT COLLATE "C" NOT NULL,
    reason       TEXT        NOT NULL,
    size_bytes   BIGINT      NOT NULL CHECK (size_bytes >= 0),
    attempts     INTEGER     NOT NULL DEFAULT 0,
    -- due time; a claim pushes it forward by the grace period, so an abandoned claim becomes due again
    next_retry   TIMESTAMPTZ NOT NULL,
    last_error   TEXT,
    claimed_at   TIMESTAMPTZ,
    claimed_by   TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX cleanup_queue_due ON cleanup_queue (next_retry, id);
CREATE INDEX cleanup_queue_by_backend ON cleanup_queue (backend_name, id);

CREATE TABLE cleanup_dlq (
    id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    original_id       BIGINT      NOT NULL,
    backend_name      TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key       TEXT        NOT NULL,
    object_key        TEXT        NOT NULL,
    reason            TEXT        NOT NULL,
    size_bytes        BIGINT      NOT NULL CHECK (size_bytes >= 0),
    attempts          INTEGER     NOT NULL,
    last_error        TEXT,
    first_enqueued_at TIMESTAMPTZ NOT NULL,
    moved_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX cleanup_dlq_by_backend ON cleanup_dlq (backend_name, id);

CREATE TABLE pending_objects (
    intent_id     TEXT COLLATE "C" PRIMARY KEY,
    -- 'write': a new version of the key; 'copy': another copy of the current version;
    -- 'part': a part of a multipart upload (upload_id, part_number)
    kind          TEXT        NOT NULL CHECK (kind IN ('write', 'copy', 'part')),
    object_key    TEXT COLLATE "C" NOT NULL,
    backend_name  TEXT COLLATE "C" NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT        NOT NULL,
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    -- identity known when the write begins; the etag may only be known once the bytes are written
    etag          TEXT,
    content_type  TEXT        NOT NULL,
    user_metadata JSONB       NOT NULL,
    content_hash  TEXT,
    upload_id     TEXT,
    part_number   INTEGER     CHECK (part_number BETWEEN 1 AND 10000),
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (backend_name, storage_key),
    CHECK ((kind = 'part') = (upload_id IS NOT NULL AND part_number IS NOT NULL))
);
CREATE INDEX pending_objects_by_age ON pending_objects (created_at, intent_id);

CREATE TABLE notification_outbox (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    TEXT        NOT NULL UNIQUE,
    event_type  TEXT        NOT NULL,
    payload     JSONB       NOT NULL,
    endpoint    TEXT        NOT NULL,
    attempts    INTEGER     NOT NULL DEFAULT 0,
    next_retry  TIMESTAMPTZ NOT NULL,
    last_error  TEXT,
    claimed_at  TIMESTAMPTZ,
    claimed_by  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    -- terminal state: the endpoint's retry budget is used up; kept for operators, never deleted silently
    failed_at   TIMESTAMPTZ
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_retry, id) WHERE failed_at IS NULL;
CREATE INDEX notification_outbox_failed ON notification_outbox (failed_at, id) WHERE failed_at IS NOT NULL;

-- Down Migration
-- A down migration never drops data tables (spec §5): rolling back this release means restoring a backup.
DO $$ BEGIN RAISE EXCEPTION 'migration 0001_initial cannot be reverted: it would drop data tables'; END $$;
