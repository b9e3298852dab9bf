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

/** The stripe a transaction charges: spread at random so concurrent writers rarely meet. */
export function pickStripe(ctx: StoreContext): number {
  return ctx.quotaStripes === 1 ? 0 : Math.floor(Math.random() * ctx.quotaStripes);
}
