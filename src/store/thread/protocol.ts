import * as storeErrors from '../core/errors.js';
import type { LeaderJob, SchemaStatus } from '../core/database.js';

/**
 * Messages between a store running on its own thread (host.ts) and its handle on the caller's
 * thread (client.ts). Arguments and results cross by structured clone: dates, maps, arrays and
 * plain objects arrive as they left; an error is rebuilt as an instance of its store error class.
 */

/** A call of `store[group][method](...args)` (group null: a method of the store itself); answered by id. */
export interface CallMessage {
  readonly kind: 'call';
  readonly id: number;
  readonly group: string | null;
  readonly method: string;
  readonly args: unknown[];
}

/** A call whose result nobody waits for (the usage meter's `record`); a failure is logged by the host. */
export interface PostMessage {
  readonly kind: 'post';
  readonly group: string;
  readonly method: string;
  readonly args: unknown[];
}

export interface LockMessage {
  readonly kind: 'lock';
  readonly id: number;
  readonly job: LeaderJob;
}

export interface UnlockMessage {
  readonly kind: 'unlock';
  readonly id: number;
  readonly lockId: number;
}

export interface SchemaStatusMessage {
  readonly kind: 'schemaStatus';
  readonly id: number;
}

export interface CloseMessage {
  readonly kind: 'close';
  readonly id: number;
}

export type HostRequest = CallMessage | PostMessage | LockMessage | UnlockMessage | SchemaStatusMessage | CloseMessage;

export interface ReplyMessage {
  readonly kind: 'reply';
  readonly id: number;
  readonly result?: unknown;
  readonly error?: EncodedError;
}

/** The store's log lines, written by the caller's logger. */
export interface LogMessage {
  readonly kind: 'log';
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly bindings: Record<string, unknown>;
  readonly obj: object;
  readonly msg: string | undefined;
}

/** The store is open: what the handle needs to describe it without asking. */
export interface ReadyMessage {
  readonly kind: 'ready';
  readonly engine: 'sqlite' | 'postgres';
  readonly location: string;
  readonly concurrentWriters: boolean;
  readonly appliedAtOpen: readonly string[];
}

export interface OpenFailedMessage {
  readonly kind: 'open-failed';
  readonly error: EncodedError;
}

export type HostMessage = ReplyMessage | LogMessage | ReadyMessage | OpenFailedMessage;

export type SchemaStatusResult = SchemaStatus;

export interface EncodedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** The error's own fields (a NoSpaceError's sizeBytes and backends, a NotFoundError's kind and key...). */
  readonly fields: Record<string, unknown>;
}

export function encodeError(err: unknown): EncodedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), stack: undefined, fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) {
    // A field that cannot cross (a handle, a function) is left behind; the others keep their values.
    try {
      fields[key] = structuredClone(value);
    } catch {
      // not cloneable
    }
  }
  // `cause` is not enumerable; it may hold a driver error with sockets: its name and message cross.
  if (err.cause !== undefined) fields.cause = err.cause instanceof Error ? { name: err.cause.name, message: err.cause.message } : String(err.cause);
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

/** The store error classes by name: a rebuilt error passes the `instanceof` checks its callers make. */
const ERROR_CLASSES = new Map<string, { prototype: Error }>(
  Object.values(storeErrors)
    .filter((value): value is typeof storeErrors.StoreError => typeof value === 'function' && value.prototype instanceof Error)
    .map((cls) => [cls.name, cls]),
);

export function decodeError(encoded: EncodedError): Error {
  const cls = ERROR_CLASSES.get(encoded.name);
  const err = cls ? (Object.create(cls.prototype) as Error) : new Error(encoded.message);
  const { cause, ...fields } = encoded.fields;
  Object.assign(err, fields);
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(err, 'message', { value: encoded.message, enumerable: false, writable: true, configurable: true });
  if (!cls) err.name = encoded.name;
  // The host's stack tells where the store failed; the caller's own frames follow the await.
  Object.defineProperty(err, 'stack', { value: encoded.stack ?? `${encoded.name}: ${encoded.message}`, enumerable: false, writable: true, configurable: true });
  return err;
}
