import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createHash, type Hash } from 'node:crypto';

/**
 * MD5 (the ETag) and SHA-256 (x-amz-content-sha256) of large request bodies, computed on a thread
 * of their own. MD5 costs ~1.4 ms of CPU per MiB on this machine's cores: on the event loop it is
 * the whole difference between a large PUT through the gateway and the same disk writes done
 * directly (docs/performance.md §5). Chunks are copied to the thread (a memcpy, ~0.1 ms per MiB);
 * each session keeps at most WINDOW_BYTES in flight, so a thread slower than the network holds
 * the body back instead of queueing it in memory.
 */

export type HashAlgorithm = 'md5' | 'sha256';

/** Bytes a session may have sent and not yet seen hashed before `update` asks its caller to wait. */
const WINDOW_BYTES = 4 * 1024 * 1024;

type Request =
  | { readonly op: 'start'; readonly id: number; readonly algorithms: readonly HashAlgorithm[] }
  | { readonly op: 'update'; readonly id: number; readonly chunk: Uint8Array }
  | { readonly op: 'digest'; readonly id: number }
  | { readonly op: 'drop'; readonly id: number };

type Reply = { readonly op: 'hashed'; readonly id: number; readonly bytes: number } | { readonly op: 'digest'; readonly id: number; readonly hex: Record<string, string> };

/** One body's hashes on the hash thread: feed chunks in order, then ask for the digests once. */
export class ThreadHash {
  readonly #id: number;
  #inFlight = 0;
  #resume: (() => void) | undefined;
  #digest: ((hex: Record<string, string>) => void) | undefined;
  #failed: Error | undefined;
  #fail: ((err: Error) => void) | undefined;

  constructor(algorithms: readonly HashAlgorithm[]) {
    this.#id = nextSession++;
    sessions.set(this.#id, this);
    post({ op: 'start', id: this.#id, algorithms });
    worker!.ref();
  }

  /** Sends a chunk; resolves at once, or once the thread caught up when the window is full. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#failed) throw this.#failed;
    this.#inFlight += chunk.byteLength;
    // Cloned (copied) to the thread: measured cheaper on this thread than a copy transferred. A view
    // into a larger buffer (the aws-chunked decoder's) would clone all of that buffer: copy it first.
    const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    post({ op: 'update', id: this.#id, chunk: whole ? chunk : Uint8Array.prototype.slice.call(chunk) });
    if (this.#inFlight <= WINDOW_BYTES) return undefined;
    return new Promise<void>((resolve) => (this.#resume = resolve));
  }

  /** The hex digests of everything sent, by algorithm. */
  digest(): Promise<Record<string, string>> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#digest = resolve;
      this.#fail = reject;
      post({ op: 'digest', id: this.#id });
    });
  }

  /** Forgets the session (a body abandoned before its end). */
  drop(): void {
    if (!forget(this.#id)) return;
    post({ op: 'drop', id: this.#id });
  }

  /** @internal */
  onReply(reply: Reply): void {
    if (reply.op === 'hashed') {
      this.#inFlight -= reply.bytes;
      if (this.#inFlight <= WINDOW_BYTES / 2 && this.#resume) {
        const resume = this.#resume;
        this.#resume = undefined;
        resume();
      }
      return;
    }
    forget(this.#id);
    this.#digest?.(reply.hex);
  }

  /** @internal */
  onFailure(err: Error): void {
    this.#failed = err;
    forget(this.#id);
    this.#fail?.(err);
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}

const sessions = new Map<number, ThreadHash>();
let nextSession = 0;
let worker: Worker | undefined;

/** Ends a session; with none left the idle thread no longer keeps the process alive. */
function forget(id: number): boolean {
  const known = sessions.delete(id);
  if (sessions.size === 0) worker?.unref();
  return known;
}

function post(request: Request): void {
  worker ??= startWorker();
  worker.postMessage(request);
}

function startWorker(): Worker {
  const started = new Worker(new URL(import.meta.url.endsWith('.ts') ? '../../../dist/gateway/body/hash-thread.js' : './hash-thread.js', import.meta.url), { execArgv: [] });
  // Idle, it must not keep the process alive (sessions ref it while they wait on it).
  started.unref();
  started.on('message', (reply: Reply) => sessions.get(reply.id)?.onReply(reply));
  const fail = (reason: string) => {
    if (worker === started) worker = undefined;
    const err = new Error(`the hash thread stopped: ${reason}`);
    for (const session of [...sessions.values()]) session.onFailure(err);
  };
  started.on('error', (err) => fail(err.message));
  started.on('exit', (code) => fail(`exit code ${code}`));
  return started;
}

// The thread's side: one set of hashes per session, in the order chunks arrive.
if (!isMainThread && parentPort) {
  const port = parentPort;
  const hashes = new Map<number, Map<HashAlgorithm, Hash>>();
  port.on('message', (request: Request) => {
    switch (request.op) {
      case 'start':
        hashes.set(request.id, new Map(request.algorithms.map((a) => [a, createHash(a)])));
        return;
      case 'update': {
        for (const hash of hashes.get(request.id)?.values() ?? []) hash.update(request.chunk);
        port.postMessage({ op: 'hashed', id: request.id, bytes: request.chunk.byteLength } satisfies Reply);
        return;
      }
      case 'digest': {
        const hex: Record<string, string> = {};
        for (const [algorithm, hash] of hashes.get(request.id) ?? []) hex[algorithm] = hash.digest('hex');
        hashes.delete(request.id);
        port.postMessage({ op: 'digest', id: request.id, hex } satisfies Reply);
        return;
      }
      case 'drop':
        hashes.delete(request.id);
        return;
    }
  });
}
