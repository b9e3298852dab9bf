/**
 * A FIFO async mutex. SQLite has one writer connection, and a transaction stays open across the
 * awaits of the async code running inside it: without this, a second transaction would start on the
 * same connection in the middle of the first (lessons.md #16). Uncontended, acquiring costs one
 * resolved promise.
 */
export class Mutex {
  #locked = false;
  readonly #waiters: (() => void)[] = [];

  async acquire(): Promise<() => void> {
    if (this.#locked) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#locked = true;
    return () => this.#release();
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }
}

const byFile = new Map<string, Mutex>();

/**
 * The writer mutex of a database file, shared by every store of this process on that file. Two
 * stores with a mutex each would deadlock: better-sqlite3 waits for SQLite's write lock
 * synchronously, blocking the event loop, so the transaction holding the lock could never reach
 * its COMMIT (other processes are not affected: their waiting blocks only themselves).
 */
export function writerMutexFor(realPath: string): Mutex {
  let mutex = byFile.get(realPath);
  if (!mutex) byFile.set(realPath, (mutex = new Mutex()));
  return mutex;
}
