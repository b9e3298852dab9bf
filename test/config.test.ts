import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import { redactUrl, resolveConfig } from '../src/config/resolve.js';
import { Secret } from '../src/config/secret.js';
import { formatSize, parseSize } from '../src/config/size.js';
import type { AppConfig, PostgresConfig, SqliteConfig } from '../src/config/types.js';
import { ConfigError } from '../src/store/core/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const NO_ENV: NodeJS.ProcessEnv = Object.freeze({});

function parse(yaml: string, env: NodeJS.ProcessEnv = NO_ENV): AppConfig {
  return parseConfigText(yaml, env);
}

/** Runs `f`, which must throw a ConfigError (any other error is re-thrown and fails the test). */
function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

function errorOf(yaml: string, env: NodeJS.ProcessEnv = NO_ENV): ConfigError {
  return configError(() => parse(yaml, env));
}

function paths(err: ConfigError): string[] {
  return err.issues.map((i) => i.path);
}

function issuesAt(err: ConfigError, path: string): string[] {
  return err.issues.filter((i) => i.path === path).map((i) => i.message);
}

function pg(config: AppConfig): PostgresConfig {
  if (config.database.driver !== 'postgres') throw new Error(`expected postgres, got ${config.database.driver}`);
  return config.database;
}

function sqlite(config: AppConfig): SqliteConfig {
  if (config.database.driver !== 'sqlite') throw new Error(`expected sqlite, got ${config.database.driver}`);
  return config.database;
}

/** A minimal valid postgres database section, plus extra lines (indented by the caller). */
function pgYaml(extra = ''): string {
  return `database:\n  driver: postgres\n  host: db.internal\n  user: app\n  database: meta\n${extra}`;
}

/** Everything a ConfigError can show: its message, its issues, and how it prints. */
function everyRendering(err: ConfigError): string[] {
  return [err.message, String(err), JSON.stringify(err.issues), inspect(err, { depth: Infinity }), err.stack ?? ''];
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-config-test-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('environment expansion', () => {
  // The password field takes any text, so it shows exactly what the expansion produced.
  it.each([
    { raw: '${PW}', env: { PW: 'from-env' }, expected: 'from-env' },
    { raw: '${PW:-fallback}', env: {}, expected: 'fallback' },
    { raw: '${PW:-fallback}', env: { PW: '' }, expected: 'fallback' },
    { raw: '${PW:-fallback}', env: { PW: 'set' }, expected: 'set' },
    { raw: '${PW:-}', env: {}, expected: '' },
    { raw: 'x${A}y${B:-z}', env: { A: '1' }, expected: 'x1yz' },
    { raw: 'pa$$word', env: {}, expected: 'pa$word' },
    { raw: '$${PW}', env: { PW: 'nope' }, expected: '${PW}' },
    { raw: 'a$b', env: { b: 'nope' }, expected: 'a$b' },
    { raw: 'cost $5 and $', env: {}, expected: 'cost $5 and $' },
    { raw: '${PW}', env: { PW: 'a$$b${C}' }, expected: 'a$$b${C}' },
  ])('expands "$raw" with $env', ({ raw, env, expected }) => {
    const config = parse(pgYaml(`  password: '${raw}'\n`), env);
    expect(pg(config).password?.reveal()).toBe(expected);
  });

  it('expands values after parsing, so ":" "#" and newlines from the environment cannot change the structure', () => {
    const env = { PW: 'p: a # not a comment', HOST: 'h#1', NOTE: 'x\nlogging:\n  level: debug' };
    const config = parse(
      'database:\n  host: ${HOST}\n  user: app\n  database: meta\n  password: ${PW}\nnotifications:\n  source: ${NOTE}\n',
      env,
    );
    expect(pg(config).password?.reveal()).toBe('p: a # not a comment');
    expect(pg(config).host).toBe('h#1');
    expect(pg(config).user).toBe('app');
    expect(config.notifications.source).toBe('x\nlogging:\n  level: debug');
    expect(config.logging.level).toBe('info');
  });

  it('a missing variable without default names the variable and the field path', () => {
    const err = errorOf('database:\n  host: ${PGHOST_MISSING}\n  user: app\n  database: meta\nbackends:\n  - name: ${BACKEND_NAME}\n');
    const hostIssues = issuesAt(err, 'database.host');
    expect(hostIssues.some((m) => m.includes('PGHOST_MISSING'))).toBe(true);
    expect(issuesAt(err, 'backends[0].name').some((m) => m.includes('BACKEND_NAME'))).toBe(true);
    expect(err.message).toContain('database.host: environment variable PGHOST_MISSING is not set');
  });

  it.each([
    { raw: 'abc${DEF', path: 'database.password' },
    { raw: '${', path: 'database.password' },
  ])('an unterminated "$${" in "$raw" is an error at $path', ({ raw, path }) => {
    const err = errorOf(pgYaml(`  password: '${raw}'\n`), { DEF: 'x' });
    expect(issuesAt(err, path).some((m) => /unterminated/.test(m))).toBe(true);
  });

  it('an invalid reference such as ${1X} is an error at its path', () => {
    const err = errorOf('notifications:\n  source: "${1X}"\n');
    expect(issuesAt(err, 'notifications.source').some((m) => /invalid \$\{\.\.\.\} reference/.test(m))).toBe(true);
  });

  it('numbers that arrive as strings after expansion are accepted', () => {
    const config = parse(
      pgYaml('  port: ${PGPORT}\n  max_conns: ${MAXC:-25}\n  min_conns: "${MINC}"\nbackends:\n  - name: b1\n    bytes_limit: ${LIMIT}\n'),
      { PGPORT: '5433', MINC: '2', LIMIT: '10GiB' },
    );
    expect(pg(config).port).toBe(5433);
    expect(pg(config).maxConns).toBe(25);
    expect(pg(config).minConns).toBe(2);
    expect(config.backends[0]?.bytesLimit).toBe(10 * 2 ** 30);
  });

  it('expansion also runs for resolveConfig on an already parsed document', () => {
    const config = resolveConfig({ database: { host: '${H}', user: 'u', database: 'd', port: '${P:-6000}' } }, { H: 'from-env' });
    expect(pg(config).host).toBe('from-env');
    expect(pg(config).port).toBe(6000);
  });
});

describe('database.driver', () => {
  it('no database section → sqlite with the default path', () => {
    const config = parse('');
    // Without a config file, relative paths resolve against the working directory.
    expect(config.database).toEqual({ driver: 'sqlite', path: join(process.cwd(), 'data', 's3-orchestrator.db'), synchronous: 'full', busyTimeoutMs: 5000, mmapBytes: 2 ** 30 });
  });

  it('omitted driver with a host → postgres', () => {
    expect(parse('database:\n  host: h\n  user: u\n  database: d\n').database.driver).toBe('postgres');
  });

  it('omitted driver with a url → postgres', () => {
    const config = parse('database:\n  url: postgres://u:pw@h/d\n');
    expect(pg(config)).toMatchObject({ host: 'h', user: 'u', database: 'd' });
  });

  it('omitted driver with DATABASE_URL → postgres', () => {
    const config = parse('', { DATABASE_URL: 'postgres://envuser@envhost:6001/envdb' });
    expect(pg(config)).toMatchObject({ host: 'envhost', port: 6001, user: 'envuser', database: 'envdb' });
  });

  it('DATABASE_URL is ignored (even an invalid one) when the driver is explicitly sqlite', () => {
    for (const url of ['postgres://u:pw@h/d', 'mysql://nonsense']) {
      const config = parse('database:\n  driver: sqlite\n', { DATABASE_URL: url });
      expect(sqlite(config).path).toBe(join(process.cwd(), 'data', 's3-orchestrator.db'));
    }
  });

  it.each([['mysql'], ['SQLite'], ['5'], ['""'], ['[sqlite]'], ['true']])('driver %s is an error naming the allowed values', (value) => {
    const err = errorOf(`database:\n  driver: ${value}\n`);
    const messages = issuesAt(err, 'database.driver');
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).toContain('"sqlite", "postgres"');
  });
});

