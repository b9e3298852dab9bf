import type { BackendConfig } from '../config/types.js';
import type { BackendClient } from './backend-client.js';
import { DirectoryBackend } from './directory.js';

/**
 * Which configured backends the program can reach, in one place so that `serve` (the clients it
 * builds), `validate` (a warning) and `status` (a mark) always agree: `directory` backends and
 * `s3` backends (`endpoint`) have a client; a backend with neither keeps its cleanup rows and
 * intents waiting.
 */
export function hasClient(backend: BackendConfig): boolean {
  return backend.directory !== undefined || backend.s3 !== undefined;
}

export function backendsWithoutClient(backends: readonly BackendConfig[]): BackendConfig[] {
  return backends.filter((b) => !hasClient(b));
}

/** The line validate and serve print (at warn) for a backend without a client. */
export function withoutClientWarning(backend: BackendConfig): string {
  return `backend ${JSON.stringify(backend.name)} has no client (neither \`directory\` nor \`endpoint\` is set): its cleanup rows and intents wait`;
}

/**
 * A client per backend that has one, in config order. The S3 client library is loaded only when an
 * `s3` backend is configured: it is large, and every CLI command would otherwise pay for loading it.
 */
export async function createBackendClients(backends: readonly BackendConfig[]): Promise<Map<string, BackendClient>> {
  const clients = new Map<string, BackendClient>();
  // The SDK warns on Node 20 that its releases after January 2027 need Node 22; the version here is
  // pinned by the lock file, so the warning only adds noise to every operator's log.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Backend } = backends.some((b) => b.s3 !== undefined) ? await import('./s3.js') : { S3Backend: undefined };
  for (const b of backends) {
    if (b.s3 !== undefined) clients.set(b.name, new S3Backend!(b.name, b.s3));
    else if (b.directory !== undefined) clients.set(b.name, new DirectoryBackend(b.name, b.directory));
  }
  return clients;
}
