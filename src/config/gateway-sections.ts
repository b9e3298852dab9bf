import { statSync } from 'node:fs';
import type { ConfigIssue } from '../store/core/errors.js';
import { resolveConfigPath } from './config-paths.js';
import type { RawConfig, RawServerSection } from './schema.js';
import { Secret } from './secret.js';
import { defaultServerConfig } from './server.js';
import type { CredentialConfig, ServerConfig, UiConfig } from './types.js';

/**
 * The rules of the gateway's sections that span fields or touch the file system: TLS files come in
 * pairs and must exist, access key ids and configured buckets are unique. Shape and value rules are
 * in schema.ts; every problem is added to `issues` with its path.
 */

export function resolveServer(raw: Partial<RawServerSection> | undefined, baseDir: string, issues: ConfigIssue[]): ServerConfig {
  const defaults = defaultServerConfig(baseDir);
  const tls = resolveTls(raw?.tls, baseDir, issues);
  return {
    host: raw?.listen?.host ?? defaults.host,
    port: raw?.listen?.port ?? defaults.port,
    domain: raw?.domain,
    region: raw?.region ?? defaults.region,
    dataDir: raw?.data_dir === undefined ? defaults.dataDir : resolveConfigPath(baseDir, raw.data_dir),
    maxObjectBytes: raw?.max_object_size ?? defaults.maxObjectBytes,
    ...(tls ? { tls } : {}),
    maxConcurrentRequests: raw?.max_concurrent_requests ?? defaults.maxConcurrentRequests,
    headerTimeoutMs: raw?.header_timeout ?? defaults.headerTimeoutMs,
    idleTimeoutMs: raw?.idle_timeout ?? defaults.idleTimeoutMs,
    bodyTimeoutMs: raw?.body_timeout ?? defaults.bodyTimeoutMs,
    shutdownTimeoutMs: raw?.shutdown_timeout ?? defaults.shutdownTimeoutMs,
    ...(raw?.metrics_listen ? { metricsListen: raw.metrics_listen } : {}),
  };
}

function resolveTls(raw: { cert_file?: string; key_file?: string } | undefined, baseDir: string, issues: ConfigIssue[]): ServerConfig['tls'] {
  if (raw === undefined) return undefined;
  const files = { cert_file: raw.cert_file, key_file: raw.key_file };
  const given = Object.entries(files).filter(([, v]) => v !== undefined);
  if (given.length === 0) return undefined;
  if (given.length === 1) {
    const missing = files.cert_file === undefined ? 'cert_file' : 'key_file';
    issues.push({ path: `server.tls.${missing}`, message: `is required together with server.tls.${given[0]![0]} (give both files, or neither for plain HTTP)` });
    return undefined;
  }
  const certFile = resolveConfigPath(baseDir, files.cert_file!);
  const keyFile = resolveConfigPath(baseDir, files.key_file!);
  const before = issues.length;
  checkReadableFile(certFile, 'server.tls.cert_file', issues);
  checkReadableFile(keyFile, 'server.tls.key_file', issues);
  return issues.length > before ? undefined : { certFile, keyFile };
}

function checkReadableFile(path: string, field: string, issues: ConfigIssue[]): void {
  try {
    if (!statSync(path).isFile()) issues.push({ path: field, message: `${path} is not a file` });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    issues.push({ path: field, message: code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${code ?? (err as Error).message}` });
  }
}

/** `ui`: on by default, at /ui of the S3 listener; sessions last a working day. */
export function resolveUi(raw: RawConfig['ui']): UiConfig {
  return { enabled: raw?.enabled ?? true, sessionTtlMs: raw?.session_ttl ?? 8 * 3600_000, ...(raw?.listen ? { listen: raw.listen } : {}) };
}

export function resolveCredentials(raw: RawConfig['credentials'], rawList: unknown, issues: ConfigIssue[]): CredentialConfig[] {
  reportDuplicateValues(fieldOf(rawList, 'access_key_id'), 'credentials', '.access_key_id', issues);
  return (raw ?? []).map((c) => ({
    accessKeyId: c.access_key_id,
    secretAccessKey: new Secret(c.secret_access_key),
    buckets: c.buckets,
    permission: c.permission,
  }));
}

export function resolveBuckets(raw: RawConfig['buckets'], rawList: unknown, issues: ConfigIssue[]): string[] {
  reportDuplicateValues(Array.isArray(rawList) ? rawList.map((v: unknown) => (typeof v === 'string' ? v : undefined)) : [], 'buckets', '', issues);
  return [...new Set(raw ?? [])];
}

/** `field` of each entry of a list as written in the file, before validation. */
function fieldOf(list: unknown, field: string): (string | undefined)[] {
  if (!Array.isArray(list)) return [];
  return list.map((item: unknown) => {
    const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[field] : undefined;
    return typeof value === 'string' ? value : undefined;
  });
}

function reportDuplicateValues(values: readonly (string | undefined)[], list: string, suffix: string, issues: ConfigIssue[]): void {
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    if (value === undefined) return;
    const first = seen.get(value);
    if (first !== undefined) issues.push({ path: `${list}[${i}]${suffix}`, message: `${JSON.stringify(value)} is already used by ${list}[${first}]` });
    else seen.set(value, i);
  });
}
