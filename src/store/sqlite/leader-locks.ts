import type { LeaderJob, LeaderLock } from '../core/database.js';

/** Held job locks of this process, by database file and job name. */
const held = new Set<string>();

/**
 * SQLite runs one instance, so a leader lock is a process-local mutex per job and database file:
 * two different jobs never exclude each other; two runners of the same job do, even through two
 * store objects opened on the same file.
 */
export class SqliteLeaderLocks {
  constructor(private readonly databasePath: string) {}

  tryLock(job: LeaderJob): LeaderLock | undefined {
    const key = `${this.databasePath}\u0000${job.name}`;
    if (held.has(key)) return undefined;
    held.add(key);
    let released = false;
    return {
      job,
      isHeld: () => !released,
      release: async () => {
        if (released) return;
        released = true;
        held.delete(key);
      },
    };
  }
}
