import type { ConfigIssue } from '../store/core/errors.js';
import { resolveConfigPath } from './config-paths.js';
import type { RawConfig } from './schema.js';
import { Secret } from './secret.js';
import type { BackendConfig, BackendMonthlyLimits } from './types.js';

export const DEFAULT_S3_REGION = 'us-east-1';
export const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** The keys that only mean something for an `s3` backend (given without `endpoint` → error). */
export const S3_KEYS = ['region', 'bucket', 'access_key_id', 'secret_access_key', 'force_path_style', 'timeout'] as const;
/** Required with `endpoint`. */
const S3_REQUIRED = ['bucket', 'access_key_id', 'secret_access_key'] as const;

export const NO_MONTHLY_LIMITS: BackendMonthlyLimits = { apiRequests: 0, egressBytes: 0, ingressBytes: 0 };

/** A backend's monthly limits (all 0 when the file sets none). */
export function monthlyLimitsOf(backend: BackendConfig): BackendMonthlyLimits {
  return backend.monthlyLimits ?? NO_MONTHLY_LIMITS;
}

/** Which kind of backend this is: where its bytes live. */
export function backendKind(backend: BackendConfig): 'directory' | 's3' | 'none' {
  if (backend.s3) return 's3';
  if (backend.directory !== undefined) return 'directory';
  return 'none';
}

type RawBackend = NonNullable<RawConfig['backends']>[number];

/**
 * The rules that span the keys of one backend, checked on the entries as written (so that a bad
 * value elsewhere in the file does not hide them): `directory` and `endpoint` exclude each other,
 * the S3 keys need `endpoint`, and an S3 backend needs its bucket and both halves of its key.
 */
export function checkBackendEntries(raw: unknown, issues: ConfigIssue[]): void {
  if (!Array.isArray(raw)) return;
  raw.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
    const given = (key: string) => (entry as Record<string, unknown>)[key] != null;
    const path = `backends[${i}]`;
    if (given('directory') && given('endpoint')) {
      issues.push({ path: `${path}.endpoint`, message: 'a backend has either `directory` (a directory backend) or `endpoint` (an S3 backend), not both' });
      return;
    }
    if (!given('endpoint')) {
      for (const key of S3_KEYS) {
        if (given(key)) issues.push({ path: `${path}.${key}`, message: 'is a setting of S3 backends: set `endpoint` too, or remove it' });
      }
      return;
    }
    for (const key of S3_REQUIRED) {
      if (!given(key)) issues.push({ path: `${path}.${key}`, message: 'is required for an S3 backend (one with `endpoint`)' });
    }
  });
}

/** The BackendConfig of a parsed entry (the cross-key rules were checked by checkBackendEntries). */
export function toBackendConfig(b: RawBackend, baseDir: string): BackendConfig {
  const limits =
    b.api_request_limit !== undefined || b.egress_byte_limit !== undefined || b.ingress_byte_limit !== undefined
      ? { monthlyLimits: { apiRequests: b.api_request_limit ?? 0, egressBytes: b.egress_byte_limit ?? 0, ingressBytes: b.ingress_byte_limit ?? 0 } }
      : {};
  const s3 =
    b.endpoint !== undefined
      ? {
          s3: {
            endpoint: b.endpoint,
            region: b.region ?? DEFAULT_S3_REGION,
            bucket: b.bucket ?? '',
            accessKeyId: b.access_key_id ?? '',
            secretAccessKey: new Secret(b.secret_access_key ?? ''),
            forcePathStyle: b.force_path_style ?? true,
            timeoutMs: b.timeout ?? DEFAULT_S3_TIMEOUT_MS,
          },
        }
      : {};
  return {
    name: b.name,
    bytesLimit: b.bytes_limit ?? 0,
    ...(b.directory ? { directory: resolveConfigPath(baseDir, b.directory) } : {}),
    ...s3,
    ...limits,
  };
}
