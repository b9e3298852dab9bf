import { pickStripe, type StoreContext } from './context.js';
import { InvalidArgumentError, NoSpaceError, NotFoundError, PreconditionFailedError } from './errors.js';
import type { IGetIntentResult, TxQueries } from './generated/queries.js';
import { newId, storageKeyFor, validateObjectKey, validateSize } from './keys.js';
import { LedgerChanges } from './ledger-changes.js';
import { validateContentType, validateEtag, validateOptionalText, validateUserMetadata } from './object-input.js';
import { placementOrder } from './placement.js';
import type { QuotaLedger } from './quota.js';
import { encodePartSizes } from './part-sizes.js';
import { parseMetadata, toCopy, withPartSizes } from './rows.js';
import type { CommitResult, ObjectCopy, ObjectInfo, UserMetadata, WriteIntent } from './types.js';
import { checkWriteCondition, installVersion, validateWriteCondition, type WriteCondition } from './versions.js';

export interface BeginWriteInput {
  readonly objectKey: string;
  readonly sizeBytes: number;
  readonly contentType?: string;
  readonly userMetadata?: UserMetadata;
  /** When already known (e.g. from Content-MD5); otherwise given at commit. */
  readonly etag?: string;
  readonly contentHash?: string;
  /** Write to this backend only. */
  readonly backendName?: string;
  /** Backends to choose from, in preference order (default: every configured backend). */
  readonly candidates?: readonly string[];
}

export interface CommitWriteInput {
  readonly etag?: string;
  readonly contentHash?: string;
  /** S3's conditional PUT, checked under the key lock in the commit transaction (see WriteCondition). */
  readonly condition?: WriteCondition;
}

export type IntentRef = Pick<WriteIntent, 'intentId' | 'objectKey'>;

export type CopyCommitResult = { readonly status: 'committed'; readonly copy: ObjectCopy } | { readonly status: 'superseded' };

export interface DeleteManyResult {
  readonly deleted: readonly { readonly objectKey: string; readonly copies: readonly ObjectCopy[] }[];
  /** Keys that had no copies (S3 reports them as deleted too). */
  readonly notFound: readonly string[];
}

export const MAX_DELETE_KEYS = 1000;

/** Writes, reads and deletes of objects and their copies (spec §6, objects and quota). */
export class ObjectOperations {
  constructor(
    private readonly ctx: StoreContext,
    private readonly quota: QuotaLedger,
  ) {}

  /**
   * Admits the write and records its intent, before any byte is written (lessons.md #6). The intent
   * insert is the admission: it is refused with NoSpace when no candidate backend has room for the
   * bytes, counting orphan and in-flight bytes, also under concurrency and across instances.
   */
  async beginWrite(input: BeginWriteInput): Promise<WriteIntent> {
    const objectKey = validateObjectKey(input.objectKey);
    const sizeBytes = validateSize(input.sizeBytes);
    const contentType = validateContentType(input.contentType);
    const userMetadata = validateUserMetadata(input.userMetadata);
    const etag = input.etag === undefined ? null : validateEtag(input.etag);
    const contentHash = validateOptionalText(input.contentHash, 'contentHash');
    const order = await this.#candidates(input, sizeBytes);
    for (const backendName of order) {
      const intentId = newId();
      const row = {
        intentId,
        kind: 'write' as const,
        objectKey,
        backendName,
        storageKey: storageKeyFor(objectKey, intentId),
        sizeBytes,
        etag,
        contentType,
        userMetadata,
        contentHash,
        uploadId: null,
        partNumber: null,
        createdAt: this.ctx.clock.now(),
      };
      const intent: WriteIntent = { ...row, userMetadata: JSON.parse(userMetadata) as UserMetadata, supersededAt: null };
      // The fast path: admission on one stripe and the intent, one statement committed on its own.
      const admitted = await this.ctx.db.autocommit((q) => q.insertAdmittedIntent({ ...row, stripe: pickStripe(this.ctx) }));
      if (admitted.length === 1) return intent;
      // The stripe's share was too small: rebalance (or refuse) under the backend's quota locks.
      try {
        return await this.ctx.db.transaction(async (q) => {
          await this.quota.admitByRebalance(q, backendName, sizeBytes);
          await q.insertIntent(row);
          return intent;
        });
      } catch (err) {
        if (!(err instanceof NoSpaceError)) throw err;
      }
    }
    throw new NoSpaceError(sizeBytes, order.length > 0 ? order : (input.candidates ?? [...this.ctx.backends.keys()]));
  }

