import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CREDENTIAL, REGION } from './support.js';

/**
 * A second opinion on what a client stored: HeadObject through the AWS SDK for JavaScript (for the
 * clients that do not show an object's ETag, rclone and s3cmd).
 */
export async function headWithSdk(url: string, bucket: string, key: string): Promise<{ etag: string | undefined; size: number | undefined; metadata: Record<string, string> }> {
  const client = new S3Client({ endpoint: url, region: REGION, forcePathStyle: true, credentials: CREDENTIAL, maxAttempts: 1 });
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { etag: head.ETag, size: head.ContentLength, metadata: head.Metadata ?? {} };
  } finally {
    client.destroy();
  }
}
