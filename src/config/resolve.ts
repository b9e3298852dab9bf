import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../store/core/errors.js';
import { expandEnvironment } from './expand-env.js';
import { show } from './fields.js';
import { configFile, databaseSection, serverSection, POSTGRES_KEYS, SQLITE_KEYS, type RawConfig, type RawDatabaseSection } from './schema.js';
import { redactUrl } from './redact-url.js';
import { Secret } from './secret.js';
import { join } from 'node:path';
import { checkBackendEntries, toBackendConfig } from './backends.js';
import { resolveConfigPath } from './config-paths.js';
import { resolveBuckets, resolveCredentials, resolveServer, resolveUi } from './gateway-sections.js';
import { DEFAULT_BACKEND_NAME, DEFAULT_BACKEND_SUBDIR } from './server.js';
import type { AppConfig, BackendConfig, DatabaseConfig, NotificationEndpoint, SslMode, WorkersConfig } from './types.js';

export const DEFAULT_SQLITE_PATH = './data/s3-orchestrator.db';
/** Address space, not memory: pages are mapped as they are read. */
export const DEFAULT_SQLITE_MMAP_BYTES = 2 ** 30;

export interface ResolveOptions {
  /** Relative paths resolve against this directory: the config file's, or the working directory without a file. */
  readonly baseDir?: string;
  /** The absolute path of the config file, recorded as AppConfig.source. */
  readonly configFile?: string;
}

/**
 * Turns a parsed YAML document into an AppConfig, or throws one ConfigError listing every problem.
 * `env` supplies `${VAR}` expansion and DATABASE_URL. Every path in the result is absolute.
 */
export function resolveConfig(document: unknown, env: NodeJS.ProcessEnv, source?: string, options: ResolveOptions = {}): AppConfig {
  const baseDir = options.baseDir ?? process.cwd();
  const issues: ConfigIssue[] = [];
  const expanded = expandEnvironment(document ?? {}, env);
  issues.push(...expanded.issues);
  const doc = expanded.value;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError([{ path: '', message: `the file must be a YAML mapping of sections, got ${show(doc)}` }], source);
  }

  // The database section is checked key by key so that a bad value in one key does not hide a
  // cross-field problem (min_conns > max_conns) in others: every problem is reported in one pass.
  const { database: rawDatabase, server: rawServer, ...rest } = doc as Record<string, unknown>;
  const database = resolveDatabase(rawDatabase, env, baseDir, issues);

  const parsed = configFile.omit({ database: true, server: true }).safeParse(rest);
  if (!parsed.success) issues.push(...fromZod(parsed.error.issues, ''));
  const file: Omit<RawConfig, 'database' | 'server'> = parsed.success ? parsed.data : {};

  const server = resolveServer(parseKeyByKey(serverSection, rawServer, 'server', issues), baseDir, issues);
  const credentials = resolveCredentials(file.credentials, rest.credentials, issues);
  const buckets = resolveBuckets(file.buckets, rest.buckets, issues);

  checkBackendEntries(rest.backends, issues);
  const declared = (file.backends ?? []).map((b): BackendConfig => toBackendConfig(b, baseDir));
  // A config without backends still has somewhere to put bytes (a fresh clone's `npm start`):
  // one unlimited directory backend below the data directory.
  const backends: BackendConfig[] =
    rest.backends === undefined || (Array.isArray(rest.backends) && rest.backends.length === 0)
      ? [{ name: DEFAULT_BACKEND_NAME, bytesLimit: 0, directory: join(server.dataDir, DEFAULT_BACKEND_SUBDIR) }]
      : declared;
  reportDuplicates(rawNames(rest.backends), 'backends', issues);

  const endpoints = resolveEndpoints(file);
  const notifications = rest.notifications as { endpoints?: unknown } | undefined;
  reportDuplicates(rawNames(notifications?.endpoints), 'notifications.endpoints', issues);

  if (issues.length > 0 || database === undefined) throw new ConfigError(issues, source);

  return {
    database,
    backends,
    placement: file.placement ?? 'pack',
    workers: resolveWorkers(file.workers),
    notifications: { source: file.notifications?.source ?? 's3-orchestrator', endpoints },
    logging: { level: file.logging?.level ?? 'info' },
    server,
    credentials,
    buckets,
    ui: resolveUi(file.ui),
    ...(options.configFile !== undefined ? { source: options.configFile } : {}),
  };
}

