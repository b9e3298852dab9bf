import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { BackendObjectMissing, type BackendClient, type ByteRange } from '../backends/backend-client.js';
import type { WriteIntent, ObjectCopy } from '../store/core/types.js';
import type { GatewayDeps } from './context.js';
import { S3Error } from './errors.js';

export function backendOf(deps: GatewayDeps, name: string): BackendClient {
  const backend = deps.backends.get(name);
  if (!backend) throw new S3Error('ServiceUnavailable', 'The storage holding this object is not reachable from this gateway.');
  return backend;
}

/** Backends this gateway can write to, in config order: the store's placement picks among them. */
export function writeCandidates(deps: GatewayDeps): string[] {
  return deps.config.backends.map((b) => b.name).filter((name) => deps.backends.has(name));
}

/**
 * Opens the bytes of an object from the first copy that answers. A copy whose backend is not
 * configured here, or fails, or lost the bytes, is skipped for the next; when none answers the client
 * gets 503 (the metadata says the object exists, so NoSuchKey would be a lie).
 */
export async function openCopy(deps: GatewayDeps, copies: readonly ObjectCopy[], range?: ByteRange): Promise<{ copy: ObjectCopy; stream: Readable }> {
  let lastError: unknown;
  for (const copy of copies) {
    const backend = deps.backends.get(copy.backendName);
    if (!backend) continue;
    try {
      const stream = await backend.get(copy.storageKey, range);
      deps.store.usage.record(copy.backendName, { apiRequests: 1, egressBytes: range ? range.end - range.start + 1 : copy.sizeBytes });
      return { copy, stream };
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

/**
 * Writes an admitted intent's bytes and commits, or aborts the intent on any failure: the bytes are
 * then queued for deletion and the prior version stays current (nothing half-done is left). `commit`
 * runs only after the backend holds every byte, durably.
 */
export async function writeIntent<T>(
  deps: GatewayDeps,
  intent: WriteIntent,
  write: (backend: BackendClient) => Promise<void>,
  commit: () => Promise<T>,
): Promise<T> {
  try {
    const backend = backendOf(deps, intent.backendName);
    await write(backend);
    deps.store.usage.record(intent.backendName, { apiRequests: 1, ingressBytes: intent.sizeBytes });
    return await commit();
  } catch (err) {
    try {
      await deps.store.objects.abortWrite(intent);
    } catch (abortErr) {
      // The reaper resolves an intent left pending; the client still gets the original error.
      deps.logger.warn({ intentId: intent.intentId, err: (abortErr as Error).message }, 'aborting a failed write failed; the reaper will resolve it');
    }
    throw err;
  }
}
