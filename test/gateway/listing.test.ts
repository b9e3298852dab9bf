import http from 'node:http';
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  type S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEngines } from '../support/engines.js';
import { ADMIN, closeGateways, startTestGateway, type TestGateway } from '../support/gateway.js';

afterEach(closeGateways);

const BUCKET = 'listing';

// ---- the model: S3 lists keys in UTF-8 byte order, which is not JS (UTF-16) string order -----------

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const byteOrder = (a: string, b: string): number => Buffer.compare(utf8(a), utf8(b));

type Entry = { key: string } | { prefix: string };
const show = (e: Entry): string => ('key' in e ? `K:${e.key}` : `P:${e.prefix}`);

function model(keys: readonly string[], q: { prefix?: string; delimiter?: string; startAfter?: string } = {}): Entry[] {
  const prefix = q.prefix ?? '';
  const delimiter = q.delimiter ?? '';
  const out: Entry[] = [];
  for (const k of [...keys].sort(byteOrder)) {
    if (!k.startsWith(prefix)) continue;
    if (q.startAfter && byteOrder(k, q.startAfter) <= 0) continue;
    const at = delimiter === '' ? -1 : k.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const p = k.slice(0, at + delimiter.length);
      const last = out.at(-1);
      if (!(last && 'prefix' in last && last.prefix === p)) out.push({ prefix: p });
      continue;
    }
    out.push({ key: k });
  }
  return out;
}

/** One page's entries in listing order (contents and common prefixes interleave by byte order). */
function entriesOf(contents: readonly _Object[] | undefined, prefixes: readonly { Prefix?: string }[] | undefined): Entry[] {
  const all: Entry[] = [...(contents ?? []).map((c) => ({ key: c.Key! })), ...(prefixes ?? []).map((p) => ({ prefix: p.Prefix! }))];
  return all.sort((a, b) => byteOrder('key' in a ? a.key : a.prefix, 'key' in b ? b.key : b.prefix));
}

// ---- the key set --------------------------------------------------------------------------------

const LONG_ASCII = 'long/' + 'k'.repeat(1019);
const LONG_UNICODE = 'long/' + 'é'.repeat(509) + 'x';
const HARD_KEYS = [
  'a%b', 'a%25b', 'a+b', 'a b', ' leading space', 'trailing space ', 'plus+dir/x+y', 'pct%2Fdir/y',
  'dir//x', 'dir///y', 'dir/', 'dir/sub/', 'dir/sub/z', '//root', 'a/b/c/', 'trail/',
  'tilde~1', '~home/x', 'x~y/z', 'xml<&>"\'', 'q?x=1', 'hash#x', 'amp&x=y', 'semi;x', 'star*', 'paren(1)!',
  'eq=x', 'comma,x', 'at@x', 'dollar$x', 'caret^', 'brack[x]', 'back\\slash', 'colon:x', 'tab\tx',
  'uni/é', 'uni/日本語/ファイル', 'uni/😀', 'uni/😀/inner', 'uni/\uE000', 'uni/\uE000/inner', 'uni/\uFFFD', 'uni/\uFF5E',
  'uni/𝄞clef', 'uni/\u{10FFFD}', 'uni/z', 'astral\u{1F600}', 'astral\uE000', 'astral\uFFFD', 'astral\u{10000}',
  'multi--delim--x', 'multi--y', 'm--a--b--c', '--lead', 'm-single-dash', 'm---triple',
  LONG_ASCII, LONG_UNICODE,
];
const GENERATED = [
  ...['2023', '2024'].flatMap((y) => ['01', '02', '03'].flatMap((m) => Array.from({ length: 12 }, (_, i) => `photos/${y}/${m}/img-${String(i).padStart(3, '0')}.jpg`))),
  ...Array.from({ length: 15 }, (_, i) => `flat-${String(i).padStart(2, '0')}`),
];
const KEYS = [...HARD_KEYS, ...GENERATED];

