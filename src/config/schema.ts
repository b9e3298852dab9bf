import { z } from 'zod';
import { byteSize, duration, httpUrl, oneOf, secretText, text, wholeNumber, yesNo } from './fields.js';
import { accessKeyId, bucketGrant, bucketName, domainName, listenAddress, regionName, required, secretAccessKey } from './gateway-fields.js';

/**
 * The shape of the YAML file. Keys are snake_case as operators write them; unknown keys are
 * errors (a typo must not silently fall back to a default). Rules that span several fields
 * (driver inference, URL merge, min <= max) live in resolve.ts.
 */

const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const backendName = z.unknown().transform((value, ctx) => {
  if (typeof value !== 'string' || !BACKEND_NAME.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be 1-63 characters of letters, digits, ".", "_" or "-", starting with a letter or digit, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return value;
});

export const databaseSection = z.strictObject({
  driver: oneOf(['sqlite', 'postgres']).optional(),
  // sqlite
  path: text('a file path').optional(),
  synchronous: oneOf(['full', 'normal']).optional(),
  busy_timeout: duration().optional(),
  mmap_size: byteSize().optional(),
  // postgres
  url: secretText().optional(),
  host: text('a host name').optional(),
  port: wholeNumber(1, 65535).optional(),
  database: text('a database name').optional(),
  user: text('a user name').optional(),
  password: secretText().optional(),
  ssl_mode: oneOf(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
  ssl_root_cert: text('a file path').optional(),
  max_conns: wholeNumber(1, 10_000).optional(),
  min_conns: wholeNumber(0, 10_000).optional(),
  max_conn_lifetime: duration(1000).optional(),
  quota_stripes: wholeNumber(1, 64).optional(),
});

export type RawDatabaseSection = z.output<typeof databaseSection>;

/** The keys that only mean something for Postgres (given with driver sqlite → error). */
export const POSTGRES_KEYS = [
  'url',
  'host',
  'port',
  'database',
  'user',
  'password',
  'ssl_mode',
  'ssl_root_cert',
  'max_conns',
  'min_conns',
  'max_conn_lifetime',
  'quota_stripes',
] as const satisfies readonly (keyof RawDatabaseSection)[];

export const SQLITE_KEYS = ['path', 'synchronous', 'busy_timeout', 'mmap_size'] as const satisfies readonly (keyof RawDatabaseSection)[];

const schedule = {
  interval: duration(10).optional(),
  batch_size: wholeNumber(1, 10_000).optional(),
  concurrency: wholeNumber(1, 256).optional(),
};

const workersSection = z.strictObject({
  cleanup: z.strictObject({ ...schedule, claim_grace: duration(1000).optional(), max_attempts: wholeNumber(1, 1000).optional() }).optional(),
  reaper: z.strictObject({ ...schedule, min_age: duration(1000).optional() }).optional(),
  outbox: z.strictObject({ ...schedule, claim_grace: duration(1000).optional() }).optional(),
  usage_flush: z.strictObject({ interval: duration(10).optional() }).optional(),
  multipart_expiry: z.strictObject({ ...schedule, max_age: duration(60_000).optional() }).optional(),
  reconcile: z.strictObject({ interval: duration(1000).optional() }).optional(),
});

/** An `s3` backend: any S3-compatible service. */
const s3BackendKeys = {
  endpoint: httpUrl().optional(),
  region: regionName().optional(),
  bucket: text('an S3 bucket name').optional(),
  access_key_id: text('an access key id').optional(),
  secret_access_key: secretText().optional(),
  force_path_style: yesNo().optional(),
  timeout: duration(100).optional(),
};

const endpointSection = z.strictObject({
  name: backendName,
  url: httpUrl(),
  secret: secretText().optional(),
  timeout: duration(10).optional(),
  max_attempts: wholeNumber(1, 1000).optional(),
  events: z.array(oneOf(['ObjectCreated', 'ObjectRemoved'])).min(1, 'must list at least one event type').optional(),
});

/** The S3 endpoint (spec gateway.md §1, §6). Paths are resolved against the config file's directory. */
export const serverSection = z.strictObject({
  listen: listenAddress().optional(),
  domain: domainName().optional(),
  region: regionName().optional(),
  data_dir: text('a directory path').optional(),
  max_object_size: byteSize().optional(),
  // Both or neither: checked in resolve.ts, where each problem gets its own path.
  tls: z.strictObject({ cert_file: text('a file path').optional(), key_file: text('a file path').optional() }).optional(),
  // Operations (spec gateway.md §6): admission control, timeouts, a separate metrics listener.
  max_concurrent_requests: wholeNumber(1, 100_000).optional(),
  header_timeout: duration(100).optional(),
  idle_timeout: duration(100).optional(),
  body_timeout: duration(100).optional(),
  metrics_listen: listenAddress().optional(),
  // Graceful shutdown: how long requests in progress may take to finish after SIGTERM/SIGINT.
  shutdown_timeout: duration(0).optional(),
});

/** The operator dashboard (docs/dashboard.md). */
export const uiSection = z.strictObject({
  enabled: yesNo().optional(),
  listen: listenAddress().optional(),
  session_ttl: duration(1000).optional(),
});

/** Who may call the S3 endpoint (spec gateway.md §3). */
const credentialEntry = z.strictObject({
  access_key_id: required(accessKeyId()),
  secret_access_key: required(secretAccessKey()),
  buckets: required(bucketGrant()),
  permission: required(oneOf(['read', 'read-write', 'admin'])),
});

export const configFile = z.strictObject({
  database: databaseSection.optional(),
  backends: z
    .array(
      z.strictObject({
        name: backendName,
        bytes_limit: byteSize().optional(),
        // Exactly one of `directory` and `endpoint` (checked in backends.ts, with the S3 keys' rules).
        // A local directory standing in for the backend's storage (development, single machine).
        directory: text('a directory path').optional(),
        ...s3BackendKeys,
        // Monthly usage limits (0 = none).
        api_request_limit: wholeNumber(0).optional(),
        egress_byte_limit: byteSize().optional(),
        ingress_byte_limit: byteSize().optional(),
      }),
    )
    .optional(),
  placement: oneOf(['pack', 'spread']).optional(),
  workers: workersSection.optional(),
  notifications: z
    .strictObject({
      source: text('a CloudEvents source such as "s3-orchestrator/eu-1"').optional(),
      endpoints: z.array(endpointSection).optional(),
    })
    .optional(),
  logging: z.strictObject({ level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional() }).optional(),
  // Parsed on its own in resolve.ts (like database), so a problem elsewhere does not hide its cross-field rules.
  server: serverSection.optional(),
  credentials: z.array(credentialEntry).optional(),
  buckets: z.array(bucketName()).optional(),
  ui: uiSection.optional(),
});

export type RawConfig = z.output<typeof configFile>;
export type RawServerSection = z.output<typeof serverSection>;
