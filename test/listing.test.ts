import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/store/core/errors.js';
import type { MetadataStore } from '../src/store/core/store.js';
import type { ListObjectsInput, ListObjectsResult } from '../src/store/core/types.js';
import { openStore } from '../src/store/open.js';
import { ManualClock } from './support/clock.js';
import { appConfig, createTestDatabase, describeEngines } from './support/engines.js';
import { closeStores, expectLedgerConsistent, openTestStore } from './support/store.js';

afterEach(closeStores);

/**
 * Listing (spec §6 list, §11): keys in UTF-8 byte order, each key once whatever its number of copies,
 * common prefixes for a delimiter, pages resumed by continuation tokens, and all of it on a Postgres
 * database whose default collation is not C. Expected results are computed here by an independent
 * model that orders by Buffer.compare on the UTF-8 bytes (never by JS `<`, which compares UTF-16 units).
 */

const BACKENDS = [
  { name: 'alpha', bytesLimit: 50_000_000 },
  { name: 'beta', bytesLimit: 0 },
];

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sortBytes(keys: Iterable<string>): string[] {
  return [...keys].sort(byteOrder);
}

// --- keys --------------------------------------------------------------------------------------

const LONG_1023 = 'L'.repeat(1023);
const LONG_1024 = 'L'.repeat(1024);
const EURO_1024 = '€'.repeat(341) + 'x'; // 341 × 3 + 1 bytes
const EMOJI_1024 = '😀'.repeat(256); // 256 × 4 bytes
const MAX_TOTAL = 'M'.repeat(1088 - 'bkt/'.length); // the whole object key at the 1088-byte limit

/** Key names under the bucket prefix `bkt/`. */
const ADVERSARIAL_NAMES: readonly string[] = [
  'a', 'A', 'b', 'B', 'z', 'Z', 'ab', 'aB', 'Ab', 'abc', 'abc/', 'abc/def', 'abc/def/ghi', 'abc/Def',
  'abc.txt', 'abc-1', 'abc_1', 'abc 1', 'abc%201', 'abc%2F1', '100%', '_', '__init__', '%', '%%', '%25',
  'back\\slash', 'back\\\\slash', 'back/slash', 'with space', ' leading', 'trailing ', 'two  spaces',
  'x', 'x\u0001', 'x\u0001\u0001', 'x\t', 'x ', 'x!', 'x/', 'x/y',
  'e', 'é', 'e\u0301', 'f', 'ß', 'ss', 'Ω', 'ω', '日本語', '中文/文件', '中文/其他',
  '\uD7FF', '\uD7FFz', '\uE000', '\uE000x', '\uFFFD', '\uFFFD/q', '\uFF21', '😀', '😀/1', '😀/2', 'a😀', 'a\uFFFD', 'a\uE000',
  '𝄞', '𝄞𝄞', '\u{10FFFF}', '\u{10FFFF}\u{10FFFF}',
  LONG_1023, LONG_1024, EURO_1024, EMOJI_1024, MAX_TOTAL,
];
const ADVERSARIAL_KEYS: readonly string[] = ADVERSARIAL_NAMES.map((n) => `bkt/${n}`);
/** Keys just outside `bkt/` on both sides (and one differing only in case) that a prefix listing must never return. */
const OUTSIDERS: readonly string[] = ['bkt', 'bkt.', 'bks/z', 'bkt0', 'bkt0/a', 'bku/a', 'BKT/a', 'bkt\u{10FFFF}'];

function sizeOf(key: string): number {
  return (Buffer.byteLength(key, 'utf8') % 97) + 1;
}

function etagOf(key: string): string {
  return `etag-${Buffer.from(key, 'utf8').toString('hex').slice(-16)}-${Buffer.byteLength(key, 'utf8')}`;
}

// --- store helpers -----------------------------------------------------------------------------

async function put(store: MetadataStore, objectKey: string, sizeBytes = sizeOf(objectKey), etag = etagOf(objectKey)): Promise<void> {
  const w = await store.objects.beginWrite({ objectKey, sizeBytes, backendName: 'alpha' });
  await store.objects.commitWrite(w, { etag });
}