async function putAll(s3: S3Client, keys: readonly string[], bucket = BUCKET): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function setUp(engine: 'sqlite' | 'postgres', keys: readonly string[] = KEYS): Promise<{ tg: TestGateway; s3: S3Client }> {
  const tg = await startTestGateway(engine);
  const s3 = tg.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await putAll(s3, keys);
  return { tg, s3 };
}

/** Pages through ListObjectsV2 with the SDK, checking every page's shape; returns the concatenation. */
async function pageV2(s3: S3Client, q: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys: number }, expected: readonly Entry[]): Promise<Entry[]> {
  const got: Entry[] = [];
  let token: string | undefined;
  const lastKeys = new Set<string>();
  for (let pageNo = 0; pageNo < 2000; pageNo++) {
    const r = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: q.prefix, Delimiter: q.delimiter, StartAfter: q.startAfter, MaxKeys: q.maxKeys, ContinuationToken: token }),
    );
    const entries = entriesOf(r.Contents, r.CommonPrefixes);
    expect(r.KeyCount, 'KeyCount').toBe(entries.length);
    expect(r.MaxKeys).toBe(q.maxKeys);
    expect(r.ContinuationToken).toBe(token);
    expect(entries.length).toBeLessThanOrEqual(q.maxKeys);
    got.push(...entries);
    const remaining = expected.length - got.length;
    expect(r.IsTruncated, `IsTruncated after ${got.length} of ${expected.length}`).toBe(remaining > 0);
    if (!r.IsTruncated) {
      expect(r.NextContinuationToken).toBeUndefined();
      break;
    }
    // Pages are full until the last one.
    expect(entries.length).toBe(q.maxKeys);
    const t = r.NextContinuationToken!;
    expect(t).toMatch(/^\S+$/);
    const last = entries.at(-1)!;
    const lastText = 'key' in last ? last.key : last.prefix;
    if (lastText.length > 3) expect(t.includes(lastText), 'the token is opaque').toBe(false);
    expect(lastKeys.has(t), 'a token is never repeated').toBe(false);
    lastKeys.add(t);
    token = t;
  }
  return got;
}

