import type { BackendHousekeeping } from '../../src/backends/backend-client.js';
import { BackendUnavailableError, type AvailabilityProbe } from '../../src/backends/backend-unavailable.js';

/**
 * An in-process storage backend for worker tests: a map of storage keys to sizes, a log of every
 * call, and switches to make calls fail or hang.
 */
export class FakeBackend implements BackendHousekeeping, AvailabilityProbe {
  readonly objects = new Map<string, { sizeBytes: number; etag: string }>();
  readonly deletes: string[] = [];
  readonly heads: string[] = [];
  /** When set, delete/head throw this error. */
  failWith: Error | undefined;
  /** When set, delete waits for this promise first (a slow backend). */
  gate: Promise<void> | undefined;
  /** When true, the backend is unavailable (as a directory backend whose root is gone): every call throws BackendUnavailableError. */
  down = false;
  checks = 0;

  constructor(readonly name = 'fake') {}

  async checkAvailable(): Promise<void> {
    this.checks++;
    if (this.down) throw new BackendUnavailableError(this.name, `/fake/${this.name}`, 'is down (test)');
  }

  put(storageKey: string, sizeBytes: number, etag = `"etag-${storageKey}"`): void {
    this.objects.set(storageKey, { sizeBytes, etag });
  }

  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    if (this.gate) await this.gate;
    await this.checkAvailable();
    if (this.failWith) throw this.failWith;
    this.deletes.push(storageKey);
    return this.objects.delete(storageKey) ? 'deleted' : 'not-found';
  }

  async head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined> {
    await this.checkAvailable();
    if (this.failWith) throw this.failWith;
    this.heads.push(storageKey);
    return this.objects.get(storageKey);
  }
}
