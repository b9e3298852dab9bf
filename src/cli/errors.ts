import { CommanderError } from 'commander';
import { ConfigError, StoreError } from '../store/core/errors.js';

/** Bad usage of the command line itself (missing --yes off a terminal, conflicting flags): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command was understood but cannot be done (a row that does not exist): exit 1, one line. */
export class CommandFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailure';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return EXIT_FAILURE;
}

/** One clear line (config errors: one line per problem); the stack only with --debug. */
export function describeError(err: unknown, debug: boolean): string {
  if (err instanceof ConfigError) {
    const lines = err.issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`);
    return `error: invalid configuration${err.source ? ` (${err.source})` : ''}:\n${lines.join('\n')}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  const head = `error: ${message}`;
  if (!debug) return head;
  const cause = err instanceof StoreError && err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : '';
  return `${err instanceof Error && err.stack ? err.stack : head}${cause}`;
}
