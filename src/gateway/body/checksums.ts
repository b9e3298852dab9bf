import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';

/**
 * The checksums S3 clients send in `x-amz-checksum-<algorithm>` (header or aws-chunked trailer).
 * Each digest travels as base64 of the big-endian digest bytes.
 */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Digest sizes in bytes: a header value must decode to exactly this many bytes. */
export const CHECKSUM_DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** An incremental checksum: feed chunks in order, then read the digest once. */
export interface IncrementalChecksum {
  readonly algorithm: ChecksumAlgorithm;
  update(chunk: Uint8Array): void;
  /** Base64 of the big-endian digest (async: the CRC64 implementation answers asynchronously). */
  digestBase64(): Promise<string>;
}

function uint32Base64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

class Crc32Checksum implements IncrementalChecksum {
  readonly algorithm = 'crc32';
  private value = 0;
  update(chunk: Uint8Array): void {
    this.value = crc32(chunk, this.value);
  }
  async digestBase64(): Promise<string> {
    return uint32Base64(this.value);
  }
}

class Crc32cChecksum implements IncrementalChecksum {
  readonly algorithm = 'crc32c';
  private readonly state = new Crc32c();
  update(chunk: Uint8Array): void {
    this.state.update(chunk);
  }
  async digestBase64(): Promise<string> {
    return uint32Base64(this.state.digest());
  }
}

class Crc64NvmeChecksum implements IncrementalChecksum {
  readonly algorithm = 'crc64nvme';
  private readonly state = new Crc64Nvme();
  update(chunk: Uint8Array): void {
    this.state.update(chunk);
  }
  async digestBase64(): Promise<string> {
    return Buffer.from(await this.state.digest()).toString('base64');
  }
}

class NodeHashChecksum implements IncrementalChecksum {
  private readonly hash: Hash;
  constructor(readonly algorithm: 'sha1' | 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  async digestBase64(): Promise<string> {
    return this.hash.digest('base64');
  }
}

export function createChecksum(algorithm: ChecksumAlgorithm): IncrementalChecksum {
  switch (algorithm) {
    case 'crc32':
      return new Crc32Checksum();
    case 'crc32c':
      return new Crc32cChecksum();
    case 'crc64nvme':
      return new Crc64NvmeChecksum();
    case 'sha1':
    case 'sha256':
      return new NodeHashChecksum(algorithm);
  }
}

/** Whether `value` is well-formed for the algorithm: canonical base64 of a digest of the right size. */
export function isWellFormedChecksum(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === CHECKSUM_DIGEST_BYTES[algorithm] && bytes.toString('base64') === value;
}
