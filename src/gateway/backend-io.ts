import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { BackendObjectMissing, type BackendClient, type ByteRange } from '../backends/backend-client.js';
import type { WriteIntent, ObjectCopy } from '../store/core/types.js';
import type { GatewayDeps } from './context.js';
import { S3Error } from './errors.js';
import { BackendCircuitOpen } from './routing/backend-router.js';
import { isBackendFailure } from './routing/circuit-breaker.js';

/**
 * Opens the bytes of an object from the first copy that answers (spec §5: reads try each copy in
 * turn). A copy whose backend is not configured here, is failing, or lost the bytes, is skipped
 * for the next; when none answers the client gets 503 (the metadata says the object exists, so
 * NoSuchKey would be a lie).
 */
export async function openCopy(deps: GatewayDeps, copies: readonly ObjectCopy[], range?: ByteRange): Promise<{ copy: ObjectCopy; stream: Readable }> {
  return fromFirstCopy(deps, copies, range, async (stream, copy) => ({ copy, stream }));
}

/**
 * The bytes of a small object (or range), whole: read from the first copy that gives all of them.
 * Nothing has been sent yet, so a copy that fails halfway is skipped for the next too, and the
 * response can go out as one write instead of a stream pipeline (most of a small GET's cost).
 */
export async function readCopyWhole(deps: GatewayDeps, copies: readonly ObjectCopy[], length: number, range?: ByteRange): Promise<Buffer> {
  return fromFirstCopy(deps, copies, range, (stream) => collect(stream, length));
}

async function fromFirstCopy<T>(deps: GatewayDeps, copies: readonly ObjectCopy[], range: ByteRange | undefined, take: (stream: Readable, copy: ObjectCopy) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (const copy of deps.router.readOrder(copies)) {
    try {
      // `take` runs inside the breaker's call: a body that fails while it is read (a reset, a
      // timeout) counts against its backend like a failed open does.
      const result = await deps.router.call(copy.backendName, async (backend) => take(await backend.get(copy.storageKey, range), copy));
      deps.store.usage.record(copy.backendName, { apiRequests: 1, egressBytes: range ? range.end - range.start + 1 : copy.sizeBytes });
      return result;
    } catch (err) {
      lastError = err;
      deps.logger.warn(
        { backend: copy.backendName, storageKey: copy.storageKey, err: (err as Error).message, missing: err instanceof BackendObjectMissing },
        'a copy could not be read; trying the next',
      );
    }
  }
  throw new S3Error('ServiceUnavailable', 'No copy of this object could be read right now; please retry.', { cause: lastError, headers: { 'Retry-After': '5' } });
}

/**
 * Every byte of `stream`, which must be exactly `length` bytes long. A stream that closes without
 * ending (destroyed without an error) fails too, as pipeline's premature close would: never a hang.
 */
function collect(stream: Readable, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > length) fail(new Error(`the backend sent more than the ${length} bytes the metadata records`));
      else chunks.push(chunk);
    });
    stream.once('error', fail);
    stream.once('close', () => fail(new Error(`the backend's stream closed after ${received} of ${length} bytes, before its end`)));
    stream.once('end', () => {
      if (received !== length) return fail(new Error(`the backend sent ${received} of the ${length} bytes the metadata records`));
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    });
  });
}

/** A stream of bytes already in memory, for a backend's put (cheaper than Readable.from: no iterator). */
export function streamOf(bytes: Buffer): Readable {
  const stream = new Readable({ read() {} });
  stream.push(bytes);
  stream.push(null);
  return stream;
}

/** A pass-through that computes the MD5 of what flows (the ETag of copied bytes). */
export function md5Tap(): { stream: Transform; hex: () => string } {
  const md5 = createHash('md5');
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      md5.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, hex: () => (digest ??= md5.digest('hex')) };
}

export interface NewWrite<T> {
  /** Admits the write on one of `candidates` (the store's placement chooses; NoSpace when none has room). */
  begin(candidates: string[]): Promise<WriteIntent>;
  /** Writes the bytes to the chosen backend (from a fresh stream of them for each attempt). */
  write(backend: BackendClient, intent: WriteIntent): Promise<void>;
  /** Commits, once the backend holds every byte durably. */
  commit(intent: WriteIntent): Promise<T>;
}

/**
 * A new object's write with failover (spec §5): admitted on one backend, written, committed; a
 * backend that fails while the bytes can still be offered again (`canRetry`: a client body within
 * its replay window, or a copy that re-reads its source) is abandoned for the next candidate,
 * transparently. Any failure aborts the intent: its bytes are queued for deletion and the prior
 * version stays current. `clientGone` tells the client's own disconnect apart.
 */
export async function writeWithFailover<T>(deps: GatewayDeps, steps: NewWrite<T>, clientGone: () => boolean, canRetry: () => boolean = () => true): Promise<T> {
  const tried = new Set<string>();
  for (;;) {
    const candidates = deps.router.writeCandidates(tried);
    if (candidates.length === 0) {
      throw new S3Error('ServiceUnavailable', 'No backend can take this write right now; please retry.', { headers: { 'Retry-After': '5' } });
    }
    const intent = await steps.begin(candidates);
    try {
      await deps.router.call(intent.backendName, (backend) => steps.write(backend, intent), clientGone);
      deps.store.usage.record(intent.backendName, { apiRequests: 1, ingressBytes: intent.sizeBytes });
      return await steps.commit(intent);
    } catch (err) {
      await abortQuietly(deps, intent);
      const backendFailed = err instanceof BackendCircuitOpen || (isBackendFailure(err) && !clientGone());
      if (backendFailed && canRetry()) {
        deps.logger.warn({ backend: intent.backendName, err: (err as Error).message }, 'write failed on a backend before the body was consumed; trying the next');
        tried.add(intent.backendName);
        continue;
      }
      throw err;
    }
  }
}

/**
 * What a pinned write sent the backend, when it is not the intent's bytes: a part the backend
 * copied server-side (UploadPartCopy) received no byte from the gateway.
 */
export interface PinnedWriteUsage {
  readonly ingressBytes: number;
}

/**
 * A write pinned to its backend (a part of a multipart upload): written and committed, or aborted.
 * The backend's usage counts one request and the intent's bytes, unless `write` says otherwise.
 */
export async function writePinned<T>(
  deps: GatewayDeps,
  intent: WriteIntent,
  write: (backend: BackendClient) => Promise<void | PinnedWriteUsage>,
  commit: () => Promise<T>,
  clientGone: () => boolean,
): Promise<T> {
  try {
    const written = await deps.router.call(intent.backendName, write, clientGone);
    deps.store.usage.record(intent.backendName, { apiRequests: 1, ingressBytes: written ? written.ingressBytes : intent.sizeBytes });
    return await commit();
  } catch (err) {
    await abortQuietly(deps, intent);
    throw err;
  }
}

async function abortQuietly(deps: GatewayDeps, intent: WriteIntent): Promise<void> {
  try {
    await deps.store.objects.abortWrite(intent);
  } catch (abortErr) {
    // The reaper resolves an intent left pending; the client still gets the original error.
    deps.logger.warn({ intentId: intent.intentId, err: (abortErr as Error).message }, 'aborting a failed write failed; the reaper will resolve it');
  }
}
