-- Up Migration
-- A pending write intent whose key got a newer version (committed, or deleted) after the intent was
-- created must never be promoted by the reaper: that would bring back an older write. The statement
-- that ends a key's current version stamps its older pending write intents; timestamps alone cannot
-- order a crashed write against a commit in the same millisecond, or against a later delete.
ALTER TABLE pending_objects ADD COLUMN superseded_at TIMESTAMPTZ;
CREATE INDEX pending_objects_by_key ON pending_objects (object_key);

-- Down Migration
DROP INDEX pending_objects_by_key;
ALTER TABLE pending_objects DROP COLUMN superseded_at;
