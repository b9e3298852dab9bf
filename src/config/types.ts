import type { Secret } from './secret.js';

/** The resolved configuration: defaults applied, environment expanded, every rule checked. */
export interface AppConfig {
  readonly database: DatabaseConfig;
  readonly backends: readonly BackendConfig[];
  /** How a write chooses among backends with room: first in order (`pack`) or least full (`spread`). */
  readonly placement: 'pack' | 'spread';
  readonly workers: WorkersConfig;
  readonly notifications: NotificationsConfig;
  readonly logging: { readonly level: LogLevel };
  readonly server: ServerConfig;
  /** Who may call the S3 endpoint. Empty: one `admin` credential is provisioned at start (see src/gateway/default-credential.ts). */
  readonly credentials: readonly CredentialConfig[];
  /** Buckets created at start (idempotent). */
  readonly buckets: readonly string[];
  /** `ui`: the operator dashboard (docs/dashboard.md). Absent: enabled at /ui on the S3 listener. */
  readonly ui?: UiConfig;
  /** Absolute path of the config file the values came from; relative paths were resolved against its directory. */
  readonly source?: string;
}

export interface ServerConfig {
  /** `server.listen`: "host:port", default 127.0.0.1:9000. */
  readonly host: string;
  readonly port: number;
  /** `server.domain`: when set, `bucket.domain` requests are virtual-hosted style. */
  readonly domain: string | undefined;
  /** `server.region`: what GetBucketLocation answers and presigned URLs may name (any region is accepted when verifying). */
  readonly region: string;
  /** `server.data_dir`: where generated state lives (the generated credential file, the default backend). Absolute. */
  readonly dataDir: string;
  /** `server.max_object_size`: largest single PUT (S3: 5 GiB). */
  readonly maxObjectBytes: number;
  /** `server.tls`: serve HTTPS with these PEM files (absolute paths, both exist). Absent: plain HTTP. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** `server.max_concurrent_requests`: S3 requests served at once; more are answered 503 SlowDown before their body is read. */
  readonly maxConcurrentRequests: number;
  /** `server.header_timeout`: how long a client may take to send a request's headers. */
  readonly headerTimeoutMs: number;
  /** `server.idle_timeout`: a keep-alive connection with no request, or a response the client stopped reading, is closed after this. */
  readonly idleTimeoutMs: number;
  /** `server.body_timeout`: a request body that sends no byte for this long (while the gateway waits for it) fails. */
  readonly bodyTimeoutMs: number;
  /** `server.metrics_listen`: a separate plain-HTTP listener for /metrics and /health; absent: both on the main listener. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** `server.shutdown_timeout`: on SIGTERM/SIGINT, how long requests in progress may take to finish (default 30 s). */
  readonly shutdownTimeoutMs: number;
}

/** `ui`: the operator dashboard. */
export interface UiConfig {
  /** `ui.enabled` (default true): serve the dashboard at /ui. */
  readonly enabled: boolean;
  /** `ui.listen`: "host:port" of a plain-HTTP listener of its own; absent: /ui on the S3 listener. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** `ui.session_ttl` (default 8h): how long a sign-in lasts. */
  readonly sessionTtlMs: number;
}

export type Permission = 'read' | 'read-write' | 'admin';

export interface CredentialConfig {
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  /** Bucket names this credential may use, or '*' for all. */
  readonly buckets: readonly string[] | '*';
  readonly permission: Permission;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export type DatabaseConfig = SqliteConfig | PostgresConfig;

export interface SqliteConfig {
  readonly driver: 'sqlite';
  readonly path: string;
  /** `full` survives power loss; `normal` may lose the last commits on power loss (never corrupts). */
  readonly synchronous: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  /** Bytes of the file the read-only connection maps into memory (0 = plain reads). */
  readonly mmapBytes: number;
}

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresConfig {
  readonly driver: 'postgres';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret | undefined;
  readonly sslMode: SslMode;
  readonly sslRootCert: string | undefined;
  readonly maxConns: number;
  readonly minConns: number;
  readonly maxConnLifetimeMs: number;
  /** Stripes of the per-backend quota counters (escrow); more stripes, less contention between writers. */
  readonly quotaStripes: number;
}

export interface BackendConfig {
  readonly name: string;
  /** 0 = unlimited. */
  readonly bytesLimit: number;
  /** A `directory` backend: its bytes are files below this directory. */
  readonly directory?: string;
  /** An `s3` backend (config key `endpoint` and its companions). Never set together with `directory`. */
  readonly s3?: S3BackendConfig;
  /**
   * `api_request_limit`, `egress_byte_limit`, `ingress_byte_limit` (0 = none). Absent when the file
   * sets none of them: read it through `monthlyLimitsOf` (config/backends.ts).
   */
  readonly monthlyLimits?: BackendMonthlyLimits;
}

export interface S3BackendConfig {
  /** http:// or https:// URL of the service. */
  readonly endpoint: string;
  /** Default us-east-1. */
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  /** Path-style URLs (`endpoint/bucket/key`); default true (what most S3-compatible services want). */
  readonly forcePathStyle: boolean;
  /** Per request (connect and idle socket); default 30 s. */
  readonly timeoutMs: number;
}

/** Per calendar month (UTC), from backend_usage; 0 = no limit. */
export interface BackendMonthlyLimits {
  readonly apiRequests: number;
  readonly egressBytes: number;
  readonly ingressBytes: number;
}

export interface WorkerSchedule {
  readonly intervalMs: number;
  readonly batchSize: number;
  readonly concurrency: number;
}

export interface WorkersConfig {
  readonly cleanup: WorkerSchedule & { readonly claimGraceMs: number; readonly maxAttempts: number };
  readonly reaper: WorkerSchedule & { readonly minAgeMs: number };
  readonly outbox: WorkerSchedule & { readonly claimGraceMs: number };
  readonly usageFlush: { readonly intervalMs: number };
  readonly multipartExpiry: WorkerSchedule & { readonly maxAgeMs: number };
  readonly reconcile: { readonly intervalMs: number };
}

export type EventType = 'ObjectCreated' | 'ObjectRemoved';

export interface NotificationEndpoint {
  readonly name: string;
  readonly url: string;
  readonly secret: Secret | undefined;
  readonly timeoutMs: number;
  /** Delivery attempts before the event is marked failed (kept for operators). */
  readonly maxAttempts: number;
  readonly events: readonly EventType[];
}

export interface NotificationsConfig {
  /** CloudEvents `source` attribute. */
  readonly source: string;
  readonly endpoints: readonly NotificationEndpoint[];
}
