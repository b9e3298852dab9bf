import { resolve } from 'node:path';
import type { ServerConfig } from './types.js';

/** S3's largest single PUT. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** Where the built-in `local` backend keeps its bytes when the config declares no backends, below data_dir. */
export const DEFAULT_BACKEND_NAME = 'local';
export const DEFAULT_BACKEND_SUBDIR = 'backends/local';

/**
 * Admission and timeouts (README, Operations). 256 requests at once keeps a 2-core instance busy
 * without queueing unboundedly; the idle timeout is above the 60 s idle timeout of common load
 * balancers, so the gateway never closes a kept-alive connection the balancer is about to reuse.
 */
export const DEFAULT_SERVER_LIMITS = {
  maxConcurrentRequests: 256,
  headerTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
  bodyTimeoutMs: 60_000,
  shutdownTimeoutMs: 30_000,
} as const;

/** The server section when the config says nothing: the S3 endpoint on 127.0.0.1:9000, state under ./data (of `baseDir`). */
export function defaultServerConfig(baseDir: string = process.cwd()): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 9000,
    domain: undefined,
    region: 'us-east-1',
    dataDir: resolve(baseDir, 'data'),
    maxObjectBytes: MAX_SINGLE_PUT_BYTES,
    ...DEFAULT_SERVER_LIMITS,
  };
}
