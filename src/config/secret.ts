import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A value that must never be printed: the database password, a webhook signing secret.
 * The clear text lives in a private field (not enumerable, not serialisable), so `String()`,
 * `JSON.stringify`, `util.inspect` and loggers all see `[redacted]`. Use `reveal()` at the
 * single place that hands it to a driver.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

export { REDACTED };
