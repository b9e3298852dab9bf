import type { Logger } from '../../logging.js';
import type { Clock } from './clock.js';
import type { Database } from './database.js';
import type { EventType } from './types.js';

export interface NotificationTarget {
  readonly name: string;
  readonly events: readonly EventType[];
}

/** What every part of core shares: the database, time, and the settings that shape transactions. */
export interface StoreContext {
  readonly db: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Backends of this instance's config: name → byte limit (0 = unlimited), in config order. */
  readonly backends: ReadonlyMap<string, number>;
  readonly placement: 'pack' | 'spread';
  /** Stripes per backend's quota counters; 1 when the engine serialises writers. */
  readonly quotaStripes: number;
  readonly notificationTargets: readonly NotificationTarget[];
  /** Cleanup attempts before a row moves to the dead-letter table. */
  readonly cleanupMaxAttempts: number;
}

let nextStripe = Math.floor(Math.random() * 1024);

/**
 * The stripe a transaction charges. Round robin within the process: the transactions in flight at
 * any moment are the most recent ones, so up to `quotaStripes` of them never share a stripe (random
 * picks collided for about a third of them with 16 writers on 32 stripes). Each process starts at a
 * random place, so instances spread out too.
 */
export function pickStripe(ctx: StoreContext): number {
  if (ctx.quotaStripes === 1) return 0;
  nextStripe = (nextStripe + 1) % 1_048_576;
  return nextStripe % ctx.quotaStripes;
}
