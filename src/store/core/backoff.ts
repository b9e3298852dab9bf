/**
 * Capped exponential backoff: `base × 2^attempts`, at most `cap`. `attempts` counts the failures
 * before this one, so the first retry waits `base`.
 */
export function backoffMs(attempts: number, baseMs: number, capMs: number): number {
  if (attempts >= 52) return capMs;
  return Math.min(baseMs * 2 ** attempts, capMs);
}

/** The cleanup queue's schedule (spec §6): min(1 min × 2^attempts, 24 h). */
export const CLEANUP_BACKOFF = { baseMs: 60_000, capMs: 24 * 60 * 60_000 } as const;
/** The outbox's schedule: min(5 s × 2^attempts, 1 h). */
export const OUTBOX_BACKOFF = { baseMs: 5_000, capMs: 60 * 60_000 } as const;
