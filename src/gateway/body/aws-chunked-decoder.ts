import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { S3Error } from '../errors.js';

/**
 * Decoder of `Content-Encoding: aws-chunked` bodies, fed the raw bytes as they arrive:
 *
 *   signed:   <hex-size>;chunk-signature=<64 hex>\r\n<data>\r\n … 0;chunk-signature=<sig>\r\n
 *   unsigned: <hex-size>\r\n<data>\r\n … 0\r\n
 *   then, with a trailer: <name>:<value>\r\n … [x-amz-trailer-signature:<sig>\r\n] and \r\n
 *   without one:          \r\n
 *
 * Each chunk signature chains from the previous one (the first from the request's signature):
 * HMAC(signingKey, "AWS4-HMAC-SHA256-PAYLOAD\n" + date + "\n" + scope + "\n" + previous + "\n" +
 * sha256("") + "\n" + sha256(chunk data)); the final 0-length chunk is signed the same way. The
 * trailer signature covers sha256 of the trailer lines as "name:value\n", chained from the final
 * chunk's signature with "AWS4-HMAC-SHA256-TRAILER".
 *
 * Memory stays bounded: chunk data is handed on as it arrives (hashed incrementally), and only
 * header and trailer lines are buffered, each with a hard cap.
 */

/** What chunk signatures chain from; signingKey must never be logged. */
export interface ChunkSigningContext {
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
  readonly seedSignature: string;
}

export interface AwsChunkedOptions {
  /** null for STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
  readonly signing: ChunkSigningContext | null;
  /** Whether a trailer section follows the final chunk (the *-TRAILER variants). */
  readonly trailer: boolean;
  /** Receives the decoded object bytes in order. May throw (e.g. too many bytes): that aborts decoding. */
  readonly onData: (bytes: Buffer) => void;
}

/** The longest chunk header line accepted: `<16 hex>;chunk-signature=<64 hex>` is 97 bytes. */
export const MAX_CHUNK_HEADER_BYTES = 256;
/** The largest trailer section accepted (a checksum trailer and its signature are ~150 bytes). */
export const MAX_TRAILER_BYTES = 4096;

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-fA-F]{64})$/;
const UNSIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16})$/;
const CR = 0x0d;
const LF = 0x0a;

type State = 'chunk-header' | 'chunk-data' | 'chunk-data-end' | 'trailer' | 'final-line' | 'done';

