import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { NoSpaceError, NotFoundError, PreconditionFailedError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import type { CleanupTask, WriteIntent } from '../src/store/core/types.js';
import type { ManualClock } from './support/clock.js';
import { describeEngines, type EngineName } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

/**
 * Property test of the core (spec §6): a seeded generator drives a few thousand random operations
 * (writes, overwrites, aborted and abandoned writes resolved by the reaper API, deletes, multipart
 * uploads, copies, cleanup processing with failures, dead letters and abandoned claims) against a
 * store with two limited backends and an unlimited one, over a small key space. A model in the test
 * predicts every outcome exactly (including NoSpace / NotFound / PreconditionFailed), and at
 * checkpoints the store is compared with it: copies, listing, cleanup rows, intents, uploads and the
 * ledger counters, plus I1-I3 and the escrow identity (expectLedgerConsistent).
 *
 * Reproduce a failure with PROPERTY_SEED=<seed> (printed in the title and on failure, with the log of
 * operations); PROPERTY_OPS changes the number of operations. The Postgres engine picks quota stripes
 * at random and ids differ between runs; neither changes an outcome.
 */

afterEach(closeStores);

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const BACKENDS = [
  { name: 'alpha', bytesLimit: 24 * MiB },
  { name: 'beta', bytesLimit: 40 * MiB },
  { name: 'gamma', bytesLimit: 0 },
] as const;
const BACKEND_NAMES: readonly string[] = BACKENDS.map((b) => b.name);
const LIMITS = new Map<string, number>(BACKENDS.map((b) => [b.name, b.bytesLimit]));
/** The config's cleanup.maxAttempts (appConfig in test/support/engines.ts). */
const MAX_ATTEMPTS = 10;
const GRACE_MS = 30_000;
const CHECK_EVERY = 500;
const OPERATIONS = parseIntEnv('PROPERTY_OPS', 3000);
const SEED = parseIntEnv('PROPERTY_SEED', 0x5eed2026) >>> 0;

/** 40 keys; a few outside ASCII so that byte order and UTF-16 order differ (U+FB00 vs U+1F600). */
const KEYS: readonly string[] = [
  ...Array.from({ length: 34 }, (_, i) => `bkt/k${String(i).padStart(2, '0')}`),
  'bkt/dir/a',
  'bkt/dir/b',
  'bkt/é',
  'bkt/Ω',
  'bkt/\u{fb00}',
  'bkt/\u{1f600}',
];

function parseIntEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** mulberry32: a tiny, good-enough 32-bit PRNG. */
class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** 0 .. n-1 */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of choices) {
      if (r < w) return v;
      r -= w;
    }
    return choices[choices.length - 1]![1];
  }
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

/** S3's multipart ETag, written independently of the code under test. */
function expectedMultipartEtag(partEtags: readonly string[]): string {
  const md5 = createHash('md5');
  for (const raw of partEtags) {
    const e = unquote(raw);
    md5.update(/^[0-9a-f]{32}$/i.test(e) ? Buffer.from(e, 'hex') : Buffer.from(e, 'utf8'));
  }
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}

function backoffMs(attempts: number): number {
  return Math.min(60_000 * 2 ** attempts, 24 * 3600_000);
}

function short(id: string): string {
  return id.slice(0, 8);
}

type ErrorClass = new (...args: never[]) => Error;

/** The call must fail with exactly this error class; any other error propagates and fails the test. */
async function rejects(call: Promise<unknown>, cls: ErrorClass, label: string): Promise<void> {
  let value: unknown;
  try {
    value = await call;
  } catch (err) {
    if (err instanceof cls) return;
    throw err;
  }
  throw new Error(`${label}: expected ${cls.name}, but the call succeeded with ${JSON.stringify(value)}`);
}

interface ModelObject {
  size: number;
  etag: string;
  createdAt: number;
  /** backend -> storage key */
  copies: Map<string, string>;
}

interface ModelCleanupRow {
  backend: string;
  storageKey: string;
  objectKey: string;
  size: number;
  reason: string;
  attempts: number;
  nextRetry: number;
  claimedBy: string | null;
  /** Its deletes keep failing (a broken corner of a backend): it may end as a dead letter. */
  poisoned: boolean;
  /** Known once a claim returned the row; a requeued dead letter gets a new id. */
  id: number | undefined;
  dlq: boolean;
}

interface ModelPart {
  size: number;
  etag: string;
  storageKey: string;
}

interface ModelUpload {
  uploadId: string;
  objectKey: string;
  backend: string;
  storageKey: string;
  parts: Map<number, ModelPart>;
}

interface Counters {
  used: number;
  orphan: number;
  inflight: number;
}

class Simulation {
  readonly objects = new Map<string, ModelObject>();
  /** Cleanup queue and dead-letter rows, by storage key (every storage key is queued at most once). */
  readonly cleanup = new Map<string, ModelCleanupRow>();
  readonly intents = new Map<string, WriteIntent>();
  readonly resolved: WriteIntent[] = [];
  readonly uploads = new Map<string, ModelUpload>();
  readonly goneUploads: string[] = [];
  readonly staleClaims: { task: CleanupTask; worker: string }[] = [];
  /**
   * The true order of events, which timestamps cannot always give (several events share a clock
   * tick): the sequence number of each key's last installed version (kept after a delete), of its
   * last delete, and of each intent's creation. The reaper's promote is judged by it (spec §6:
   * superseded when a newer write of the key committed after the intent was created).
   */
  readonly lastInstall = new Map<string, number>();
  readonly lastDelete = new Map<string, number>();
  readonly intentSeq = new Map<string, number>();
  #seq = 0;
  readonly log: string[] = [];
  readonly stats = new Map<string, number>();
  #line: string[] = [];
  #etags = 0;
  op = 0;

  constructor(
    readonly store: MetadataStore,
    readonly clock: ManualClock,
    readonly rng: Rng,
  ) {}

  // ---- bookkeeping ----------------------------------------------------------------------------

  note(text: string): void {
    this.#line.push(text);
  }

  count(what: string): void {
    this.stats.set(what, (this.stats.get(what) ?? 0) + 1);
  }

