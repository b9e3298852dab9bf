-- Up Migration
-- GET/HEAD ?partNumber=N of a multipart object answers the bytes of part N: the sizes of the parts the
-- completion put together are kept with the copy, so the range is known without asking the backend
-- (some S3-compatible backends ignore HeadObject's PartNumber). Run-length encoded JSON, in part order:
-- [[size, count of consecutive parts of that size], ...], e.g. [[5242880,19],[1048576,1]]. NULL for
-- objects that are not multipart, and for multipart objects completed before this migration.
ALTER TABLE object_locations ADD COLUMN part_sizes TEXT;

-- Down Migration
ALTER TABLE object_locations DROP COLUMN part_sizes;
