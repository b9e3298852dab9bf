import { Worker } from 'node:worker_threads';
import type { AppConfig } from '../../config/types.js';
import type { Logger } from '../../logging.js';
import { systemClock } from '../core/clock.js';
import type { LeaderJob, LeaderLock, SchemaStatus } from '../core/database.js';
import { DatabaseUnavailableError } from '../core/errors.js';
import type { StoreApi, StoreDatabase } from '../core/store.js';
import type { BackendUsage, UsageDelta } from '../core/types.js';
import { usageRowOf } from '../core/usage-meter.js';
import { storeSettingsOf, type OpenStoreOptions } from '../open.js';
import type { HostData } from './host.js';
import { decodeError, type HostMessage, type HostRequest, type ReadyMessage } from './protocol.js';

/**
 * Opens the store on a thread of its own and returns a handle with the store's interface. Every
 * call crosses to that thread (one message each way), so the caller's event loop never runs a
 * transaction, a statement or, on SQLite, a flush to disk: it goes on serving requests meanwhile,
 * and its own working set and the store's stop evicting each other from the core's caches
 * (docs/performance.md §5: a 4 KiB PUT on SQLite went from 940 to 1,580 a second).
 *
 * The clock is the system's (a test clock cannot cross threads), and the store's log lines are
 * written by `options.logger` on the caller's thread.
 */
export interface StoreThreadOptions extends Pick<OpenStoreOptions, 'role' | 'syncQuota' | 'logger'> {
  /**
   * Called once if the thread stops without being closed (an uncaught error in it). Every call then
   * rejects with DatabaseUnavailable; `serve` exits, so that its supervisor starts it again.
   */
  readonly onStopped?: (err: Error) => void;
}

export async function openStoreThread(config: AppConfig, options: StoreThreadOptions = {}): Promise<StoreApi> {
  // PostgreSQL's statements already run in the server's processes, its password could not cross
  // (a Secret keeps its text in a private field) and a lost leader lock would not be reported here.
  if (config.database.driver !== 'sqlite') throw new Error('openStoreThread: only the SQLite store runs on its own thread');
  const { logger, onStopped, ...open } = options;
  const data: HostData = { settings: storeSettingsOf(config, open) };
  // No execArgv: a thread inherits the process's, and some (--input-type, --eval) are refused by a worker.
  const worker = new Worker(hostModule(), { workerData: data, execArgv: [] });
  const connection = new HostConnection(worker, logger, onStopped);
  const ready = await connection.ready;
  const handle = storeHandle(connection, ready, config.backends.map((b) => b.name));
  threads.set(handle, worker);
  return handle;
}

const threads = new WeakMap<StoreApi, Worker>();

/** The thread a handle's store runs on (for tests of its failure, and diagnostics). */
export function storeThreadOf(store: StoreApi): Worker | undefined {
  return threads.get(store);
}

/**
 * The host's compiled module beside this one. Run from the TypeScript sources (the tests), a worker
 * cannot load host.ts: it loads the build of it (`npm test` builds first), the same code compiled.
 */