async function addCopy(store: MetadataStore, objectKey: string, backendName = 'beta'): Promise<void> {
  const c = await store.objects.beginCopy({ objectKey, backendName });
  const result = await store.objects.commitCopy(c);
  expect(result.status).toBe('committed');
}

/** Writes every key (sequentially), and a second copy on `beta` for every third one. Returns the keys with two copies. */
async function putAll(store: MetadataStore, keys: readonly string[]): Promise<string[]> {
  const copied: string[] = [];
  for (const [i, key] of keys.entries()) {
    await put(store, key);
    if (i % 3 === 0) {
      await addCopy(store, key);
      copied.push(key);
    }
  }
  return copied;
}

// --- the model ---------------------------------------------------------------------------------

/** One element of a listing: an object key, or a common prefix (`P` marks it in diffs). */
type Entry = `K ${string}` | `P ${string}`;

function entryValue(e: Entry): string {
  return e.slice(2);
}

/** ListObjectsV2 as S3 defines it, over all of `keys`, in order, without paging. */
function model(keys: readonly string[], input: { prefix?: string; delimiter?: string; startAfter?: string } = {}): Entry[] {
  const prefix = input.prefix ?? '';
  const out: Entry[] = [];
  for (const key of sortBytes(new Set(keys))) {
    if (!key.startsWith(prefix)) continue;
    if (input.startAfter !== undefined && byteOrder(key, input.startAfter) <= 0) continue;
    const at = input.delimiter ? key.indexOf(input.delimiter, prefix.length) : -1;
    if (at >= 0) {
      const common: Entry = `P ${key.slice(0, at + input.delimiter!.length)}`;
      if (out[out.length - 1] !== common) out.push(common);
    } else {
      out.push(`K ${key}`);
    }
  }
  return out;
}

/** The entries of one page, interleaved in byte order as S3 returns them. */
function pageEntries(page: ListObjectsResult): Entry[] {
  const entries: Entry[] = [...page.objects.map((o): Entry => `K ${o.objectKey}`), ...page.commonPrefixes.map((p): Entry => `P ${p}`)];
  return entries.sort((a, b) => byteOrder(entryValue(a), entryValue(b)));
}

/**
 * Walks every page with `maxKeys = pageSize`, checking each page on the way: at most pageSize
 * entries, never empty, each part sorted, isTruncated and nextContinuationToken agreeing (truncated
 * exactly when a token is given, and then the page is full). `repeatStartAfter` sends the start-after
 * marker again with every continuation token, as some clients do (the token must win).
 */
async function walk(
  store: MetadataStore,
  input: Omit<ListObjectsInput, 'continuationToken' | 'maxKeys'>,
  pageSize: number,
  options: { repeatStartAfter?: boolean } = {},
): Promise<{ entries: Entry[]; pages: ListObjectsResult[] }> {
  const pages: ListObjectsResult[] = [];
  const entries: Entry[] = [];
  let token: string | undefined;
  for (;;) {
    const request: ListObjectsInput =
      token === undefined
        ? { ...input, maxKeys: pageSize }
        : { ...input, ...(options.repeatStartAfter ? {} : { startAfter: undefined }), continuationToken: token, maxKeys: pageSize };
    const page = await store.listing.list(request);
    pages.push(page);
    const count = page.objects.length + page.commonPrefixes.length;
    const where = `page ${pages.length} (maxKeys ${pageSize})`;
    expect(count, `${where}: entries`).toBeLessThanOrEqual(pageSize);
    if (pages.length > 1) expect(count, `${where}: a page after a truncated one is never empty`).toBeGreaterThan(0);
    expect(page.objects.map((o) => o.objectKey), `${where}: objects sorted`).toEqual(sortBytes(page.objects.map((o) => o.objectKey)));
    expect([...page.commonPrefixes], `${where}: prefixes sorted`).toEqual(sortBytes(page.commonPrefixes));
    entries.push(...pageEntries(page));
    if (page.isTruncated) {
      expect(count, `${where}: a truncated page is full`).toBe(pageSize);
      expect(typeof page.nextContinuationToken, `${where}: token`).toBe('string');
      expect(page.nextContinuationToken, `${where}: token`).not.toBe('');
      token = page.nextContinuationToken;
    } else {
      expect(page.nextContinuationToken, `${where}: no token on the last page`).toBeUndefined();
      break;
    }
    if (pages.length > 2000) throw new Error('listing never ends: more than 2000 pages');
  }
  return { entries, pages };
}

