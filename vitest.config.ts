import { defineConfig } from 'vitest/config';

/**
 * Test files whose default gateway is also run over two s3rver backends and one directory backend
 * (the `mixed` project): the protocol suite and the real clients. Files that are unit tests of one
 * part (SigV4, aws-chunked, checksums), spawn their own `serve` with a config of their own, or
 * declare their backends themselves run once, in the `main` project.
 */
const MIXED = [
  'test/gateway/access-log.test.ts',
  'test/gateway/admission.test.ts',
  'test/gateway/auth.test.ts',
  'test/gateway/buckets.test.ts',
  'test/gateway/copy.test.ts',
  'test/gateway/disconnect.test.ts',
  'test/gateway/errors.test.ts',
  'test/gateway/health.test.ts',
  'test/gateway/listing.test.ts',
  'test/gateway/metrics.test.ts',
  'test/gateway/multipart.test.ts',
  'test/gateway/objects.test.ts',
  'test/gateway/tls.test.ts',
  'test/clients/*.test.ts',
];

export default defineConfig({
  test: {
    reporters: ['default', './test/setup/summary-reporter.ts'],
    // Real databases, real processes: generous limits, never retries that hide flakiness.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], globalSetup: ['test/setup/postgres-server.ts'] } },
      {
        extends: true,
        test: {
          name: 'mixed',
          include: MIXED,
          env: { S3O_TEST_BACKENDS: 'mixed' },
          globalSetup: ['test/setup/postgres-server.ts', 'test/setup/s3rver-backends.ts'],
        },
      },
    ],
  },
});