function hostModule(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../../../dist/store/thread/host.js', import.meta.url) : new URL('./host.js', import.meta.url);
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

/** The message channel to the host: requests by id, replies, log lines, and the host's death. */
class HostConnection {
  readonly ready: Promise<ReadyMessage>;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #next = 0;
  #stopped: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    private readonly worker: Worker,
    private readonly logger: Logger | undefined,
    onStopped: ((err: Error) => void) | undefined,
  ) {
    let opened: Pending | undefined;
    this.ready = new Promise<ReadyMessage>((resolve, reject) => (opened = { resolve: resolve as (v: unknown) => void, reject }));
    this.#exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: HostMessage) => {
      switch (message.kind) {
        case 'ready':
          opened?.resolve(message);
          opened = undefined;
          return;
        case 'open-failed':
          opened?.reject(decodeError(message.error));
          opened = undefined;
          return;
        case 'log': {
          const target = this.logger && Object.keys(message.bindings).length > 0 ? this.logger.child(message.bindings) : this.logger;
          target?.[message.level](message.obj, message.msg);
          return;
        }
        case 'reply': {
          const pending = this.#pending.get(message.id);
          this.#pending.delete(message.id);
          if (message.error) pending?.reject(decodeError(message.error));
          else pending?.resolve(message.result);
          return;
        }
      }
    });
    const stop = (reason: string) => {
      if (this.#stopped) return;
      const err = new DatabaseUnavailableError(`the store's thread stopped: ${reason}`);
      this.#stopped = err;
      const unexpected = opened === undefined && !this.#closing;
      opened?.reject(err);
      opened = undefined;
      for (const pending of this.#pending.values()) pending.reject(err);
      this.#pending.clear();
      if (unexpected) {
        this.logger?.error({ err: err.message }, 'the store thread stopped');
        onStopped?.(err);
      }
    };
    worker.on('error', (err) => stop(err.message));
    worker.on('exit', (code) => stop(`exit code ${code}`));
  }

  request(message: HostRequest extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never): Promise<unknown> {
    if (this.#closing) return Promise.reject(new DatabaseUnavailableError('the store is closed'));
    return this.#send(message);
  }

  #send(message: HostRequest extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never): Promise<unknown> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  post(group: string, method: string, args: unknown[]): void {
    if (!this.#stopped && !this.#closing) this.worker.postMessage({ kind: 'post', group, method, args } satisfies HostRequest);
  }

  /** One close, however often asked: the host closes the store (flushing usage) and its thread ends. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        if (!this.#stopped) await this.#send({ kind: 'close' });
      } finally {
        // The host closes its port after replying: the thread ends on its own; terminate if it does not.
        const timer = setTimeout(() => void this.worker.terminate(), 5_000);
        await this.#exited;
        clearTimeout(timer);
      }
    })();
    return this.#closing;
  }
}

const GROUPS = ['buckets', 'objects', 'listing', 'quota', 'multipart', 'intents', 'cleanup', 'outbox', 'backendCheck'] as const;

function storeHandle(connection: HostConnection, ready: ReadyMessage, backendNames: readonly string[]): StoreApi {
  const call = (group: string | null, method: string, args: unknown[]) => connection.request({ kind: 'call', group, method, args });
  const groups = Object.fromEntries(GROUPS.map((group) => [group, remoteGroup((method, args) => call(group, method, args))]));
  const db: StoreDatabase = {
    engine: ready.engine,
    location: ready.location,
    capabilities: { concurrentWriters: ready.concurrentWriters },
    appliedAtOpen: ready.appliedAtOpen,
    tryLeaderLock: async (job) => {
      const lockId = (await connection.request({ kind: 'lock', job })) as number | undefined;
      return lockId === undefined ? undefined : threadLeaderLock(connection, job, lockId);
    },
    schemaStatus: () => connection.request({ kind: 'schemaStatus' }) as Promise<SchemaStatus>,
  };
  const usage = new UsageMirror(new Set(backendNames), connection, call);
  // The groups are their classes' methods over the channel: the cast is the one place the types
  // are not checked; tests run the store's operations through this handle (test/store/thread.test.ts).
  return {
    ...(groups as unknown as Pick<StoreApi, (typeof GROUPS)[number]>),
    usage: usage.api as unknown as StoreApi['usage'],
    db,
    context: { clock: systemClock },
    reconfigure: async (settings) => {
      await call(null, 'reconfigure', [settings]);
    },
    close: () => connection.close(),
  };
}

function remoteGroup(call: (method: string, args: unknown[]) => Promise<unknown>): object {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(
    {},
    {
      get(_target, method) {
        if (typeof method !== 'string' || method === 'then') return undefined;
        let fn = methods.get(method);
        if (!fn) methods.set(method, (fn = (...args: unknown[]) => call(method, args)));
        return fn;
      },
    },
  );
}

function threadLeaderLock(connection: HostConnection, job: LeaderJob, lockId: number): LeaderLock {
  let released = false;
  return {
    job,
    isHeld: () => !released,
    release: async () => {
      if (released) return;
      released = true;
      await connection.request({ kind: 'unlock', lockId });
    },
  };
}

/**
 * The usage meter's synchronous side on the caller's thread: `record` is checked here and sent on
 * (one channel: it reaches the meter before any later call), and `pending` answers as the meter on
 * the store's thread would: its deltas as of the last flush through this handle, plus what was
 * recorded since that answer was asked for.
 */
class UsageMirror {
  /** The host meter's pending deltas, as it answered after the last flush. */
  #base: BackendUsage[] = [];
  /** Deltas recorded since that answer was asked for. */
  #since = new Map<string, Mutable<BackendUsage>>();
  readonly api: object;

  constructor(
    private readonly backends: ReadonlySet<string>,
    private readonly connection: HostConnection,
    private readonly call: (group: string, method: string, args: unknown[]) => Promise<unknown>,
  ) {
    const remote = remoteGroup((method, args) => call('usage', method, args)) as Record<string, unknown>;
    this.api = new Proxy(remote, {
      get: (target, method) => {
        if (method === 'record') return (backendName: string, delta: UsageDelta) => this.record(backendName, delta);
        if (method === 'pending') return () => this.pending();
        if (method === 'flush') return () => this.flush();
        return target[method as string];
      },
    });
  }

  record(backendName: string, delta: UsageDelta): void {
    add(this.#since, usageRowOf(this.backends, backendName, delta, new Date()));
    this.connection.post('usage', 'record', [backendName, delta]);
  }

  pending(): BackendUsage[] {
    const all = new Map<string, Mutable<BackendUsage>>();
    for (const p of this.#base) add(all, p);
    for (const p of this.#since.values()) add(all, p);
    return [...all.values()];
  }

  async flush(): Promise<number> {
    try {
      return (await this.call('usage', 'flush', [])) as number;
    } finally {
      // Whether or not it wrote: what the meter still holds now, and what was recorded after asking.
      this.#since = new Map();
      this.#base = (await this.call('usage', 'pending', []).catch(() => this.#base)) as BackendUsage[];
    }
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function add(into: Map<string, Mutable<BackendUsage>>, p: BackendUsage): void {
  const key = `${p.backendName}\u0000${p.period}`;
  const sum = into.get(key);
  if (!sum) into.set(key, { ...p });
  else {
    sum.apiRequests += p.apiRequests;
    sum.egressBytes += p.egressBytes;
    sum.ingressBytes += p.ingressBytes;
  }
}
