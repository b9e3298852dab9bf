import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { BackendClient } from './backend-client.js';

/**
 * A backend that is a local directory: storage keys are file paths below it. For running the whole
 * program on one machine without an S3 service; the ETag is the MD5 of the file, as S3 computes it
 * for a single-part upload.
 */
export class DirectoryBackend implements BackendClient {
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    try {
      await unlink(this.#path(storageKey));
      return 'deleted';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'not-found';
      throw err;
    }
  }

  async head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined> {
    const path = this.#path(storageKey);
    try {
      const info = await stat(path);
      const md5 = createHash('md5');
      for await (const chunk of createReadStream(path)) md5.update(chunk as Buffer);
      return { sizeBytes: info.size, etag: `"${md5.digest('hex')}"` };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Keys never escape the directory ("../" and absolute paths are refused). */
  #path(storageKey: string): string {
    const path = resolve(join(this.#root, storageKey));
    if (!path.startsWith(this.#root + sep)) throw new Error(`storage key ${JSON.stringify(storageKey)} leaves the backend directory`);
    return path;
  }
}
