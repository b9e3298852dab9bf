-- Up Migration
-- A multipart upload on an S3 backend is a native multipart upload there (gateway spec §5): the id the
-- backend gave it is needed for every part, the completion and the abort. NULL for backends that need
-- none (a directory backend keeps parts as files) and until the backend upload is open.
ALTER TABLE multipart_uploads ADD COLUMN backend_upload_id TEXT;

-- Down Migration
ALTER TABLE multipart_uploads DROP COLUMN backend_upload_id;
