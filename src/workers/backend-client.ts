/**
 * What the workers need from a storage backend. The gateway's S3 clients implement it; tests use an
 * in-process fake; `directory` backends (local development) use DirectoryBackend.
 */
export interface BackendClient {
  /** Deletes the bytes at `storageKey`. A key that is already gone is not an error (lessons.md #8). */
  delete(storageKey: string): Promise<'deleted' | 'not-found'>;
  /** The bytes at `storageKey`, or undefined when there are none. Throws when the backend cannot answer. */
  head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined>;
}
