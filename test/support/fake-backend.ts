import type { BackendHousekeeping } from '../../src/backends/backend-client.js';

/**
 * An in-process storage backend for worker tests: a map of storage keys to sizes, a log of every
 * call, and switches to make calls fail or hang.
 */
export class FakeBackend implements BackendHousekeeping {
  readonly objects = new Map<string, { sizeBytes: number; etag: string }>();
  readonly deletes: string[] = [];
  readonly heads: string[] = [];
  /** When set, delete/head throw this error. */
  failWith: Error | undefined;
  /** When set, delete waits for this promise first (a slow backend). */
  gate: Promise<void> | undefined;

  put(storageKey: string, sizeBytes: number, etag = `"etag-${storageKey}"`): void {
    this.objects.set(storageKey, { sizeBytes, etag });
  }

  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    this.deletes.push(storageKey);
    return this.objects.delete(storageKey) ? 'deleted' : 'not-found';
  }

  async head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined> {
    if (this.failWith) throw this.failWith;
    this.heads.push(storageKey);
    return this.objects.get(storageKey);
  }
}
