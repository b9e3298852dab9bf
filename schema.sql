-- SQLite schema of the metadata store: the consolidated equivalent of migrations/ (spec §4).
-- Applied at start-up in one transaction; every statement is idempotent.
-- Type mapping from the Postgres migrations: BIGINT/INTEGER/BOOLEAN -> INTEGER, TEXT/JSONB -> TEXT,
-- BYTEA -> BLOB, TIMESTAMPTZ -> INTEGER Unix epoch milliseconds (numbers sort correctly, text does not).
-- SQLite's default BINARY collation compares UTF-8 bytes: listing order is S3's byte order.
-- STRICT tables refuse values of the wrong type instead of silently storing them.

CREATE TABLE IF NOT EXISTS backend_quotas (
    backend_name   TEXT    PRIMARY KEY NOT NULL,
    bytes_limit    INTEGER NOT NULL DEFAULT 0 CHECK (bytes_limit >= 0),
    bytes_used     INTEGER NOT NULL DEFAULT 0,
    orphan_bytes   INTEGER NOT NULL DEFAULT 0,
    inflight_bytes INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    -- the part of the remaining budget not handed to a stripe (see migrations/0002_quota_escrow.sql)
    free_bytes     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Escrow stripes of the quota counters. SQLite has one serialised writer, so it uses a single stripe;
-- the table exists so that both engines run the same quota logic.
CREATE TABLE IF NOT EXISTS backend_quota_stripes (
    backend_name   TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    stripe         INTEGER NOT NULL CHECK (stripe >= 0),
    bytes_used     INTEGER NOT NULL DEFAULT 0,
    orphan_bytes   INTEGER NOT NULL DEFAULT 0,
    inflight_bytes INTEGER NOT NULL DEFAULT 0,
    free_bytes     INTEGER NOT NULL DEFAULT 0 CHECK (free_bytes >= 0),
    PRIMARY KEY (backend_name, stripe)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS object_locations (
    object_key    TEXT    NOT NULL,
    backend_name  TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT    NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    etag          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    user_metadata TEXT    NOT NULL,
    content_hash  TEXT,
    created_at    INTEGER NOT NULL,
    -- A multipart object's part sizes, run-length encoded JSON [[size, count], ...] in part order
    -- (migrations/0006_object_part_sizes.sql); NULL for other objects.
    part_sizes    TEXT,
    PRIMARY KEY (object_key, backend_name),
    UNIQUE (backend_name, storage_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS multipart_uploads (
    upload_id     TEXT    PRIMARY KEY NOT NULL,
    object_key    TEXT    NOT NULL,
    backend_name  TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    user_metadata TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    -- The backend's own id of the upload (S3 backends); NULL when the backend needs none.
    backend_upload_id TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS multipart_uploads_by_key ON multipart_uploads (object_key, upload_id);
CREATE INDEX IF NOT EXISTS multipart_uploads_by_age ON multipart_uploads (created_at);

CREATE TABLE IF NOT EXISTS multipart_parts (
    upload_id   TEXT    NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    etag        TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
    storage_key TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS backend_usage (
    backend_name  TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    period        TEXT    NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
    api_requests  INTEGER NOT NULL DEFAULT 0,
    egress_bytes  INTEGER NOT NULL DEFAULT 0,
    ingress_bytes INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (backend_name, period)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: queue ids are shown to operators and copied into cleanup_dlq.original_id; never reuse one.
CREATE TABLE IF NOT EXISTS cleanup_queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    backend_name TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key  TEXT    NOT NULL,
    object_key   TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_retry   INTEGER NOT NULL,
    last_error   TEXT,
    claimed_at   INTEGER,
    claimed_by   TEXT,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS cleanup_queue_due ON cleanup_queue (next_retry, id);
CREATE INDEX IF NOT EXISTS cleanup_queue_by_backend ON cleanup_queue (backend_name, id);

CREATE TABLE IF NOT EXISTS cleanup_dlq (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    original_id       INTEGER NOT NULL,
    backend_name      TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key       TEXT    NOT NULL,
    object_key        TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    size_bytes        INTEGER NOT NULL CHECK (size_bytes >= 0),
    attempts          INTEGER NOT NULL,
    last_error        TEXT,
    first_enqueued_at INTEGER NOT NULL,
    moved_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS cleanup_dlq_by_backend ON cleanup_dlq (backend_name, id);

CREATE TABLE IF NOT EXISTS pending_objects (
    intent_id     TEXT    PRIMARY KEY NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('write', 'copy', 'part')),
    object_key    TEXT    NOT NULL,
    backend_name  TEXT    NOT NULL REFERENCES backend_quotas (backend_name),
    storage_key   TEXT    NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    etag          TEXT,
    content_type  TEXT    NOT NULL,
    user_metadata TEXT    NOT NULL,
    content_hash  TEXT,
    upload_id     TEXT,
    part_number   INTEGER CHECK (part_number BETWEEN 1 AND 10000),
    created_at    INTEGER NOT NULL,
    superseded_at INTEGER,
    UNIQUE (backend_name, storage_key),
    CHECK ((kind = 'part') = (upload_id IS NOT NULL AND part_number IS NOT NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS pending_objects_by_age ON pending_objects (created_at, intent_id);
CREATE INDEX IF NOT EXISTS pending_objects_by_key ON pending_objects (object_key);

CREATE TABLE IF NOT EXISTS notification_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL UNIQUE,
    event_type TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_retry INTEGER NOT NULL,
    last_error TEXT,
    claimed_at INTEGER,
    claimed_by TEXT,
    created_at INTEGER NOT NULL,
    failed_at  INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (next_retry, id) WHERE failed_at IS NULL;
CREATE INDEX IF NOT EXISTS notification_outbox_failed ON notification_outbox (failed_at, id) WHERE failed_at IS NOT NULL;

-- Buckets of the S3 gateway (migrations/0004_buckets.sql): names only; a bucket's objects are the
-- key range ["{name}/", "{name}0") of object_locations.
CREATE TABLE IF NOT EXISTS buckets (
    name       TEXT    PRIMARY KEY NOT NULL,
    owner      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The version stamp the program compares with the file's: bump it with every change to this file.
PRAGMA user_version = 5;
