import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, S3Client, type ChecksumAlgorithm as SdkChecksumAlgorithm } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_ALGORITHMS, createChecksum, isWellFormedChecksum, type ChecksumAlgorithm } from '../../src/gateway/body/checksums.js';

async function digest(algorithm: ChecksumAlgorithm, pieces: Uint8Array[]): Promise<string> {
  const checksum = createChecksum(algorithm);
  for (const piece of pieces) checksum.update(piece);
  return checksum.digestBase64();
}

const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

describe('checksum algorithms', () => {
  // The published check values (the CRC catalogue's "check" is the CRC of the ASCII "123456789").
  it.each<[ChecksumAlgorithm, string]>([
    ['crc32', 'cbf43926'],
    ['crc32c', 'e3069283'],
    ['crc64nvme', 'ae8b14860a799888'],
    ['sha1', 'f7c3bc1d808e04732adf679965ccc34ca7ae3441'],
    ['sha256', '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225'],
  ])('%s of "123456789" is 0x%s, as base64 of the big-endian digest', async (algorithm, hex) => {
    expect(await digest(algorithm, [Buffer.from('123456789')])).toBe(hexToBase64(hex));
  });

  it.each<[ChecksumAlgorithm, string]>([
    ['crc32', '00000000'],
    ['crc32c', '00000000'],
    ['crc64nvme', '0000000000000000'],
    ['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ])('%s of nothing', async (algorithm, hex) => {
    expect(await digest(algorithm, [])).toBe(hexToBase64(hex));
  });

  it.each(CHECKSUM_ALGORITHMS)('%s: fed in pieces equals fed at once, and one changed byte changes it', async (algorithm) => {
    const data = randomBytes(300_001);
    const whole = await digest(algorithm, [data]);
    const pieces = [data.subarray(0, 1), data.subarray(1, 65_537), data.subarray(65_537, 65_537), data.subarray(65_537)];
    expect(await digest(algorithm, pieces)).toBe(whole);
    const changed = Buffer.from(data);
    changed[150_000] = (changed[150_000] as number) ^ 1;
    expect(await digest(algorithm, [changed])).not.toBe(whole);
  });

  it('well-formed values: canonical base64 of the right length only', () => {
    expect(isWellFormedChecksum('crc32', 'y/Q5Jg==')).toBe(true);
    expect(isWellFormedChecksum('crc32', 'y/Q5Jg')).toBe(false); // unpadded
    expect(isWellFormedChecksum('crc32', 'y/Q5Jh==')).toBe(false); // non-canonical trailing bits
    expect(isWellFormedChecksum('crc32', 'rosSFgp5mIg=')).toBe(false); // 8 bytes: a crc64
    expect(isWellFormedChecksum('crc64nvme', 'rosSFgp5mIg=')).toBe(true);
    expect(isWellFormedChecksum('sha256', 'not base64 at all!')).toBe(false);
    expect(isWellFormedChecksum('sha1', hexToBase64('f7c3bc1d808e04732adf679965ccc34ca7ae3441'))).toBe(true);
  });
});

describe('the values @aws-sdk/client-s3 sends', () => {
  it.each<[ChecksumAlgorithm, SdkChecksumAlgorithm]>([
    ['crc32', 'CRC32'],
    ['crc32c', 'CRC32C'],
    ['crc64nvme', 'CRC64NVME'],
    ['sha1', 'SHA1'],
    ['sha256', 'SHA256'],
  ])('%s matches the x-amz-checksum header the SDK computed', async (algorithm, sdkName) => {
    const body = randomBytes(100_000);
    let header: string | undefined;
    const server = http.createServer((req, res) => {
      header = req.headers[`x-amz-checksum-${algorithm}`] as string | undefined;
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    });
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body, ChecksumAlgorithm: sdkName }));
    } finally {
      s3.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
    expect(header).toBeDefined();
    expect(await digest(algorithm, [body])).toBe(header);
  });
});
