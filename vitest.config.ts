import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/postgres-server.ts'],
    reporters: ['default', './test/setup/summary-reporter.ts'],
    // Real databases, real processes: generous limits, never retries that hide flakiness.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
