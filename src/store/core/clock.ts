/** The store's source of time. Tests replace it to drive retries, grace periods and ages. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