function framingError(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}`);
}

function truncated(): S3Error {
  return new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk and trailer.');
}

export class AwsChunkedDecoder {
  private state: State = 'chunk-header';
  private line: number[] = [];
  private trailerBytes = 0;
  private remaining = 0;
  private pendingSignature = '';
  private chunkHash: Hash | null = null;
  private previousSignature: string;
  private readonly trailers = new Map<string, string>();
  private trailerSignature: string | undefined;

  constructor(private readonly options: AwsChunkedOptions) {
    this.previousSignature = options.signing?.seedSignature.toLowerCase() ?? '';
  }

  /** Feed raw body bytes. Throws S3Error on the first framing or signature error. */
  write(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case 'chunk-data': {
          const take = Math.min(this.remaining, input.length - offset);
          const data = input.subarray(offset, offset + take);
          this.chunkHash?.update(data);
          this.remaining -= take;
          offset += take;
          this.options.onData(data);
          if (this.remaining === 0) {
            if (this.chunkHash !== null) this.verifyChunkSignature(this.chunkHash.digest('hex'));
            this.chunkHash = null;
            this.state = 'chunk-data-end';
          }
          break;
        }
        case 'chunk-data-end': {
          // The CRLF closing a chunk's data; may arrive split across writes.
          const byte = input[offset++] as number;
          this.line.push(byte);
          if (this.line.length === 2) {
            if (this.line[0] !== CR || this.line[1] !== LF) throw framingError('chunk data is not followed by CRLF.');
            this.line = [];
            this.state = 'chunk-header';
          }
          break;
        }
        case 'done':
          throw framingError('bytes after the end of the aws-chunked body.');
        default: {
          const lineEnd = input.indexOf(LF, offset);
          const end = lineEnd < 0 ? input.length : lineEnd + 1;
          this.appendLine(input.subarray(offset, end));
          offset = end;
          if (lineEnd >= 0) this.completeLine();
        }
      }
    }
  }

  /** Signal the end of the raw body; returns the trailers received (name → value, names lower-case). */
  end(): ReadonlyMap<string, string> {
    // A last empty line that never came is tolerated (some clients omit it): every byte that
    // matters, and every signature, was already seen.
    const atLineStart = this.line.length === 0;
    if (this.state === 'trailer' && atLineStart) this.finishTrailer();
    else if (this.state === 'final-line' && atLineStart) this.state = 'done';
    if (this.state !== 'done') throw truncated();
    return this.trailers;
  }

  private appendLine(bytes: Buffer): void {
    const limit = this.state === 'trailer' ? MAX_TRAILER_BYTES - this.trailerBytes : MAX_CHUNK_HEADER_BYTES;
    if (this.line.length + bytes.length > limit) {
      throw framingError(this.state === 'trailer' ? 'the trailer section is too long.' : 'a chunk header line is too long.');
    }
    for (const byte of bytes) this.line.push(byte);
  }

  private completeLine(): void {
    const raw = this.line;
    this.line = [];
    if (raw.length < 2 || raw[raw.length - 2] !== CR) throw framingError('a line does not end with CRLF.');
    const text = Buffer.from(raw.slice(0, -2)).toString('latin1');
    switch (this.state) {
      case 'chunk-header':
        this.chunkHeader(text);
        return;
      case 'trailer':
        this.trailerBytes += raw.length;
        this.trailerLine(text);
        return;
      case 'final-line':
        if (text !== '') throw framingError('the final chunk is not followed by an empty line.');
        this.state = 'done';
        return;
      default:
        throw framingError('unexpected line.');
    }
  }

  private chunkHeader(text: string): void {
    const match = (this.options.signing !== null ? SIGNED_CHUNK_HEADER : UNSIGNED_CHUNK_HEADER).exec(text);
    if (match === null) {
      throw framingError(this.options.signing !== null ? 'a chunk header is not "<hex size>;chunk-signature=<signature>".' : 'a chunk header is not a hex size.');
    }
    const size = Number.parseInt(match[1] as string, 16);
    if (!Number.isSafeInteger(size)) throw framingError('a chunk size is too large.');
    this.pendingSignature = (match[2] ?? '').toLowerCase();
    if (size === 0) {
      this.verifyChunkSignature(EMPTY_SHA256);
      this.state = this.options.trailer ? 'trailer' : 'final-line';
      return;
    }
    this.remaining = size;
    this.chunkHash = this.options.signing !== null ? createHash('sha256') : null;
    this.state = 'chunk-data';
  }

  /** Called once a chunk's data is complete (and for the 0-length final chunk). */
  private verifyChunkSignature(dataSha256: string): void {
    const signing = this.options.signing;
    if (signing === null) return;
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', signing.amzDate, signing.scope, this.previousSignature, EMPTY_SHA256, dataSha256].join('\n');
    this.requireSignature(toSign, this.pendingSignature, 'chunk');
    this.previousSignature = this.pendingSignature;
  }

  private trailerLine(text: string): void {
    if (text === '') {
      this.finishTrailer();
      return;
    }
    const colon = text.indexOf(':');
    if (colon <= 0) throw framingError('a trailer line is not "name:value".');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      if (this.trailerSignature !== undefined) throw framingError('the trailer signature appears twice.');
      this.trailerSignature = value.toLowerCase();
      return;
    }
    if (this.trailerSignature !== undefined) throw framingError('a trailer follows the trailer signature.');
    if (this.trailers.has(name)) throw framingError(`the trailer ${name} appears twice.`);
    this.trailers.set(name, value);
  }

  private finishTrailer(): void {
    const signing = this.options.signing;
    if (signing !== null) {
      if (this.trailerSignature === undefined) {
        throw new S3Error('SignatureDoesNotMatch', 'The aws-chunked trailer has no x-amz-trailer-signature.');
      }
      let canonical = '';
      for (const [name, value] of this.trailers) canonical += `${name}:${value}\n`;
      const trailerHash = createHash('sha256').update(canonical, 'latin1').digest('hex');
      const toSign = ['AWS4-HMAC-SHA256-TRAILER', signing.amzDate, signing.scope, this.previousSignature, trailerHash].join('\n');
      this.requireSignature(toSign, this.trailerSignature, 'trailer');
    } else if (this.trailerSignature !== undefined) {
      throw framingError('an unsigned payload carries a trailer signature.');
    }
    this.state = 'done';
  }

  private requireSignature(toSign: string, provided: string, what: 'chunk' | 'trailer'): void {
    const signing = this.options.signing as ChunkSigningContext;
    const expected = Buffer.from(createHmac('sha256', signing.signingKey).update(toSign, 'utf8').digest('hex'), 'latin1');
    const given = Buffer.from(provided, 'latin1');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new S3Error('SignatureDoesNotMatch', `The ${what} signature we calculated does not match the signature you provided.`);
    }
  }
}
