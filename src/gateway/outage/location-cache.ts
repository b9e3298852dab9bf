import type { ObjectInfo } from '../../store/core/types.js';

/**
 * The objects this instance saw recently (metadata and where their copies are), for the outage
 * mode: a bounded LRU (a Map keeps insertion order; a hit moves the entry to the end). Filled by
 * successful HEAD, GET, PUT and multipart completions; a delete through this instance forgets the key.
 */
export class LocationCache {
  readonly #entries = new Map<string, ObjectInfo>();

  constructor(readonly maxEntries = 10_000) {}

  get size(): number {
    return this.#entries.size;
  }

  remember(info: ObjectInfo): void {
    if (this.maxEntries <= 0 || info.copies.length === 0) return;
    this.#entries.delete(info.objectKey);
    this.#entries.set(info.objectKey, info);
    while (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get(objectKey: string): ObjectInfo | undefined {
    const info = this.#entries.get(objectKey);
    if (info) {
      this.#entries.delete(objectKey);
      this.#entries.set(objectKey, info);
    }
    return info;
  }

  forget(objectKey: string): void {
    this.#entries.delete(objectKey);
  }
}
