import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig, DatabaseConfig } from '../config/types.js';
import type { StoreApi } from '../store/core/store.js';
import { BackendUnavailableError } from './backend-unavailable.js';

/**
 * The identity marker of a `directory` backend: a small file in the backend's root naming the
 * backend and the database it belongs to. Without it a wrong directory (a relative path read from
 * another working directory, a volume not mounted, another backend's directory) looks like a
 * backend that holds nothing, and the workers would drop intents and finish deletes as "absent".
 *
 * What it holds, and why no table: the backend's name, the database's identity (below) and a random
 * id for the operator's eyes. The database side needs no state of its own: whether the database
 * already records bytes on the backend says whether a missing root is new (create it) or lost
 * (refuse).
 */
export const MARKER_FILE = '.s3-orchestrator-backend.json';

export interface DirectoryMarker {
  readonly format: 1;
  readonly backend: string;
  /** databaseIdentity() of the store that wrote it. */
  readonly database: string;
  readonly id: string;
  readonly createdAt: string;
}

/**
 * The database a backend directory belongs to: the SQLite file's absolute path, or the PostgreSQL
 * database's name. Not the PostgreSQL host: instances legitimately reach one server by different
 * names (localhost, an IP, a service name), while two stores on one server differ by database.
 */
export function databaseIdentity(database: DatabaseConfig): string {
  return database.driver === 'sqlite' ? `sqlite:${database.path}` : `postgres:${database.database}`;
}

export function markerPath(root: string): string {
  return join(root, MARKER_FILE);
}

export interface PrepareOptions {
  readonly backendName: string;
  readonly root: string;
  readonly database: string;
  /** The database records nothing on this backend: a missing or empty root is new, not lost. */
  readonly isNew: boolean;
}

/**
 * Makes sure `root` is this backend's directory: writes the marker on first use (creating the root),
 * checks it otherwise. Throws BackendUnavailableError with the reason in one line.
 */
export async function prepareDirectoryRoot(options: PrepareOptions): Promise<'ready' | 'created'> {
  const { backendName, root } = options;
  const unavailable = (reason: string) => new BackendUnavailableError(backendName, root, reason);
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw unavailable('is not a directory');
    if (code !== 'ENOENT') throw unavailable(`cannot be read (${code ?? (err as Error).message})`);
    if (!options.isNew) throw unavailable('does not exist, but the database records bytes on this backend (a wrong path, or a volume that is not mounted?)');
    await mkdir(root, { recursive: true, mode: 0o700 });
    await writeMarker(root, backendName, options.database);
    return 'created';
  }
  if (!entries.includes(MARKER_FILE)) {
    // Another instance writing the marker at this moment (a fleet starting together on a new
    // directory) leaves only its temporary marker: that is not somebody else's data.
    const others = entries.filter((e) => !(e.startsWith(`${MARKER_FILE}.`) && e.endsWith('.tmp')));
    if (others.length > 0) {
      throw unavailable(
        `holds files but no ${MARKER_FILE}: it is not known as this backend's directory (if it is, write {"backend": ${JSON.stringify(backendName)}} to ${markerPath(root)})`,
      );
    }
    if (!options.isNew) throw unavailable('is empty, but the database records bytes on this backend (a wrong path, or a volume that is not mounted?)');
    await writeMarker(root, backendName, options.database);
    return 'created';
  }
  const marker = await readMarker(root).catch((err: unknown) => {
    throw unavailable(`has an unreadable ${MARKER_FILE} (${(err as Error).message})`);
  });
  if (marker.backend !== backendName) throw unavailable(`belongs to backend ${JSON.stringify(marker.backend)} (says ${markerPath(root)})`);
  if (marker.database === undefined) {
    // Adopted by the operator with a hand-written marker: complete it.
    await writeMarker(root, backendName, options.database, marker.id);
  } else if (marker.database !== options.database) {
    throw unavailable(
      `belongs to database ${JSON.stringify(marker.database)}, not ${JSON.stringify(options.database)} (says ${markerPath(root)}; if the database moved, edit its "database" field)`,
    );
  }
  return 'ready';
}

