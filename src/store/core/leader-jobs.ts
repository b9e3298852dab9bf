import type { LeaderJob } from './database.js';

/**
 * The one place that assigns advisory lock ids (spec §7). Ids are never reused: retire an entry by
 * leaving it here commented out. They share the high 32 bits 0x53334F52 ("S3OR") so that they
 * cannot meet another application's locks by accident. Object-key locks use the separate
 * two-int4 key space (queries/objects.sql), so the two families never collide.
 *
 * | id (hex)              | job               |
 * |-----------------------|-------------------|
 * | 0x53334F52_00000000   | schema migration  |
 * | 0x53334F52_00000001   | cleanup           |
 * | 0x53334F52_00000002   | intent reaper     |
 * | 0x53334F52_00000003   | outbox delivery   |
 * | 0x53334F52_00000004   | usage flush       |
 * | 0x53334F52_00000005   | multipart expiry  |
 * | 0x53334F52_00000006   | ledger reconcile  |
 */
const BASE = 0x53334f52n << 32n;

export const MIGRATION_LOCK_ID = BASE + 0n;

export const LEADER_JOBS = {
  cleanup: { name: 'cleanup', lockId: BASE + 1n },
  reaper: { name: 'reaper', lockId: BASE + 2n },
  outbox: { name: 'outbox', lockId: BASE + 3n },
  usageFlush: { name: 'usage-flush', lockId: BASE + 4n },
  multipartExpiry: { name: 'multipart-expiry', lockId: BASE + 5n },
  reconcile: { name: 'reconcile', lockId: BASE + 6n },
} as const satisfies Record<string, LeaderJob>;
