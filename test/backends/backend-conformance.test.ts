import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendObjectMissing, type BackendClient, type MultipartHandle } from '../../src/backends/backend-client.js';
import { BackendUnavailableError } from '../../src/backends/backend-unavailable.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { prepareDirectoryRoot } from '../../src/backends/directory-identity.js';
import { S3Backend } from '../../src/backends/s3.js';
import { Secret } from '../../src/config/secret.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

interface Kind {
  readonly backend: BackendClient;
  close(): Promise<void>;
}

/** What each service can do (s3rver 3.7 lacks a few S3 features; the backend must not paper over them). */
interface Traits {
  /** Part boundaries from HeadObject PartNumber. */
  readonly partRanges: boolean;
  /** A backend-side upload id (S3 native multipart). */
  readonly native: boolean;
  /** AbortMultipartUpload. */
  readonly aborts: boolean;
  /** Keys with empty or dot segments and leading slashes (s3rver's router normalises paths). */
  readonly oddPaths: boolean;
}

const TRAITS: Record<string, Traits> = {
  directory: { partRanges: true, native: false, aborts: true, oddPaths: true },
  's3 (s3rver)': { partRanges: false, native: true, aborts: false, oddPaths: false },
  's3 (a second gateway)': { partRanges: true, native: true, aborts: true, oddPaths: true },
};

/** One backend of each kind, each on something real: a directory, s3rver, a second gateway. */
const KINDS: Record<string, () => Promise<Kind>> = {
  directory: async () => {
    const root = join(mkdtempSync(join(tmpdir(), 's3o-conf-dir-')), 'root');
    await prepareDirectoryRoot({ backendName: 'disk', root, database: 'conformance', isNew: true });
    return { backend: new DirectoryBackend('disk', root), close: async () => rmSync(join(root, '..'), { recursive: true, force: true }) };
  },
  's3 (s3rver)': async () => {
    const server = await startS3rver();
    const backend = new S3Backend('s3rver', server.backendConfig());
    return {
      backend,
      close: async () => {
        backend.destroy();
        await server.close();
      },
    };
  },
  's3 (a second gateway)': async () => {
    const gateway: TestGateway = await startTestGateway('sqlite', { buckets: ['bytes'] });
    const backend = new S3Backend('gateway', {
      endpoint: gateway.url,
      region: 'us-east-1',
      bucket: 'bytes',
      accessKeyId: ADMIN.accessKeyId,
      secretAccessKey: new Secret(ADMIN.secretAccessKey),
      forcePathStyle: true,
      timeoutMs: 10_000,
    });
    return {
      backend,
      close: async () => {
        backend.destroy();
        await gateway.close();
      },
    };
  },
};

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A body that sends `first` bytes, then fails. */
function failingBody(first: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(randomBytes(first));
      setTimeout(() => this.destroy(new Error('client went away')), 30);
    },
  });
}

let keySeq = 0;
/** A storage key shaped like the store's: "{bucket}/{key}!{id}{suffix}". */
function storageKey(objectKey = 'dir/object.bin', suffix = ''): string {
  return `b/${objectKey}!${(++keySeq).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000${suffix}`;
}