async function expectWalk(
  store: MetadataStore,
  keys: readonly string[],
  input: Omit<ListObjectsInput, 'continuationToken' | 'maxKeys'>,
  pageSize: number,
  options: { repeatStartAfter?: boolean } = {},
): Promise<ListObjectsResult[]> {
  const expected = model(keys, input);
  const { entries, pages } = await walk(store, input, pageSize, options);
  const label = `${JSON.stringify(input)} in pages of ${pageSize}`;
  expect(entries, label).toEqual(expected);
  expect(new Set(entries).size, `${label}: each entry once`).toBe(entries.length);
  expect(pages.length, `${label}: number of pages`).toBe(Math.max(1, Math.ceil(expected.length / pageSize)));
  return pages;
}

// --- tests on both engines ---------------------------------------------------------------------

describe('test data', () => {
  it('has the lengths and the UTF-16/UTF-8 disagreements the tests rely on', () => {
    expect(Buffer.byteLength(LONG_1024, 'utf8')).toBe(1024);
    expect(Buffer.byteLength(EURO_1024, 'utf8')).toBe(1024);
    expect(Buffer.byteLength(EMOJI_1024, 'utf8')).toBe(1024);
    expect(Buffer.byteLength(`bkt/${MAX_TOTAL}`, 'utf8')).toBe(1088);
    // JS sorts by UTF-16 code units: U+E000..U+FFFF come after the surrogate pairs of U+10000 and up,
    // while in UTF-8 (and in S3) they come before. The key set must contain such pairs.
    expect([...ADVERSARIAL_KEYS].sort()).not.toEqual(sortBytes(ADVERSARIAL_KEYS));
    expect(byteOrder('bkt/\uFFFD', 'bkt/😀')).toBeLessThan(0);
    expect('bkt/\uFFFD' < 'bkt/😀').toBe(false);
    expect(new Set(ADVERSARIAL_KEYS).size).toBe(ADVERSARIAL_KEYS.length);
  });
});

