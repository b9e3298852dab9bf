import type { Clock } from '../../src/store/core/clock.js';

/** A clock the test moves by hand: retries, grace periods and ages without sleeping. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 2, 14, 12, 0, 0)) {
    this.#now = start;
  }

  now(): Date {
    return new Date(this.#now);
  }

  advance(ms: number): Date {
    this.#now += ms;
    return this.now();
  }

  set(date: Date): void {
    this.#now = date.getTime();
  }
}