describe.each(Object.keys(KINDS))('backend conformance: %s', (kindName) => {
  let kind: Kind;
  let backend: BackendClient;
  const traits = TRAITS[kindName]!;

  beforeAll(async () => {
    kind = await KINDS[kindName]!();
    backend = kind.backend;
  }, 60_000);
  afterAll(async () => {
    await kind?.close();
  });

  it('put, get, a range, head and delete; then the key is missing for get, head and delete', async () => {
    const key = storageKey();
    const bytes = randomBytes(MiB + 17);
    await backend.put(key, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), bytes.length);
    expect((await readAll(await backend.get(key))).equals(bytes)).toBe(true);
    expect((await readAll(await backend.get(key, { start: 999, end: 70_000 }))).equals(bytes.subarray(999, 70_001))).toBe(true);
    expect((await readAll(await backend.get(key, { start: bytes.length - 1, end: bytes.length - 1 }))).equals(bytes.subarray(-1))).toBe(true);
    expect(await backend.head(key)).toEqual({ sizeBytes: bytes.length, etag: `"${md5(bytes)}"` });

    expect(await backend.delete(key)).toBe('deleted');
    expect(await backend.head(key)).toBeUndefined();
    await expect(backend.get(key)).rejects.toBeInstanceOf(BackendObjectMissing);
    expect(await backend.delete(key)).toBe('not-found');
  });

  it('a 0-byte object', async () => {
    const key = storageKey('empty');
    await backend.put(key, Readable.from([]), 0);
    expect(await backend.head(key)).toEqual({ sizeBytes: 0, etag: `"${md5(Buffer.alloc(0))}"` });
    expect((await readAll(await backend.get(key))).length).toBe(0);
  });

  it('a key never written: get throws BackendObjectMissing, head is undefined, delete is not-found', async () => {
    const key = storageKey('never');
    await expect(backend.get(key)).rejects.toBeInstanceOf(BackendObjectMissing);
    await expect(backend.get(key, { start: 0, end: 10 })).rejects.toBeInstanceOf(BackendObjectMissing);
    expect(await backend.head(key)).toBeUndefined();
    expect(await backend.delete(key)).toBe('not-found');
  });

  it('a put whose body errors halfway rejects with that error and leaves nothing at the key', async () => {
    const key = storageKey('failed');
    await expect(backend.put(key, failingBody(256 * 1024), MiB)).rejects.toThrow(/client went away/);
    expect(await backend.head(key)).toBeUndefined();
    await expect(backend.get(key)).rejects.toBeInstanceOf(BackendObjectMissing);
  });

  it('a body shorter or longer than declared is refused and leaves nothing', async () => {
    const short = storageKey('short');
    await expect(backend.put(short, Readable.from([randomBytes(100)]), 1000)).rejects.toThrow();
    expect(await backend.head(short)).toBeUndefined();
    const long = storageKey('long');
    await expect(backend.put(long, Readable.from([randomBytes(1001)]), 1000)).rejects.toThrow();
    expect(await backend.head(long)).toBeUndefined();
  });

  it('multipart: create, three parts, complete → the bytes in order, part ranges, one delete removes all', async () => {
    const key = storageKey('multi.bin');
    const bodies = [randomBytes(PART), randomBytes(PART), randomBytes(1234)];
    const uploadId = await backend.createMultipart(key);
    if (traits.native) expect(uploadId).not.toBe('');
    else expect(uploadId).toBe('');
    const upload: MultipartHandle = { storageKey: key, backendUploadId: uploadId };
    const parts = bodies.map((body, i) => ({ partNumber: i + 1, storageKey: `${key}.part${i + 1}`, sizeBytes: body.length, etag: `"${md5(body)}"` }));
    // Out of order, as clients upload them in parallel.
    for (const i of [2, 0, 1]) await backend.putPart(upload, parts[i]!, Readable.from([bodies[i]!]));
    await backend.completeMultipart(upload, parts);

    const all = Buffer.concat(bodies);
    expect((await readAll(await backend.get(key))).equals(all)).toBe(true);
    expect((await readAll(await backend.get(key, { start: PART - 10, end: PART + 9 }))).equals(all.subarray(PART - 10, PART + 10))).toBe(true);
    expect((await backend.head(key))?.sizeBytes).toBe(all.length);
    if (traits.partRanges) {
      expect(await backend.partRange(key, 1)).toEqual({ start: 0, end: PART - 1 });
      expect(await backend.partRange(key, 2)).toEqual({ start: PART, end: 2 * PART - 1 });
      expect(await backend.partRange(key, 3)).toEqual({ start: 2 * PART, end: 2 * PART + 1233 });
    } else {
      // The service cannot tell: no guess (a guess would serve wrong bytes for ?partNumber).
      expect(await backend.partRange(key, 2)).toBeUndefined();
    }
    expect(await backend.partRange(key, 4)).toBeUndefined();

    expect(await backend.delete(key)).toBe('deleted');
    expect(await backend.head(key)).toBeUndefined();
    for (const p of parts) expect(await backend.head(p.storageKey)).toBeUndefined();
  });

  it('multipart: a part uploaded again replaces the first; parts left out of the list are not in the object', async () => {
    const key = storageKey('replaced.bin');
    const upload: MultipartHandle = { storageKey: key, backendUploadId: await backend.createMultipart(key) };
    const first = randomBytes(PART);
    const second = randomBytes(PART);
    const last = randomBytes(10);
    const unused = randomBytes(10);
    // A backend without native uploads keeps each write of a part at its own storage key (the store's).
    await backend.putPart(upload, { partNumber: 1, storageKey: `${key}.a1`, sizeBytes: PART }, Readable.from([first]));
    await backend.putPart(upload, { partNumber: 1, storageKey: `${key}.b1`, sizeBytes: PART }, Readable.from([second]));
    await backend.putPart(upload, { partNumber: 2, storageKey: `${key}.a2`, sizeBytes: 10 }, Readable.from([last]));
    await backend.putPart(upload, { partNumber: 3, storageKey: `${key}.a3`, sizeBytes: 10 }, Readable.from([unused]));
    await backend.completeMultipart(upload, [
      { partNumber: 1, storageKey: `${key}.b1`, sizeBytes: PART, etag: md5(second) },
      { partNumber: 2, storageKey: `${key}.a2`, sizeBytes: 10, etag: md5(last) },
    ]);
    expect((await readAll(await backend.get(key))).equals(Buffer.concat([second, last]))).toBe(true);
  });

  if (!traits.aborts)
    it("multipart: a service without AbortMultipartUpload answers 'unsupported' (the caller logs the leak; a throw would keep the upload forever)", async () => {
    const key = storageKey('not-aborted.bin');
    const upload: MultipartHandle = { storageKey: key, backendUploadId: await backend.createMultipart(key) };
    await expect(backend.abortMultipart(upload)).resolves.toBe('unsupported');
  });

  if (traits.aborts)
    it('multipart: abort drops the upload (twice is fine) and leaves nothing at the object key', async () => {
    const key = storageKey('aborted.bin');
    const upload: MultipartHandle = { storageKey: key, backendUploadId: await backend.createMultipart(key) };
    await backend.putPart(upload, { partNumber: 1, storageKey: `${key}.part1`, sizeBytes: 1000 }, Readable.from([randomBytes(1000)]));
    await backend.abortMultipart(upload);
    await backend.abortMultipart(upload);
    expect(await backend.head(key)).toBeUndefined();
    if (traits.native) {
      // The backend's upload is gone: no part can be added to it any more.
      await expect(backend.putPart(upload, { partNumber: 2, storageKey: `${key}.part2`, sizeBytes: 10 }, Readable.from([randomBytes(10)]))).rejects.toThrow();
    }
  });

  it.each([
    ['spaces, unicode and reserved characters', 'dir with space/ünï ☃ 名前 %2F+&=?#;:,@$[]{}^`|\'"<>.txt'],
    ...(traits.oddPaths
      ? [
          ['empty and dot segments', 'a//b/./../c'],
          ['a leading slash and a trailing dot', '/lead/trail.'],
        ]
      : []),
  ])('keys with %s', async (_what, objectKey) => {
    const key = storageKey(objectKey);
    const bytes = randomBytes(333);
    await backend.put(key, Readable.from([bytes]), bytes.length);
    expect((await readAll(await backend.get(key))).equals(bytes)).toBe(true);
    expect((await backend.head(key))?.sizeBytes).toBe(333);
    // Its neighbours are other keys.
    expect(await backend.head(key.replace('!', '?'))).toBeUndefined();
    expect(await backend.delete(key)).toBe('deleted');
    expect(await backend.head(key)).toBeUndefined();
  });
});