  /**
   * One transaction: lock the key, resolve the intent, check the condition if any, replace the
   * current copies with the new one, move the bytes from in-flight to used, queue the displaced
   * copies' bytes for deletion (orphan bytes), and record the ObjectCreated event. Returns the new
   * copy and the displaced ones. A failed condition leaves the object as it was, aborts the intent
   * (its storage key is queued for deletion, as abortWrite does) and throws PreconditionFailed
   * (reason `if-none-match` or `if-match`); a later abortWrite of the intent answers false.
   */
  async commitWrite(intent: IntentRef, input: CommitWriteInput = {}): Promise<CommitResult> {
    const objectKey = validateObjectKey(intent.objectKey);
    const etagInput = input.etag === undefined ? undefined : validateEtag(input.etag);
    const contentHashInput = validateOptionalText(input.contentHash, 'contentHash');
    const condition = validateWriteCondition(input.condition);
    const outcome = await this.ctx.db.transaction(async (q) => {
      const row = await this.#takeIntent(q, intent, 'write');
      const etag = etagInput ?? row.etag;
      if (etag === null) throw new InvalidArgumentError('etag', 'is required: the write began without one');
      // After the key lock (taken with the intent), so no other commit of the key can slip in between
      // the check and the install. A failed condition aborts the intent in this transaction: left
      // pending, a crash before the caller's abort would let the reaper promote the refused write.
      const refused = condition && (await checkWriteCondition(q, objectKey, condition));
      if (refused) {
        const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
        changes.inflight(row.backend_name, -row.size_bytes).enqueueCleanup(cleanupItem(row), 'condition-failed');
        await changes.apply(q);
        return { refused };
      }
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      changes.inflight(row.backend_name, -row.size_bytes);
      const result = await installVersion(q, changes, {
        objectKey,
        backendName: row.backend_name,
        storageKey: row.storage_key,
        sizeBytes: row.size_bytes,
        etag,
        contentType: row.content_type,
        userMetadata: row.user_metadata,
        contentHash: contentHashInput ?? row.content_hash,
      });
      await changes.apply(q);
      return { result };
    });
    if ('refused' in outcome) throw outcome.refused;
    return outcome.result;
  }

  /**
   * Gives up an intent of any kind. Its storage key is queued for deletion whether or not bytes were
   * written (a delete of a missing key counts as done); the bytes stay counted until then.
   * Returns false when the intent was no longer pending.
   */
  async abortWrite(intent: Pick<WriteIntent, 'intentId'>): Promise<boolean> {
    return this.ctx.db.transaction(async (q) => {
      const [row] = await q.deleteIntent({ intentId: intent.intentId });
      if (!row) return false;
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      changes.inflight(row.backend_name, -row.size_bytes).enqueueCleanup(cleanupItem(row), 'aborted');
      await changes.apply(q);
      return true;
    });
  }

  /** Every copy of the key, or none. */
  async lookup(objectKey: string): Promise<ObjectCopy[]> {
    validateObjectKey(objectKey);
    const rows = await this.ctx.db.read((q) => q.lookupCopies({ objectKey }));
    return rows.map(toCopy);
  }

  async head(objectKey: string): Promise<ObjectInfo> {
    const copies = await this.lookup(objectKey);
    const first = copies[0];
    if (!first) throw new NotFoundError('object', objectKey);
    return {
      objectKey,
      sizeBytes: first.sizeBytes,
      etag: first.etag,
      contentType: first.contentType,
      userMetadata: first.userMetadata,
      contentHash: first.contentHash,
      createdAt: first.createdAt,
      // Copies of one version have the same parts; one made before part sizes were kept has none.
      ...withPartSizes(copies.find((c) => c.partSizes)?.partSizes),
      copies,
    };
  }

  /** Removes every copy: rows go, bytes are queued for deletion, an ObjectRemoved event is recorded. */
  async deleteObject(objectKey: string): Promise<ObjectCopy[]> {
    validateObjectKey(objectKey);
    return this.ctx.db.transaction(async (q) => {
      await q.lockObjectKey({ objectKey });
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const copies = (await q.endVersion({ objectKey, now: changes.now })).map(toCopy);
      if (copies.length === 0) throw new NotFoundError('object', objectKey);
      this.#removed(changes, objectKey, copies);
      await changes.apply(q);
      return copies;
    });
  }

