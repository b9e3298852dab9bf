import { resolve } from 'node:path';
import type { ServerConfig } from './types.js';

/** S3's largest single PUT. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** The server section when the config says nothing: the S3 endpoint on 127.0.0.1:9000, state under ./data. */
export function defaultServerConfig(baseDir: string = process.cwd()): ServerConfig {
  return { host: '127.0.0.1', port: 9000, domain: undefined, region: 'us-east-1', dataDir: resolve(baseDir, 'data'), maxObjectBytes: MAX_SINGLE_PUT_BYTES };
}
