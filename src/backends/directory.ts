import { createHash, randomUUID } from 'node:crypto';
import { open, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { multipartEtag } from '../store/core/multipart-etag.js';
import { BackendObjectMissing, type BackendClient, type ByteRange, type MultipartHandle, type PartRef } from './backend-client.js';
import type { AvailabilityProbe } from './backend-unavailable.js';
import { assertMarkerPresent } from './directory-identity.js';
import { storageKeyPath, storageKeySegment, storageKeySegmentOf } from './directory-paths.js';

/** Marks a multipart object: a small file listing its parts (completion moves no bytes). */
const PART_LIST_SUFFIX = '%parts';

interface PartList {
  readonly sizeBytes: number;
  readonly parts: readonly PartRef[];
}

/**
 * A backend that is a local directory (the embedded default). Objects live below `objects/`, one
 * file per storage key; a write goes to `tmp/`, is fsynced and renamed into place, so a storage key
 * holds either nothing or every byte. A multipart object is a part list beside its part files: the
 * parts are already on this disk, so completion writes a few hundred bytes instead of copying the
 * object, and the quota stays exact (the parts' bytes become the object's bytes).
 *
 * head and delete first check the root's identity marker (directory-identity.ts): without it, a
 * missing file would say nothing about the object, so they throw BackendUnavailableError instead
 * of answering "absent". The marker is written by checkDirectoryBackends at start-up.
 */
export class DirectoryBackend implements BackendClient, AvailabilityProbe {
  readonly root: string;
  readonly #objects: string;
  readonly #tmp: string;

  constructor(
    readonly name: string,
    root: string,
  ) {
    this.root = resolve(root);
    this.#objects = join(this.root, 'objects');
    this.#tmp = join(this.root, 'tmp');
  }

  async put(storageKey: string, body: Readable, sizeBytes: number): Promise<void> {
    const target = this.#path(storageKey);
    // mkdir below would re-create a root that vanished: write only into the marked root.
    await this.checkAvailable();
    await mkdir(this.#tmp, { recursive: true });
    const tmp = join(this.#tmp, randomUUID());
    const file = await open(tmp, 'wx', 0o600);
    // With autoClose off the stream keeps a reference on the handle until it is destroyed, and
    // file.close() waits for that reference: without the destroy below, put never returned.
    const out = file.createWriteStream({ autoClose: false });
    let written = 0;
    try {
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(body, count, out);
      if (written !== sizeBytes) throw new Error(`the body was ${written} bytes; ${sizeBytes} were declared`);
      await file.sync();
      out.destroy();
      await file.close();
      await this.#renameIntoPlace(tmp, target);
    } catch (err) {
      out.destroy();
      await file.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(storageKey: string, range?: ByteRange): Promise<Readable> {
    const path = this.#path(storageKey);
    try {
      const file = await open(path, 'r');
      return file.createReadStream(range ? { start: range.start, end: range.end } : {});
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const list = await this.#readPartList(path);
    if (!list) throw new BackendObjectMissing(this.name, storageKey);
    return Readable.from(this.#readParts(list, range ?? { start: 0, end: list.sizeBytes - 1 }));
  }

  /** Throws BackendUnavailableError unless the root still carries its marker. */
  checkAvailable(): Promise<void> {
    return assertMarkerPresent(this.name, this.root);
  }

  async head(storageKey: string): Promise<{ sizeBytes: number; etag: string } | undefined> {
    await this.checkAvailable();
    const path = this.#path(storageKey);
    try {
      const info = await stat(path);
      return { sizeBytes: info.size, etag: `"${await this.#md5(path)}"` };
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const list = await this.#readPartList(path);
    if (!list) {
      // Checked again: a root that vanished during the call must not turn into "absent".
      await this.checkAvailable();
      return undefined;
    }
    const md5s: string[] = [];
    for (const part of list.parts) md5s.push(await this.#md5(this.#path(part.storageKey)));
    return { sizeBytes: list.sizeBytes, etag: multipartEtag(md5s) };
  }

  /**
   * The storage keys of the part files the multipart object at `storageKey` is made of (its part
   * list), or undefined when `storageKey` is not such an object. For the backend check: a completed
   * upload's parts stay files of their own, which the metadata knows only through the object.
   */
  async partKeys(storageKey: string): Promise<string[] | undefined> {
    await this.checkAvailable();
    return (await this.#readPartList(this.#path(storageKey)))?.parts.map((p) => p.storageKey);
  }

  async delete(storageKey: string): Promise<'deleted' | 'not-found'> {
    await this.checkAvailable();
    const path = this.#path(storageKey);
    try {
      await unlink(path);
      await this.#pruneEmptyDirectories(dirname(path));
      return 'deleted';
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const list = await this.#readPartList(path);
    if (!list) {
      await this.checkAvailable();
      return 'not-found';
    }
    // Parts first, the list last: a delete interrupted half-way is finished by its retry.
    for (const part of list.parts) await this.delete(part.storageKey);
    await unlink(path + PART_LIST_SUFFIX).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
    await this.#pruneEmptyDirectories(dirname(path));
    return 'deleted';
  }

  async createMultipart(): Promise<string> {
    return '';
  }

  /** A part is a file of its own (the store gives it a storage key); completion lists them. */
  async putPart(_upload: MultipartHandle, part: PartRef, body: Readable): Promise<void> {
    await this.put(part.storageKey, body, part.sizeBytes);
  }

  async completeMultipart(upload: MultipartHandle, parts: readonly PartRef[]): Promise<void> {
    await this.#writePartList(upload.storageKey, parts);
  }

  /** Nothing to do: the store queues the parts' storage keys for deletion. */
  async abortMultipart(): Promise<void> {}

  async #writePartList(storageKey: string, parts: readonly PartRef[]): Promise<void> {
    for (const part of parts) {
      const info = await stat(this.#path(part.storageKey)).catch((err: unknown) => {
        if (isMissing(err)) throw new BackendObjectMissing(this.name, part.storageKey);
        throw err;
      });
      if (info.size !== part.sizeBytes) throw new Error(`part ${JSON.stringify(part.storageKey)} holds ${info.size} bytes, ${part.sizeBytes} expected`);
    }
    const list: PartList = { sizeBytes: parts.reduce((sum, p) => sum + p.sizeBytes, 0), parts };
    await mkdir(this.#tmp, { recursive: true });
    const tmp = join(this.#tmp, randomUUID());
    try {
      await writeFile(tmp, JSON.stringify(list), { mode: 0o600, flush: true });
      await this.#renameIntoPlace(tmp, this.#path(storageKey) + PART_LIST_SUFFIX);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async partRange(storageKey: string, partNumber: number): Promise<ByteRange | undefined> {
    const list = await this.#readPartList(this.#path(storageKey));
    if (!list || partNumber < 1 || partNumber > list.parts.length) return undefined;
    let start = 0;
    for (let i = 0; i < partNumber - 1; i++) start += list.parts[i]!.sizeBytes;
    return { start, end: start + list.parts[partNumber - 1]!.sizeBytes - 1 };
  }

  /**
   * The storage keys below `prefix`. Files are found by their escaped names: the directory of the
   * prefix's complete segments is read, and every file whose name continues its last (partial)
   * segment is a key (below it, every file of a matching subdirectory). A segment too long for a file
   * name is stored under its hash and cannot be matched by prefix: such names are skipped, and a
   * prefix whose own keys would all be hashed is refused rather than answered with a false "none".
   */
  async list(prefix: string): Promise<string[]> {
    await this.checkAvailable();
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash < 0 ? '' : prefix.slice(0, slash);
    const partial = prefix.slice(slash + 1);
    const escaped = partial.replaceAll('%', '%25');
    // A version key adds a 36-character id to the prefix's last segment.
    if (Buffer.byteLength(escaped, 'utf8') + 36 > 200) throw new Error(`backend ${JSON.stringify(this.name)} cannot list keys by the prefix ${JSON.stringify(prefix.slice(0, 80))}: its file names are hashed`);
    const dir = slash < 0 ? this.#objects : join(this.#objects, storageKeyPath(dirKey));
    const keys: string[] = [];
    const base = slash < 0 ? '' : `${dirKey}/`;
    for (const entry of await this.#entries(dir)) {
      if (!entry.name.startsWith(escaped)) continue;
      if (entry.isDirectory()) {
        const segment = storageKeySegmentOf(entry.name);
        if (segment !== undefined) await this.#walk(join(dir, entry.name), `${base}${segment}/`, keys);
      } else if (entry.isFile()) {
        const key = this.#keyOfFile(entry.name);
        if (key !== undefined && key.startsWith(partial)) keys.push(base + key);
      }
    }
    // Checked again: a root that vanished during the walk must not turn into "no keys".
    await this.checkAvailable();
    return keys;
  }

  async #walk(dir: string, base: string, keys: string[]): Promise<void> {
    for (const entry of await this.#entries(dir)) {
      if (entry.isDirectory()) {
        const segment = storageKeySegmentOf(entry.name);
        if (segment !== undefined) await this.#walk(join(dir, entry.name), `${base}${segment}/`, keys);
      } else if (entry.isFile()) {
        const key = this.#keyOfFile(entry.name);
        if (key !== undefined) keys.push(base + key);
      }
    }
  }

  async #entries(dir: string) {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  /** A file's storage-key segment (a part list stands for its object's key); undefined for hashed names. */
  #keyOfFile(name: string): string | undefined {
    const file = name.endsWith(PART_LIST_SUFFIX) ? name.slice(0, -PART_LIST_SUFFIX.length) : name;
    const segment = storageKeySegmentOf(file);
    return segment !== undefined && storageKeySegment(segment) === file ? segment : undefined;
  }

  async *#readParts(list: PartList, range: ByteRange): AsyncGenerator<Buffer> {
    let offset = 0;
    for (const part of list.parts) {
      const partStart = offset;
      const partEnd = offset + part.sizeBytes - 1;
      offset += part.sizeBytes;
      if (part.sizeBytes === 0 || partEnd < range.start || partStart > range.end) continue;
      const file = await open(this.#path(part.storageKey), 'r');
      const stream = file.createReadStream({ start: Math.max(range.start, partStart) - partStart, end: Math.min(range.end, partEnd) - partStart });
      for await (const chunk of stream) yield chunk as Buffer;
    }
  }

  async #readPartList(path: string): Promise<PartList | undefined> {
    try {
      return JSON.parse(await readFile(path + PART_LIST_SUFFIX, 'utf8')) as PartList;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async #md5(path: string): Promise<string> {
    const md5 = createHash('md5');
    const file = await open(path, 'r');
    for await (const chunk of file.createReadStream()) md5.update(chunk as Buffer);
    return md5.digest('hex');
  }

  /** Renames and makes the rename durable (the directory entry is fsynced too). */
  async #renameIntoPlace(tmp: string, target: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(tmp, target);
        break;
      } catch (err) {
        // A concurrent delete may prune the directory between mkdir and rename: make it again.
        if (!isMissing(err) || attempt >= 3) throw err;
      }
    }
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Removes directories left empty by a delete, up to objects/ (they would pile up otherwise). */
  async #pruneEmptyDirectories(dir: string): Promise<void> {
    while (dir.startsWith(this.#objects + '/')) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, or already gone
      }
      dir = dirname(dir);
    }
  }

  #path(storageKey: string): string {
    return join(this.#objects, storageKeyPath(storageKey));
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