describe('sqlite settings', () => {
  it('path, synchronous, busy_timeout and mmap_size are read', () => {
    const config = parse('database:\n  driver: sqlite\n  path: /var/lib/s3o/meta.db\n  synchronous: normal\n  busy_timeout: 2s\n  mmap_size: 64MiB\n');
    expect(config.database).toEqual({ driver: 'sqlite', path: '/var/lib/s3o/meta.db', synchronous: 'normal', busyTimeoutMs: 2000, mmapBytes: 64 * 2 ** 20 });
  });

  it.each([
    ['synchronous: off', 'database.synchronous'],
    ['busy_timeout: 500', 'database.busy_timeout'],
    ['path: ""', 'database.path'],
  ])('bad value "%s" → error at %s', (line, path) => {
    expect(paths(errorOf(`database:\n  driver: sqlite\n  ${line}\n`))).toContain(path);
  });

  it.each([
    ['url', 'postgres://u:pw@h/d'],
    ['host', 'h'],
    ['port', '5432'],
    ['database', 'd'],
    ['user', 'u'],
    ['password', 'pw'],
    ['ssl_mode', 'require'],
    ['ssl_root_cert', '/ca.pem'],
    ['max_conns', '10'],
    ['min_conns', '1'],
    ['max_conn_lifetime', '5m'],
    ['quota_stripes', '4'],
  ])('postgres setting %s with driver sqlite → error naming it', (key, value) => {
    const err = errorOf(`database:\n  driver: sqlite\n  ${key}: ${value}\n`);
    expect(issuesAt(err, `database.${key}`).some((m) => /postgres setting/.test(m))).toBe(true);
  });

  it('every postgres setting given with sqlite is reported, one issue per field', () => {
    const err = errorOf('database:\n  driver: sqlite\n  host: h\n  port: 5432\n  url: postgres://u@h/d\n  password: pw\n  max_conns: 10\n');
    for (const key of ['host', 'port', 'url', 'password', 'max_conns']) {
      expect(issuesAt(err, `database.${key}`).filter((m) => /postgres setting/.test(m))).toHaveLength(1);
    }
  });

  it('a postgres setting without host (driver inferred as sqlite) is an error', () => {
    const err = errorOf('database:\n  port: 5432\n');
    expect(issuesAt(err, 'database.port').join('\n')).toMatch(/postgres setting.*sqlite/);
  });
});

