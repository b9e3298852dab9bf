import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import type { PostgresConfig, SqliteConfig } from '../src/config/types.js';

/**
 * Issue 9 item 1: relative paths in a config file resolve against the file's directory, whatever
 * the working directory; without a file, against the working directory.
 */

const dirs: string[] = [];
const cwd = process.cwd();
afterEach(() => process.chdir(cwd));
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-paths-'));
  dirs.push(dir);
  return dir;
}

const CERT = join(cwd, 'test', 'fixtures', 'tls', 'localhost.crt');
const KEY = join(cwd, 'test', 'fixtures', 'tls', 'localhost.key');

describe('relative paths follow the config file', () => {
  it('SQLite path, backend directories, server.data_dir and the TLS files resolve against the file, from any working directory', () => {
    const root = tempDir();
    const confDir = join(root, 'etc', 's3o');
    mkdirSync(join(confDir, 'tls'), { recursive: true });
    writeFileSync(join(confDir, 'tls', 'c.pem'), 'cert');
    writeFileSync(join(confDir, 'tls', 'k.pem'), 'key');
    const file = join(confDir, 'config.yaml');
    writeFileSync(
      file,
      [
        'database:',
        '  path: ./state/meta.db',
        'backends:',
        '  - name: one',
        '    directory: ../bytes/one',
        '  - name: two',
        '    directory: /srv/absolute/two',
        'server:',
        '  data_dir: var',
        '  tls: { cert_file: tls/c.pem, key_file: ./tls/k.pem }',
        '',
      ].join('\n'),
    );
    const elsewhere = tempDir();
    for (const [workDir, given] of [
      [elsewhere, file],
      [confDir, 'config.yaml'],
      [join(root, 'etc'), 's3o/config.yaml'],
    ] as const) {
      process.chdir(workDir);
      const { config, source } = loadConfig(given, {});
      expect(source).toBe(file);
      expect(config.source).toBe(file);
      expect((config.database as SqliteConfig).path).toBe(join(confDir, 'state', 'meta.db'));
      expect(config.backends).toEqual([
        { name: 'one', bytesLimit: 0, directory: join(root, 'etc', 'bytes', 'one') },
        { name: 'two', bytesLimit: 0, directory: '/srv/absolute/two' },
      ]);
      expect(config.server.dataDir).toBe(join(confDir, 'var'));
      expect(config.server.tls).toEqual({ certFile: join(confDir, 'tls', 'c.pem'), keyFile: join(confDir, 'tls', 'k.pem') });
    }
  });

  it('the defaults (SQLite file, data_dir, the default backend) sit next to the config file too', () => {
    const confDir = tempDir();
    writeFileSync(join(confDir, 's3o.yaml'), 'logging:\n  level: warn\n');
    process.chdir(tempDir());
    const { config } = loadConfig(join(confDir, 's3o.yaml'), {});
    expect((config.database as SqliteConfig).path).toBe(join(confDir, 'data', 's3-orchestrator.db'));
    expect(config.server.dataDir).toBe(join(confDir, 'data'));
    expect(config.backends).toEqual([{ name: 'local', bytesLimit: 0, directory: join(confDir, 'data', 'backends', 'local') }]);
  });

  it('ssl_root_cert (in the file or in the url) resolves against the config file', () => {
    const confDir = tempDir();
    const file = join(confDir, 'pg.yaml');
    writeFileSync(file, 'database:\n  host: db\n  user: u\n  database: d\n  ssl_mode: verify-full\n  ssl_root_cert: certs/ca.pem\n');
    process.chdir(tempDir());
    expect((loadConfig(file, {}).config.database as PostgresConfig).sslRootCert).toBe(join(confDir, 'certs', 'ca.pem'));
    writeFileSync(file, 'database:\n  url: postgres://u@db/d?sslmode=verify-ca&sslrootcert=ca.pem\n');
    expect((loadConfig(file, {}).config.database as PostgresConfig).sslRootCert).toBe(join(confDir, 'ca.pem'));
  });

  it('without a config file, relative paths resolve against the working directory', () => {
    const work = tempDir();
    process.chdir(work);
    const { config, source } = loadConfig(undefined, {});
    expect(source).toBe('built-in defaults');
    expect(config.source).toBeUndefined();
    expect((config.database as SqliteConfig).path).toBe(join(process.cwd(), 'data', 's3-orchestrator.db'));
    expect(config.backends[0]!.directory).toBe(join(process.cwd(), 'data', 'backends', 'local'));
    const parsed = parseConfigText('backends:\n  - name: a\n    directory: x/y\n', {});
    expect(parsed.backends[0]!.directory).toBe(join(process.cwd(), 'x', 'y'));
  });

  it('a TLS file that does not exist is an error naming its absolute path', () => {
    const confDir = tempDir();
    const file = join(confDir, 'tls.yaml');
    writeFileSync(file, `server:\n  tls:\n    cert_file: missing.pem\n    key_file: ${KEY}\n`);
    let message = '';
    try {
      loadConfig(file, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`server.tls.cert_file: file not found: ${join(confDir, 'missing.pem')}`);
    expect(message).not.toContain('server.tls.key_file');
    writeFileSync(file, `server:\n  tls:\n    cert_file: ${CERT}\n    key_file: ${KEY}\n`);
    expect(loadConfig(file, {}).config.server.tls).toEqual({ certFile: CERT, keyFile: KEY });
  });
});