function resolveDatabase(raw: unknown, env: NodeJS.ProcessEnv, baseDir: string, issues: ConfigIssue[]): DatabaseConfig | undefined {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ path: 'database', message: `must be a mapping of settings, got ${show(raw)}` });
    return undefined;
  }
  const given = raw as Record<string, unknown>;
  const shape = databaseSection.shape;
  const fields: Partial<Record<keyof RawDatabaseSection, unknown>> = {};
  const before = issues.length;
  for (const [key, value] of Object.entries(given)) {
    if (!(key in shape)) {
      issues.push({ path: `database.${key}`, message: `unknown setting (allowed: ${Object.keys(shape).join(', ')})` });
      continue;
    }
    if (value === undefined || value === null) continue;
    const result = shape[key as keyof typeof shape].safeParse(value);
    if (result.success) fields[key as keyof RawDatabaseSection] = result.data;
    else issues.push(...fromZod(result.error.issues, `database.${key}`));
  }
  const f = fields as RawDatabaseSection;
  const driverInvalid = 'driver' in given && f.driver === undefined && given.driver != null;

  // DATABASE_URL is the Node ecosystem's convention; a url in the file wins over it, and
  // explicit fields win over both. It is ignored when the file explicitly asks for sqlite.
  let urlText = f.url;
  let urlPath = 'database.url';
  if (urlText === undefined && f.driver !== 'sqlite' && env.DATABASE_URL) {
    urlText = env.DATABASE_URL;
    urlPath = 'DATABASE_URL';
  }
  const fromUrl = urlText === undefined ? undefined : parsePostgresUrl(urlText, urlPath, issues);

  // Presence decides, not validity: a host or URL that is there but wrong is still a postgres setup.
  // With an invalid driver value, the remaining rules are still checked for the inferred one.
  const inferred = given.host != null || urlText !== undefined ? 'postgres' : 'sqlite';
  const driver = f.driver ?? inferred;

  if (driver === 'sqlite') {
    for (const key of POSTGRES_KEYS) {
      if (given[key] !== undefined && given[key] !== null) {
        issues.push({
          path: `database.${key}`,
          message: `is a postgres setting, but database.driver is ${f.driver ? '"sqlite"' : 'sqlite (inferred: no host or url is set)'}; remove it or set driver: postgres`,
        });
      }
    }
    if (issues.length > before || driverInvalid) return undefined;
    return {
      driver: 'sqlite',
      path: resolveConfigPath(baseDir, f.path ?? DEFAULT_SQLITE_PATH),
      synchronous: f.synchronous ?? 'full',
      busyTimeoutMs: f.busy_timeout ?? 5000,
      mmapBytes: f.mmap_size ?? DEFAULT_SQLITE_MMAP_BYTES,
    };
  }

  for (const key of SQLITE_KEYS) {
    if (given[key] !== undefined && given[key] !== null) {
      issues.push({ path: `database.${key}`, message: 'is a sqlite setting, but database.driver is "postgres"; remove it or set driver: sqlite' });
    }
  }
  const host = f.host ?? fromUrl?.host;
  const database = f.database ?? fromUrl?.database;
  const user = f.user ?? fromUrl?.user;
  const port = f.port ?? fromUrl?.port ?? 5432;
  const passwordText = f.password ?? fromUrl?.password;
  if (!host) issues.push({ path: 'database.host', message: 'is required for the postgres driver (or give database.url / DATABASE_URL)' });
  if (!database) issues.push({ path: 'database.database', message: 'is required for the postgres driver (or give database.url / DATABASE_URL)' });
  if (!user) issues.push({ path: 'database.user', message: 'is required for the postgres driver (or give database.url / DATABASE_URL)' });

  const sslMode: SslMode = f.ssl_mode ?? fromUrl?.sslMode ?? 'disable';
  const sslRootCert = f.ssl_root_cert ?? fromUrl?.sslRootCert;
  if (sslRootCert !== undefined && sslMode !== 'verify-ca' && sslMode !== 'verify-full') {
    issues.push({ path: 'database.ssl_root_cert', message: `is only used with ssl_mode verify-ca or verify-full, but ssl_mode is "${sslMode}"` });
  }

  const maxConns = f.max_conns ?? 10;
  const minConns = f.min_conns ?? 0;
  // Compared only with a max_conns that is valid or defaulted: an invalid one is reported on its own.
  const maxConnsUsable = f.max_conns !== undefined || given.max_conns == null;
  if (f.min_conns !== undefined && maxConnsUsable && minConns > maxConns) {
    issues.push({
      path: 'database.min_conns',
      message: `${minConns} is greater than database.max_conns: ${maxConns}${f.max_conns === undefined ? ' (the default)' : ''}`,
    });
  }
  if (issues.length > before || driverInvalid || !host || !database || !user) return undefined;
  return {
    driver: 'postgres',
    host,
    port,
    database,
    user,
    password: passwordText === undefined ? undefined : new Secret(passwordText),
    sslMode,
    sslRootCert: sslRootCert === undefined ? undefined : resolveConfigPath(baseDir, sslRootCert),
    maxConns,
    minConns,
    maxConnLifetimeMs: f.max_conn_lifetime ?? 30 * 60_000,
    quotaStripes: f.quota_stripes ?? 32,
  };
}

interface UrlParts {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  sslMode?: SslMode;
  sslRootCert?: string;
}

/**
 * Parses a postgres:// URL with the WHATWG URL parser (host, port, user, password, database, and the
 * sslmode / sslrootcert query parameters). Messages show it with the password replaced, never the
 * password itself.
 */
