import type { StoreContext } from './context.js';
import { InvalidArgumentError, PreconditionFailedError } from './errors.js';
import type { TxQueries } from './generated/queries.js';
import { MAX_STORAGE_KEY_BYTES, objectKeyOfVersionPrefix, validateObjectKey, validateSize } from './keys.js';
import { LedgerChanges } from './ledger-changes.js';
import { validateContentType, validateEtag, validateLimit } from './object-input.js';
import { toCopy } from './rows.js';
import type { ObjectCopy } from './types.js';
import { installVersion } from './versions.js';

/** Storage keys sent to the database per statement by knownStorageKeys. */
export const KNOWN_KEYS_BATCH = 1000;

export interface ImportObjectInput {
  readonly objectKey: string;
  readonly backendName: string;
  /** Where the bytes already are on the backend. */
  readonly storageKey: string;
  readonly sizeBytes: number;
  readonly etag: string;
  readonly contentType?: string;
}

export interface ImportObjectResult {
  readonly copy: ObjectCopy;
  /**
   * How far the backend is now over its byte limit (used + orphan + in flight − limit), 0 when it is
   * within it or unlimited. The bytes were already on the backend: importing them only counts them.
   */
  readonly overLimitBytes: number;
}

export interface CopiesPage {
  readonly copies: ObjectCopy[];
  /** The `afterKey` of the next page; undefined when this page was the last. */
  readonly nextAfterKey: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The object key a storage key was most likely written for: the part before the last `!` when what
 * follows is a UUID-shaped id (storageKeyFor's `{objectKey}!{id}`, an escaped form decoded), else the
 * whole storage key (a hashed form keeps its `~long/{hash}`: the key it stands for is unknown).
 */
export function guessObjectKey(storageKey: string): string {
  const bang = storageKey.lastIndexOf('!');
  if (bang > 0 && UUID.test(storageKey.slice(bang + 1))) return objectKeyOfVersionPrefix(storageKey.slice(0, bang + 1)) ?? storageKey.slice(0, bang);
  return storageKey;
}

/**
 * The store's side of checking a backend against the metadata (issue 11 item 7): which storage keys
 * the metadata knows, adopting bytes found on a backend as objects, and paging a backend's copies.
 * The listing and HEADs of the backend itself are the caller's (the `backends check` command).
 */
export class BackendCheck {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Which of `storageKeys` the metadata knows on `backendName`: a copy, a pending intent, an open
   * upload's storage key, an uploaded part, or a cleanup or dead-letter row. One parameterised
   * statement per batch of 1000 keys (a bound array), read outside a transaction.
   */
  async knownStorageKeys(backendName: string, storageKeys: readonly string[]): Promise<Set<string>> {
    if (typeof backendName !== 'string' || backendName.length === 0) throw new InvalidArgumentError('backendName', 'must be a non-empty string');
    if (!Array.isArray(storageKeys)) throw new InvalidArgumentError('storageKeys', 'must be an array of strings');
    storageKeys.forEach((k, i) => {
      if (typeof k !== 'string') throw new InvalidArgumentError(`storageKeys[${i}]`, 'must be a string');
    });
    const known = new Set<string>();
    const unique = [...new Set(storageKeys)];
    for (let i = 0; i < unique.length; i += KNOWN_KEYS_BATCH) {
      const batch = unique.slice(i, i + KNOWN_KEYS_BATCH);
      const rows = await this.ctx.db.read((q) => q.knownStorageKeys({ backendName, storageKeys: batch }));
      for (const r of rows) known.add(r.storage_key);
    }
    return known;
  }

  /**
   * Adopts bytes already on a backend as the current version of `objectKey`, in one transaction under
   * the key lock: refused (PreconditionFailed) when the key has a current version or the metadata
   * already knows the storage key (a copy, intent, part or queued delete). The bytes count as used at
   * once, without an admission: they are already on the backend, so the import may leave the backend
   * over its limit (reported as `overLimitBytes`; writes are then refused there until space is
   * freed). The quota rows are locked (backend row, then its stripes, as a rebalance does) and the
   * remaining budget is shared out again, so no stripe keeps a share the backend no longer has.
   * Records ObjectCreated.
   */
  async importObject(input: ImportObjectInput): Promise<ImportObjectResult> {
    const objectKey = validateObjectKey(input.objectKey);
    const backendName = input.backendName;
    if (typeof backendName !== 'string' || backendName.length === 0) throw new InvalidArgumentError('backendName', 'must be a non-empty string');
    const storageKey = input.storageKey;
    if (typeof storageKey !== 'string' || storageKey.length === 0 || Buffer.byteLength(storageKey, 'utf8') > MAX_STORAGE_KEY_BYTES) {
      throw new InvalidArgumentError('storageKey', `must be a non-empty string of at most ${MAX_STORAGE_KEY_BYTES} bytes of UTF-8`);
    }
    const sizeBytes = validateSize(input.sizeBytes);
    const etag = validateEtag(input.etag);
    const contentType = validateContentType(input.contentType);

    return this.ctx.db.transaction(async (q) => {
      await q.lockObjectKey({ objectKey });
      const [current] = await q.lookupCopies({ objectKey });
      if (current) throw new PreconditionFailedError(`object ${JSON.stringify(objectKey)} already exists (on backend ${JSON.stringify(current.backend_name)}); nothing imported`);
      if ((await q.knownStorageKeys({ backendName, storageKeys: [storageKey] })).length > 0) {
        throw new PreconditionFailedError(`storage key ${JSON.stringify(storageKey)} on backend ${JSON.stringify(backendName)} is already known to the metadata; nothing imported`);
      }
      const quota = await lockQuota(q, backendName);
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const { copy } = await installVersion(q, changes, {
        objectKey,
        backendName,
        storageKey,
        sizeBytes,
        etag,
        contentType,
        userMetadata: '{}',
        contentHash: null,
      });
      // installVersion counts the bytes through the ledger changes, which only move bytes an
      // admission let in; these are counted below, on the locked backend row, instead.
      changes.used(backendName, -sizeBytes);
      await changes.apply(q);
      const overLimitBytes = await countImported(q, backendName, quota, sizeBytes, changes.now);
      return { copy, overLimitBytes };
    });
  }

  /** One page of the backend's copies in storage-key order (`afterKey`: '' first, then the page's `nextAfterKey`). */
  async copiesOf(backendName: string, options: { afterKey?: string; limit?: number } = {}): Promise<CopiesPage> {
    if (typeof backendName !== 'string' || backendName.length === 0) throw new InvalidArgumentError('backendName', 'must be a non-empty string');
    const afterKey = options.afterKey ?? '';
    if (typeof afterKey !== 'string') throw new InvalidArgumentError('afterKey', 'must be a string');
    const limit = validateLimit(options.limit ?? 1000, 'limit', 10_000);
    const rows = await this.ctx.db.read((q) => q.listCopiesOfBackend({ backendName, afterKey, limit }));
    const copies = rows.map(toCopy);
    return { copies, nextAfterKey: copies.length === limit ? copies.at(-1)!.storageKey : undefined };
  }
}

interface LockedQuota {
  readonly limit: number;
  readonly base: { used: number; orphan: number; inflight: number };
  readonly recorded: number;
  readonly free: number;
  readonly stripes: number;
}

/** Locks the backend row, then its stripes (the order a rebalance and reconcile use). */
async function lockQuota(q: TxQueries, backendName: string): Promise<LockedQuota> {
  const [base] = await q.lockQuotaBase({ backendName });
  if (!base) throw new InvalidArgumentError('backendName', `unknown backend ${JSON.stringify(backendName)}`);
  const stripes = await q.lockQuotaStripes({ backendName });
  let recorded = base.bytes_used + base.orphan_bytes + base.inflight_bytes;
  let free = base.free_bytes;
  for (const s of stripes) {
    recorded += s.bytes_used + s.orphan_bytes + s.inflight_bytes;
    free += s.free_bytes;
  }
  return {
    limit: base.bytes_limit,
    base: { used: base.bytes_used, orphan: base.orphan_bytes, inflight: base.inflight_bytes },
    recorded,
    free,
    stripes: stripes.length,
  };
}

/**
 * Adds the imported bytes to the backend row's used bytes and shares what is left of the budget out
 * again: evenly over the stripes when some is left, else every stripe gets none and the backend
 * row carries the (negative) rest, as after a limit lowered below use. Returns the bytes over the limit.
 */
async function countImported(q: TxQueries, backendName: string, quota: LockedQuota, sizeBytes: number, now: Date): Promise<number> {
  const base = { backendName, bytesUsed: quota.base.used + sizeBytes, orphanBytes: quota.base.orphan, inflightBytes: quota.base.inflight, now };
  if (quota.limit === 0) {
    await q.setQuotaBase({ ...base, freeBytes: 0 });
    return 0;
  }
  const remaining = quota.free - sizeBytes;
  const share = remaining > 0 && quota.stripes > 0 ? Math.floor(remaining / quota.stripes) : 0;
  if (quota.stripes > 0) await q.setStripesFree({ backendName, freeBytes: share });
  await q.setQuotaBase({ ...base, freeBytes: remaining - share * quota.stripes });
  return Math.max(0, quota.recorded + sizeBytes - quota.limit);
}
