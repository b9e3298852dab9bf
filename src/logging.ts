import { pino } from 'pino';
import pinoPretty from 'pino-pretty';
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

/** The process's root logger: its level can change while it runs (SIGHUP), children included. */
export interface RootLogger extends Logger {
  readonly levelName: LogLevel;
  setLevel(level: LogLevel): void;
}

export interface LoggerOptions {
  /**
   * Human-readable lines (pino-pretty) instead of JSON. Default: pretty when the destination is a
   * terminal, JSON anywhere else (files, pipes, log collectors).
   */
  readonly pretty?: boolean;
  /** Colours in pretty mode; default: unless NO_COLOR is set or TERM is dumb. */
  readonly colour?: boolean;
}

const LEVEL_VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY };

export function isLogLevel(value: string): value is LogLevel {
  return value in LEVEL_VALUES;
}

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr, options: LoggerOptions = {}): RootLogger {
  const pretty = options.pretty ?? Boolean((destination as { isTTY?: boolean }).isTTY);
  const colour = options.colour ?? (process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb');
  // pino fixes a child's level when the child is made; the workers' children must follow a reload,
  // so pino passes everything and this one threshold, shared by all children, decides.
  let threshold = LEVEL_VALUES[level];
  let current = level;
  const stream = pretty
    ? pinoPretty({
        destination,
        sync: true,
        colorize: colour,
        translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
        ignore: 'pid,hostname,service',
      })
    : destination;
  const root = pino(
    {
      level: 'trace',
      base: { service: 's3-orchestrator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', '*.password', 'secret', '*.secret', 'url', '*.url'], censor: '[redacted]' },
      hooks: {
        logMethod(args, method, levelValue) {
          if (levelValue >= threshold) method.apply(this, args);
        },
      },
    },
    stream as pino.DestinationStream,
  );
  Object.defineProperties(root, {
    levelName: { get: () => current },
    setLevel: {
      value: (next: LogLevel) => {
        current = next;
        threshold = LEVEL_VALUES[next];
      },
    },
  });
  return root as unknown as RootLogger;
}

export const silentLogger: Logger = pino({ level: 'silent' });