  /** Up to 1000 keys in one transaction; keys are locked in sorted order. */
  async deleteObjects(objectKeys: readonly string[]): Promise<DeleteManyResult> {
    if (!Array.isArray(objectKeys) || objectKeys.length === 0) throw new InvalidArgumentError('objectKeys', 'must list at least one key');
    if (objectKeys.length > MAX_DELETE_KEYS) throw new InvalidArgumentError('objectKeys', `lists ${objectKeys.length} keys; the limit is ${MAX_DELETE_KEYS}`);
    objectKeys.forEach((k, i) => validateObjectKey(k, `objectKeys[${i}]`));
    const keys = [...new Set(objectKeys)].sort();
    return this.ctx.db.transaction(async (q) => {
      await q.lockObjectKeys({ objectKeys: keys });
      const now = this.ctx.clock.now();
      const rows = (await q.endVersions({ objectKeys: keys, now })).map(toCopy);
      const byKey = new Map<string, ObjectCopy[]>();
      for (const copy of rows) {
        let list = byKey.get(copy.objectKey);
        if (!list) byKey.set(copy.objectKey, (list = []));
        list.push(copy);
      }
      const changes = new LedgerChanges(this.ctx, now);
      const deleted = [];
      for (const key of keys) {
        const copies = byKey.get(key);
        if (!copies) continue;
        this.#removed(changes, key, copies);
        deleted.push({ objectKey: key, copies });
      }
      await changes.apply(q);
      return { deleted, notFound: keys.filter((k) => !byKey.has(k)) };
    });
  }

  /**
   * Replication and rebalancing, step one: admit and record an intent for another copy of the
   * current version on `backendName`. The caller copies the bytes, then calls commitCopy.
   */
  async beginCopy(input: { objectKey: string; backendName: string }): Promise<WriteIntent> {
    const objectKey = validateObjectKey(input.objectKey);
    return this.quota.withAdmission(async (q, admit) => {
      await q.lockObjectKey({ objectKey });
      const copies = (await q.lookupCopies({ objectKey })).map(toCopy);
      const source = copies[0];
      if (!source) throw new NotFoundError('object', objectKey);
      if (copies.some((c) => c.backendName === input.backendName)) {
        throw new PreconditionFailedError(`object ${JSON.stringify(objectKey)} already has a copy on backend ${JSON.stringify(input.backendName)}`);
      }
      await admit(input.backendName, source.sizeBytes);
      const intentId = newId();
      const row = {
        intentId,
        kind: 'copy' as const,
        objectKey,
        backendName: input.backendName,
        storageKey: storageKeyFor(objectKey, intentId),
        sizeBytes: source.sizeBytes,
        etag: source.etag,
        contentType: source.contentType,
        userMetadata: JSON.stringify(source.userMetadata),
        contentHash: source.contentHash,
        uploadId: null,
        partNumber: null,
        createdAt: this.ctx.clock.now(),
      };
      await q.insertIntent(row);
      return { ...row, userMetadata: source.userMetadata, supersededAt: null };
    });
  }

  /**
   * Adds the copy if the object is still the version the copy was made from; otherwise (overwritten
   * or deleted meanwhile) the copied bytes are queued for deletion and `superseded` is returned.
   */
  async commitCopy(intent: IntentRef): Promise<CopyCommitResult> {
    const objectKey = validateObjectKey(intent.objectKey);
    return this.ctx.db.transaction(async (q) => {
      const row = await this.#takeIntent(q, intent, 'copy');
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      const result = await commitCopyInTx(q, changes, row);
      await changes.apply(q);
      return result;
    });
  }

  /** Removes one copy and queues its bytes; the last copy cannot be removed (delete the object). */
  async removeCopy(input: { objectKey: string; backendName: string }): Promise<ObjectCopy> {
    const objectKey = validateObjectKey(input.objectKey);
    return this.ctx.db.transaction(async (q) => {
      await q.lockObjectKey({ objectKey });
      const copies = await q.lookupCopies({ objectKey });
      if (!copies.some((c) => c.backend_name === input.backendName)) throw new NotFoundError('copy', `${objectKey} on ${input.backendName}`);
      if (copies.length === 1) throw new PreconditionFailedError(`the copy on ${JSON.stringify(input.backendName)} is the last one; delete the object instead`);
      const [removed] = (await q.deleteCopy({ objectKey, backendName: input.backendName })).map(toCopy);
      const changes = new LedgerChanges(this.ctx, this.ctx.clock.now());
      changes.used(removed!.backendName, -removed!.sizeBytes).enqueueCleanup(removed!, 'copy-removed');
      await changes.apply(q);
      return removed!;
    });
  }

