import { BackendCheck } from './backend-check.js';
import { BucketOperations } from './buckets.js';
import { type Clock, systemClock } from './clock.js';
import { CleanupQueue } from './cleanup-queue.js';
import type { NotificationTarget, StoreContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { Database } from './database.js';
import { IntentOperations } from './intents.js';
import { ObjectListing } from './listing.js';
import { MultipartOperations } from './multipart.js';
import { ObjectOperations } from './objects.js';
import { Outbox } from './outbox.js';
import { QuotaLedger } from './quota.js';
import { UsageMeter } from './usage-meter.js';
import type { Logger } from '../../logging.js';
import { silentLogger } from '../../logging.js';

export interface MetadataStoreOptions {
  readonly backends: readonly { readonly name: string; readonly bytesLimit: number }[];
  readonly placement?: 'pack' | 'spread';
  /** Quota stripes per backend when the engine runs writers concurrently (ignored otherwise). */
  readonly quotaStripes?: number;
  readonly notificationTargets?: readonly NotificationTarget[];
  readonly cleanupMaxAttempts?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** What a store's users may ask of its database: its identity, schema and leader locks, never queries. */
export type StoreDatabase = Pick<Database, 'engine' | 'location' | 'capabilities' | 'appliedAtOpen' | 'tryLeaderLock' | 'schemaStatus'>;

/**
 * A store as its users see it: MetadataStore's operation groups, reconfigure and close, what they
 * may ask of its database, and its clock. MetadataStore is one; a store running on its own thread (store/thread/client.ts) is the other.
 */
export type StoreApi = Omit<MetadataStore, 'db' | 'context'> & {
  readonly db: StoreDatabase;
  readonly context: Pick<StoreContext, 'clock'>;
};

export interface StoreReconfiguration {
  readonly backendLimits?: ReadonlyMap<string, number>;
  readonly notificationTargets?: readonly NotificationTarget[];
}

/**
 * The metadata store: one object per area of spec §6, all sharing one database and context. Every
 * operation's business logic lives here, in core; the engines only run the queries.
 */
export class MetadataStore {
  readonly buckets: BucketOperations;
  readonly objects: ObjectOperations;
  readonly listing: ObjectListing;
  readonly quota: QuotaLedger;
  readonly multipart: MultipartOperations;
  readonly intents: IntentOperations;
  readonly cleanup: CleanupQueue;
  readonly outbox: Outbox;
  readonly usage: UsageMeter;
  readonly backendCheck: BackendCheck;
  readonly context: StoreContext;
  #closed = false;

  constructor(
    readonly db: Database,
    options: MetadataStoreOptions,
  ) {
    this.context = {
      db,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
      backends: new Map(options.backends.map((b) => [b.name, b.bytesLimit])),
      placement: options.placement ?? 'pack',
      quotaStripes: db.capabilities.concurrentWriters ? Math.max(1, options.quotaStripes ?? 32) : 1,
      notificationTargets: options.notificationTargets ?? [],
      cleanupMaxAttempts: options.cleanupMaxAttempts ?? 10,
    };
    this.quota = new QuotaLedger(this.context);
    this.buckets = new BucketOperations(this.context);
    this.objects = new ObjectOperations(this.context, this.quota);
    this.listing = new ObjectListing(this.context);
    this.multipart = new MultipartOperations(this.context, this.quota);
    this.intents = new IntentOperations(this.context);
    this.cleanup = new CleanupQueue(this.context);
    this.outbox = new Outbox(this.context);
    this.usage = new UsageMeter(this.context);
    this.backendCheck = new BackendCheck(this.context);
  }

  /**
   * Applies the reloadable settings of a new config (SIGHUP): the backends' byte limits (written to
   * the database by syncLimits, all or nothing) and the webhook endpoints new events are written
   * for. The set of backends is fixed for the life of the store (a new backend needs a restart).
   */
  async reconfigure(settings: StoreReconfiguration): Promise<void> {
    const context = this.context as { -readonly [K in keyof StoreContext]: StoreContext[K] };
    if (settings.backendLimits) {
      for (const name of settings.backendLimits.keys()) {
        if (!context.backends.has(name)) throw new InvalidArgumentError('backendLimits', `backend ${JSON.stringify(name)} is not one of this store's; adding a backend needs a restart`);
      }
      const before = context.backends;
      context.backends = new Map([...before].map(([name, limit]) => [name, settings.backendLimits!.get(name) ?? limit]));
      try {
        await this.quota.syncLimits();
      } catch (err) {
        context.backends = before;
        throw err;
      }
    }
    if (settings.notificationTargets) context.notificationTargets = [...settings.notificationTargets];
  }

  /** Flushes the usage counters, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.usage.flush();
    } catch (err) {
      this.context.logger.error({ err: (err as Error).message, lost: this.usage.pending() }, 'usage flush on close failed');
    } finally {
      await this.db.close();
    }
  }
}
