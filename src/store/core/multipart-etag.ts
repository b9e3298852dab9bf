import { createHash } from 'node:crypto';

/**
 * S3's ETag of a completed multipart upload: the MD5 of the concatenated binary MD5s of the parts,
 * then "-" and the part count. Part ETags that are not hex MD5s (some backends) are hashed as text.
 */
export function multipartEtag(partEtags: readonly string[]): string {
  const md5 = createHash('md5');
  for (const raw of partEtags) {
    const etag = raw.replace(/^"|"$/g, '');
    md5.update(/^[0-9a-f]{32}$/i.test(etag) ? Buffer.from(etag, 'hex') : Buffer.from(etag, 'utf8'));
  }
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}
