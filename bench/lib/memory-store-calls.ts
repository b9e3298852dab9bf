import type { MetadataStore } from '../../src/store/core/store.js';
import type { CommitResult, ObjectInfo, WriteIntent } from '../../src/store/core/types.js';
import { BENCH_BACKEND } from './targets.js';

/**
 * Answers the store calls of a small PUT (beginWrite, commitWrite) and GET (head) from memory,
 * on this store instance only, so that a run measures what the gateway costs on its own: the
 * request's HTTP, SigV4, body and backend work with no database work at all. A bench-only
 * instrument (bench:profile --store-calls memory); the objects GET reads must exist first (their
 * answers are read once from the real store by `primeHeads`).
 */
export function answerObjectCallsFromMemory(store: MetadataStore, heads: ReadonlyMap<string, ObjectInfo>): void {
  let next = 0;
  const objects = store.objects as { -readonly [K in keyof MetadataStore['objects']]: MetadataStore['objects'][K] };
  objects.beginWrite = async (input) => {
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
  objects.commitWrite = async (intent, input = {}): Promise<CommitResult> => ({
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
  objects.head = async (objectKey) => {
    const info = heads.get(objectKey);
    if (!info) throw new Error(`bench: no answer primed for ${objectKey}`);
    return info;
  };
}

/** The real store's HEAD answers for `keys`, for answerObjectCallsFromMemory. */
export async function primeHeads(store: MetadataStore, keys: readonly string[]): Promise<Map<string, ObjectInfo>> {
  const heads = new Map<string, ObjectInfo>();
  for (const key of keys) heads.set(key, await store.objects.head(key));
  return heads;
}