describe('postgres settings', () => {
  it('host, database and user are required', () => {
    const err = errorOf('database:\n  driver: postgres\n');
    expect(paths(err)).toEqual(expect.arrayContaining(['database.host', 'database.database', 'database.user']));
  });

  it('defaults: port 5432, ssl disable, pool settings', () => {
    expect(pg(parse(pgYaml()))).toMatchObject({
      driver: 'postgres',
      host: 'db.internal',
      port: 5432,
      user: 'app',
      database: 'meta',
      password: undefined,
      sslMode: 'disable',
      sslRootCert: undefined,
      maxConns: 10,
      minConns: 0,
      maxConnLifetimeMs: 30 * 60_000,
    });
  });

  it.each([['1', 1], ['65535', 65535], ['"5432"', 5432], ['6543', 6543]])('port %s is accepted', (value, expected) => {
    expect(pg(parse(pgYaml(`  port: ${value}\n`))).port).toBe(expected);
  });

  it.each([['0'], ['65536'], ['-1'], ['abc'], ['1.5'], ['""'], ['[5432]']])('port %s is refused', (value) => {
    const err = errorOf(pgYaml(`  port: ${value}\n`));
    expect(issuesAt(err, 'database.port').join('\n')).toMatch(/between 1 and 65535/);
  });

  it.each([['postgres'], ['postgresql']])('a %s:// url gives every part', (scheme) => {
    const config = parse(`database:\n  url: "${scheme}://urluser:p%40ss@urlhost:6000/urldb?sslmode=verify-full&sslrootcert=/dev/null"\n`);
    expect(pg(config)).toMatchObject({ host: 'urlhost', port: 6000, user: 'urluser', database: 'urldb', sslMode: 'verify-full', sslRootCert: '/dev/null' });
    expect(pg(config).password?.reveal()).toBe('p@ss');
  });

  it('explicit fields win over url parts', () => {
    const config = parse(
      'database:\n  url: "postgres://urluser:urlpw@urlhost:6000/urldb?sslmode=require"\n  host: h\n  port: 7000\n  user: u\n  database: d\n  password: pw\n  ssl_mode: disable\n',
    );
    expect(pg(config)).toMatchObject({ host: 'h', port: 7000, user: 'u', database: 'd', sslMode: 'disable' });
    expect(pg(config).password?.reveal()).toBe('pw');
  });

  it('explicit fields complete a partial url, and win over DATABASE_URL', () => {
    const config = parse('database:\n  user: fileuser\n', { DATABASE_URL: 'postgres://envuser:envpw@envhost/envdb' });
    expect(pg(config)).toMatchObject({ host: 'envhost', user: 'fileuser', database: 'envdb' });
    expect(pg(config).password?.reveal()).toBe('envpw');
  });

  it('a url in the file wins over DATABASE_URL', () => {
    const config = parse('database:\n  url: postgres://fileuser@filehost/filedb\n', { DATABASE_URL: 'postgres://envuser@envhost:6001/envdb' });
    expect(pg(config)).toMatchObject({ host: 'filehost', port: 5432, user: 'fileuser', database: 'filedb' });
  });

  it.each([
    { yaml: 'database:\n  url: "mysql://u:hunter2@h/d"\n', env: {}, path: 'database.url', shown: 'mysql://u:[redacted]@h/d' },
    { yaml: 'database:\n  driver: postgres\n', env: { DATABASE_URL: 'mysql://u:hunter2@h/d' }, path: 'DATABASE_URL', shown: 'mysql://u:[redacted]@h/d' },
    { yaml: 'database:\n  driver: postgres\n  url: "not a url"\n', env: {}, path: 'database.url', shown: 'not shown' },
  ])('a non-postgres url is refused at $path', ({ yaml, env, path, shown }) => {
    const err = errorOf(yaml, env);
    expect(issuesAt(err, path).join('\n')).toContain(shown);
    expect(err.message).not.toContain('hunter2');
  });

  it('sslmode is read from the url query, and an unsupported one is refused', () => {
    expect(pg(parse('database:\n  url: postgres://u@h/d?sslmode=require\n')).sslMode).toBe('require');
    const err = errorOf('database:\n  url: postgres://u@h/d?sslmode=prefer\n');
    expect(issuesAt(err, 'database.url').join('\n')).toMatch(/sslmode=prefer is not supported/);
  });

  it.each([['disable'], ['require'], ['verify-ca'], ['verify-full']] as const)('ssl_mode %s is accepted', (mode) => {
    expect(pg(parse(pgYaml(`  ssl_mode: ${mode}\n`))).sslMode).toBe(mode);
  });

  it.each([['allow'], ['prefer'], ['verify_full'], ['true'], ['VERIFY-FULL']])('ssl_mode %s is an error naming the allowed values', (mode) => {
    const err = errorOf(pgYaml(`  ssl_mode: ${mode}\n`));
    expect(issuesAt(err, 'database.ssl_mode').join('\n')).toContain('"disable", "require", "verify-ca", "verify-full"');
  });

  it.each([['verify-ca'], ['verify-full']])('ssl_root_cert is accepted with %s', (mode) => {
    const config = parse(pgYaml(`  ssl_mode: ${mode}\n  ssl_root_cert: /etc/ssl/ca.pem\n`));
    expect(pg(config).sslRootCert).toBe('/etc/ssl/ca.pem');
  });

  it.each([['  ssl_mode: require\n'], ['  ssl_mode: disable\n'], ['']])('ssl_root_cert without verify-* is an error (%j)', (modeLine) => {
    const err = errorOf(pgYaml(`${modeLine}  ssl_root_cert: /etc/ssl/ca.pem\n`));
    expect(issuesAt(err, 'database.ssl_root_cert').join('\n')).toMatch(/verify-ca or verify-full/);
  });

  // Regression: URL parameters must never reach a library that reads certificate files or throws.
  it.each([
    { url: 'postgres://u:pw@h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem', rootCert: '/nonexistent/ca.pem' },
    { url: 'postgres://u:pw@h/d?sslmode=verify-ca&uselibpqcompat=true', rootCert: undefined },
  ])('a url with $url never throws anything but a ConfigError', ({ url, rootCert }) => {
    let outcome: unknown;
    try {
      outcome = parse(`database:\n  url: "${url}"\n`);
    } catch (err) {
      outcome = err;
    }
    if (outcome instanceof ConfigError) {
      expect(paths(outcome)).toContain('database.url');
    } else {
      expect(outcome).not.toBeInstanceOf(Error);
      expect(pg(outcome as AppConfig).sslRootCert).toBe(rootCert);
    }
  });

  it.each([
    ['max_conns: 25', { maxConns: 25 }],
    ['max_conns: "25"', { maxConns: 25 }],
    ['min_conns: 0', { minConns: 0 }],
    ['min_conns: 10', { minConns: 10, maxConns: 10 }],
  ])('pool setting %s is accepted', (line, expected) => {
    expect(pg(parse(pgYaml(`  ${line}\n`)))).toMatchObject(expected);
  });

  it.each([
    ['max_conns', '0'],
    ['max_conns', '1.5'],
    ['max_conns', 'ten'],
    ['max_conns', '-3'],
    ['min_conns', '-1'],
    ['min_conns', '2.5'],
    ['min_conns', '"two"'],
  ])('%s: %s is refused (whole numbers only)', (key, value) => {
    const err = errorOf(pgYaml(`  ${key}: ${value}\n`));
    expect(issuesAt(err, `database.${key}`).join('\n')).toMatch(/must be a whole number/);
  });

  it('min_conns greater than max_conns has the exact message form', () => {
    const err = errorOf(pgYaml('  max_conns: 10\n  min_conns: 20\n'));
    expect(err.issues).toContainEqual({ path: 'database.min_conns', message: '20 is greater than database.max_conns: 10' });
    expect(err.message.split('\n')).toContain('  database.min_conns: 20 is greater than database.max_conns: 10');
  });

  it('min_conns greater than the default max_conns says so', () => {
    const err = errorOf(pgYaml('  min_conns: 20\n'));
    expect(issuesAt(err, 'database.min_conns')).toEqual(['20 is greater than database.max_conns: 10 (the default)']);
  });

  // An invalid max_conns must not be replaced by the default in the comparison (a false second error).
  it('an invalid max_conns is not replaced by the default in the min_conns comparison', () => {
    const err = errorOf(pgYaml('  max_conns: ten\n  min_conns: 20\n'));
    expect(issuesAt(err, 'database.max_conns')).toHaveLength(1);
    expect(issuesAt(err, 'database.min_conns')).toEqual([]);
  });

  it.each([
    ['5m', 300_000],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['"1s"', 1000],
  ])('max_conn_lifetime %s → %i ms', (value, ms) => {
    expect(pg(parse(pgYaml(`  max_conn_lifetime: ${value}\n`))).maxConnLifetimeMs).toBe(ms);
  });

  it.each([['300'], ['"300"'], ['5 minutes'], ['0s'], ['500ms'], ['-5m'], ['5M']])('max_conn_lifetime %s is refused', (value) => {
    const err = errorOf(pgYaml(`  max_conn_lifetime: ${value}\n`));
    expect(issuesAt(err, 'database.max_conn_lifetime')).toHaveLength(1);
  });

  it.each([
    ['path', './x.db'],
    ['synchronous', 'normal'],
    ['busy_timeout', '5s'],
    ['mmap_size', '256MiB'],
  ])('sqlite setting %s with postgres → error naming it', (key, value) => {
    const err = errorOf(pgYaml(`  ${key}: ${value}\n`));
    expect(issuesAt(err, `database.${key}`).some((m) => /sqlite setting/.test(m))).toBe(true);
  });

  it('mmap_size takes a byte size (0 turns the memory map off) and refuses anything else', () => {
    expect((parse('database:\n  mmap_size: 256MiB\n').database as { mmapBytes: number }).mmapBytes).toBe(256 * 2 ** 20);
    expect((parse('database:\n  mmap_size: 0\n').database as { mmapBytes: number }).mmapBytes).toBe(0);
    expect(issuesAt(errorOf('database:\n  mmap_size: lots\n'), 'database.mmap_size')).toHaveLength(1);
  });

  it('a database section that is not a mapping is an error', () => {
    expect(paths(errorOf('database: [a, b]\n'))).toEqual(['database']);
    expect(paths(errorOf('database: sqlite\n'))).toEqual(['database']);
  });
});

