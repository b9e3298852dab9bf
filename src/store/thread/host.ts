/**
 * The store's own thread: opens the store and answers its handle's calls (client.ts). Every
 * transaction, statement and SQLite flush runs here, off the caller's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../../logging.js';
import type { LeaderLock } from '../core/database.js';
import type { MetadataStore } from '../core/store.js';
import { openStoreFromSettings, type StoreSettings } from '../open.js';
import { encodeError, type HostMessage, type HostRequest, type LogMessage } from './protocol.js';

export interface HostData {
  readonly settings: StoreSettings;
}

const port = parentPort!;
const send = (message: HostMessage) => port.postMessage(message);

function forwardingLogger(bindings: Record<string, unknown>): Logger {
  const log = (level: LogMessage['level']) => (obj: object, msg?: string) => send({ kind: 'log', level, bindings, obj: cloneable(obj), msg });
  return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), child: (more) => forwardingLogger({ ...bindings, ...more }) };
}

/** A log object that can cross threads (an `err` with a driver error inside becomes its message). */
function cloneable(obj: object): object {
  try {
    return structuredClone(obj);
  } catch {
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, v instanceof Error ? v.message : typeof v === 'object' && v !== null ? String(v) : v]));
  }
}

const logger = forwardingLogger({});
const { settings } = workerData as HostData;
let store: MetadataStore;
try {
  store = await openStoreFromSettings({ ...settings, open: { ...settings.open, logger } });
} catch (err) {
  send({ kind: 'open-failed', error: encodeError(err) });
  process.exit(0);
}
const locks = new Map<number, LeaderLock>();
let nextLock = 0;

send({ kind: 'ready', engine: store.db.engine, location: store.db.location, concurrentWriters: store.db.capabilities.concurrentWriters, appliedAtOpen: store.db.appliedAtOpen });

port.on('message', (request: HostRequest) => {
  if (request.kind === 'post') {
    try {
      call(request.group, request.method, request.args);
    } catch (err) {
      logger.error({ err: (err as Error).message, call: `${request.group}.${request.method}` }, 'a store call failed');
    }
    return;
  }
  void answer(request)
    .then(
      (result) => {
        try {
          send({ kind: 'reply', id: request.id, result });
        } catch (err) {
          // A result that cannot cross (a bug: every store result is plain data) fails its call, not the thread.
          send({ kind: 'reply', id: request.id, error: encodeError(err) });
        }
      },
      (err: unknown) => send({ kind: 'reply', id: request.id, error: encodeError(err) }),
    )
    // Closed: the reply is the last message; with the port closed the thread ends.
    .finally(() => request.kind === 'close' && port.close());
});

async function answer(request: Exclude<HostRequest, { kind: 'post' }>): Promise<unknown> {
  switch (request.kind) {
    case 'call':
      return call(request.group, request.method, request.args);
    case 'lock': {
      const lock = await store.db.tryLeaderLock(request.job);
      if (!lock) return undefined;
      locks.set(++nextLock, lock);
      return nextLock;
    }
    case 'unlock': {
      const lock = locks.get(request.lockId);
      locks.delete(request.lockId);
      await lock?.release();
      return undefined;
    }
    case 'schemaStatus':
      return store.db.schemaStatus();
    case 'close': {
      for (const lock of locks.values()) await lock.release();
      locks.clear();
      await store.close();
      return undefined;
    }
  }
}

/** Only the store's operation groups and its own reconfigure are callable: never its database or context. */
const GROUPS = new Set(['buckets', 'objects', 'listing', 'quota', 'multipart', 'intents', 'cleanup', 'outbox', 'usage', 'backendCheck']);

function call(group: string | null, method: string, args: unknown[]): unknown {
  const target: Record<string, unknown> | undefined = group === null ? (method === 'reconfigure' ? (store as unknown as Record<string, unknown>) : undefined) : GROUPS.has(group) ? (store as unknown as Record<string, Record<string, unknown>>)[group] : undefined;
  const fn = target?.[method];
  if (typeof fn !== 'function' || method.startsWith('#') || method === 'constructor') throw new Error(`the store has no operation ${group ?? 'store'}.${method}`);
  return (fn as (...a: unknown[]) => unknown).apply(target, args);
}
