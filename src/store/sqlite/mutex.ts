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