function parsePostgresUrl(text: string, path: string, issues: ConfigIssue[]): UrlParts | undefined {
  const shown = redactUrl(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    issues.push({ path, message: `is not a valid URL (a port must be 1-65535): ${shown}` });
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    issues.push({ path, message: `must start with postgres:// or postgresql://, got ${shown}` });
    return undefined;
  }
  const out: UrlParts = {};
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      issues.push({ path, message: `has a malformed %-escape: ${shown}` });
      return undefined;
    }
  };
  if (url.hostname) out.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.port) {
    const port = Number(url.port);
    if (port < 1) issues.push({ path, message: `has an invalid port in ${shown}` });
    else out.port = port;
  }
  const database = url.pathname.replace(/^\//, '');
  if (database) out.database = decode(database);
  if (url.username) out.user = decode(url.username);
  if (url.password) out.password = decode(url.password);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null) {
    if (sslmode === 'disable' || sslmode === 'require' || sslmode === 'verify-ca' || sslmode === 'verify-full') out.sslMode = sslmode;
    else issues.push({ path, message: `sslmode=${sslmode} is not supported; use disable, require, verify-ca or verify-full` });
  }
  const rootCert = url.searchParams.get('sslrootcert');
  if (rootCert) out.sslRootCert = rootCert;
  return out;
}

function resolveEndpoints(file: Omit<RawConfig, 'database' | 'server'>): NotificationEndpoint[] {
  const endpoints = (file.notifications?.endpoints ?? []).map(
    (e): NotificationEndpoint => ({
      name: e.name,
      url: e.url,
      secret: e.secret === undefined ? undefined : new Secret(e.secret),
      timeoutMs: e.timeout ?? 5000,
      maxAttempts: e.max_attempts ?? 10,
      events: e.events ? [...new Set(e.events)] : ['ObjectCreated', 'ObjectRemoved'],
    }),
  );
  return endpoints;
}

function resolveWorkers(w: RawConfig['workers']): WorkersConfig {
  const sched = (s: { interval?: number; batch_size?: number; concurrency?: number } | undefined, intervalMs: number) => ({
    intervalMs: s?.interval ?? intervalMs,
    batchSize: s?.batch_size ?? 100,
    concurrency: s?.concurrency ?? 4,
  });
  return {
    cleanup: { ...sched(w?.cleanup, 30_000), claimGraceMs: w?.cleanup?.claim_grace ?? 5 * 60_000, maxAttempts: w?.cleanup?.max_attempts ?? 10 },
    reaper: { ...sched(w?.reaper, 60_000), minAgeMs: w?.reaper?.min_age ?? 5 * 60_000 },
    outbox: { ...sched(w?.outbox, 5_000), claimGraceMs: w?.outbox?.claim_grace ?? 5 * 60_000 },
    usageFlush: { intervalMs: w?.usage_flush?.interval ?? 10_000 },
    multipartExpiry: { ...sched(w?.multipart_expiry, 60 * 60_000), maxAgeMs: w?.multipart_expiry?.max_age ?? 7 * 24 * 60 * 60_000 },
    reconcile: { intervalMs: w?.reconcile?.interval ?? 6 * 60 * 60_000 },
  };
}

/**
 * Parses a section one key at a time, so that a bad value in one key does not hide the cross-field
 * rules of the others (every problem in one pass). Keys that failed are left out of the result.
 */
function parseKeyByKey<S extends z.ZodObject>(section: S, raw: unknown, path: string, issues: ConfigIssue[]): Partial<z.output<S>> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ path, message: `must be a mapping of settings, got ${show(raw)}` });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = section.shape[key] as z.ZodType | undefined;
    if (field === undefined) {
      issues.push({ path: `${path}.${key}`, message: `unknown setting (allowed: ${Object.keys(section.shape).join(', ')})` });
      continue;
    }
    const result = field.safeParse(value ?? undefined);
    if (result.success) out[key] = result.data;
    else issues.push(...fromZod(result.error.issues, `${path}.${key}`));
  }
  return out as Partial<z.output<S>>;
}

/** The `name` of each entry of a list as written in the file, before validation. */
function rawNames(list: unknown): (string | undefined)[] {
  if (!Array.isArray(list)) return [];
  return list.map((item: unknown) => {
    const name = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
    return typeof name === 'string' ? name : undefined;
  });
}

function reportDuplicates(names: readonly (string | undefined)[], path: string, issues: ConfigIssue[]): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) issues.push({ path: `${path}[${i}].name`, message: `${JSON.stringify(name)} is already used by ${path}[${first}]` });
    else seen.set(name, i);
  });
}

function fromZod(zodIssues: readonly z.core.$ZodIssue[], prefix: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    const path = joinPath(prefix, issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath(path, [key]), message: 'unknown setting' });
    } else if (issue.code === 'invalid_type') {
      out.push({ path, message: `must be ${article(issue.expected)}` });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping of settings';
  if (expected === 'array') return 'a list';
  return `a ${expected}`;
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

export { redactUrl };
