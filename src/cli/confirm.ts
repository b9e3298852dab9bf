import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';
import { isTerminal, type Io } from './output.js';

/**
 * Destructive commands ask on a terminal and need --yes anywhere else (scripts, CI), so a pipe can
 * never answer for the operator by accident.
 */
export async function confirm(io: Io, question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!isTerminal(io.stdin) || !isTerminal(io.stdout)) {
    throw new UsageError(`${question.replace(/\?$/, '')}: not on a terminal, so pass --yes to confirm`);
  }
  const rl = createInterface({ input: io.stdin as NodeJS.ReadableStream, output: io.stdout as NodeJS.WritableStream });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