describe('s3 backend: a service that cannot answer is never read as "absent"', () => {
  let server: S3rver;
  let backend: S3Backend;
  beforeAll(async () => {
    server = await startS3rver();
    backend = new S3Backend('flaky', server.backendConfig({ timeoutMs: 3000 }));
  }, 30_000);
  afterAll(async () => {
    backend?.destroy();
    await server?.close();
  });

  it('a stopped server: head, delete, get and the availability check throw BackendUnavailableError; after a restart all answer again', async () => {
    const key = storageKey('kept');
    await backend.put(key, Readable.from([Buffer.from('still here')]), 10);
    await server.stop();
    await expect(backend.head(key)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(backend.head(storageKey('missing'))).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(backend.delete(key)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(backend.get(key)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(backend.checkAvailable()).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(backend.put(storageKey('new'), Readable.from([Buffer.from('x')]), 1)).rejects.toThrow();

    await server.restart();
    expect(await backend.head(key)).toEqual({ sizeBytes: 10, etag: `"${md5(Buffer.from('still here'))}"` });
    await backend.checkAvailable();
  });

  it('a bucket that does not exist: head and delete throw (a 404 without the bucket says nothing about the key)', async () => {
    const wrong = new S3Backend('wrong-bucket', server.backendConfig({ bucket: 'no-such-bucket' }));
    try {
      await expect(wrong.head(storageKey())).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(wrong.delete(storageKey())).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(wrong.checkAvailable()).rejects.toThrow(/no such bucket/);
    } finally {
      wrong.destroy();
    }
  });

  it('wrong credentials (a second gateway checks signatures; s3rver does not): the availability check and head throw', async () => {
    const gateway = await startTestGateway('sqlite', { buckets: ['bytes'] });
    const denied = new S3Backend('denied', {
      endpoint: gateway.url,
      region: 'us-east-1',
      bucket: 'bytes',
      accessKeyId: ADMIN.accessKeyId,
      secretAccessKey: new Secret('not-the-secret'),
      forcePathStyle: true,
      timeoutMs: 5000,
    });
    try {
      await expect(denied.checkAvailable()).rejects.toThrow(/refuses these credentials/);
      await expect(denied.head(storageKey())).rejects.toThrow();
      await expect(denied.delete(storageKey())).rejects.toThrow();
    } finally {
      denied.destroy();
      await gateway.close();
    }
  });
});