  flushLine(prefix: string): void {
    if (this.#line.length > 0) this.log.push(`${prefix} ${this.#line.join(' ')}`);
    this.#line = [];
  }

  get now(): number {
    return this.clock.now().getTime();
  }

  newEtag(): string {
    return `"${createHash('md5').update(`${SEED}:${this.#etags++}`).digest('hex')}"`;
  }

  randomSize(): number {
    return this.rng.weighted<() => number>([
      [1, () => 0],
      [4, () => this.rng.between(1, 256 * 1024)],
      [4, () => this.rng.between(256 * 1024, 3 * MiB)],
      [1, () => this.rng.between(3 * MiB, 8 * MiB)],
    ])();
  }

  totals(): Map<string, Counters> {
    const t = new Map<string, Counters>(BACKEND_NAMES.map((b) => [b, { used: 0, orphan: 0, inflight: 0 }]));
    for (const o of this.objects.values()) for (const b of o.copies.keys()) t.get(b)!.used += o.size;
    for (const r of this.cleanup.values()) t.get(r.backend)!.orphan += r.size;
    for (const i of this.intents.values()) t.get(i.backendName)!.inflight += i.sizeBytes;
    for (const u of this.uploads.values()) for (const p of u.parts.values()) t.get(u.backend)!.inflight += p.size;
    return t;
  }

  hasRoom(backend: string, size: number): boolean {
    const limit = LIMITS.get(backend)!;
    if (limit === 0) return true;
    const c = this.totals().get(backend)!;
    return c.used + c.orphan + c.inflight + size <= limit;
  }

  enqueue(backend: string, storageKey: string, objectKey: string, size: number, reason: string): void {
    if (this.cleanup.has(storageKey)) throw new Error(`model error: ${storageKey} queued twice`);
    this.cleanup.set(storageKey, { backend, storageKey, objectKey, size, reason, attempts: 0, nextRetry: this.now, claimedBy: null, poisoned: this.rng.chance(0.1), id: undefined, dlq: false });
  }

  /** Commit write / promote / complete: the new version replaces every copy. Returns the displaced storage keys. */
  installVersion(key: string, backend: string, storageKey: string, size: number, etag: string): string[] {
    const old = this.objects.get(key);
    const displaced: string[] = [];
    if (old) {
      for (const [b, sk] of old.copies) {
        this.enqueue(b, sk, key, old.size, 'overwritten');
        displaced.push(sk);
      }
    }
    this.objects.set(key, { size, etag, createdAt: this.now, copies: new Map([[backend, storageKey]]) });
    this.lastInstall.set(key, ++this.#seq);
    return displaced.sort();
  }

  addIntent(intent: WriteIntent): void {
    this.intents.set(intent.intentId, intent);
    this.intentSeq.set(intent.intentId, ++this.#seq);
  }

  deleted(key: string): void {
    this.objects.delete(key);
    this.lastDelete.set(key, ++this.#seq);
  }

  resolveIntent(intent: WriteIntent): void {
    if (!this.intents.delete(intent.intentId)) throw new Error(`model error: intent ${intent.intentId} was not pending`);
    this.intentSeq.delete(intent.intentId);
    this.resolved.push(intent);
    if (this.resolved.length > 50) this.resolved.shift();
  }

  /** commitCopyInTx in the model: the copy joins only the same version, on a backend without a copy. */
  modelCommitCopy(intent: WriteIntent): 'committed' | 'superseded' {
    const obj = this.objects.get(intent.objectKey);
    const sameVersion = obj !== undefined && obj.etag === intent.etag && obj.size === intent.sizeBytes;
    if (!sameVersion || obj.copies.has(intent.backendName)) {
      this.enqueue(intent.backendName, intent.storageKey, intent.objectKey, intent.sizeBytes, 'superseded');
      return 'superseded';
    }
    obj.copies.set(intent.backendName, intent.storageKey);
    return 'committed';
  }

  /** commitPartInTx in the model. */
  modelCommitPart(intent: WriteIntent, etag: string): 'committed' | 'upload-gone' {
    const upload = this.uploads.get(intent.uploadId!);
    if (!upload) {
      this.enqueue(intent.backendName, intent.storageKey, intent.objectKey, intent.sizeBytes, 'upload-gone');
      return 'upload-gone';
    }
    const old = upload.parts.get(intent.partNumber!);
    if (old) this.enqueue(upload.backend, old.storageKey, upload.objectKey, old.size, 'part-replaced');
    upload.parts.set(intent.partNumber!, { size: intent.sizeBytes, etag, storageKey: intent.storageKey });
    return 'committed';
  }

  existingKey(): string | undefined {
    const keys = [...this.objects.keys()];
    return keys.length > 0 ? this.rng.pick(keys) : undefined;
  }

  // ---- the run -----------------------------------------------------------------------------------

  async step(): Promise<void> {
    this.clock.advance(this.rng.int(3));
    const op = this.rng.weighted<() => Promise<void>>([
      [18, async () => void (await this.put('commit', false))],
      [10, async () => void (await this.put('commit', true))],
      [5, async () => void (await this.put('abort', this.rng.chance(0.5)))],
      [6, async () => void (await this.put('pending', this.rng.chance(0.5)))],
      [2, () => this.race()],
      [9, () => this.resolvePending()],
      [2, () => this.reResolve()],
      [7, () => this.deleteOne()],
      [3, () => this.deleteMany()],
      [3, () => this.createUpload()],
      [7, () => this.uploadPart()],
      [3, () => this.completeUpload()],
      [1.5, () => this.abortUpload()],
      [6, () => this.addCopy(false)],
      [2, () => this.addCopy(true)],
      [5, () => this.removeCopy()],
      [7, () => this.processCleanup()],
      [1.5, () => this.staleClaim()],
      [1, () => this.operator()],
      [3, () => this.tick()],
    ]);
    await op();
  }

  async put(mode: 'commit' | 'abort' | 'pending', overwrite: boolean, forcedKey?: string): Promise<WriteIntent | undefined> {
    const key = forcedKey ?? (overwrite ? this.existingKey() : undefined) ?? this.rng.pick(KEYS);
    const size = this.randomSize();
    const explicit = this.rng.chance(0.35) ? this.rng.pick(BACKEND_NAMES) : undefined;
    const beginEtag = this.rng.chance(0.4) ? this.newEtag() : undefined;
    const expected = explicit !== undefined ? (this.hasRoom(explicit, size) ? explicit : undefined) : BACKEND_NAMES.find((b) => this.hasRoom(b, size));
    this.note(`put[${mode}] ${key} size=${size} on=${explicit ?? '*'}${beginEtag ? ' etag@begin' : ''}`);
    const input = { objectKey: key, sizeBytes: size, ...(beginEtag ? { etag: beginEtag } : {}), ...(explicit ? { backendName: explicit } : {}) };
    if (expected === undefined) {
      await rejects(this.store.objects.beginWrite(input), NoSpaceError, 'beginWrite');
      this.note('-> NoSpace');
      this.count('put:NoSpace');
      return undefined;
    }
    const intent = await this.store.objects.beginWrite(input);
    this.note(`-> ${intent.backendName} intent=${short(intent.intentId)}`);
    expect(
      { backend: intent.backendName, kind: intent.kind, key: intent.objectKey, size: intent.sizeBytes, etag: intent.etag, at: intent.createdAt.getTime() },
      'beginWrite intent',
    ).toEqual({ backend: expected, kind: 'write', key, size, etag: beginEtag ?? null, at: this.now });
    this.addIntent(intent);
    if (mode === 'pending') {
      this.count('put:left-pending');
      return intent;
    }
    if (mode === 'abort') {
      expect(await this.store.objects.abortWrite(intent), 'abortWrite').toBe(true);
      this.resolveIntent(intent);
      this.enqueue(intent.backendName, intent.storageKey, key, size, 'aborted');
      this.note('-> aborted');
      this.count('put:aborted');
      return intent;
    }
    if (forcedKey === undefined && this.rng.chance(0.3)) this.clock.advance(this.rng.int(3));
    const commitEtag = beginEtag === undefined || this.rng.chance(0.3) ? this.newEtag() : undefined;
    const result = await this.store.objects.commitWrite(intent, commitEtag ? { etag: commitEtag } : {});
    this.resolveIntent(intent);
    const displaced = this.installVersion(key, intent.backendName, intent.storageKey, size, commitEtag ?? beginEtag!);
    this.note(`-> committed displaced=${displaced.length}`);
    this.count(overwrite ? 'put:overwrite' : 'put:committed');
    this.expectCommitResult(result, key, intent.backendName, intent.storageKey, size, commitEtag ?? beginEtag!, displaced);
    return intent;
  }

  /**
   * Two writers of one key: A's intent is recorded, then B commits (in the same clock tick, or one
   * later), then the reaper finds A's bytes: B committed after A's intent was created, so A must not
   * replace B (spec §6, promote), also when both happened in the same clock tick.
   */
  async race(): Promise<void> {
    const key = this.rng.pick(KEYS);
    this.note('race:');
    const a = await this.put('pending', false, key);
    if (!a) return;
    const later = this.rng.chance(0.5);
    if (later) this.clock.advance(1);
    this.note(later ? '| B one tick later:' : '| B in the same tick:');
    const b = await this.put('commit', false, key);
    if (!b || !this.rng.chance(0.7)) return;
    this.clock.advance(this.rng.int(3));
    this.note('| reaper promotes A:');
    this.count(`race:${later ? 'later' : 'same-tick'}`);
    await this.promote(a, false);
  }

  expectCommitResult(
    result: { copy: { objectKey: string; backendName: string; storageKey: string; sizeBytes: number; etag: string; createdAt: Date }; displaced: readonly { storageKey: string }[] },
    key: string,
    backend: string,
    storageKey: string,
    size: number,
    etag: string,
    displaced: string[],
  ): void {
    const c = result.copy;
    expect(
      { key: c.objectKey, backend: c.backendName, storageKey: c.storageKey, size: c.sizeBytes, etag: c.etag, at: c.createdAt.getTime(), displaced: result.displaced.map((d) => d.storageKey).sort() },
      'commit result',
    ).toEqual({ key, backend, storageKey, size, etag, at: this.now, displaced });
  }

  /** The reaper (promote / drop) or the writer (commit / abort) resolves a pending intent of any kind. */
  async resolvePending(): Promise<void> {
    const pending = [...this.intents.values()];
    if (pending.length === 0) return void (await this.put('pending', false));
    const intent = this.rng.pick(pending);
    this.note(`resolve ${intent.kind} intent=${short(intent.intentId)} ${intent.objectKey} on=${intent.backendName} size=${intent.sizeBytes}`);

    if (this.rng.chance(0.1)) {
      // The wrong commit for the intent's kind is refused and changes nothing.
      if (intent.kind === 'write') await rejects(this.store.objects.commitCopy(intent), PreconditionFailedError, 'commitCopy of a write intent');
      else await rejects(this.store.objects.commitWrite(intent, { etag: this.newEtag() }), PreconditionFailedError, `commitWrite of a ${intent.kind} intent`);
      if (intent.kind !== 'part') await rejects(this.store.multipart.commitPart(intent, { etag: this.newEtag() }), PreconditionFailedError, 'commitPart of a non-part intent');
      this.note('(wrong-kind commits refused)');
    }

    const how = this.rng.weighted([
      [35, 'promote'],
      [10, 'promote-mismatch'],
      [20, 'drop'],
      [25, 'commit'],
      [10, 'abort'],
    ] as const);
    this.note(how);
    this.count(`resolve:${intent.kind}:${how}`);
    switch (how) {
      case 'promote':
      case 'promote-mismatch':
        return this.promote(intent, how === 'promote-mismatch');
      case 'drop':
        expect(await this.store.intents.drop(intent), 'drop').toBe(true);
        this.resolveIntent(intent);
        return;
      case 'abort':
        expect(await this.store.objects.abortWrite(intent), 'abortWrite').toBe(true);
        this.resolveIntent(intent);
        this.enqueue(intent.backendName, intent.storageKey, intent.objectKey, intent.sizeBytes, 'aborted');
        return;
      case 'commit':
        return this.commitPending(intent);
    }
  }

  async promote(intent: WriteIntent, mismatch: boolean): Promise<void> {
    let found: { sizeBytes: number; etag: string };
    if (!mismatch) {
      const etag = intent.kind !== 'part' && intent.etag !== null ? (this.rng.chance(0.5) ? unquote(intent.etag) : intent.etag) : this.newEtag();
      found = { sizeBytes: intent.sizeBytes, etag };
    } else if (intent.kind !== 'part' && intent.etag !== null && this.rng.chance(0.5)) {
      found = { sizeBytes: intent.sizeBytes, etag: this.newEtag() };
    } else {
      found = { sizeBytes: intent.sizeBytes + this.rng.between(1, 1000), etag: intent.etag ?? this.newEtag() };
    }
    const createdSeq = this.intentSeq.get(intent.intentId)!;
    const outcome = await this.store.intents.promote(intent, found);
    this.resolveIntent(intent);
    let expected: string;
    const etagMatches = intent.kind === 'part' || intent.etag === null || unquote(intent.etag) === unquote(found.etag);
    if (found.sizeBytes !== intent.sizeBytes || !etagMatches) {
      this.enqueue(intent.backendName, intent.storageKey, intent.objectKey, intent.sizeBytes, 'size-mismatch');
      expected = 'discarded';
    } else if (intent.kind === 'copy') {
      expected = this.modelCommitCopy(intent);
    } else if (intent.kind === 'part') {
      expected = this.modelCommitPart(intent, found.etag) === 'committed' ? 'committed' : 'superseded';
    } else {
      // Superseded when any write of the key committed after the intent was created, even one that
      // shares the intent's clock tick, and even one that was deleted since: the crashed write was
      // never acknowledged, the newer one was. Dropping the unacknowledged write is also accepted
      // when the spec does not decide: after a later delete of the key (§6 speaks of newer writes
      // only), or when the current version committed before the intent but in the same clock tick
      // (the store cannot tell that order).
      const key = intent.objectKey;
      const current = this.objects.get(key);
      const sameTick = current !== undefined && current.createdAt === intent.createdAt.getTime();
      const deletedSince = (this.lastDelete.get(key) ?? 0) > createdSeq;
      if ((this.lastInstall.get(key) ?? 0) > createdSeq || ((sameTick || deletedSince) && outcome === 'superseded')) {
        this.enqueue(intent.backendName, intent.storageKey, intent.objectKey, intent.sizeBytes, 'superseded');
        expected = 'superseded';
      } else {
        this.installVersion(intent.objectKey, intent.backendName, intent.storageKey, intent.sizeBytes, found.etag);
        expected = 'committed';
      }
    }
    this.note(`-> ${outcome}`);
    expect(outcome, `promote of ${intent.kind} intent ${intent.intentId} (expected ${expected})`).toBe(expected);
  }

  async commitPending(intent: WriteIntent): Promise<void> {
    if (intent.kind === 'write') {
      const etag = intent.etag === null || this.rng.chance(0.3) ? this.newEtag() : undefined;
      const result = await this.store.objects.commitWrite(intent, etag ? { etag } : {});
      this.resolveIntent(intent);
      const displaced = this.installVersion(intent.objectKey, intent.backendName, intent.storageKey, intent.sizeBytes, etag ?? intent.etag!);
      this.expectCommitResult(result, intent.objectKey, intent.backendName, intent.storageKey, intent.sizeBytes, etag ?? intent.etag!, displaced);
      this.note(`-> committed displaced=${displaced.length}`);
    } else if (intent.kind === 'copy') {
      const result = await this.store.objects.commitCopy(intent);
      this.resolveIntent(intent);
      const expected = this.modelCommitCopy(intent);
      this.note(`-> ${result.status}`);
      expect(result.status, 'commitCopy of a pending copy intent').toBe(expected);
    } else {
      const etag = this.newEtag();
      const expectGone = !this.uploads.has(intent.uploadId!);
      if (expectGone) {
        await rejects(this.store.multipart.commitPart(intent, { etag }), NotFoundError, 'commitPart after the upload ended');
        this.note('-> NotFound (upload gone)');
      } else {
        const part = await this.store.multipart.commitPart(intent, { etag });
        expect({ n: part.partNumber, size: part.sizeBytes, etag: part.etag, sk: part.storageKey }, 'commitPart').toEqual({
          n: intent.partNumber,
          size: intent.sizeBytes,
          etag,
          sk: intent.storageKey,
        });
        this.note('-> part committed');
      }
      this.resolveIntent(intent);
      this.modelCommitPart(intent, etag);
    }
  }

  /** Resolving an intent that is no longer pending: refused, or reported as gone. */
  async reResolve(): Promise<void> {
    if (this.resolved.length === 0) return void (await this.put('commit', false));
    const intent = this.rng.pick(this.resolved);
    const how = this.rng.pick(['commit', 'promote', 'drop', 'abort'] as const);
    this.note(`re-resolve ${intent.kind} intent=${short(intent.intentId)} by ${how}`);
    this.count('re-resolve');
    switch (how) {
      case 'commit':
        if (intent.kind === 'write') await rejects(this.store.objects.commitWrite(intent, { etag: this.newEtag() }), PreconditionFailedError, 'commitWrite again');
        else if (intent.kind === 'copy') await rejects(this.store.objects.commitCopy(intent), PreconditionFailedError, 'commitCopy again');
        else await rejects(this.store.multipart.commitPart(intent, { etag: this.newEtag() }), PreconditionFailedError, 'commitPart again');
        return;
      case 'promote':
        expect(await this.store.intents.promote(intent, { sizeBytes: intent.sizeBytes, etag: intent.etag ?? this.newEtag() }), 'promote again').toBe('gone');
        return;
      case 'drop':
        expect(await this.store.intents.drop(intent), 'drop again').toBe(false);
        return;
      case 'abort':
        expect(await this.store.objects.abortWrite(intent), 'abortWrite again').toBe(false);
        return;
    }
  }

  async deleteOne(): Promise<void> {
    const key = (this.rng.chance(0.7) ? this.existingKey() : undefined) ?? this.rng.pick(KEYS);
    this.note(`delete ${key}`);
    const obj = this.objects.get(key);
    if (!obj) {
      await rejects(this.store.objects.deleteObject(key), NotFoundError, 'deleteObject of a missing key');
      this.note('-> NotFound');
      this.count('delete:NotFound');
      return;
    }
    const copies = await this.store.objects.deleteObject(key);
    this.deleted(key);
    for (const [b, sk] of obj.copies) this.enqueue(b, sk, key, obj.size, 'deleted');
    this.note(`-> ${copies.length} copies`);
    this.count('delete:ok');
    expect(copies.map((c) => `${c.backendName}:${c.storageKey}:${c.sizeBytes}`).sort(), 'deleted copies').toEqual(
      [...obj.copies].map(([b, sk]) => `${b}:${sk}:${obj.size}`).sort(),
    );
  }

  async deleteMany(): Promise<void> {
    const keys = Array.from({ length: this.rng.between(1, 6) }, () => (this.rng.chance(0.6) ? this.existingKey() : undefined) ?? this.rng.pick(KEYS));
    this.note(`deleteObjects ${keys.join(',')}`);
    this.count('deleteObjects');
    const result = await this.store.objects.deleteObjects(keys);
    const unique = [...new Set(keys)].sort(compareUtf8);
    const expectedDeleted: string[] = [];
    const expectedMissing: string[] = [];
    for (const key of unique) {
      const obj = this.objects.get(key);
      if (!obj) {
        expectedMissing.push(key);
        continue;
      }
      this.deleted(key);
      for (const [b, sk] of obj.copies) {
        this.enqueue(b, sk, key, obj.size, 'deleted');
        expectedDeleted.push(`${key}|${b}:${sk}`);
      }
    }
    const actualDeleted = result.deleted.flatMap((d) => d.copies.map((c) => `${d.objectKey}|${c.backendName}:${c.storageKey}`));
    expect(actualDeleted.sort(), 'deleteObjects: deleted copies').toEqual(expectedDeleted.sort());
    expect([...result.notFound].sort(), 'deleteObjects: not found').toEqual(expectedMissing.sort());
  }

  async createUpload(): Promise<void> {
    if (this.uploads.size >= 6) return this.rng.chance(0.7) ? this.completeUpload() : this.abortUpload();
    const key = this.rng.pick(KEYS);
    // Uploads left to placement land on alpha, the first backend, which is often full: most go elsewhere.
    const explicit = this.rng.chance(0.7) ? this.rng.weighted([[1, 'alpha'], [1, 'beta'], [2, 'gamma']] as const) : undefined;
    const expected = explicit ?? BACKEND_NAMES.find((b) => this.hasRoom(b, 0))!;
    this.note(`createUpload ${key} on=${explicit ?? '*'}`);
    this.count('createUpload');
    const upload = await this.store.multipart.createUpload({ objectKey: key, ...(explicit ? { backendName: explicit } : {}) });
    this.note(`-> ${short(upload.uploadId)} on ${upload.backendName}`);
    expect({ key: upload.objectKey, backend: upload.backendName }, 'createUpload').toEqual({ key, backend: expected });
    this.uploads.set(upload.uploadId, { uploadId: upload.uploadId, objectKey: key, backend: upload.backendName, storageKey: upload.storageKey, parts: new Map() });
  }

  goneUpload(): string | undefined {
    return this.goneUploads.length > 0 && this.rng.chance(0.08) ? this.rng.pick(this.goneUploads) : undefined;
  }

  async uploadPart(): Promise<void> {
    const gone = this.goneUpload();
    if (gone !== undefined) {
      this.note(`beginPart on ended upload ${short(gone)}`);
      await rejects(this.store.multipart.beginPart({ uploadId: gone, partNumber: 1, sizeBytes: MIN_PART }), NotFoundError, 'beginPart on an ended upload');
      this.count('part:NotFound');
      return;
    }
    if (this.uploads.size === 0) return this.createUpload();
    const upload = this.rng.pick([...this.uploads.values()]);
    const partNumber = this.rng.between(1, 5);
    const size = this.rng.chance(0.75) ? MIN_PART + this.rng.int(MiB) : this.rng.between(1, 2 * MiB);
    this.note(`part ${short(upload.uploadId)} #${partNumber} size=${size} on ${upload.backend}`);
    const input = { uploadId: upload.uploadId, partNumber, sizeBytes: size };
    if (!this.hasRoom(upload.backend, size)) {
      await rejects(this.store.multipart.beginPart(input), NoSpaceError, 'beginPart');
      this.note('-> NoSpace');
      this.count('part:NoSpace');
      return;
    }
    const intent = await this.store.multipart.beginPart(input);
    expect(
      { kind: intent.kind, backend: intent.backendName, upload: intent.uploadId, n: intent.partNumber, size: intent.sizeBytes, key: intent.objectKey },
      'beginPart intent',
    ).toEqual({ kind: 'part', backend: upload.backend, upload: upload.uploadId, n: partNumber, size, key: upload.objectKey });
    this.addIntent(intent);
    this.note(`intent=${short(intent.intentId)}`);
    if (this.rng.chance(0.15)) {
      this.note('left pending');
      this.count('part:left-pending');
      return;
    }
    await this.commitPending(intent);
    this.count('part:committed');
  }

  async completeUpload(): Promise<void> {
    const gone = this.goneUpload();
    if (gone !== undefined) {
      this.note(`complete ended upload ${short(gone)}`);
      await rejects(this.store.multipart.completeUpload(gone, [{ partNumber: 1, etag: this.newEtag() }]), NotFoundError, 'completeUpload of an ended upload');
      this.count('complete:NotFound');
      return;
    }
    if (this.uploads.size === 0) return this.createUpload();
    const upload = this.rng.pick([...this.uploads.values()]);
    const kept = [...upload.parts].sort(([a], [b]) => a - b).filter(() => this.rng.chance(0.85));
    // Every part but the last must be at least 5 MiB.
    const chosen = kept.filter(([, p], i) => p.size >= MIN_PART || i === kept.length - 1);
    if (chosen.length === 0) return this.abortUpload(upload);
    this.note(`complete ${short(upload.uploadId)} ${upload.objectKey} parts=${chosen.map(([n]) => n).join(',')} of ${[...upload.parts.keys()].sort().join(',')}`);
    this.count('complete:ok');
    const result = await this.store.multipart.completeUpload(
      upload.uploadId,
      chosen.map(([n, p]) => ({ partNumber: n, etag: this.rng.chance(0.5) ? unquote(p.etag) : p.etag })),
    );
    const chosenNumbers = new Set(chosen.map(([n]) => n));
    for (const [n, p] of upload.parts) if (!chosenNumbers.has(n)) this.enqueue(upload.backend, p.storageKey, upload.objectKey, p.size, 'part-unused');
    this.uploads.delete(upload.uploadId);
    this.goneUploads.push(upload.uploadId);
    const size = chosen.reduce((s, [, p]) => s + p.size, 0);
    const etag = expectedMultipartEtag(chosen.map(([, p]) => p.etag));
    const displaced = this.installVersion(upload.objectKey, upload.backend, upload.storageKey, size, etag);
    this.note(`-> size=${size} displaced=${displaced.length}`);
    this.expectCommitResult(result, upload.objectKey, upload.backend, upload.storageKey, size, etag, displaced);
  }

  async abortUpload(which?: ModelUpload): Promise<void> {
    const gone = which ? undefined : this.goneUpload();
    if (gone !== undefined) {
      this.note(`abort ended upload ${short(gone)}`);
      await rejects(this.store.multipart.abortUpload(gone), NotFoundError, 'abortUpload of an ended upload');
      this.count('abortUpload:NotFound');
      return;
    }
    if (!which && this.uploads.size === 0) return this.createUpload();
    const upload = which ?? this.rng.pick([...this.uploads.values()]);
    this.note(`abortUpload ${short(upload.uploadId)} parts=${upload.parts.size}`);
    this.count('abortUpload:ok');
    const result = await this.store.multipart.abortUpload(upload.uploadId);
    let bytes = 0;
    for (const p of upload.parts.values()) {
      bytes += p.size;
      this.enqueue(upload.backend, p.storageKey, upload.objectKey, p.size, 'upload-aborted');
    }
    expect(result, 'abortUpload').toEqual({ parts: upload.parts.size, bytes });
    this.uploads.delete(upload.uploadId);
    this.goneUploads.push(upload.uploadId);
  }

  async addCopy(leavePending: boolean): Promise<void> {
    const key = (this.rng.chance(0.85) ? this.existingKey() : undefined) ?? this.rng.pick(KEYS);
    const backend = this.rng.pick(BACKEND_NAMES);
    const obj = this.objects.get(key);
    this.note(`addCopy${leavePending ? '[pending]' : ''} ${key} -> ${backend}`);
    const call = () => this.store.objects.beginCopy({ objectKey: key, backendName: backend });
    if (!obj) {
      await rejects(call(), NotFoundError, 'beginCopy of a missing key');
      this.note('-> NotFound');
      this.count('copy:NotFound');
      return;
    }
    if (obj.copies.has(backend)) {
      await rejects(call(), PreconditionFailedError, 'beginCopy onto a backend that has a copy');
      this.note('-> PreconditionFailed');
      this.count('copy:PreconditionFailed');
      return;
    }
    if (!this.hasRoom(backend, obj.size)) {
      await rejects(call(), NoSpaceError, 'beginCopy');
      this.note('-> NoSpace');
      this.count('copy:NoSpace');
      return;
    }
    const intent = await call();
    expect({ kind: intent.kind, backend: intent.backendName, size: intent.sizeBytes, etag: intent.etag }, 'beginCopy intent').toEqual({
      kind: 'copy',
      backend,
      size: obj.size,
      etag: obj.etag,
    });
    this.addIntent(intent);
    this.note(`intent=${short(intent.intentId)}`);
    if (leavePending) {
      this.count('copy:left-pending');
      return;
    }
    await this.commitPending(intent);
    this.count('copy:committed');
  }

  async removeCopy(): Promise<void> {
    const replicated = [...this.objects].filter(([, o]) => o.copies.size > 1).map(([k]) => k);
    const key = (replicated.length > 0 && this.rng.chance(0.5) ? this.rng.pick(replicated) : undefined) ?? (this.rng.chance(0.85) ? this.existingKey() : undefined) ?? this.rng.pick(KEYS);
    const obj = this.objects.get(key);
    const backend = obj && this.rng.chance(0.7) ? this.rng.pick([...obj.copies.keys()]) : this.rng.pick(BACKEND_NAMES);
    this.note(`removeCopy ${key} on ${backend}`);
    const call = () => this.store.objects.removeCopy({ objectKey: key, backendName: backend });
    if (!obj || !obj.copies.has(backend)) {
      await rejects(call(), NotFoundError, 'removeCopy of an absent copy');
      this.note('-> NotFound');
      this.count('removeCopy:NotFound');
      return;
    }
    if (obj.copies.size === 1) {
      await rejects(call(), PreconditionFailedError, 'removeCopy of the last copy');
      this.note('-> PreconditionFailed');
      this.count('removeCopy:PreconditionFailed');
      return;
    }
    const removed = await call();
    const sk = obj.copies.get(backend)!;
    obj.copies.delete(backend);
    this.enqueue(backend, sk, key, obj.size, 'copy-removed');
    this.note('-> removed');
    this.count('removeCopy:ok');
    expect({ backend: removed.backendName, sk: removed.storageKey, size: removed.sizeBytes }, 'removeCopy').toEqual({ backend, sk, size: obj.size });
  }

  /** Claims due rows and checks them against the model (which rows, their fields); returns the tasks. */
  async claim(worker: string, limit: number): Promise<CleanupTask[]> {
    const now = this.now;
    const due = [...this.cleanup.values()].filter((r) => !r.dlq && r.nextRetry <= now);
    const tasks = await this.store.cleanup.claim(worker, limit, GRACE_MS);
    this.note(`claim ${worker} n=${limit} due=${due.length} -> ${tasks.length}`);
    expect(tasks.length, `claim of ${limit} with ${due.length} due`).toBe(Math.min(limit, due.length));
    const claimed = new Set<string>();
    for (const t of tasks) {
      const row = this.cleanup.get(t.storageKey);
      expect(row && !row.dlq && row.nextRetry <= now, `claimed row ${t.storageKey} is a due queue row of the model`).toBe(true);
      expect(
        { backend: t.backendName, key: t.objectKey, size: t.sizeBytes, reason: t.reason, attempts: t.attempts, by: t.claimedBy },
        `claimed row ${t.storageKey}`,
      ).toEqual({ backend: row!.backend, key: row!.objectKey, size: row!.size, reason: row!.reason, attempts: row!.attempts, by: worker });
      claimed.add(t.storageKey);
    }
    // Rows come in next_retry order: none left behind was due earlier than one taken.
    const takenLatest = Math.max(...tasks.map((t) => this.cleanup.get(t.storageKey)!.nextRetry));
    const leftEarliest = Math.min(...due.filter((r) => !claimed.has(r.storageKey)).map((r) => r.nextRetry));
    if (tasks.length > 0 && claimed.size < due.length) expect(takenLatest, 'claim order').toBeLessThanOrEqual(leftEarliest);
    for (const t of tasks) {
      const row = this.cleanup.get(t.storageKey)!;
      row.id = t.id;
      row.claimedBy = worker;
      row.nextRetry = now + GRACE_MS;
    }
    return tasks;
  }

  rowById(id: number): ModelCleanupRow | undefined {
    for (const r of this.cleanup.values()) if (!r.dlq && r.id === id) return r;
    return undefined;
  }

  async complete(task: CleanupTask): Promise<void> {
    const row = this.rowById(task.id);
    const done = await this.store.cleanup.complete(task.id);
    expect(done, `complete(${task.id})`).toBe(row !== undefined);
    if (row) this.cleanup.delete(row.storageKey);
  }

  async fail(task: CleanupTask, worker: string): Promise<void> {
    const row = this.rowById(task.id);
    const outcome = await this.store.cleanup.fail(task, worker, `delete failed (op ${this.op})`);
    let expected: string;
    if (!row || row.claimedBy !== worker) expected = 'lost';
    else if (task.attempts + 1 >= MAX_ATTEMPTS) {
      expected = 'dead-letter';
      row.dlq = true;
      row.attempts += 1;
      row.claimedBy = null;
    } else {
      expected = 'retry';
      row.nextRetry = this.now + backoffMs(row.attempts);
      row.attempts += 1;
      row.claimedBy = null;
    }
    this.note(`fail#${task.id}->${outcome}`);
    this.count(`cleanup:fail:${outcome}`);
    expect(outcome, `fail(${task.id}) by ${worker}`).toBe(expected);
  }

  async processCleanup(): Promise<void> {
    const worker = `w${this.op}`;
    const tasks = await this.claim(worker, this.rng.between(1, 12));
    for (const task of tasks) {
      const poisoned = this.cleanup.get(task.storageKey)!.poisoned;
      const r = this.rng.next();
      if (r < 0.06) {
        this.staleClaims.push({ task, worker });
        this.note(`abandon#${task.id}`);
        this.count('cleanup:abandoned');
      } else if (r < (poisoned ? 0.97 : 0.2)) {
        await this.fail(task, worker);
      } else {
        await this.complete(task);
        this.count('cleanup:completed');
        if (this.rng.chance(0.05)) expect(await this.store.cleanup.complete(task.id), 'complete is idempotent').toBe(false);
      }
    }
  }

  /** A worker that lost its claim (crashed, slow) finishes late: its fail is lost, its complete still deletes. */
  async staleClaim(): Promise<void> {
    if (this.staleClaims.length === 0) return this.processCleanup();
    const [{ task, worker }] = this.staleClaims.splice(this.rng.int(this.staleClaims.length), 1) as [{ task: CleanupTask; worker: string }];
    this.note(`stale ${worker} #${task.id}`);
    if (this.rng.chance(0.5)) {
      await this.complete(task);
      this.count('cleanup:stale-complete');
    } else {
      await this.fail(task, worker);
    }
  }

  /** Operators act on dead letters: requeue them, or write them off. */
  async operator(): Promise<void> {
    const dead = [...this.cleanup.values()].filter((r) => r.dlq);
    if (dead.length === 0) return this.tick();
    const how = this.rng.pick(['requeue-all', 'requeue-backend', 'purge-backend'] as const);
    const backend = this.rng.pick(dead).backend;
    this.note(`dead letters (${dead.length}): ${how} ${backend}`);
    this.count(`dlq:${how}`);
    if (how === 'purge-backend') {
      const result = await this.store.cleanup.purgeDeadLetters({ backendName: backend });
      const gone = dead.filter((r) => r.backend === backend);
      for (const r of gone) this.cleanup.delete(r.storageKey);
      expect(result, 'purgeDeadLetters').toEqual({ rows: gone.length, bytes: gone.reduce((s, r) => s + r.size, 0) });
      return;
    }
    const ids = await this.store.cleanup.requeueDeadLetters(how === 'requeue-all' ? { all: true } : { backendName: backend });
    const requeued = dead.filter((r) => how === 'requeue-all' || r.backend === backend);
    for (const r of requeued) Object.assign(r, { dlq: false, attempts: 0, nextRetry: this.now, claimedBy: null, id: undefined });
    expect(ids.length, 'requeueDeadLetters').toBe(requeued.length);
  }

  async tick(): Promise<void> {
    const ms = this.rng.between(60_000, 12 * 3600_000);
    this.clock.advance(ms);
    this.note(`tick +${Math.round(ms / 60_000)} min`);
  }

  // ---- checks -----------------------------------------------------------------------------------

  async checkpoint(label: string): Promise<void> {
    await expectLedgerConsistent(this.store);

    const model = this.totals();
    for (const t of await this.store.quota.totals()) {
      expect({ used: t.bytesUsed, orphan: t.orphanBytes, inflight: t.inflightBytes }, `${label}: counters of ${t.backendName}`).toEqual(model.get(t.backendName));
    }

    for (const key of KEYS) {
      const copies = await this.store.objects.lookup(key);
      const actual = copies
        .map((c) => ({ key: c.objectKey, backend: c.backendName, storageKey: c.storageKey, size: c.sizeBytes, etag: c.etag, createdAt: c.createdAt.getTime() }))
        .sort((a, b) => (a.backend < b.backend ? -1 : 1));
      const obj = this.objects.get(key);
      const expected = obj
        ? [...obj.copies]
            .map(([backend, storageKey]) => ({ key, backend, storageKey, size: obj.size, etag: obj.etag, createdAt: obj.createdAt }))
            .sort((a, b) => (a.backend < b.backend ? -1 : 1))
        : [];
      expect(actual, `${label}: lookup(${key})`).toEqual(expected);
    }

    const page = await this.store.listing.list({ maxKeys: 1000 });
    expect(page.isTruncated, `${label}: listing truncated`).toBe(false);
    expect(
      page.objects.map((o) => ({ key: o.objectKey, size: o.sizeBytes, etag: o.etag })),
      `${label}: listing`,
    ).toEqual(
      [...this.objects.keys()].sort(compareUtf8).map((key) => ({ key, size: this.objects.get(key)!.size, etag: this.objects.get(key)!.etag })),
    );

    const queue = await this.store.cleanup.list({ limit: 10_000 });
    const rowOf = (r: { storageKey: string; backendName: string; objectKey: string; sizeBytes: number; reason: string; attempts: number }) =>
      `${r.storageKey} ${r.backendName} ${r.objectKey} ${r.sizeBytes} ${r.reason} ${r.attempts}`;
    const modelRow = (r: ModelCleanupRow) => `${r.storageKey} ${r.backend} ${r.objectKey} ${r.size} ${r.reason} ${r.attempts}`;
    const rows = [...this.cleanup.values()];
    expect(
      queue.map((r) => `${rowOf(r)} next=${r.nextRetry.getTime()} by=${r.claimedBy}`).sort(),
      `${label}: cleanup queue`,
    ).toEqual(
      rows
        .filter((r) => !r.dlq)
        .map((r) => `${modelRow(r)} next=${r.nextRetry} by=${r.claimedBy}`)
        .sort(),
    );
    const dlq = await this.store.cleanup.listDeadLetters({ limit: 10_000 });
    expect(dlq.map(rowOf).sort(), `${label}: dead letters`).toEqual(rows.filter((r) => r.dlq).map(modelRow).sort());

    const intents = await this.store.intents.listOlderThan(new Date(this.now + 1), 10_000);
    expect(intents.map((i) => `${i.intentId} ${i.kind} ${i.backendName} ${i.sizeBytes}`).sort(), `${label}: pending intents`).toEqual(
      [...this.intents.values()].map((i) => `${i.intentId} ${i.kind} ${i.backendName} ${i.sizeBytes}`).sort(),
    );

    const uploads = await this.store.multipart.listUploads({ maxUploads: 1000 });
    expect(uploads.uploads.map((u) => `${u.uploadId} ${u.objectKey} ${u.backendName}`).sort(), `${label}: uploads`).toEqual(
      [...this.uploads.values()].map((u) => `${u.uploadId} ${u.objectKey} ${u.backend}`).sort(),
    );
    for (const u of this.uploads.values()) {
      const { parts } = await this.store.multipart.listParts(u.uploadId);
      expect(
        parts.map((p) => ({ n: p.partNumber, size: p.sizeBytes, etag: p.etag, sk: p.storageKey })),
        `${label}: parts of ${u.uploadId}`,
      ).toEqual([...u.parts].sort(([a], [b]) => a - b).map(([n, p]) => ({ n, size: p.size, etag: p.etag, sk: p.storageKey })));
    }
  }

  /** Resolves every intent, ends every upload, drains the cleanup queue (dead letters too). */
  async drain(): Promise<void> {
    for (const intent of [...this.intents.values()]) {
      this.note(`drain: resolve ${intent.kind} intent=${short(intent.intentId)}`);
      if (this.rng.chance(0.5)) await this.promote(intent, false);
      else {
        expect(await this.store.intents.drop(intent), 'drop').toBe(true);
        this.resolveIntent(intent);
      }
      this.flushLine('drain');
    }
    for (const upload of [...this.uploads.values()]) {
      await this.abortUpload(upload);
      this.flushLine('drain');
    }
    const dead = [...this.cleanup.values()].filter((r) => r.dlq);
    const ids = await this.store.cleanup.requeueDeadLetters({ all: true });
    expect(ids.length, 'requeue of every dead letter').toBe(dead.length);
    for (const r of dead) Object.assign(r, { dlq: false, attempts: 0, nextRetry: this.now, claimedBy: null, id: undefined });
    this.note(`drain: requeued ${dead.length} dead letters`);
    this.flushLine('drain');
    for (let round = 0; this.cleanup.size > 0; round++) {
      if (round > 50) throw new Error(`cleanup queue does not drain: ${this.cleanup.size} rows left`);
      this.clock.advance(25 * 3600_000);
      for (const task of await this.claim(`drain${round}`, 1000)) await this.complete(task);
      this.flushLine('drain');
    }
  }
}

describeEngines('property: random operations against a model', (engine: EngineName) => {
  it(`keeps the store equal to the model and the ledger consistent over ${OPERATIONS} operations (seed ${SEED}, PROPERTY_SEED to override)`, { timeout: 600_000 }, async () => {
    const { store, clock } = await openTestStore(engine, { backends: BACKENDS.map((b) => ({ ...b })) });
    const sim = new Simulation(store, clock, new Rng(SEED));
    const started = performance.now();
    try {
      for (sim.op = 1; sim.op <= OPERATIONS; sim.op++) {
        await sim.step();
        sim.flushLine(`#${sim.op}`);
        if (sim.op % CHECK_EVERY === 0) {
          await sim.checkpoint(`after op ${sim.op}`);
          sim.log.push(`-- checkpoint after op ${sim.op} passed`);
        }
      }
      await sim.checkpoint('after the run');
      sim.log.push('-- final checkpoint passed');
      await sim.drain();
      await sim.checkpoint('after draining');

      const totals = await store.quota.totals();
      const model = sim.totals();
      for (const t of totals) {
        expect(t.orphanBytes, `${t.backendName}: orphan bytes after draining`).toBe(0);
        expect(t.inflightBytes, `${t.backendName}: in-flight bytes after draining`).toBe(0);
        expect(t.bytesUsed, `${t.backendName}: bytes used after draining`).toBe(model.get(t.backendName)!.used);
      }
      expect(await store.cleanup.depths(), 'cleanup tables after draining').toEqual([]);
      expect((await store.intents.summary()).count, 'pending intents after draining').toBe(0);
    } catch (err) {
      sim.flushLine(`#${sim.op} (failed here)`);
      const file = join(tmpdir(), `property-${engine}-seed-${SEED}-${process.pid}.log`);
      writeFileSync(file, `${sim.log.join('\n')}\n`);
      process.stderr.write(
        `\nproperty test FAILED on ${engine} at operation ${sim.op} with seed ${SEED} (reproduce: PROPERTY_SEED=${SEED})\n` +
          `full operation log: ${file}\nlast operations:\n${sim.log.slice(-40).join('\n')}\n\n`,
      );
      throw err;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const stats = [...sim.stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
    process.stdout.write(`property [${engine}] seed ${SEED}: ${OPERATIONS} operations in ${seconds} s; ${stats.join(' ')}\n`);
  });

  // Minimal forms of two histories the random run found where the reaper's promote brought back a
  // crashed write over a newer, acknowledged one (spec §6, pending intents).

  it('promote: a crashed write does not replace a newer write committed in the same clock tick', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS.map((b) => ({ ...b })) });
    const crashed = await store.objects.beginWrite({ objectKey: 'bkt/race', sizeBytes: 10, etag: '"aaa"', backendName: 'gamma' });
    const newer = await store.objects.beginWrite({ objectKey: 'bkt/race', sizeBytes: 20, etag: '"bbb"', backendName: 'gamma' });
    await store.objects.commitWrite(newer);
    // The newer write committed after the crashed write's intent was created (same millisecond).
    expect(await store.intents.promote(crashed, { sizeBytes: 10, etag: '"aaa"' })).toBe('superseded');
    expect((await store.objects.lookup('bkt/race')).map((c) => c.etag)).toEqual(['"bbb"']);
    await expectLedgerConsistent(store);
  });

  it('promote: a crashed write does not come back after a newer write of its key was committed, then deleted', async () => {
    const { store, clock } = await openTestStore(engine, { backends: BACKENDS.map((b) => ({ ...b })) });
    const crashed = await store.objects.beginWrite({ objectKey: 'bkt/gone', sizeBytes: 10, etag: '"aaa"', backendName: 'gamma' });
    clock.advance(1000);
    const newer = await store.objects.beginWrite({ objectKey: 'bkt/gone', sizeBytes: 20, etag: '"bbb"', backendName: 'gamma' });
    await store.objects.commitWrite(newer);
    clock.advance(1000);
    await store.objects.deleteObject('bkt/gone');
    clock.advance(10 * 60_000);
    expect(await store.intents.promote(crashed, { sizeBytes: 10, etag: '"aaa"' })).toBe('superseded');
    expect(await store.objects.lookup('bkt/gone')).toEqual([]);
    await expectLedgerConsistent(store);
  });
});