describe('validation reports every problem in one pass', () => {
  it('collects problems from every section, each with its path', () => {
    const yaml = [
      'database:',
      '  driver: postgres',
      '  host: ${PGHOST_NOT_SET}',
      '  port: 70000',
      '  ssl_mode: bogus',
      '  max_conns: 10',
      '  min_conns: 20',
      '  max_conn_lifetime: 300',
      '  pasword: typo',
      'backends:',
      '  - name: b1',
      '    bytes_limit: 10XB',
      '  - name: b1',
      'placement: random',
      'workers:',
      '  cleanup:',
      '    interval: 5',
      'notifications:',
      '  endpoints:',
      '    - name: hook',
      '      url: ftp://example.com',
      'logging:',
      '  level: loud',
      'extra_section: 1',
      '',
    ].join('\n');
    const err = errorOf(yaml);
    expect(paths(err)).toEqual(
      expect.arrayContaining([
        'database.host',
        'database.port',
        'database.ssl_mode',
        'database.min_conns',
        'database.max_conn_lifetime',
        'database.pasword',
        'database.database',
        'database.user',
        'backends[0].bytes_limit',
        'backends[1].name',
        'placement',
        'workers.cleanup.interval',
        'notifications.endpoints[0].url',
        'logging.level',
        'extra_section',
      ]),
    );
    expect(issuesAt(err, 'database.min_conns')).toEqual(['20 is greater than database.max_conns: 10']);
    expect(issuesAt(err, 'database.host').join('\n')).toContain('PGHOST_NOT_SET');
    // Every issue is one line of the message, prefixed by its path.
    for (const issue of err.issues) expect(err.message).toContain(`${issue.path}: ${issue.message}`);
  });
});

