import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature, type AuthResult, type SignedRequest } from '../../src/gateway/auth/sigv4.js';
import { S3Error, type S3ErrorCode } from '../../src/gateway/errors.js';
import { openRequestBody, THREAD_HASH_MIN_BYTES, type BodyDigest, type RequestBodyOptions } from '../../src/gateway/body/request-body.js';

const AKID = 'AKIDCHUNKED';
const SECRET = 'chunked-secret-0123456789';
const secretFor = (id: string): string | undefined => (id === AKID ? SECRET : undefined);
const SIGNED_AT = new Date('2026-12-01T08:00:00Z');
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
const md5Hex = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');
const md5Base64 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');
const crc32Base64 = (data: Uint8Array): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out.toString('base64');
};

interface Outcome {
  readonly data: Buffer;
  readonly ended: boolean;
  readonly error: S3Error | undefined;
  readonly digest: BodyDigest | undefined;
}

/** Feed `body` in pieces of `pieceSize` bytes; collect what comes out, whether it ended, and the error. */
async function run(body: Buffer, options: RequestBodyOptions, pieceSize = 8191): Promise<Outcome> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += pieceSize) pieces.push(body.subarray(offset, offset + pieceSize));
  const verified = openRequestBody(Readable.from(pieces, { objectMode: false }), options);
  const chunks: Buffer[] = [];
  let ended = false;
  const settled = new Promise<S3Error | undefined>((resolve) => {
    verified.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    verified.stream.on('end', () => {
      ended = true;
      resolve(undefined);
    });
    verified.stream.on('error', (error) => resolve(error as S3Error));
  });
  const error = await settled;
  const digest = await verified.done.then(
    (value) => value,
    (doneError: unknown) => {
      expect(doneError).toBe(error);
      return undefined;
    },
  );
  if (error !== undefined) expect(error).toBeInstanceOf(S3Error);
  return { data: Buffer.concat(chunks), ended, error, digest };
}

function expectFailure(outcome: Outcome, code: S3ErrorCode): S3Error {
  expect(outcome.error?.code).toBe(code);
  expect(outcome.ended).toBe(false);
  expect(outcome.digest).toBeUndefined();
  return outcome.error as S3Error;
}

function splitInto(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) chunks.push(data.subarray(offset, offset + size));
  return chunks;
}

/** Flip one bit of the byte at `index`. */
function corrupt(body: Buffer, index: number): Buffer {
  const copy = Buffer.from(body);
  copy[index] = (copy[index] as number) ^ 0x01;
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Signed variants: the request is signed by @smithy/signature-v4, verified by verifySignature
// (giving the AuthResult), and every chunk signature is computed with smithy's signString
// (its own key derivation) from the string to sign AWS documents.
// ---------------------------------------------------------------------------------------------

const smithy = new SignatureV4({ credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, region: 'eu-west-3', service: 's3', sha256: Sha256, uriEscapePath: false });

async function signedStreamingRequest(mode: string, decodedLength: number, trailer?: string): Promise<AuthResult> {
  const headers: Record<string, string> = {
    host: 'gateway.test',
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': mode,
    'x-amz-decoded-content-length': String(decodedLength),
  };
  if (trailer !== undefined) headers['x-amz-trailer'] = trailer;
  const signed = (await smithy.sign(new HttpRequest({ method: 'PUT', hostname: 'gateway.test', path: '/bucket/object', headers }), { signingDate: SIGNED_AT })) as HttpRequest;
  const wire: SignedRequest = { method: 'PUT', rawPath: '/bucket/object', rawQuery: '', headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])) };
  return verifySignature(wire, secretFor, SIGNED_AT);
}

