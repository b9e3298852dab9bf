import { pino } from 'pino';
import type { LogLevel } from './config/types.js';

/**
 * The logging surface the store and workers use: pino's, so the real logger drops in and tests can
 * pass a silent one. pino was picked for structured JSON lines at low cost; its `redact` paths are
 * a second guard behind Secret, which already prints as [redacted].
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { service: 's3-orchestrator' },
      redact: { paths: ['password', '*.password', 'secret', '*.secret', 'url', '*.url'], censor: '[redacted]' },
    },
    destination as pino.DestinationStream,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