describeEngines('listing', (engine) => {
  it('returns keys in UTF-8 byte order, each once however many copies it has, with size, etag and creation time', async () => {
    const { store, clock } = await openTestStore(engine, { backends: BACKENDS });
    const keys = ['bkt/b', 'bkt/a/2', 'bkt/\uE000', 'bkt/😀', 'bkt/a', 'bkt/Z', 'bkt/a/1', 'bkt/\uFFFD', 'bkt/é', 'bkt/a b'];
    const created = new Map<string, number>();
    for (const [i, key] of keys.entries()) {
      clock.advance(1000);
      await put(store, key, 100 + i, `etag-${i}`);
      created.set(key, clock.now().getTime());
    }
    // Several copies of some keys, and one key overwritten (its new version is listed, once).
    for (const key of ['bkt/a', 'bkt/😀', 'bkt/\uE000']) await addCopy(store, key);
    clock.advance(1000);
    await put(store, 'bkt/b', 999, 'etag-new');
    created.set('bkt/b', clock.now().getTime());
    await addCopy(store, 'bkt/b');
    expect(await store.objects.lookup('bkt/😀')).toHaveLength(2);
    expect(await store.objects.lookup('bkt/b')).toHaveLength(2);
    await put(store, 'other/x', 5, 'etag-other');
    await put(store, 'bks/x', 6, 'etag-bks');

    const expectedOrder = sortBytes(keys);
    expect(expectedOrder).toEqual(['bkt/Z', 'bkt/a', 'bkt/a b', 'bkt/a/1', 'bkt/a/2', 'bkt/b', 'bkt/é', 'bkt/\uE000', 'bkt/\uFFFD', 'bkt/😀']);

    const page = await store.listing.list({ prefix: 'bkt/' });
    expect(page.isTruncated).toBe(false);
    expect(page.nextContinuationToken).toBeUndefined();
    expect(page.commonPrefixes).toEqual([]);
    expect(page.objects.map((o) => o.objectKey)).toEqual(expectedOrder);
    for (const o of page.objects) {
      const i = keys.indexOf(o.objectKey);
      const [size, etag] = o.objectKey === 'bkt/b' ? [999, 'etag-new'] : [100 + i, `etag-${i}`];
      expect({ key: o.objectKey, sizeBytes: o.sizeBytes, etag: o.etag }).toEqual({ key: o.objectKey, sizeBytes: size, etag });
      expect(o.createdAt).toBeInstanceOf(Date);
      expect(o.createdAt.getTime(), o.objectKey).toBe(created.get(o.objectKey));
    }

    // No prefix: every key of every bucket, still in byte order and once each.
    const all = await store.listing.list();
    expect(all.objects.map((o) => o.objectKey)).toEqual(sortBytes([...keys, 'other/x', 'bks/x']));
    expect(all.isTruncated).toBe(false);
    await expectLedgerConsistent(store);
  });

  it('lists adversarial keys (unicode beyond the BMP, U+E000-U+FFFF, /, %, _, \\, spaces, case, prefixes of each other, 1024-byte keys) in byte order', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    const copied = await putAll(store, ADVERSARIAL_KEYS);
    for (const key of OUTSIDERS) await put(store, key);
    expect(copied.length).toBeGreaterThan(10);
    for (const key of [LONG_1024, EURO_1024, EMOJI_1024, MAX_TOTAL].map((n) => `bkt/${n}`)) {
      expect((await store.objects.lookup(key)).length, key).toBeGreaterThanOrEqual(1);
    }

    const page = await store.listing.list({ prefix: 'bkt/' });
    expect(page.objects.map((o) => o.objectKey)).toEqual(sortBytes(ADVERSARIAL_KEYS));
    expect(page.commonPrefixes).toEqual([]);
    expect(page.isTruncated).toBe(false);
    for (const o of page.objects) {
      expect({ key: o.objectKey, sizeBytes: o.sizeBytes, etag: o.etag }).toEqual({ key: o.objectKey, sizeBytes: sizeOf(o.objectKey), etag: etagOf(o.objectKey) });
    }

    const everything = await store.listing.list();
    expect(everything.objects.map((o) => o.objectKey)).toEqual(sortBytes([...ADVERSARIAL_KEYS, ...OUTSIDERS]));

    // Narrower prefixes, including ones whose range ends at the top of Unicode or inside multi-byte characters.
    const universe = [...ADVERSARIAL_KEYS, ...OUTSIDERS];
    for (const prefix of ['bkt/a', 'bkt/abc', 'bkt/abc/', 'bkt/x', 'bkt/x\u0001', 'bkt/L', `bkt/${LONG_1023}`, `bkt/${LONG_1024}`, 'bkt/€', 'bkt/😀', 'bkt/\uD7FF', 'bkt/\uE000', 'bkt/\uFFFD', 'bkt/\u{10FFFF}', 'bkt/中文/', 'bkt/e', 'bkt/%', 'bkt/_', 'bkt/back\\', 'bkt/nothing-here', 'bkt']) {
      const listed = await store.listing.list({ prefix });
      expect(listed.objects.map((o) => o.objectKey), `prefix ${JSON.stringify(prefix)}`).toEqual(model(universe, { prefix }).map(entryValue));
    }
    await expectLedgerConsistent(store);
  });

  it('pages through every key exactly once, in order, for page sizes 1, 2 and 3 (with and without a delimiter)', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    await putAll(store, ADVERSARIAL_KEYS);
    for (const key of OUTSIDERS) await put(store, key);
    for (const pageSize of [1, 2, 3]) {
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/' }, pageSize);
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/', delimiter: '/' }, pageSize);
    }
    // Without a prefix, the outsiders are part of the walk.
    await expectWalk(store, [...ADVERSARIAL_KEYS, ...OUTSIDERS], {}, 3);
    // A page size that ends exactly on the last key: the last page is full and not truncated.
    const total = ADVERSARIAL_KEYS.length;
    const pages = await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/' }, total);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.isTruncated).toBe(false);
    const short = await store.listing.list({ prefix: 'bkt/', maxKeys: total - 1 });
    expect(short.isTruncated).toBe(true);
    const rest = await store.listing.list({ prefix: 'bkt/', maxKeys: total, continuationToken: short.nextContinuationToken! });
    expect(rest.objects.map((o) => o.objectKey)).toEqual([sortBytes(ADVERSARIAL_KEYS)[total - 1]]);
    expect(rest.isTruncated).toBe(false);
    await expectLedgerConsistent(store);
  });

  it('starts after a given key, existing or not, inside or outside the prefix', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    await putAll(store, ADVERSARIAL_KEYS);
    for (const key of OUTSIDERS) await put(store, key);
    const sorted = sortBytes(ADVERSARIAL_KEYS);
    const cases: { startAfter: string; note: string }[] = [
      { startAfter: 'bkt/abc', note: 'an existing key that is a prefix of others' },
      { startAfter: 'bkt/abc/def', note: 'an existing key under a would-be common prefix' },
      { startAfter: 'bkt/abc0', note: 'a missing key between keys' },
      { startAfter: 'bkt/x', note: 'an existing key followed by key + U+0001' },
      { startAfter: 'bkt/x\u0001', note: 'a key that ends in U+0001' },
      { startAfter: 'bkt/\uFFFD', note: 'U+FFFD: keys beyond the BMP come after it in byte order' },
      { startAfter: 'bkt/\uFFFF', note: 'a missing key between U+FFFD and U+10000' },
      { startAfter: 'bkt/😀', note: 'an existing key outside the BMP' },
      { startAfter: `bkt/${LONG_1023}`, note: 'a long key that is a prefix of a longer one' },
      { startAfter: sorted[sorted.length - 1]!, note: 'the last key' },
      { startAfter: 'a', note: 'before the prefix' },
      { startAfter: 'bkt', note: 'just before the prefix (is itself a key outside it)' },
      { startAfter: 'bkt/', note: 'the prefix itself' },
      { startAfter: 'bku', note: 'after the prefix' },
      { startAfter: 'bkt0', note: 'exactly at the end of the prefix range' },
    ];
    for (const { startAfter, note } of cases) {
      const expected = model(ADVERSARIAL_KEYS, { prefix: 'bkt/', startAfter }).map(entryValue);
      const page = await store.listing.list({ prefix: 'bkt/', startAfter });
      expect(page.objects.map((o) => o.objectKey), `startAfter ${note}`).toEqual(expected);
      expect(page.isTruncated, note).toBe(false);
    }
    // A marker and a prefix on either side of each other, where UTF-16 and UTF-8 disagree on which side.
    for (const [prefix, startAfter] of [
      ['bkt/\uFFFD', 'bkt/😀'],
      ['bkt/😀', 'bkt/\uFFFD'],
      ['bkt/\uE000', 'bkt/𝄞'],
      ['bkt/𝄞', 'bkt/\uE000x'],
      ['bkt/\uD7FF', 'bkt/\uD7FF'],
    ] as const) {
      const page = await store.listing.list({ prefix, startAfter });
      expect(page.objects.map((o) => o.objectKey), `prefix ${prefix}, startAfter ${startAfter}`).toEqual(model(ADVERSARIAL_KEYS, { prefix, startAfter }).map(entryValue));
    }
    expect(model(ADVERSARIAL_KEYS, { prefix: 'bkt/😀', startAfter: 'bkt/\uFFFD' })).toHaveLength(4);
    expect(model(ADVERSARIAL_KEYS, { prefix: 'bkt/\uFFFD', startAfter: 'bkt/😀' })).toHaveLength(0);
    // Before the prefix: everything; after it: nothing (and not truncated).
    expect(model(ADVERSARIAL_KEYS, { prefix: 'bkt/', startAfter: 'a' })).toHaveLength(ADVERSARIAL_KEYS.length);
    expect((await store.listing.list({ prefix: 'bkt/', startAfter: 'bku', maxKeys: 1 })).objects).toEqual([]);
    // startAfter with paging, with a delimiter, and with the marker repeated on every page.
    for (const pageSize of [1, 2, 3]) {
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/', startAfter: 'bkt/\uE000' }, pageSize, { repeatStartAfter: true });
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/', delimiter: '/', startAfter: 'bkt/abc/def' }, pageSize);
    }
    await expectLedgerConsistent(store);
  });

  it('lets a continuation token win over startAfter', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    const keys = ['bkt/a', 'bkt/b', 'bkt/c', 'bkt/d', 'bkt/e', 'bkt/f'];
    for (const key of keys) await put(store, key);
    const first = await store.listing.list({ prefix: 'bkt/', maxKeys: 2 });
    expect(first.objects.map((o) => o.objectKey)).toEqual(['bkt/a', 'bkt/b']);
    expect(first.isTruncated).toBe(true);
    const token = first.nextContinuationToken!;
    const byToken = await store.listing.list({ prefix: 'bkt/', maxKeys: 2, continuationToken: token });
    expect(byToken.objects.map((o) => o.objectKey)).toEqual(['bkt/c', 'bkt/d']);
    for (const startAfter of ['bkt/e', 'bkt/a', 'bkt/f', 'bkt/zzz', 'a']) {
      const both = await store.listing.list({ prefix: 'bkt/', maxKeys: 2, continuationToken: token, startAfter });
      expect(both.objects.map((o) => o.objectKey), `startAfter ${startAfter}`).toEqual(['bkt/c', 'bkt/d']);
      expect(both.isTruncated).toBe(true);
    }
    await expectLedgerConsistent(store);
  });

  it('rolls keys up into common prefixes for a delimiter', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    for (const key of ['bkt/a/1', 'bkt/a/2', 'bkt/b/x/y', 'bkt/c']) await put(store, key);
    await addCopy(store, 'bkt/a/1');
    await addCopy(store, 'bkt/c');
    const page = await store.listing.list({ prefix: 'bkt/', delimiter: '/' });
    expect(page.objects.map((o) => o.objectKey)).toEqual(['bkt/c']);
    expect(page.commonPrefixes).toEqual(['bkt/a/', 'bkt/b/']);
    expect(page.isTruncated).toBe(false);
    expect(page.nextContinuationToken).toBeUndefined();

    // One level down; the delimiter inside the prefix does not count.
    const down = await store.listing.list({ prefix: 'bkt/b/', delimiter: '/' });
    expect(down.objects).toEqual([]);
    expect(down.commonPrefixes).toEqual(['bkt/b/x/']);
    const leaf = await store.listing.list({ prefix: 'bkt/a/', delimiter: '/' });
    expect(leaf.objects.map((o) => o.objectKey)).toEqual(['bkt/a/1', 'bkt/a/2']);
    expect(leaf.commonPrefixes).toEqual([]);
    // Without a prefix, the bucket itself is the common prefix.
    const top = await store.listing.list({ delimiter: '/' });
    expect(top.objects).toEqual([]);
    expect(top.commonPrefixes).toEqual(['bkt/']);
    await expectLedgerConsistent(store);
  });

  it('pages through a mix of common prefixes and keys, each prefix once and never the keys under it', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    const keys = [
      'bkt/a/1', 'bkt/a/2', 'bkt/a/3', 'bkt/a/deep/er', 'bkt/b', 'bkt/c/x/y', 'bkt/c/z', 'bkt/d', 'bkt/e/', 'bkt/e/f',
      'bkt/f', 'bkt/g/1', 'bkt/\uFFFD/1', 'bkt/😀/1', 'bkt/😀/2', 'bkt/😀', 'bkt/\u{10FFFF}/1', 'bkt/\u{10FFFF}',
    ];
    const copied = await putAll(store, keys);
    expect(copied.length).toBeGreaterThan(2);
    expect(model(keys, { prefix: 'bkt/', delimiter: '/' })).toEqual([
      'P bkt/a/', 'K bkt/b', 'P bkt/c/', 'K bkt/d', 'P bkt/e/', 'K bkt/f', 'P bkt/g/', 'P bkt/\uFFFD/', 'K bkt/😀', 'P bkt/😀/', 'K bkt/\u{10FFFF}', 'P bkt/\u{10FFFF}/',
    ]);
    for (const pageSize of [1, 2, 3]) {
      const pages = await expectWalk(store, keys, { prefix: 'bkt/', delimiter: '/' }, pageSize);
      const listedKeys = pages.flatMap((p) => p.objects.map((o) => o.objectKey));
      for (const hidden of ['bkt/a/1', 'bkt/a/2', 'bkt/a/3', 'bkt/c/z', 'bkt/e/', 'bkt/e/f', 'bkt/😀/1']) expect(listedKeys).not.toContain(hidden);
      await expectWalk(store, keys, { prefix: 'bkt/c/', delimiter: '/' }, pageSize);
      await expectWalk(store, keys, { prefix: 'bkt/e/', delimiter: '/' }, pageSize);
    }
    // The key equal to the prefix is listed as an object when listing under it.
    const e = await store.listing.list({ prefix: 'bkt/e/', delimiter: '/' });
    expect(e.objects.map((o) => o.objectKey)).toEqual(['bkt/e/', 'bkt/e/f']);
    await expectLedgerConsistent(store);
  });

  it('supports a multi-character delimiter, a multi-byte one, and one that does not occur', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    const keys = ['bkt/x--1', 'bkt/x--2', 'bkt/x-y', 'bkt/y--z--w', 'bkt/z-', 'bkt/a---b', 'bkt/q😀r', 'bkt/q😀s', 'bkt/q\uFFFD', 'bkt/--top'];
    for (const key of keys) await put(store, key);

    const dashes = await store.listing.list({ prefix: 'bkt/', delimiter: '--' });
    expect(dashes.commonPrefixes).toEqual(['bkt/--', 'bkt/a--', 'bkt/x--', 'bkt/y--']);
    expect(dashes.objects.map((o) => o.objectKey)).toEqual(['bkt/q\uFFFD', 'bkt/q😀r', 'bkt/q😀s', 'bkt/x-y', 'bkt/z-']);

    const emoji = await store.listing.list({ prefix: 'bkt/', delimiter: '😀' });
    expect(emoji.commonPrefixes).toEqual(['bkt/q😀']);
    expect(emoji.objects.map((o) => o.objectKey)).toEqual(sortBytes(keys.filter((k) => !k.includes('😀'))));

    const absent = await store.listing.list({ prefix: 'bkt/', delimiter: '|' });
    expect(absent.commonPrefixes).toEqual([]);
    expect(absent.objects.map((o) => o.objectKey)).toEqual(sortBytes(keys));

    for (const pageSize of [1, 2]) {
      await expectWalk(store, keys, { prefix: 'bkt/', delimiter: '--' }, pageSize);
      await expectWalk(store, keys, { prefix: 'bkt/', delimiter: '😀' }, pageSize);
      await expectWalk(store, keys, { prefix: 'bkt/', delimiter: '|' }, pageSize);
    }
    await expectLedgerConsistent(store);
  });

  it('answers maxKeys 0 with an empty page, and accepts maxKeys 1000', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    for (const key of ['bkt/a', 'bkt/b/c']) await put(store, key);
    for (const input of [{ prefix: 'bkt/', maxKeys: 0 }, { prefix: 'bkt/', delimiter: '/', maxKeys: 0 }, { maxKeys: 0, startAfter: 'bkt/a' }]) {
      const page = await store.listing.list(input);
      expect(page.objects, JSON.stringify(input)).toEqual([]);
      expect(page.commonPrefixes, JSON.stringify(input)).toEqual([]);
      expect(page.isTruncated, JSON.stringify(input)).toBe(false);
      expect(page.nextContinuationToken, JSON.stringify(input)).toBeUndefined();
    }
    const full = await store.listing.list({ prefix: 'bkt/', maxKeys: 1000 });
    expect(full.objects.map((o) => o.objectKey)).toEqual(['bkt/a', 'bkt/b/c']);
    await expectLedgerConsistent(store);
  });

  it('refuses an invalid maxKeys, continuation token, prefix or marker with InvalidArgument naming the field', async () => {
    const { store } = await openTestStore(engine, { backends: BACKENDS });
    await put(store, 'bkt/a');
    for (const maxKeys of [1001, -1, 1.5, Number.NaN]) {
      const run = store.listing.list({ prefix: 'bkt/', maxKeys });
      await expect(run, `maxKeys ${maxKeys}`).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.listing.list({ prefix: 'bkt/', maxKeys }), `maxKeys ${maxKeys}`).rejects.toMatchObject({ code: 'InvalidArgument', field: 'maxKeys' });
    }
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    const garbage = ['garbage', 'not a token!', '%%%', b64('null'), b64('{"a":1,"r":0}'), b64('{"a":"bkt/a","r":2}'), b64('{"a":"","r":0}'), b64('[1,2]')];
    for (const continuationToken of garbage) {
      const run = store.listing.list({ prefix: 'bkt/', continuationToken });
      await expect(run, `token ${continuationToken}`).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.listing.list({ prefix: 'bkt/', continuationToken }), `token ${continuationToken}`).rejects.toMatchObject({
        code: 'InvalidArgument',
        field: 'continuationToken',
      });
    }
    await expect(store.listing.list({ prefix: 'bkt/\uD800' })).rejects.toMatchObject({ code: 'InvalidArgument', field: 'prefix' });
    await expect(store.listing.list({ startAfter: 'bkt/\uDC00x' })).rejects.toMatchObject({ code: 'InvalidArgument', field: 'startAfter' });
    // A token the store issued still works after the refusals.
    const first = await store.listing.list({ maxKeys: 1 });
    expect(first.objects.map((o) => o.objectKey)).toEqual(['bkt/a']);
    expect(first.isTruncated).toBe(false);
    await expectLedgerConsistent(store);
  });
});