const chunkStringToSign = (auth: AuthResult, previous: string, data: Buffer): string =>
  ['AWS4-HMAC-SHA256-PAYLOAD', auth.amzDate, auth.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');

interface SignedBodyOptions {
  readonly trailers?: Array<[string, string]>;
  readonly tamperChunkSignature?: number; // index of the chunk (the final 0-chunk is chunks.length)
  readonly tamperTrailerSignature?: boolean;
  readonly omitTrailerSignature?: boolean;
}

async function signedBody(auth: AuthResult, chunks: Buffer[], options: SignedBodyOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  let previous = auth.signature;
  const all = [...chunks, Buffer.alloc(0)];
  for (const [index, data] of all.entries()) {
    let signature = await smithy.sign(chunkStringToSign(auth, previous, data), { signingDate: SIGNED_AT });
    previous = signature;
    if (options.tamperChunkSignature === index) signature = signature.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'));
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`), data);
    if (data.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (options.trailers === undefined) {
    parts.push(Buffer.from('\r\n'));
  } else {
    const canonical = options.trailers.map(([name, value]) => `${name}:${value}\n`).join('');
    parts.push(Buffer.from(options.trailers.map(([name, value]) => `${name}:${value}\r\n`).join('')));
    let signature = await smithy.sign(['AWS4-HMAC-SHA256-TRAILER', auth.amzDate, auth.scope, previous, sha256Hex(canonical)].join('\n'), { signingDate: SIGNED_AT });
    if (options.tamperTrailerSignature === true) signature = signature.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'));
    if (options.omitTrailerSignature !== true) parts.push(Buffer.from(`x-amz-trailer-signature:${signature}\r\n`));
    parts.push(Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Cut a signed aws-chunked body into its frames (header line, data, CRLF), the rest last. */
function signedFrames(body: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1').split(';')[0]!, 16);
    const end = size === 0 ? lineEnd + 2 : lineEnd + 2 + size + 2;
    frames.push(body.subarray(offset, end));
    offset = end;
    if (size === 0) break;
  }
  frames.push(body.subarray(offset));
  return frames;
}

describe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', () => {
  const MODE = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
  const object = randomBytes(3 * 65_536 + 1234);
  let auth: AuthResult;
  let body: Buffer;
  let options: RequestBodyOptions;

  beforeAll(async () => {
    auth = await signedStreamingRequest(MODE, object.length);
    body = await signedBody(auth, splitInto(object, 65_536));
    options = { payloadHash: MODE, decodedLength: object.length, auth };
  });

  it('a multi-chunk body decodes to the object bytes, with its MD5', async () => {
    expect(auth.payloadHash).toBe(MODE);
    const outcome = await run(body, options);
    expect(outcome.error).toBeUndefined();
    expect(outcome.ended).toBe(true);
    expect(outcome.data.equals(object)).toBe(true);
    expect(outcome.digest).toEqual({ sizeBytes: object.length, md5Hex: md5Hex(object), checksums: {} });
  });

  it('arriving one byte at a time changes nothing', async () => {
    const small = randomBytes(300);
    const smallAuth = await signedStreamingRequest(MODE, small.length);
    const smallBody = await signedBody(smallAuth, splitInto(small, 128));
    const outcome = await run(smallBody, { payloadHash: MODE, decodedLength: small.length, auth: smallAuth }, 1);
    expect(outcome.error).toBeUndefined();
    expect(outcome.data.equals(small)).toBe(true);
  });

  it('an empty object (only the final chunk) verifies', async () => {
    const emptyAuth = await signedStreamingRequest(MODE, 0);
    const outcome = await run(await signedBody(emptyAuth, []), { payloadHash: MODE, decodedLength: 0, auth: emptyAuth });
    expect(outcome.error).toBeUndefined();
    expect(outcome.digest?.md5Hex).toBe(md5Hex(Buffer.alloc(0)));
  });

  it('one corrupted byte in the second chunk → SignatureDoesNotMatch, never an end', async () => {
    const secondChunkData = body.indexOf('\r\n', body.indexOf('\r\n') + 2 + 65_536) + 2 + 100;
    expectFailure(await run(corrupt(body, secondChunkData + 200), options), 'SignatureDoesNotMatch');
  });

  it.each([0, 2, 4])('a wrong signature on chunk %i (4 is the final 0-length chunk) → SignatureDoesNotMatch', async (index) => {
    const tampered = await signedBody(auth, splitInto(object, 65_536), { tamperChunkSignature: index });
    expectFailure(await run(tampered, options), 'SignatureDoesNotMatch');
  });

  it('correctly signed chunks delivered in another order (the chain is broken) → SignatureDoesNotMatch', async () => {
    const frames = signedFrames(body);
    expect(frames).toHaveLength(6); // 4 data chunks, the final chunk, the closing CRLF
    const swapped = Buffer.concat([frames[1]!, frames[0]!, ...frames.slice(2)]);
    expect(swapped.length).toBe(body.length);
    expectFailure(await run(swapped, options), 'SignatureDoesNotMatch');
  });

  it('a body signed under another request (another seed) → SignatureDoesNotMatch', async () => {
    const other = await signedStreamingRequest(MODE, object.length + 0);
    const otherBody = await signedBody({ ...other, signature: 'f'.repeat(64) }, splitInto(object, 65_536));
    expectFailure(await run(otherBody, options), 'SignatureDoesNotMatch');
  });

  it('a body cut short → IncompleteBody; a body without its final chunk → IncompleteBody', async () => {
    expectFailure(await run(body.subarray(0, body.length - 200), options), 'IncompleteBody');
    const finalChunk = body.lastIndexOf('0;chunk-signature=');
    expectFailure(await run(body.subarray(0, finalChunk), options), 'IncompleteBody');
  });

  it('more decoded bytes than x-amz-decoded-content-length → InvalidRequest, fewer → IncompleteBody', async () => {
    expectFailure(await run(body, { ...options, decodedLength: object.length - 1 }), 'InvalidRequest');
    expectFailure(await run(body, { ...options, decodedLength: object.length + 1 }), 'IncompleteBody');
  });

  it('bytes after the end → InvalidRequest', async () => {
    expectFailure(await run(Buffer.concat([body, Buffer.from('extra')]), options), 'InvalidRequest');
  });

  it('malformed framing → InvalidRequest', async () => {
    const noCrlf = Buffer.from(body);
    noCrlf.write('XX', body.indexOf('\r\n') + 2 + 65_536);
    expectFailure(await run(noCrlf, options), 'InvalidRequest');
    const unsignedHeader = Buffer.concat([Buffer.from('10\r\n'), body]);
    expectFailure(await run(unsignedHeader, options), 'InvalidRequest');
  });

  it('an endless chunk header line is refused without buffering it', async () => {
    const endless = Buffer.alloc(10 * 1024 * 1024, 'a');
    const outcome = await run(endless, options, 65_536);
    const error = expectFailure(outcome, 'InvalidRequest');
    expect(error.message).toMatch(/too long/);
  });

  it('a signed streaming body without the request authentication cannot be opened', () => {
    expect(() => openRequestBody(Readable.from([]), { payloadHash: MODE, decodedLength: 0 })).toThrow(S3Error);
  });
});

describe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', () => {
  const MODE = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
  const object = randomBytes(2 * 65_536 + 77);
  let auth: AuthResult;
  let options: RequestBodyOptions;

  beforeAll(async () => {
    auth = await signedStreamingRequest(MODE, object.length, 'x-amz-checksum-crc32');
    options = { payloadHash: MODE, decodedLength: object.length, auth, trailer: 'x-amz-checksum-crc32' };
  });

  it('verifies chunks, the trailer signature and the trailing checksum', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [['x-amz-checksum-crc32', crc32Base64(object)]] });
    const outcome = await run(body, options);
    expect(outcome.error).toBeUndefined();
    expect(outcome.data.equals(object)).toBe(true);
    expect(outcome.digest).toEqual({ sizeBytes: object.length, md5Hex: md5Hex(object), checksums: { crc32: crc32Base64(object) } });
  });

  it('a wrong trailer signature → SignatureDoesNotMatch', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [['x-amz-checksum-crc32', crc32Base64(object)]], tamperTrailerSignature: true });
    expectFailure(await run(body, options), 'SignatureDoesNotMatch');
  });

  it('a missing trailer signature → SignatureDoesNotMatch', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [['x-amz-checksum-crc32', crc32Base64(object)]], omitTrailerSignature: true });
    expectFailure(await run(body, options), 'SignatureDoesNotMatch');
  });

  it('a trailer value changed after signing → SignatureDoesNotMatch', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [['x-amz-checksum-crc32', crc32Base64(object)]] });
    const at = body.indexOf('x-amz-checksum-crc32:') + 'x-amz-checksum-crc32:'.length;
    const changed = Buffer.from(body);
    changed.write(crc32Base64(Buffer.from('something else')), at);
    expectFailure(await run(changed, options), 'SignatureDoesNotMatch');
  });

  it('a correctly signed but wrong checksum → BadDigest naming the algorithm', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [['x-amz-checksum-crc32', crc32Base64(Buffer.from('not the object'))]] });
    const error = expectFailure(await run(body, options), 'BadDigest');
    expect(error.message).toBe('The x-amz-checksum-crc32 you specified did not match the calculated checksum.');
  });

  it('the declared trailer missing → InvalidRequest', async () => {
    const body = await signedBody(auth, splitInto(object, 65_536), { trailers: [] });
    expectFailure(await run(body, options), 'InvalidRequest');
  });
});

// ---------------------------------------------------------------------------------------------
// STREAMING-UNSIGNED-PAYLOAD-TRAILER as @aws-sdk/client-s3 really sends it (a stream body of
// unknown hash, default checksums), captured by a plain node:http server.
// ---------------------------------------------------------------------------------------------

interface Captured {
  readonly request: SignedRequest;
  readonly body: Buffer;
}

describe('STREAMING-UNSIGNED-PAYLOAD-TRAILER from @aws-sdk/client-s3', () => {
  let server: http.Server;
  let endpoint: string;
  const captured: Captured[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        const url = req.url ?? '/';
        const question = url.indexOf('?');
        captured.push({
          request: {
            method: req.method ?? 'PUT',
            rawPath: question < 0 ? url : url.slice(0, question),
            rawQuery: question < 0 ? '' : url.slice(question + 1),
            headers: req.headers,
          },
          body: Buffer.concat(parts),
        });
        res.setHeader('ETag', '"0"');
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function capture(object: Buffer, pieces: number, checksum?: 'CRC32C' | 'CRC64NVME' | 'SHA256' | 'SHA1'): Promise<Captured> {
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    captured.length = 0;
    try {
      const size = Math.ceil(object.length / pieces);
      await s3.send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: 'streamed object',
          Body: Readable.from(splitInto(object, size)),
          ContentLength: object.length,
          ...(checksum === undefined ? {} : { ChecksumAlgorithm: checksum }),
        }),
      );
    } finally {
      s3.destroy();
    }
    expect(captured).toHaveLength(1);
    return captured[0]!;
  }

  function optionsFor(capture: Captured): RequestBodyOptions {
    const auth = verifySignature(capture.request, secretFor, new Date());
    const headers = capture.request.headers as Record<string, string>;
    return {
      payloadHash: auth.payloadHash,
      decodedLength: Number(headers['x-amz-decoded-content-length']),
      trailer: headers['x-amz-trailer'],
      auth,
    };
  }

  it('the SDK sends what this test means to test', async () => {
    const { request, body } = await capture(randomBytes(1000), 1);
    expect(request.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(request.headers['content-encoding']).toBe('aws-chunked');
    expect(request.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(body.toString('latin1')).toMatch(/\r\n0\r\nx-amz-checksum-crc32:[A-Za-z0-9+/=]+\r\n\r\n$/);
  });

  it.each([undefined, 'CRC32C', 'CRC64NVME', 'SHA256', 'SHA1'] as const)('a multi-chunk body with the %s trailer decodes and verifies', async (algorithm) => {
    const object = randomBytes(5 * 65_536 + 999);
    const capture_ = await capture(object, 5, algorithm);
    const outcome = await run(capture_.body, optionsFor(capture_), 10_000);
    expect(outcome.error).toBeUndefined();
    expect(outcome.data.equals(object)).toBe(true);
    const name = (algorithm ?? 'CRC32').toLowerCase();
    expect(outcome.digest?.md5Hex).toBe(md5Hex(object));
    expect(Object.keys(outcome.digest?.checksums ?? {})).toEqual([name]);
  });

  it('one corrupted object byte → BadDigest for the trailing checksum, never an end', async () => {
    const object = randomBytes(3 * 65_536);
    const capture_ = await capture(object, 3);
    const error = expectFailure(await run(corrupt(capture_.body, 100_000), optionsFor(capture_)), 'BadDigest');
    expect(error.message).toBe('The x-amz-checksum-crc32 you specified did not match the calculated checksum.');
  });

  it('a corrupted trailer value → BadDigest; a malformed one → InvalidRequest; an undeclared one → InvalidRequest', async () => {
    const object = randomBytes(70_000);
    const capture_ = await capture(object, 2);
    const text = capture_.body.toString('latin1');
    const value = /x-amz-checksum-crc32:([^\r]+)/.exec(text)![1]!;
    const other = crc32Base64(Buffer.from('other'));
    expectFailure(await run(Buffer.from(text.replace(value, other), 'latin1'), optionsFor(capture_)), 'BadDigest');
    expectFailure(await run(Buffer.from(text.replace(value, 'bm90IGEgY3Jj'), 'latin1'), optionsFor(capture_)), 'InvalidRequest');
    const undeclared = text.replace('\r\n\r\n', `\r\nx-amz-checksum-sha1:${createHash('sha1').update(object).digest('base64')}\r\n\r\n`);
    expectFailure(await run(Buffer.from(undeclared, 'latin1'), optionsFor(capture_)), 'InvalidRequest');
  });

  it('a body cut inside a chunk or inside the trailer → IncompleteBody', async () => {
    const object = randomBytes(70_000);
    const capture_ = await capture(object, 2);
    expectFailure(await run(capture_.body.subarray(0, 30_000), optionsFor(capture_)), 'IncompleteBody');
    expectFailure(await run(capture_.body.subarray(0, capture_.body.length - 8), optionsFor(capture_)), 'IncompleteBody');
  });

  it('a final empty line that never came is tolerated (every checked byte was there)', async () => {
    const object = randomBytes(1000);
    const capture_ = await capture(object, 1);
    const outcome = await run(capture_.body.subarray(0, capture_.body.length - 2), optionsFor(capture_));
    expect(outcome.error).toBeUndefined();
    expect(outcome.data.equals(object)).toBe(true);
  });

  it('chunk signatures in an unsigned payload → InvalidRequest', async () => {
    const body = Buffer.from('3;chunk-signature=' + '0'.repeat(64) + '\r\nabc\r\n0\r\n\r\n');
    expectFailure(await run(body, { payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedLength: 3 }), 'InvalidRequest');
  });
});

describe('over a real socket (node:http IncomingMessage as the source)', () => {
  it('an SDK upload verifies as it streams; a client that disconnects mid-body → IncompleteBody', async () => {
    const results: Array<Promise<BodyDigest>> = [];
    const server = http.createServer((req, res) => {
      const auth = verifySignature({ method: req.method!, rawPath: req.url!.split('?')[0]!, rawQuery: req.url!.split('?')[1] ?? '', headers: req.headers }, secretFor, new Date());
      const chunked = req.headers['content-encoding'] === 'aws-chunked';
      const verified = openRequestBody(req, {
        payloadHash: auth.payloadHash,
        decodedLength: Number(chunked ? req.headers['x-amz-decoded-content-length'] : req.headers['content-length']),
        trailer: req.headers['x-amz-trailer'] as string | undefined,
        auth,
      });
      verified.stream.resume();
      results.push(verified.done);
      verified.done.then(
        () => res.end(),
        (error: S3Error) => {
          res.statusCode = error.status ?? 500;
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const object = randomBytes(1_000_000);
      const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Readable.from(splitInto(object, 100_000)), ContentLength: object.length }));
      s3.destroy();
      expect((await results[0]!).md5Hex).toBe(md5Hex(object));

      // A hand-made client: headers promise 10 000 bytes, 4 000 arrive, then the socket closes.
      const request = http.request({ port, method: 'PUT', path: '/b/k', headers: { 'content-length': '10000' } });
      const signedLike = await smithy.sign(
        new HttpRequest({ method: 'PUT', hostname: '127.0.0.1', port, path: '/b/k', headers: { host: `127.0.0.1:${port}`, 'content-length': '10000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
        { signingDate: new Date() },
      );
      for (const [name, value] of Object.entries((signedLike as HttpRequest).headers)) request.setHeader(name, value);
      request.on('error', () => undefined);
      request.write(Buffer.alloc(4000));
      await new Promise((resolve) => setTimeout(resolve, 100));
      request.destroy();
      await expect(new Promise((resolve) => setTimeout(resolve, 50)).then(() => results[1]!)).rejects.toMatchObject({ code: 'IncompleteBody' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('plain bodies', () => {
  const object = randomBytes(200_000);

  it('UNSIGNED-PAYLOAD with Content-MD5 and a checksum header verifies and reports both', async () => {
    const outcome = await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length, contentMd5: md5Base64(object), checksumHeaders: { 'x-amz-checksum-crc32': crc32Base64(object) } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.digest).toEqual({ sizeBytes: object.length, md5Hex: md5Hex(object), checksums: { crc32: crc32Base64(object) } });
    // x-amz-checksum-type shares the prefix but is not a digest: passing every x-amz-checksum-* header is fine.
    const typed = await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length, checksumHeaders: { 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-checksum-crc32': crc32Base64(object) } });
    expect(typed.digest?.checksums).toEqual({ crc32: crc32Base64(object) });
  });

  it('a hex x-amz-content-sha256: right verifies, wrong → XAmzContentSHA256Mismatch', async () => {
    expect((await run(object, { payloadHash: sha256Hex(object), decodedLength: object.length })).error).toBeUndefined();
    expectFailure(await run(corrupt(object, 5), { payloadHash: sha256Hex(object), decodedLength: object.length }), 'XAmzContentSHA256Mismatch');
  });

  it('a body of 1 MiB or more is hashed on the hash thread: the same digests, the same refusals', async () => {
    const large = randomBytes(THREAD_HASH_MIN_BYTES + 12_345);
    const ok = await run(large, { payloadHash: sha256Hex(large), decodedLength: large.length, contentMd5: md5Base64(large) }, 65_536);
    expect(ok.error).toBeUndefined();
    expect(ok.digest?.md5Hex).toBe(md5Hex(large));
    expectFailure(await run(corrupt(large, THREAD_HASH_MIN_BYTES), { payloadHash: sha256Hex(large), decodedLength: large.length }, 65_536), 'XAmzContentSHA256Mismatch');
    expectFailure(await run(large, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: large.length, contentMd5: md5Base64(Buffer.from('x')) }, 65_536), 'BadDigest');
  });

  it('a wrong Content-MD5 → BadDigest; a malformed one → InvalidDigest before any byte is read', async () => {
    expectFailure(await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length, contentMd5: md5Base64(Buffer.from('x')) }), 'BadDigest');
    let read = false;
    const source = new Readable({ read() { read = true; this.push(null); } });
    expect(() => openRequestBody(source, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: 0, contentMd5: 'not-md5' })).toThrow(
      expect.objectContaining({ code: 'InvalidDigest' }),
    );
    expect(read).toBe(false);
  });

  it.each([
    ['crc32c', 'x-amz-checksum-crc32c'],
    ['sha256', 'sha256'],
  ])('a wrong %s header → BadDigest naming it', async (algorithm, key) => {
    const wrong = algorithm === 'crc32c' ? 'AAAAAA==' : Buffer.alloc(32).toString('base64');
    const error = expectFailure(await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length, checksumHeaders: { [key]: wrong } }), 'BadDigest');
    expect(error.message).toBe(`The x-amz-checksum-${algorithm} you specified did not match the calculated checksum.`);
  });

  it('header problems are refused up front', () => {
    const open = (options: Partial<RequestBodyOptions>) => () =>
      openRequestBody(Readable.from([]), { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: 0, ...options });
    expect(open({ checksumHeaders: { md4: 'AAAA' } })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(open({ checksumHeaders: { crc32: 'AAAA' } })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(open({ checksumHeaders: { crc32: 'AAAAAA==', crc32c: 'AAAAAA==' } })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(open({ trailer: 'x-amz-checksum-crc32' })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(open({ payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', trailer: 'x-amz-meta-foo' })).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(open({ payloadHash: 'sha256-of-nothing' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(open({ payloadHash: 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' })).toThrow(expect.objectContaining({ code: 'NotImplemented' }));
    expect(open({ decodedLength: -1 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('a short body → IncompleteBody; a long one → InvalidRequest as soon as it overflows', async () => {
    expectFailure(await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length + 1 }), 'IncompleteBody');
    const long = await run(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: 1000 }, 4096);
    expectFailure(long, 'InvalidRequest');
    expect(long.data.length).toBeLessThanOrEqual(1000);
  });

  it('a source that fails mid-body (client gone) → IncompleteBody', async () => {
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent++ < 3) this.push(Buffer.alloc(1000));
        else this.destroy(new Error('socket hang up'));
      },
    });
    const verified = openRequestBody(source, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: 10_000 });
    verified.stream.resume();
    await expect(verified.done).rejects.toMatchObject({ code: 'IncompleteBody' });
  });
});

describe('a consumer that writes to a temporary file and renames it on finish', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 's3o-body-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function store(body: Buffer, options: RequestBodyOptions, name: string): Promise<{ renamed: boolean; error: unknown }> {
    const temp = join(dir, `${name}.tmp`);
    const final = join(dir, name);
    const verified = openRequestBody(Readable.from(splitInto(body, 16_384)), options);
    const file = createWriteStream(temp);
    let renamed = false;
    file.on('finish', () => {
      renamed = true;
      // What a directory backend does: the file is complete, move it into place.
      rmSync(final, { force: true });
      renameSync(temp, final);
    });
    const error = await pipeline(verified.stream, file).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    return { renamed: renamed && existsSync(final), error };
  }

  it('a good body lands; a body whose last chunk signature is wrong never does', async () => {
    const MODE = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    const object = randomBytes(150_000);
    const auth = await signedStreamingRequest(MODE, object.length);
    const good = await store(await signedBody(auth, splitInto(object, 65_536)), { payloadHash: MODE, decodedLength: object.length, auth }, 'good');
    expect(good).toEqual({ renamed: true, error: undefined });
    expect(readFileSync(join(dir, 'good')).equals(object)).toBe(true);

    const bad = await store(await signedBody(auth, splitInto(object, 65_536), { tamperChunkSignature: 3 }), { payloadHash: MODE, decodedLength: object.length, auth }, 'bad');
    expect(bad.renamed).toBe(false);
    expect((bad.error as S3Error).code).toBe('SignatureDoesNotMatch');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });

  it('a plain body with a wrong checksum never lands', async () => {
    const object = randomBytes(100_000);
    const bad = await store(object, { payloadHash: 'UNSIGNED-PAYLOAD', decodedLength: object.length, checksumHeaders: { crc32: crc32Base64(Buffer.from('x')) } }, 'plain');
    expect(bad.renamed).toBe(false);
    expect((bad.error as S3Error).code).toBe('BadDigest');
    expect(existsSync(join(dir, 'plain'))).toBe(false);
  });
});
