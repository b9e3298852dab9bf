import type { StoreApi } from '../store/core/store.js';
import { S3Error } from './errors.js';

/** How long a bucket seen to exist is trusted without asking the database again. */
const TRUST_MS = 2000;

/**
 * Answers "does this bucket exist" for every request. Existence is cached briefly: a bucket deleted
 * through another instance may still be seen for TRUST_MS, never longer; the store refuses to delete a
 * bucket that holds objects, so nothing committed in that window is lost from view for good.
 */
export class BucketDirectory {
  readonly #seen = new Map<string, number>();

  constructor(private readonly store: StoreApi) {}

  async require(bucket: string): Promise<void> {
    const seenAt = this.#seen.get(bucket);
    if (seenAt !== undefined && Date.now() - seenAt < TRUST_MS) return;
    const found = await this.store.buckets.get(bucket);
    if (!found) {
      this.#seen.delete(bucket);
      throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: bucket } });
    }
    if (this.#seen.size > 10_000) this.#seen.clear();
    this.#seen.set(bucket, Date.now());
  }

  forget(bucket: string): void {
    this.#seen.delete(bucket);
  }
}