describe('unknown keys, YAML syntax, duplicates', () => {
  it.each([
    ['database:\n  hots: h\n', 'database.hots'],
    ['databse:\n  host: h\n', 'databse'],
    ['workers:\n  cleanup:\n    intervall: 5s\n', 'workers.cleanup.intervall'],
    ['workers:\n  janitor: {}\n', 'workers.janitor'],
    ['backends:\n  - name: b1\n    limit: 5\n', 'backends[0].limit'],
    ['notifications:\n  endpoints:\n    - name: e\n      url: https://x.test/\n      secrets: s\n', 'notifications.endpoints[0].secrets'],
    ['logging:\n  lvl: info\n', 'logging.lvl'],
  ])('unknown key is an error with its path (%j)', (yaml, path) => {
    const err = errorOf(yaml);
    expect(paths(err)).toContain(path);
    expect(issuesAt(err, path).join('\n')).toMatch(/unknown setting/);
  });

  it.each([
    { yaml: 'database:\n  host: [a\nx: 1\n', line: 3, col: 1 },
    { yaml: 'database:\n  host: "abc\n', line: 3, col: 1 },
    { yaml: 'placement: b: c\n', line: 1, col: 12 },
    { yaml: 'database:\n\thost: h\n', line: 2, col: 1 },
    { yaml: 'database:\n  driver: sqlite\n  driver: postgres\n', line: 3, col: 3 },
  ])('YAML error at line $line, column $col is reported with its position', ({ yaml, line, col }) => {
    const err = errorOf(yaml);
    expect(err.issues.length).toBeGreaterThan(0);
    expect(err.issues[0]?.message).toMatch(new RegExp(`^YAML syntax error at line ${line}, column ${col}: \\S`));
  });

  it('a duplicate YAML key says the keys must be unique', () => {
    expect(errorOf('database:\n  driver: sqlite\n  driver: postgres\n').message).toMatch(/line 3, column 3: a key appears twice/);
  });

  it('a file that is not a mapping is an error', () => {
    expect(errorOf('- a\n- b\n').message).toMatch(/must be a YAML mapping/);
  });

  it('duplicate backend names are errors with the path of the duplicate', () => {
    const err = errorOf('backends:\n  - name: a\n  - name: b\n  - name: a\n  - name: b\n');
    expect(paths(err)).toEqual(['backends[2].name', 'backends[3].name']);
    expect(issuesAt(err, 'backends[2].name').join()).toContain('backends[0]');
  });

  it('duplicate notification endpoint names are errors with the path of the duplicate', () => {
    const err = errorOf(
      'notifications:\n  endpoints:\n    - name: e1\n      url: https://a.test/\n    - name: e1\n      url: https://b.test/\n',
    );
    expect(paths(err)).toEqual(['notifications.endpoints[1].name']);
    expect(err.issues[0]?.message).toContain('notifications.endpoints[0]');
  });
});