async function readMarker(root: string): Promise<Partial<DirectoryMarker> & { backend: string }> {
  const value = JSON.parse(await readFile(markerPath(root), 'utf8')) as unknown;
  if (typeof value !== 'object' || value === null || typeof (value as { backend?: unknown }).backend !== 'string') {
    throw new Error('expected a JSON object with a "backend" name');
  }
  const database = (value as { database?: unknown }).database;
  if (database !== undefined && typeof database !== 'string') throw new Error('"database" must be a string');
  return value as Partial<DirectoryMarker> & { backend: string };
}

/** Written to a temporary name and renamed: a crash never leaves half a marker. */
async function writeMarker(root: string, backend: string, database: string, id: string = randomUUID()): Promise<void> {
  const marker: DirectoryMarker = { format: 1, backend, database, id, createdAt: new Date().toISOString() };
  const tmp = join(root, `${MARKER_FILE}.${randomUUID()}.tmp`);
  await writeFile(tmp, JSON.stringify(marker, null, 2) + '\n', { mode: 0o600, flush: true });
  await rename(tmp, markerPath(root));
}

/** Throws BackendUnavailableError unless the root still holds its marker (the cheap check before each action). */
export async function assertMarkerPresent(backendName: string, root: string): Promise<void> {
  try {
    await stat(markerPath(root));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' || code === 'ENOTDIR' ? `has no ${MARKER_FILE} (the directory is gone, or is not this backend's)` : `cannot be read (${code})`;
    throw new BackendUnavailableError(backendName, root, reason);
  }
}

/**
 * Whether the database records anything on the backend: bytes stored, in flight or waiting for
 * deletion, or queued deletes. (A backend holding only zero-byte objects counts as new: its
 * directory has no bytes to lose.)
 */
export async function backendHoldsRecords(store: Pick<StoreApi, 'quota' | 'cleanup'>, backendName: string): Promise<boolean> {
  const quota = (await store.quota.totals()).find((q) => q.backendName === backendName);
  if (quota && quota.bytesUsed + quota.orphanBytes + quota.inflightBytes > 0) return true;
  if ((await store.cleanup.list({ backendName, limit: 1 })).length > 0) return true;
  return (await store.cleanup.listDeadLetters({ backendName, limit: 1 })).length > 0;
}

/** Raised by checkDirectoryBackends: one line per unavailable backend. */
export class DirectoryBackendsUnavailable extends Error {
  constructor(readonly failures: readonly BackendUnavailableError[]) {
    super(failures.map((f) => f.message).join('\n'));
    this.name = 'DirectoryBackendsUnavailable';
  }
}

/**
 * The start-up check of every `directory` backend (`serve` calls it after opening the store and
 * before starting workers or the gateway): each root is created with its marker on first use, or
 * checked. Throws DirectoryBackendsUnavailable naming each backend and path that is unavailable.
 */
export async function checkDirectoryBackends(
  config: Pick<AppConfig, 'backends' | 'database'>,
  store: Pick<StoreApi, 'quota' | 'cleanup'>,
): Promise<{ readonly ready: readonly string[]; readonly created: readonly string[] }> {
  const database = databaseIdentity(config.database);
  const ready: string[] = [];
  const created: string[] = [];
  const failures: BackendUnavailableError[] = [];
  for (const backend of config.backends) {
    if (backend.directory === undefined) continue;
    try {
      const isNew = !(await backendHoldsRecords(store, backend.name));
      const outcome = await prepareDirectoryRoot({ backendName: backend.name, root: backend.directory, database, isNew });
      (outcome === 'created' ? created : ready).push(backend.name);
    } catch (err) {
      if (!(err instanceof BackendUnavailableError)) throw err;
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new DirectoryBackendsUnavailable(failures);
  return { ready, created };
}
