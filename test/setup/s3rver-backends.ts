import type { TestProject } from 'vitest/node';
import { startS3rver, type S3rver } from '../support/s3rver.js';

/**
 * The `mixed` project's two independent S3 servers (s3rver processes), started once for the run and
 * shared by every test file of the project: each test gateway makes buckets of its own on them
 * (test/support/mixed-backends.ts), so the files stay independent without paying for two process
 * start-ups per gateway.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers: S3rver[] = [];
  try {
    for (let i = 0; i < 2; i++) servers.push(await startS3rver({ bucket: `setup-${i}` }));
  } catch (err) {
    // No teardown is returned when setup throws: stop what did start, or it outlives the run.
    for (const s of servers) await s.close().catch(() => {});
    throw err;
  }
  project.provide('s3rverEndpoints', servers.map((s) => s.endpoint));
  return async () => {
    for (const s of servers) await s.close();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3rverEndpoints: string[];
  }
}