describe('backends, placement, workers and notifications', () => {
  it.each([
    ['1073741824', 1073741824],
    ['"10GiB"', 10 * 2 ** 30],
    ['10GiB', 10 * 2 ** 30],
    ['500MB', 500_000_000],
    ['1.5KiB', 1536],
    ['2 TB', 2e12],
    ['0', 0],
  ])('bytes_limit %s → %i', (value, bytes) => {
    expect(parse(`backends:\n  - name: b1\n    bytes_limit: ${value}\n`).backends).toEqual([{ name: 'b1', bytesLimit: bytes }]);
  });

  it('bytes_limit defaults to 0 (unlimited)', () => {
    expect(parse('backends:\n  - name: b1\n').backends).toEqual([{ name: 'b1', bytesLimit: 0 }]);
  });

  it.each([['10XB'], ['-1'], ['1.5'], ['""'], ['ten'], ['1.5B'], ['[1]'], ['10 GiB extra']])('bytes_limit %s is an error', (value) => {
    const err = errorOf(`backends:\n  - name: b1\n    bytes_limit: ${value}\n`);
    expect(issuesAt(err, 'backends[0].bytes_limit').join('\n')).toMatch(/must be a byte size/);
  });

  it.each([['-bad'], ['"a b"'], [`${'x'.repeat(64)}`], ['""']])('backend name %s is an error', (name) => {
    expect(paths(errorOf(`backends:\n  - name: ${name}\n`))).toContain('backends[0].name');
  });

  it('a backend without a name is an error', () => {
    expect(paths(errorOf('backends:\n  - bytes_limit: 5\n'))).toContain('backends[0].name');
  });

  it('defaults: placement pack, worker schedules, notifications, logging', () => {
    const config = parse('');
    expect(config.placement).toBe('pack');
    // No backends declared: one unlimited directory backend below the data directory.
    expect(config.backends).toEqual([{ name: 'local', bytesLimit: 0, directory: join(process.cwd(), 'data', 'backends', 'local') }]);
    expect(config.logging).toEqual({ level: 'info' });
    expect(config.notifications).toEqual({ source: 's3-orchestrator', endpoints: [] });
    expect(config.workers).toEqual({
      cleanup: { intervalMs: 30_000, batchSize: 100, concurrency: 4, claimGraceMs: 300_000, maxAttempts: 10 },
      reaper: { intervalMs: 60_000, batchSize: 100, concurrency: 4, minAgeMs: 300_000 },
      outbox: { intervalMs: 5_000, batchSize: 100, concurrency: 4, claimGraceMs: 300_000 },
      usageFlush: { intervalMs: 10_000 },
      multipartExpiry: { intervalMs: 3_600_000, batchSize: 100, concurrency: 4, maxAgeMs: 7 * 24 * 3_600_000 },
      reconcile: { intervalMs: 6 * 3_600_000 },
    });
  });

  it('a worker setting overrides only itself', () => {
    const config = parse('placement: spread\nworkers:\n  cleanup:\n    interval: 10s\n    batch_size: 50\n');
    expect(config.placement).toBe('spread');
    expect(config.workers.cleanup).toEqual({ intervalMs: 10_000, batchSize: 50, concurrency: 4, claimGraceMs: 300_000, maxAttempts: 10 });
    expect(config.workers.reaper.intervalMs).toBe(60_000);
  });

  it('notification endpoint defaults are applied', () => {
    const config = parse('notifications:\n  source: s3o/eu-1\n  endpoints:\n    - name: hook\n      url: https://hooks.test/in\n');
    expect(config.notifications.source).toBe('s3o/eu-1');
    expect(config.notifications.endpoints).toEqual([
      { name: 'hook', url: 'https://hooks.test/in', secret: undefined, timeoutMs: 5000, maxAttempts: 10, events: ['ObjectCreated', 'ObjectRemoved'] },
    ]);
  });

  it('notification endpoint settings are read', () => {
    const config = parse(
      'notifications:\n  endpoints:\n    - name: hook\n      url: http://hooks.test/in\n      secret: whsec\n      timeout: 2s\n      max_attempts: 3\n      events: [ObjectRemoved, ObjectRemoved]\n',
    );
    const [endpoint] = config.notifications.endpoints;
    expect(endpoint).toMatchObject({ timeoutMs: 2000, maxAttempts: 3, events: ['ObjectRemoved'] });
    expect(endpoint?.secret?.reveal()).toBe('whsec');
  });

  it.each([
    ['url: ftp://x.test/', 'notifications.endpoints[0].url'],
    ['events: []', 'notifications.endpoints[0].events'],
    ['events: [ObjectTouched]', 'notifications.endpoints[0].events[0]'],
    ['timeout: 5', 'notifications.endpoints[0].timeout'],
  ])('bad endpoint setting %s → error at %s', (line, path) => {
    const base = 'notifications:\n  endpoints:\n    - name: hook\n';
    const yaml = line.startsWith('url:') ? `${base}      ${line}\n` : `${base}      url: https://x.test/\n      ${line}\n`;
    expect(paths(errorOf(yaml))).toContain(path);
  });
});

