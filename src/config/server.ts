import { resolve } from 'node:path';
import type { ServerConfig } from './types.js';

/** S3's largest single PUT. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** Where the built-in `local` backend keeps its bytes when the config declares no backends, below data_dir. */
export const DEFAULT_BACKEND_NAME = 'local';
export const DEFAULT_BACKEND_SUBDIR = 'backends/local';

/** The server section when the config says nothing: the S3 endpoint on 127.0.0.1:9000, state under ./data (of `baseDir`). */
export function defaultServerConfig(baseDir: string = process.cwd()): ServerConfig {
  return { host: '127.0.0.1', port: 9000, domain: undefined, region: 'us-east-1', dataDir: resolve(baseDir, 'data'), maxObjectBytes: MAX_SINGLE_PUT_BYTES };
}