describeEngines('gateway listing against a byte-order model', (engine) => {
  it('ListObjectsV2: prefixes, "/" and multi-character delimiters, start-after, paging at several max-keys', async () => {
    const { s3 } = await setUp(engine);
    // The model really differs from JS order on this set (astral characters vs U+E000-U+FFFF).
    expect([...KEYS].sort(byteOrder)).not.toEqual([...KEYS].sort());

    // Everything, one page: byte order, every key once, sizes and ETags from the bytes.
    const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(all.IsTruncated).toBe(false);
    expect(all.KeyCount).toBe(KEYS.length);
    expect(all.Contents!.map((c) => c.Key)).toEqual([...KEYS].sort(byteOrder));
    for (const c of all.Contents!) {
      expect(c.Size).toBe(utf8(`body of ${c.Key}`).length);
      expect(c.ETag).toBe(`"${createHash('md5').update(`body of ${c.Key}`).digest('hex')}"`);
      expect(c.StorageClass).toBe('STANDARD');
      expect(c.LastModified).toBeInstanceOf(Date);
      expect(c.Owner).toBeUndefined();
    }
    expect(all.Contents!.find((c) => c.Key === LONG_UNICODE)).toBeDefined();
    expect(utf8(LONG_UNICODE).length).toBe(1024);
    expect(utf8(LONG_ASCII).length).toBe(1024);

    const cases: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys: number[] }[] = [
      { maxKeys: [13, KEYS.length - 1, 1000] },
      { delimiter: '/', maxKeys: [1, 1000] },
      { delimiter: '--', maxKeys: [9] },
      { prefix: 'uni/', delimiter: '/', maxKeys: [1, 2] },
      { prefix: 'photos/', delimiter: '/', maxKeys: [1] },
      { prefix: 'photos/2024/', delimiter: '/', startAfter: 'photos/2024/01/img-005.jpg', maxKeys: [1, 2] },
      { prefix: 'dir/', delimiter: '/', maxKeys: [1, 2] },
      { prefix: 'astral', maxKeys: [1, 3] },
      { startAfter: 'uni/\uE000', maxKeys: [10] },
      { startAfter: 'uni/😀', delimiter: '/', maxKeys: [4] },
      { prefix: 'm', delimiter: '--', maxKeys: [1, 100] },
      { prefix: 'nothing-here/', delimiter: '/', maxKeys: [5] },
    ];
    for (const c of cases) {
      const expected = model(KEYS, c);
      for (const maxKeys of c.maxKeys) {
        const got = await pageV2(s3, { ...c, maxKeys }, expected);
        expect(got.map(show), JSON.stringify({ ...c, maxKeys })).toEqual(expected.map(show));
      }
    }
    // The model's answer for "/" at the top holds the roll-ups the SDK users rely on.
    const top = model(KEYS, { delimiter: '/' }).map(show);
    expect(top).toContain('P:photos/');
    expect(top).toContain('P:dir/');
    expect(top).toContain('P:/');
    expect(top).toContain('K:a%b');
  });

  it('ListObjects v1: marker/NextMarker paging, also when a page ends on a common prefix', async () => {
    const { s3 } = await setUp(engine);
    const cases: { prefix?: string; delimiter?: string; maxKeys: number[] }[] = [
      { delimiter: '/', maxKeys: [1, 1000] },
      { delimiter: '--', maxKeys: [7] },
      { maxKeys: [11] },
      { prefix: 'uni/', delimiter: '/', maxKeys: [1, 3] },
    ];
    for (const { maxKeys: sizes, ...q } of cases) {
      const expected = model(KEYS, q);
      for (const maxKeys of sizes) {
        const got: Entry[] = [];
        let marker: string | undefined;
        let endedOnPrefix = false;
        for (let i = 0; i < 1000; i++) {
          const r = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: q.prefix, Delimiter: q.delimiter, Marker: marker, MaxKeys: maxKeys }));
          const entries = entriesOf(r.Contents, r.CommonPrefixes);
          expect(r.Marker ?? '').toBe(marker ?? '');
          got.push(...entries);
          expect(r.IsTruncated).toBe(got.length < expected.length);
          if (!r.IsTruncated) break;
          expect(entries.length).toBe(maxKeys);
          const last = entries.at(-1)!;
          const lastText = 'key' in last ? last.key : last.prefix;
          // NextMarker is the last key or common prefix of the page.
          expect(r.NextMarker).toBe(lastText);
          if ('prefix' in last) endedOnPrefix = true;
          marker = r.NextMarker;
        }
        expect(got.map(show), JSON.stringify({ ...q, maxKeys })).toEqual(expected.map(show));
        if (q.delimiter && maxKeys === 1) expect(endedOnPrefix, JSON.stringify({ ...q, maxKeys })).toBe(true);
      }
    }
    // v1 lists every object with its owner.
    const one = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, MaxKeys: 2 }));
    expect(one.Contents![0]!.Owner?.ID).toBeTruthy();
  });
});

// ---- hand-made requests ---------------------------------------------------------------------------

function s3Escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A SigV4-signed request (ADMIN) with the query as given, sent as the wire form the signer canonicalises. */
async function raw(tg: TestGateway, method: string, path: string, query: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(tg.url);
  const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: { host: url.host, 'x-amz-content-sha256': createHash('sha256').update('').digest('hex') },
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  const wire = Object.entries(query)
    .map(([k, v]) => `${s3Escape(k)}=${s3Escape(v)}`)
    .join('&');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: wire ? `${path}?${wire}` : path, headers: signed.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function xmlValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))) out.push(m[1]!);
  return out;
}
function xmlUnescape(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&amp;', '&');
}

