import type { BackendClient } from '../../backends/backend-client.js';
import { versionPrefixes } from '../../store/core/keys.js';
import type { ObjectInfo } from '../../store/core/types.js';
import { S3Error } from '../errors.js';

/** What follows `{objectKey}!` in the storage key of a version: the write's id (parts add `.partN`). */
const VERSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The prefix every storage key of the object's versions shares (`{objectKey}!`, or its hashed form). */
export function versionPrefix(storageKey: string): string | undefined {
  const bang = storageKey.lastIndexOf('!');
  if (bang < 0 || !VERSION_ID.test(storageKey.slice(bang + 1))) return undefined;
  return storageKey.slice(0, bang + 1);
}

/** Whether `key` (listed under `prefix`) is the storage key of a version of that object. */
export function isVersionKey(prefix: string, key: string): boolean {
  return key.startsWith(prefix) && VERSION_ID.test(key.slice(prefix.length));
}

export function outageError(message: string, cause?: unknown): S3Error {
  return new S3Error('ServiceUnavailable', message, { headers: { 'Retry-After': '5' }, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Confirms a cached object while the database is unreachable (spec §6). Storage keys are per write,
 * so the backends can only be asked by the key's prefix, and a backend may still hold displaced
 * versions waiting for cleanup, or bytes of a write in flight. The cached copies are served only when
 * every configured backend answers and, together, they hold exactly the cached storage keys as
 * versions of the key: any other version key might be newer, so the answer is 503 rather than a guess.
 * A backend that cannot answer (or has no client here) could hold a newer version: 503 too.
 */
export async function confirmCached(info: ObjectInfo, backendNames: readonly string[], backends: ReadonlyMap<string, BackendClient>): Promise<ObjectInfo> {
  // Every form a version of this key may be stored under (a version written before the escaped
  // form existed sits under the readable prefix): a newer version under another form must be seen.
  const prefixes = versionPrefixes(info.objectKey);
  if (info.copies.some((c) => { const p = versionPrefix(c.storageKey); return p === undefined || !prefixes.includes(p); })) {
    throw outageError('The metadata database is unavailable and the location of this object cannot be confirmed; please retry.');
  }
  await Promise.all(
    backendNames.map(async (name) => {
      const backend = backends.get(name);
      if (!backend) throw outageError('The metadata database is unavailable and a backend that may hold this object cannot be asked; please retry.');
      const keys: string[] = [];
      try {
        for (const prefix of prefixes) keys.push(...(await backend.list(prefix)));
      } catch (err) {
        throw outageError('The metadata database is unavailable and a backend that may hold this object did not answer; please retry.', err);
      }
      const expected = new Set(info.copies.filter((c) => c.backendName === name).map((c) => c.storageKey));
      const versions = keys.filter((k) => prefixes.some((prefix) => isVersionKey(prefix, k)));
      if (versions.length !== expected.size || versions.some((k) => !expected.has(k))) {
        throw outageError('The metadata database is unavailable and it cannot be told which version of this object is the newest; please retry.');
      }
    }),
  );
  return info;
}
