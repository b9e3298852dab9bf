import pg from 'pg';
import type { LeaderJob, LeaderLock } from '../core/database.js';

/**
 * Session advisory locks for leader-run jobs (spec §7), all on one dedicated connection outside the
 * pool: taken with a non-blocking try, released on the same connection. When that connection drops,
 * every lock on it is gone; holders see isHeld() turn false and another instance takes over on its
 * next try. Queue correctness never depends on these locks (row claims do that).
 */
export class PostgresLeaderLocks {
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  readonly #held = new Map<string, PostgresLeaderLock>();
  #closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onError: (err: Error) => void,
  ) {}

  async tryLock(job: LeaderJob): Promise<LeaderLock | undefined> {
    if (this.#closed) throw new Error('leader locks are closed');
    const current = this.#held.get(job.name);
    if (current?.isHeld()) return undefined; // this instance already runs the job elsewhere
    const client = await this.#connection();
    const result = await client.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1) AS acquired', [job.lockId.toString()]);
    if (!result.rows[0]?.acquired) return undefined;
    const lock = new PostgresLeaderLock(job, client, this);
    this.#held.set(job.name, lock);
    return lock;
  }

  /** @internal */
  async release(lock: PostgresLeaderLock, client: pg.Client): Promise<void> {
    if (this.#held.get(lock.job.name) === lock) this.#held.delete(lock.job.name);
    if (client !== this.#client) return; // the connection is gone, and the lock with it
    try {
      await client.query('SELECT pg_advisory_unlock($1)', [lock.job.lockId.toString()]);
    } catch (err) {
      this.#drop(client, err as Error);
    }
  }

  /** @internal */
  isCurrent(client: pg.Client): boolean {
    return this.#client === client;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    this.#held.clear();
    await client?.end().catch(() => {});
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const client = new pg.Client(this.config);
      client.on('error', (err) => this.#drop(client, err));
      client.on('end', () => this.#drop(client));
      try {
        await client.connect();
      } catch (err) {
        this.#connecting = undefined;
        throw err;
      }
      this.#client = client;
      this.#connecting = undefined;
      return client;
    })();
    return this.#connecting;
  }

  #drop(client: pg.Client, err?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#held.clear();
    if (err && !this.#closed) this.onError(err);
    client.end().catch(() => {});
  }
}

class PostgresLeaderLock implements LeaderLock {
  #released = false;

  constructor(
    readonly job: LeaderJob,
    private readonly client: pg.Client,
    private readonly owner: PostgresLeaderLocks,
  ) {}

  isHeld(): boolean {
    return !this.#released && this.owner.isCurrent(this.client);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.owner.release(this, this.client);
  }
}