  async #candidates(input: BeginWriteInput, sizeBytes: number): Promise<string[]> {
    const candidates = input.backendName !== undefined ? [input.backendName] : (input.candidates ?? [...this.ctx.backends.keys()]);
    if (candidates.length === 0) throw new InvalidArgumentError('candidates', 'no backend is configured');
    // With one candidate there is nothing to choose: the admission alone decides (and knows unknown
    // backends), which saves the advisory read of every backend's totals on the write path.
    if (candidates.length === 1) return [...candidates];
    return placementOrder(await this.quota.totals(), candidates, sizeBytes, this.ctx.placement);
  }

  /** Locks the intent's key and resolves the intent (one statement): the first thing a commit does. */
  async #takeIntent(q: TxQueries, intent: IntentRef, kind: WriteIntent['kind']): Promise<IGetIntentResult> {
    const [row] = await q.takeIntent({ intentId: intent.intentId, objectKey: intent.objectKey });
    if (!row) throw new PreconditionFailedError(`intent ${intent.intentId} is not pending (committed, aborted or resolved by the reaper)`);
    if (row.object_key !== intent.objectKey) throw new InvalidArgumentError('objectKey', `does not match intent ${intent.intentId}`);
    if (row.kind !== kind) throw new PreconditionFailedError(`intent ${intent.intentId} is a ${row.kind} intent, not a ${kind} intent`);
    return row;
  }

  #removed(changes: LedgerChanges, objectKey: string, copies: readonly ObjectCopy[]): void {
    for (const c of copies) changes.used(c.backendName, -c.sizeBytes).enqueueCleanup(c, 'deleted');
    changes.event('ObjectRemoved', {
      objectKey,
      sizeBytes: copies[0]!.sizeBytes,
      etag: copies[0]!.etag,
      backends: copies.map((c) => c.backendName),
      deletedAt: changes.now.toISOString(),
    });
  }
}

/** The copy half of commitCopy, also used by the reaper. The intent row is already deleted. */
export async function commitCopyInTx(q: TxQueries, changes: LedgerChanges, row: IGetIntentResult): Promise<CopyCommitResult> {
  changes.inflight(row.backend_name, -row.size_bytes);
  const copies = (await q.lookupCopies({ objectKey: row.object_key })).map(toCopy);
  const source = copies[0];
  const sameVersion =
    source !== undefined &&
    source.etag === row.etag &&
    source.sizeBytes === row.size_bytes &&
    source.contentType === row.content_type &&
    source.contentHash === row.content_hash &&
    sameMetadata(source.userMetadata, parseMetadata(row.user_metadata));
  if (!sameVersion || copies.some((c) => c.backendName === row.backend_name)) {
    changes.enqueueCleanup(cleanupItem(row), 'superseded');
    return { status: 'superseded' };
  }
  // The same version, so the same parts (and the same multipart ETag) as any copy that has them.
  const partSizes = copies.find((c) => c.partSizes)?.partSizes;
  await q.insertCopy({
    objectKey: row.object_key,
    backendName: row.backend_name,
    storageKey: row.storage_key,
    sizeBytes: row.size_bytes,
    etag: source.etag,
    contentType: source.contentType,
    userMetadata: row.user_metadata,
    contentHash: source.contentHash,
    createdAt: source.createdAt,
    partSizes: partSizes ? encodePartSizes(partSizes) : null,
  });
  changes.used(row.backend_name, row.size_bytes);
  return { status: 'committed', copy: { ...source, backendName: row.backend_name, storageKey: row.storage_key, ...withPartSizes(partSizes) } };
}

/** Metadata equality regardless of key order (jsonb reorders keys; SQLite keeps them as written). */
function sameMetadata(a: UserMetadata, b: UserMetadata): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export function cleanupItem(row: { backend_name: string; storage_key: string; object_key: string; size_bytes: number }) {
  return { backendName: row.backend_name, storageKey: row.storage_key, objectKey: row.object_key, sizeBytes: row.size_bytes };
}
