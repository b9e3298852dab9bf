import { Transform, type Readable } from 'node:stream';
import type { ByteRange, MultipartHandle, PartRef } from '../../src/backends/backend-client.js';
import { S3Backend } from '../../src/backends/s3.js';

/** What a server-side copy call answered: an ETag, 'unsupported', or it threw. */
export type CopyAnswer = 'etag' | 'unsupported' | 'error';

/**
 * The S3 backend, counting every call that would move object bytes through the gateway (get, with
 * the bytes read; put; putPart), the server-side copies it is asked for with their answers, and how
 * long the service itself took over the last CompleteMultipartUpload. Everything else is the real
 * client against the real service.
 */
export class CountingS3Backend extends S3Backend {
  gets = 0;
  getBytes = 0;
  puts = 0;
  putParts = 0;
  readonly copyParts: CopyAnswer[] = [];
  readonly copyObjects: CopyAnswer[] = [];
  completeMs = 0;

  override async get(storageKey: string, range?: ByteRange): Promise<Readable> {
    this.gets++;
    const stream = await super.get(storageKey, range);
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.getBytes += chunk.length;
        done(null, chunk);
      },
    });
    stream.on('error', (err) => counter.destroy(err));
    return stream.pipe(counter);
  }

  override put(storageKey: string, body: Readable, sizeBytes: number): Promise<void> {
    this.puts++;
    return super.put(storageKey, body, sizeBytes);
  }

  override putPart(upload: MultipartHandle, part: PartRef & { readonly partNumber: number }, body: Readable): Promise<void> {
    this.putParts++;
    return super.putPart(upload, part, body);
  }

  override copyPart(upload: MultipartHandle, partNumber: number, source: { readonly storageKey: string; readonly range?: ByteRange }): Promise<{ etag: string } | 'unsupported'> {
    return recorded(this.copyParts, super.copyPart(upload, partNumber, source));
  }

  override copyObject(sourceStorageKey: string, destStorageKey: string): Promise<{ etag: string } | 'unsupported'> {
    return recorded(this.copyObjects, super.copyObject(sourceStorageKey, destStorageKey));
  }

  override async completeMultipart(...args: Parameters<S3Backend['completeMultipart']>): Promise<void> {
    const start = Date.now();
    try {
      await super.completeMultipart(...args);
    } finally {
      this.completeMs = Date.now() - start;
    }
  }

  counts(): { gets: number; getBytes: number; puts: number; putParts: number; copyParts: number; copyObjects: number } {
    return { gets: this.gets, getBytes: this.getBytes, puts: this.puts, putParts: this.putParts, copyParts: this.copyParts.length, copyObjects: this.copyObjects.length };
  }
}

async function recorded(log: CopyAnswer[], call: Promise<{ etag: string } | 'unsupported'>): Promise<{ etag: string } | 'unsupported'> {
  try {
    const answer = await call;
    log.push(answer === 'unsupported' ? answer : 'etag');
    return answer;
  } catch (err) {
    log.push('error');
    throw err;
  }
}