describe('gateway listing protocol details [sqlite]', () => {
  it('encoding-type=url: the XML holds percent-encoded keys that decode to the stored keys; what the SDK sends and returns', async () => {
    const { tg, s3 } = await setUp('sqlite', HARD_KEYS);
    for (const version of ['2', '1']) {
      const r = await raw(tg, 'GET', `/${BUCKET}`, { ...(version === '2' ? { 'list-type': '2' } : {}), 'encoding-type': 'url', 'max-keys': '1000' });
      expect(r.status).toBe(200);
      expect(r.headers['x-amz-request-id']).toBeTruthy();
      expect(xmlValues(r.body, 'EncodingType')).toEqual(['url']);
      const wireKeys = xmlValues(r.body, 'Key');
      // Nothing outside unreserved characters and '/' travels unescaped.
      for (const k of wireKeys.map(xmlUnescape)) expect(k).toMatch(/^[A-Za-z0-9\-_.~/%*'()!]*$/);
      expect(wireKeys).toContain('a%25b');
      expect(wireKeys).toContain('a%2Bb');
      expect(wireKeys).toContain('a%20b');
      expect(wireKeys.map((k) => decodeURIComponent(xmlUnescape(k)))).toEqual([...HARD_KEYS].sort(byteOrder));
    }
    // Without encoding-type the XML carries the keys themselves (XML-escaped).
    const plain = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', prefix: 'xml' });
    expect(plain.status).toBe(200);
    expect(xmlValues(plain.body, 'EncodingType')).toEqual([]);
    expect(xmlValues(plain.body, 'Key').map(xmlUnescape)).toEqual(['xml<&>"\'']);

    // Prefix and delimiter echo encoded too; common prefixes are encoded.
    const withPrefix = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', 'encoding-type': 'url', prefix: 'uni/', delimiter: '/' });
    expect(xmlValues(withPrefix.body, 'Prefix')[0]).toBe('uni/');
    expect(xmlValues(withPrefix.body, 'Prefix').slice(1).map(decodeURIComponent)).toEqual(['uni/😀/', 'uni/\uE000/', 'uni/日本語/'].sort(byteOrder));

    // What the SDK sends, and what it hands back: the stored keys either way.
    const sent: string[] = [];
    s3.middlewareStack.add(
      (next) => async (args) => {
        const q = (args.request as HttpRequest).query ?? {};
        sent.push(String(q['encoding-type'] ?? '(none)'));
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordEncodingType' },
    );
    const sdk = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, EncodingType: 'url' }));
    expect(sent).toEqual(['url']);
    const sdkKeys = sdk.Contents!.map((c) => c.Key!);
    // @aws-sdk/client-s3 does not decode keys itself: they arrive as the gateway encoded them.
    expect(sdkKeys).toContain('a%25b');
    expect(sdkKeys).toContain('uni/%F0%9F%98%80');
    expect(sdkKeys.map((k) => decodeURIComponent(k))).toEqual([...HARD_KEYS].sort(byteOrder));
    const dflt = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(sent).toEqual(['url', '(none)']);
    expect(dflt.Contents!.map((c) => c.Key)).toEqual([...HARD_KEYS].sort(byteOrder));
  });

  it('fetch-owner, max-keys=0, bad continuation tokens, bad max-keys and encoding-type', async () => {
    const { tg, s3 } = await setUp('sqlite', GENERATED);
    const withOwner = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, FetchOwner: true, MaxKeys: 3 }));
    expect(withOwner.Contents).toHaveLength(3);
    for (const c of withOwner.Contents!) expect(c.Owner?.ID).toBeTruthy();
    const without = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 3 }));
    for (const c of without.Contents!) expect(c.Owner).toBeUndefined();

    const zero2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 0 }));
    expect(zero2.$metadata.httpStatusCode).toBe(200);
    expect(zero2.Contents ?? []).toEqual([]);
    expect(zero2.KeyCount).toBe(0);
    expect(zero2.MaxKeys).toBe(0);
    const zero1 = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, MaxKeys: 0 }));
    expect(zero1.$metadata.httpStatusCode).toBe(200);
    expect(zero1.Contents ?? []).toEqual([]);
    expect(zero1.CommonPrefixes ?? []).toEqual([]);
    expect(zero1.MaxKeys).toBe(0);

    for (const token of ['not-a-token', 'eyJ4IjoxfQ', '%%%', Buffer.from('{"a":"","r":0}').toString('base64url')]) {
      const r = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', 'continuation-token': token });
      expect(r.status, token).toBe(400);
      expect(xmlValues(r.body, 'Code'), token).toEqual(['InvalidArgument']);
      expect(r.headers['x-amz-request-id']).toBeTruthy();
    }
    const emptyToken = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', 'continuation-token': '' });
    expect(emptyToken.status).toBe(400);
    expect(xmlValues(emptyToken.body, 'Code')).toEqual(['InvalidArgument']);
    for (const maxKeys of ['-1', 'abc', '1.5']) {
      const r = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', 'max-keys': maxKeys });
      expect(r.status, maxKeys).toBe(400);
      expect(xmlValues(r.body, 'Code')).toEqual(['InvalidArgument']);
    }
    const badEncoding = await raw(tg, 'GET', `/${BUCKET}`, { 'list-type': '2', 'encoding-type': 'base64' });
    expect(badEncoding.status).toBe(400);
    expect(xmlValues(badEncoding.body, 'Code')).toEqual(['InvalidArgument']);
    // max-keys above 1000 is capped, as S3 does.
    const big = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 5000 }));
    expect(big.MaxKeys).toBe(1000);
    expect(big.KeyCount).toBe(GENERATED.length);
    // A missing bucket.
    const missing = await raw(tg, 'GET', '/no-such-bucket', { 'list-type': '2' });
    expect(missing.status).toBe(404);
    expect(xmlValues(missing.body, 'Code')).toEqual(['NoSuchBucket']);
    // A token carries on from where it was issued, also with a different start-after (the token wins).
    const p1 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 10 }));
    const p2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 10, ContinuationToken: p1.NextContinuationToken, StartAfter: 'zzz' }));
    expect(p2.Contents!.map((c) => c.Key)).toEqual([...GENERATED].sort(byteOrder).slice(10, 20));
    expect(p2.StartAfter).toBe('zzz');
  });

  it('ListObjectVersions (?versions): every object as version "null", paging with key-marker', async () => {
    const { tg, s3 } = await setUp('sqlite', HARD_KEYS);
    const expected = [...HARD_KEYS].sort(byteOrder);
    const got: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (let i = 0; i < 100; i++) {
      const r = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, MaxKeys: 7, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      expect(r.DeleteMarkers ?? []).toEqual([]);
      for (const v of r.Versions ?? []) {
        expect(v.VersionId).toBe('null');
        expect(v.IsLatest).toBe(true);
        expect(v.Size).toBe(utf8(`body of ${v.Key}`).length);
        expect(v.ETag).toMatch(/^"[0-9a-f]{32}"$/);
        got.push(v.Key!);
      }
      expect(r.IsTruncated).toBe(got.length < expected.length);
      if (!r.IsTruncated) break;
      expect(r.Versions).toHaveLength(7);
      expect(r.NextKeyMarker).toBe(got.at(-1));
      expect(r.NextVersionIdMarker).toBe('null');
      keyMarker = r.NextKeyMarker;
      versionIdMarker = r.NextVersionIdMarker;
    }
    expect(got).toEqual(expected);

    // With a delimiter, common prefixes roll up and the pages still cover everything once.
    const expectedRolled = model(HARD_KEYS, { delimiter: '/' });
    const rolled: Entry[] = [];
    keyMarker = undefined;
    for (let i = 0; i < 100; i++) {
      const r: ListObjectVersionsCommandOutput = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Delimiter: '/', MaxKeys: 2, KeyMarker: keyMarker }));
      rolled.push(...entriesOf(r.Versions as _Object[] | undefined, r.CommonPrefixes));
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
    }
    expect(rolled.map(show)).toEqual(expectedRolled.map(show));

    // The raw answer is a ListVersionsResult.
    const r = await raw(tg, 'GET', `/${BUCKET}`, { versions: '', prefix: 'uni/z' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<ListVersionsResult');
    expect(xmlValues(r.body, 'Key')).toEqual(['uni/z']);
    expect(xmlValues(r.body, 'VersionId')).toEqual(['null']);
  });
});
