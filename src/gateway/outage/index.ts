import type { BackendClient } from '../../backends/backend-client.js';
import type { Logger } from '../../logging.js';
import { NotFoundError } from '../../store/core/errors.js';
import type { StoreApi } from '../../store/core/store.js';
import type { ObjectCopy, ObjectInfo } from '../../store/core/types.js';
import { S3Error } from '../errors.js';
import type { HealthProvider } from '../health.js';
import { DatabaseBreaker, type DatabaseBreakerOptions, type DatabaseState } from './database-breaker.js';
import { confirmCached, outageError } from './degraded-read.js';
import { LocationCache } from './location-cache.js';

export { DatabaseBreaker, type DatabaseBreakerOptions, type DatabaseState } from './database-breaker.js';
export { LocationCache } from './location-cache.js';

export interface OutageOptions extends DatabaseBreakerOptions {
  /** Objects remembered for degraded reads (default 10,000; 0 = none). */
  readonly cacheEntries?: number;
}

/**
 * The database outage mode (spec §6): the breaker, the cache of recently seen objects, and the
 * degraded read of GET and HEAD. Writes and listings need the database and fail with
 * DatabaseUnavailable → 503 ServiceUnavailable by themselves: nothing is acknowledged without its
 * metadata commit. `state` feeds `/health`.
 */
export class OutageMode implements HealthProvider {
  readonly breaker: DatabaseBreaker;
  readonly cache: LocationCache;

  constructor(
    store: StoreApi,
    private readonly backendNames: readonly string[],
    private readonly backends: ReadonlyMap<string, BackendClient>,
    private readonly logger: Logger,
    options: OutageOptions = {},
  ) {
    // The cheapest read that needs a working connection: one bucket row by its primary key.
    this.breaker = new DatabaseBreaker(() => store.buckets.get('probe'), logger, options);
    this.cache = new LocationCache(options.cacheEntries ?? 10_000);
  }

  get state(): DatabaseState {
    return this.breaker.state;
  }

  /** The gateway's HealthProvider: `/health` says `degraded` while the breaker is open. */
  database(): 'ok' | 'unavailable' {
    return this.breaker.isOpen ? 'unavailable' : 'ok';
  }

  /** Counts a request's error towards the breaker (only DatabaseUnavailable counts). */
  observe(err: unknown): void {
    this.breaker.observe(err);
  }

  /**
   * An object's metadata for GET/HEAD: `load` (the store) while the database answers, remembered
   * for later; when it is unreachable, the cached entry once the backends confirm it is the newest.
   */
  async objectInfo(objectKey: string, load: () => Promise<ObjectInfo>): Promise<ObjectInfo> {
    if (!this.breaker.isOpen) {
      try {
        const info = await load();
        this.cache.remember(info);
        return info;
      } catch (err) {
        if (err instanceof NotFoundError || (err instanceof S3Error && (err.code === 'NoSuchKey' || err.code === 'NoSuchBucket'))) this.cache.forget(objectKey);
        if (!this.breaker.observe(err)) throw err;
      }
    }
    const info = this.cache.get(objectKey);
    if (!info) throw outageError('The metadata database is unavailable and this object was not read recently through this instance; please retry.');
    const confirmed = await confirmCached(info, this.backendNames, this.backends);
    this.logger.debug({ key: objectKey }, 'outage mode: served from the location cache');
    return confirmed;
  }

  /** A write this instance committed: the new current version of its key. */
  rememberWrite(copy: ObjectCopy): void {
    const { backendName: _backend, storageKey: _key, ...fields } = copy;
    this.cache.remember({ ...fields, copies: [copy] });
  }

  forget(objectKey: string): void {
    this.cache.forget(objectKey);
  }

  stop(): void {
    this.breaker.stop();
  }
}
