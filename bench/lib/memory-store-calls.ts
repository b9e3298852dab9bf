import type { StoreApi } from '../../src/store/core/store.js';
import type { CommitResult, ObjectInfo, WriteIntent } from '../../src/store/core/types.js';
import { BENCH_BACKEND } from './targets.js';

/**
 * Answers the store calls of a small PUT (beginWrite, commitWrite) and GET (head) from memory,
 * on this store instance only, so that a run measures what the gateway costs on its own: the
 * request's HTTP, SigV4, body and backend work with no database work at all. A bench-only
 * instrument (bench:profile --store-calls memory); the objects GET reads must exist first (their
 * answers are read once from the real store by `primeHeads`).
 */
export function answerObjectCallsFromMemory(store: StoreApi, heads: ReadonlyMap<string, ObjectInfo>): void {
  let next = 0;
  type Objects = StoreApi['objects'];
  const overrides: Partial<{ -readonly [K in keyof Objects]: Objects[K] }> = {};
  overrides.beginWrite = async (input) => {
    const intentId = `memory-${next++}`;
    const intent: WriteIntent = {
      intentId,
      kind: 'write',
      objectKey: input.objectKey,
      backendName: BENCH_BACKEND,
      storageKey: `${input.objectKey}/${intentId}`,
      sizeBytes: input.sizeBytes,
      etag: null,
      contentType: input.contentType ?? 'application/octet-stream',
      userMetadata: input.userMetadata ?? {},
      contentHash: null,
      uploadId: null,
      partNumber: null,
      createdAt: new Date(),
      supersededAt: null,
    };
    return intent;
  };
  overrides.commitWrite = async (intent, input = {}): Promise<CommitResult> => ({
    copy: {
      objectKey: intent.objectKey,
      backendName: BENCH_BACKEND,
      storageKey: `${intent.objectKey}/${intent.intentId}`,
      sizeBytes: 0,
      etag: input.etag ?? '"memory"',
      contentType: 'application/octet-stream',
      userMetadata: {},
      contentHash: null,
      createdAt: new Date(),
    },
    displaced: [],
  });
  overrides.head = async (objectKey) => {
    const info = heads.get(objectKey);
    if (!info) throw new Error(`bench: no answer primed for ${objectKey}`);
    return info;
  };
  // The gateway reads store.objects at every call: the other operations still reach the store.
  const real = store.objects as unknown as Record<string | symbol, unknown>;
  (store as { objects: Objects }).objects = new Proxy(real, {
    get: (target, name) => {
      const own = (overrides as Record<string | symbol, unknown>)[name];
      if (own !== undefined) return own;
      const value = target[name];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as Objects;
}

/** The real store's HEAD answers for `keys`, for answerObjectCallsFromMemory. */
export async function primeHeads(store: StoreApi, keys: readonly string[]): Promise<Map<string, ObjectInfo>> {
  const heads = new Map<string, ObjectInfo>();
  for (const key of keys) heads.set(key, await store.objects.head(key));
  return heads;
}

/**
 * The store's own calls for one small PUT, made as the gateway makes them: `beginWrite` with the
 * gateway's inputs (candidates, default metadata), then `commitWrite` with an MD5 ETag. Keys follow
 * the load generator's pattern, one sequence per concurrent caller (`${prefix}${worker}-${n}`):
 * where new keys land in the key index is part of a write's cost, and a single ascending sequence
 * (every insert on the index's last page) would flatter the store.
 */
export function storeCommitWriteStep(store: StoreApi, prefix: string, sizeBytes: number): (worker: number) => Promise<unknown> {
  const next: number[] = [];
  return async (worker) => {
    const n = (next[worker] = (next[worker] ?? 0) + 1);
    const intent = await store.objects.beginWrite({ objectKey: `${prefix}${worker}-${n}`, sizeBytes, userMetadata: {}, candidates: [BENCH_BACKEND] });
    return store.objects.commitWrite(intent, { etag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  };
}
