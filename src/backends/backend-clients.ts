import type { BackendConfig } from '../config/types.js';
import type { BackendClient } from './backend-client.js';
import { DirectoryBackend } from './directory.js';
import { S3Backend } from './s3.js';

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

/** A client per backend that has one, in config order. */
export function createBackendClients(backends: readonly BackendConfig[]): Map<string, BackendClient> {
  const clients = new Map<string, BackendClient>();
  for (const b of backends) {
    if (b.s3 !== undefined) clients.set(b.name, new S3Backend(b.name, b.s3));
    else if (b.directory !== undefined) clients.set(b.name, new DirectoryBackend(b.name, b.directory));
  }
  return clients;
}