describe('secrets are never shown', () => {
  const PASSWORD = 'Tr0ub4dor&3-xyzzy';

  it('the resolved config and the Secret print as [redacted]', () => {
    const config = parse(pgYaml(`  password: '${PASSWORD}'\nnotifications:\n  endpoints:\n    - name: e\n      url: https://x.test/\n      secret: whsec-${PASSWORD}\n`));
    const password = pg(config).password;
    expect(password).toBeInstanceOf(Secret);
    expect(password?.reveal()).toBe(PASSWORD);
    for (const shown of [String(password), `${password}`, JSON.stringify(password), inspect(password)]) {
      expect(shown).not.toContain(PASSWORD);
      expect(shown).toContain('[redacted]');
    }
    for (const shown of [String(config), JSON.stringify(config), inspect(config, { depth: Infinity }), inspect(config.database), JSON.stringify(config.notifications)]) {
      expect(shown).not.toContain(PASSWORD);
    }
    expect(JSON.parse(JSON.stringify(config)).database.password).toBe('[redacted]');
  });

  it.each([
    ['a list', `[${PASSWORD}]`],
    ['a mapping', `{ value: ${PASSWORD} }`],
    ['a nested list', `\n    - ${PASSWORD}\n    - ${PASSWORD}`],
  ])('a wrong-typed password (%s) is reported without its value', (_, value) => {
    const err = errorOf(pgYaml(`  password: ${value}\n`));
    expect(issuesAt(err, 'database.password')).toHaveLength(1);
    for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
  });

  it('a wrong-typed password together with other errors is still not shown', () => {
    const err = errorOf(`database:\n  driver: postgres\n  password: [${PASSWORD}]\n  port: 0\n  max_conns: x\n  min_conns: 99\n`);
    expect(paths(err)).toContain('database.password');
    for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
  });

  it.each([
    { yaml: `database:\n  url: "postgres://app:${PASSWORD}@db:0/meta"\n`, env: {}, path: 'database.url' },
    { yaml: '', env: { DATABASE_URL: `postgres://app:${PASSWORD}@db:0/meta` }, path: 'DATABASE_URL' },
  ])('a url with an invalid port is shown with the password redacted ($path)', ({ yaml, env, path }) => {
    const err = errorOf(yaml, env);
    expect(issuesAt(err, path).join('\n')).toContain('postgres://app:[redacted]@db:0/meta');
    for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
  });

  it('a url with an out-of-range port is refused without showing it', () => {
    const err = errorOf(`database:\n  driver: postgres\n  url: "postgres://app:${PASSWORD}@db:99999/meta"\n`);
    expect(paths(err)).toContain('database.url');
    for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
  });

  it('a url with a bad sslmode is refused without showing the password', () => {
    const err = errorOf(`database:\n  url: "postgresql://app:${PASSWORD}@db/meta?sslmode=bogus"\n`);
    expect(paths(err)).toContain('database.url');
    for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
  });

  it('a password with driver sqlite, and other errors next to a valid password, do not show it', () => {
    for (const yaml of [`database:\n  driver: sqlite\n  password: '${PASSWORD}'\n`, pgYaml(`  password: '${PASSWORD}'\n  port: 0\n  min_conns: 99\n`)]) {
      const err = errorOf(yaml);
      for (const shown of everyRendering(err)) expect(shown).not.toContain(PASSWORD);
    }
  });

  it('an invalid ${...} reference inside a password is not echoed', () => {
    const secret = '${Tr0ub4dor 3!}';
    const err = errorOf(pgYaml(`  password: '${secret}'\n`));
    expect(paths(err)).toContain('database.password');
    for (const shown of everyRendering(err)) expect(shown).not.toContain('Tr0ub4dor 3!');
  });

  // YAML-level problems on the password line must not leak it: "*pw" reads as an alias, "|pw" as a
  // block scalar header, and the YAML library quotes both in its messages.
  it.each([['*Tr0ub4dorXyzzy'], ['|Tr0ub4dorXyzzy'], ['>Tr0ub4dorXyzzy']])('an unquoted password %s that breaks the YAML is a ConfigError without it', (value) => {
    const err = errorOf(pgYaml(`  password: ${value}\n`));
    expect(err.issues.length).toBeGreaterThan(0);
    for (const shown of everyRendering(err)) expect(shown).not.toContain('Tr0ub4dorXyzzy');
  });

  it.each([
    ['postgres://app:s3cret@db/x', 'postgres://app:[redacted]@db/x'],
    ['postgresql://app:p%40ss@db:5433/x?sslmode=require', 'postgresql://app:[redacted]@db:5433/x?sslmode=require'],
    ['postgres://app@db/x', 'postgres://app@db/x'],
    ['postgres://db/x', 'postgres://db/x'],
    ['not a url s3cret', '(unparseable URL, not shown)'],
    ['postgres://app:s3cret@db:99999/x', '(unparseable URL, not shown)'],
  ])('redactUrl(%s) → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('loadConfig', () => {
  it('a missing explicit file is a ConfigError naming the file', () => {
    const file = join(tempDir(), 'absent.yaml');
    const err = configError(() => loadConfig(file, {}));
    expect(err.source).toBe(file);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]?.message).toContain(file);
    expect(err.issues[0]?.message).toMatch(/not found/);
  });

  it('reads an explicit file and expands from the env given', () => {
    const file = join(tempDir(), 'conf.yaml');
    writeFileSync(file, 'database:\n  host: ${H}\n  user: u\n  database: d\nplacement: spread\n');
    const { config, source } = loadConfig(file, { H: 'filehost' });
    expect(source).toBe(file);
    expect(pg(config).host).toBe('filehost');
    expect(config.placement).toBe('spread');
  });

  it('errors in a file name the file', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'database:\n  driver: oracle\n');
    const err = configError(() => loadConfig(file, {}));
    expect(err.source).toBe(file);
    expect(err.message.startsWith(`invalid configuration in ${file}:`)).toBe(true);
    expect(paths(err)).toContain('database.driver');
  });

  it('a directory given as the file is a ConfigError', () => {
    const dir = tempDir();
    expect(configError(() => loadConfig(dir, {})).message).toContain(dir);
  });

  describe('without a path', () => {
    const cwd = process.cwd();
    afterAll(() => process.chdir(cwd));

    it('returns the built-in defaults when ./s3-orchestrator.yaml is absent', () => {
      const dir = tempDir();
      process.chdir(dir);
      try {
        const { config, source } = loadConfig(undefined, {});
        expect(source).toBe('built-in defaults');
        expect(config).toEqual(parse(''));
        expect(sqlite(config).path).toBe(join(process.cwd(), 'data', 's3-orchestrator.db'));
      } finally {
        process.chdir(cwd);
      }
    });

    it('reads ./s3-orchestrator.yaml when present', () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 's3-orchestrator.yaml'), 'database:\n  path: ./here.db\nlogging:\n  level: debug\n');
      process.chdir(dir);
      try {
        const { config, source } = loadConfig(undefined, {});
        expect(source).toBe(join(process.cwd(), 's3-orchestrator.yaml'));
        expect(config.source).toBe(source);
        expect(sqlite(config).path).toBe(join(process.cwd(), 'here.db'));
        expect(config.logging.level).toBe('debug');
      } finally {
        process.chdir(cwd);
      }
    });
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    [' 5m ', 300_000],
    ['0s', 0],
  ])('parseDuration(%j) = %i', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([[''], ['300'], ['5'], ['5 m'], ['-5s'], ['5M'], ['m'], ['1h 30m'], ['abc'], ['5mss'], ['5m3']])('parseDuration(%j) is undefined', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    [500, '500ms'],
    [1500, '1500ms'],
    [30_000, '30s'],
    [90_000, '90s'],
    [300_000, '5m'],
    [5_400_000, '90m'],
    [3_600_000, '1h'],
    [0, '0s'],
  ])('formatDuration(%i) = %s, and parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('sizes', () => {
  it.each([
    ['0', 0],
    ['1024', 1024],
    ['1KB', 1000],
    ['1kib', 1024],
    ['500MB', 500_000_000],
    ['10GiB', 10 * 2 ** 30],
    ['10 GiB', 10 * 2 ** 30],
    ['2TB', 2e12],
    ['1TiB', 2 ** 40],
    ['1PB', 1e15],
    ['7PiB', 7 * 2 ** 50],
    ['1.5KiB', 1536],
    ['1.1KB', 1100],
    ['4.1MB', 4_100_000], // 4.1 * 1e6 is 4099999.9999999995 in floating point: exact arithmetic needed
    ['0.5MiB', 524_288],
    ['12B', 12],
  ] as const)('parseSize(%j) = %i', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([['10XB'], [''], ['GiB'], ['-1'], ['1.5B'], ['0.1B'], ['8PiB'], ['1e3'], ['10 GiB extra']])('parseSize(%j) is undefined', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it.each([[0, 0], [123, 123], [-1, undefined], [1.5, undefined], [2 ** 53, undefined]])('parseSize(%d) = %s', (n, expected) => {
    expect(parseSize(n)).toBe(expected);
  });

  it.each([
    [0, /^0 B$/],
    [1023, /^1023 B$/],
    [1024, /^1(\.0+)? KiB$/],
    [200 * 2 ** 20, /^200 MiB$/],
    [10 * 2 ** 30, /^10(\.0+)? GiB$/],
    [5 * 2 ** 40, /^5(\.0+)? TiB$/],
    [-2048, /^-2(\.0+)? KiB$/],
  ])('formatSize(%i) matches %s', (bytes, pattern) => {
    expect(formatSize(bytes)).toMatch(pattern);
  });

  it('formatSize(1536) is "1.5 KiB" as documented', () => {
    expect(formatSize(1536)).toBe('1.5 KiB');
  });
});
