-- Up Migration
-- Buckets of the S3 gateway (gateway spec §3). Buckets are virtual: an object's key is "{bucket}/{key}"
-- and every bucket shares the backend pool, so this table only names them (no foreign key from
-- object_locations: a bucket's objects are the key range ["{name}/", "{name}0")). The name sorts
-- and compares in byte order, as object keys do.
CREATE TABLE buckets (
    name       TEXT COLLATE "C" PRIMARY KEY,
    owner      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Down Migration
DROP TABLE buckets;
