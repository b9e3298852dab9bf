import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ThreadHash } from '../../src/gateway/body/hash-thread.js';

/** The hash thread (large bodies' MD5 and SHA-256, off the event loop) against node:crypto on this thread. */
describe('the hash thread', () => {
  it('gives the digests of what it was sent, in any chunking', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const session = new ThreadHash(['md5', 'sha256']);
    let at = 0;
    for (const size of [0, 1, 65_536, 7, 1_000_000, 0, 3]) {
      await session.update(data.subarray(at, at + size));
      at += size;
    }
    await session.update(data.subarray(at));
    expect(await session.digest()).toEqual({ md5: createHash('md5').update(data).digest('hex'), sha256: createHash('sha256').update(data).digest('hex') });
  });

  it('keeps sessions apart', async () => {
    const bodies = Array.from({ length: 5 }, () => randomBytes(200_000));
    const sessions = bodies.map(() => new ThreadHash(['md5']));
    for (let offset = 0; offset < 200_000; offset += 50_000) {
      bodies.forEach((body, i) => sessions[i]!.update(body.subarray(offset, offset + 50_000)));
    }
    const digests = await Promise.all(sessions.map((s) => s.digest()));
    expect(digests.map((d) => d.md5)).toEqual(bodies.map((b) => createHash('md5').update(b).digest('hex')));
  });

  it('asks its caller to wait once 4 MiB are in flight, and lets it go on as the thread catches up', async () => {
    const session = new ThreadHash(['md5']);
    const chunk = randomBytes(64 * 1024);
    const whole = createHash('md5');
    let sentBeforeWait = 0;
    let waited = 0;
    for (let i = 0; i < 256; i++) {
      whole.update(chunk);
      const wait = session.update(chunk);
      if (!wait) {
        if (waited === 0) sentBeforeWait += chunk.length;
        continue;
      }
      waited++;
      await wait;
    }
    // Sent synchronously, nothing is hashed before the first wait: the window bounds what is queued.
    expect(sentBeforeWait).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(waited).toBeGreaterThan(0);
    expect((await session.digest()).md5).toBe(whole.digest('hex'));
  });

  it('a dropped session is forgotten and a new one still works', async () => {
    const dropped = new ThreadHash(['md5']);
    dropped.update(Buffer.from('abandoned'));
    dropped.drop();
    const next = new ThreadHash(['md5']);
    next.update(Buffer.from('kept'));
    expect((await next.digest()).md5).toBe(createHash('md5').update('kept').digest('hex'));
  });
});
