import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Secret } from '../../src/config/secret.js';
import type { S3BackendConfig } from '../../src/config/types.js';
import { S3RVER_KEY } from './s3rver.js';

/**
 * The `mixed` test project (vitest.config.ts) runs the protocol suite and the real clients again,
 * with every default test gateway over two s3rver backends and one directory backend, spread
 * placement (issue 11: "a gateway over two s3rver backends and one directory passes the whole
 * protocol suite and the real clients' scenarios").
 */
export function mixedBackendsRequested(): boolean {
  return process.env.S3O_TEST_BACKENDS === 'mixed';
}

/** The names of the mixed set, in the order they are declared: the directory backend is "local". */
export const MIXED_S3_BACKENDS = ['s3rver-a', 's3rver-b'] as const;

/** A new, empty bucket on each of the project's s3rver processes, as `s3` backend configs. */
export async function freshS3rverBuckets(): Promise<S3BackendConfig[]> {
  const { inject } = await import('vitest');
  const endpoints = inject('s3rverEndpoints');
  if (!Array.isArray(endpoints) || endpoints.length < MIXED_S3_BACKENDS.length) {
    throw new Error('S3O_TEST_BACKENDS=mixed needs the s3rver processes of test/setup/s3rver-backends.ts (run through the "mixed" vitest project)');
  }
  const bucket = `gw-${randomBytes(6).toString('hex')}`;
  const configs: S3BackendConfig[] = [];
  for (const endpoint of endpoints.slice(0, MIXED_S3_BACKENDS.length)) {
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_KEY, maxAttempts: 3 });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    configs.push({ endpoint, region: 'us-east-1', bucket, accessKeyId: S3RVER_KEY.accessKeyId, secretAccessKey: new Secret(S3RVER_KEY.secretAccessKey), forcePathStyle: true, timeoutMs: 30_000 });
  }
  return configs;
}