// --- Postgres only: a database whose default collation is not C --------------------------------

describe('listing on a database with a non-C collation', () => {
  const extra: MetadataStore[] = [];
  afterEach(async () => {
    for (const s of extra.splice(0)) await s.close().catch(() => {});
  });

  it('[postgres] still lists in byte order, each key once, whole and in pages, although the database collation orders the keys differently', async () => {
    const database = await createTestDatabase('postgres', { icuLocale: 'en-US' });
    if (database.driver !== 'postgres') throw new Error('expected a Postgres database config');
    const store = await openStore(appConfig(database, { backends: BACKENDS }), { clock: new ManualClock() });
    extra.push(store);

    // (a) The control: on this very database, the default collation does not sort the keys by bytes.
    const client = new pg.Client({
      host: database.host,
      port: database.port,
      user: database.user,
      password: database.password?.reveal(),
      database: database.database,
    });
    await client.connect();
    try {
      const byDefault = await client.query<{ k: string }>('SELECT k FROM unnest($1::text[]) k ORDER BY k', [ADVERSARIAL_KEYS]);
      const byC = await client.query<{ k: string }>('SELECT k FROM unnest($1::text[]) k ORDER BY k COLLATE "C"', [ADVERSARIAL_KEYS]);
      expect(byC.rows.map((r) => r.k)).toEqual(sortBytes(ADVERSARIAL_KEYS));
      expect(byDefault.rows).toHaveLength(ADVERSARIAL_KEYS.length);
      expect(byDefault.rows.map((r) => r.k)).not.toEqual(byC.rows.map((r) => r.k));
      // And comparisons disagree too ('bkt/a' < 'bkt/B' in en-US, not in bytes): a range scan must not use them.
      const cmp = await client.query<{ icu: boolean; c: boolean }>(`SELECT ('bkt/a' < 'bkt/B') AS icu, ('bkt/a' < 'bkt/B' COLLATE "C") AS c`);
      expect(cmp.rows[0]).toEqual({ icu: true, c: false });
    } finally {
      await client.end();
    }

    // (b) The store's listing, on that database.
    await putAll(store, ADVERSARIAL_KEYS);
    for (const key of OUTSIDERS) await put(store, key);
    const whole = await store.listing.list({ prefix: 'bkt/' });
    expect(whole.objects.map((o) => o.objectKey)).toEqual(sortBytes(ADVERSARIAL_KEYS));
    expect(whole.isTruncated).toBe(false);
    const everything = await store.listing.list();
    expect(everything.objects.map((o) => o.objectKey)).toEqual(sortBytes([...ADVERSARIAL_KEYS, ...OUTSIDERS]));
    for (const pageSize of [1, 2, 3]) {
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/' }, pageSize);
      await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/', delimiter: '/' }, pageSize);
    }
    await expectWalk(store, ADVERSARIAL_KEYS, { prefix: 'bkt/', startAfter: 'bkt/B' }, 2, { repeatStartAfter: true });
    for (const prefix of ['bkt/a', 'bkt/A', 'bkt/e', 'bkt/\uFFFD', 'bkt/😀']) {
      const listed = await store.listing.list({ prefix });
      expect(listed.objects.map((o) => o.objectKey), `prefix ${prefix}`).toEqual(model(ADVERSARIAL_KEYS, { prefix }).map(entryValue));
    }
    await expectLedgerConsistent(store);
  });
});
