import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/load.js';
import type { AppConfig } from '../src/config/types.js';
import { ConfigError } from '../src/store/core/errors.js';

/** The gateway's config sections: server, credentials, buckets (spec gateway.md §1, §3) and the default backend. */

const parse = (yaml: string, env: NodeJS.ProcessEnv = {}): AppConfig => parseConfigText(yaml, env);

function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): { path: string; message: string }[] {
  try {
    parse(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues];
    throw err;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

const messageAt = (yaml: string, path: string, env: NodeJS.ProcessEnv = {}) => issuesOf(yaml, env).filter((i) => i.path === path).map((i) => i.message);

const CRED = (extra: string) => `credentials:\n  - access_key_id: AKIAEXAMPLE1\n    secret_access_key: s3cr3t-value\n${extra}`;

describe('server', () => {
  it('defaults: 127.0.0.1:9000, us-east-1, ./data, 5 GiB, plain HTTP', () => {
    expect(parse('').server).toEqual({
      host: '127.0.0.1',
      port: 9000,
      domain: undefined,
      region: 'us-east-1',
      dataDir: join(process.cwd(), 'data'),
      maxObjectBytes: 5 * 1024 ** 3,
      maxConcurrentRequests: 256,
      headerTimeoutMs: 60_000,
      idleTimeoutMs: 65_000,
      bodyTimeoutMs: 60_000,
      shutdownTimeoutMs: 30_000,
    });
  });

  it('reads listen (IPv4, name, [IPv6], port 0), domain, region, data_dir and max_object_size', () => {
    const s = parse('server:\n  listen: 0.0.0.0:8080\n  domain: s3.example.com\n  region: eu-central-1\n  data_dir: /var/lib/s3o\n  max_object_size: 1GiB\n').server;
    expect(s).toMatchObject({ host: '0.0.0.0', port: 8080, domain: 's3.example.com', region: 'eu-central-1', dataDir: '/var/lib/s3o', maxObjectBytes: 2 ** 30 });
    expect(parse('server:\n  listen: "[::1]:0"\n').server).toMatchObject({ host: '::1', port: 0 });
    expect(parse('server:\n  listen: localhost:9001\n').server).toMatchObject({ host: 'localhost', port: 9001 });
    expect(parse('server:\n  listen: ${ADDR}\n', { ADDR: '127.0.0.1:7000' }).server.port).toBe(7000);
  });

  it('every bad value is reported at once, each at its path', () => {
    const issues = issuesOf('server:\n  listen: 9000\n  domain: https://S3.example.com\n  region: "us east"\n  max_object_size: lots\n  colour: blue\n');
    expect(issues.map((i) => i.path).sort()).toEqual(['server.colour', 'server.domain', 'server.listen', 'server.max_object_size', 'server.region']);
    expect(messageAt('server:\n  listen: 127.0.0.1:70000\n', 'server.listen')[0]).toMatch(/"host:port".*got "127.0.0.1:70000"/);
  });

  it('tls needs both files: one alone is an error naming the missing key, also next to other errors', () => {
    const yaml = 'server:\n  region: "bad region"\n  tls:\n    cert_file: c.pem\nbuckets: [Nope]\n';
    expect(messageAt(yaml, 'server.tls.key_file')).toEqual(['is required together with server.tls.cert_file (give both files, or neither for plain HTTP)']);
    expect(issuesOf(yaml).map((i) => i.path)).toEqual(expect.arrayContaining(['server.region', 'buckets[0]']));
    expect(parse('server:\n  tls: {}\n').server.tls).toBeUndefined();
  });
});

describe('credentials', () => {
  it('are read; the secret is a Secret (${VAR} allowed) and never printed', () => {
    const config = parse(
      'credentials:\n  - access_key_id: AKIAEXAMPLE1\n    secret_access_key: ${S3_SECRET}\n    buckets: ["*"]\n    permission: admin\n' +
        '  - access_key_id: reader\n    secret_access_key: another-secret\n    buckets: [photos, logs.2026]\n    permission: read\n',
      { S3_SECRET: 'from-the-environment' },
    );
    expect(config.credentials.map((c) => [c.accessKeyId, c.buckets, c.permission])).toEqual([
      ['AKIAEXAMPLE1', '*', 'admin'],
      ['reader', ['photos', 'logs.2026'], 'read'],
    ]);
    expect(config.credentials[0]!.secretAccessKey.reveal()).toBe('from-the-environment');
    const printed = JSON.stringify(config) + inspect(config, { depth: 10 });
    expect(printed).not.toContain('from-the-environment');
    expect(printed).not.toContain('another-secret');
  });

  it('buckets: "*" alone means every bucket; a list must hold valid names', () => {
    expect(parse(CRED('    buckets: "*"\n    permission: read-write\n')).credentials[0]!.buckets).toBe('*');
    expect(messageAt(CRED('    buckets: ["*", photos]\n    permission: read\n'), 'credentials[0].buckets[0]')[0]).toMatch(/must stand alone/);
    expect(messageAt(CRED('    buckets: []\n    permission: read\n'), 'credentials[0].buckets')[0]).toMatch(/"\*" \(every bucket\) or a list/);
    expect(messageAt(CRED('    buckets: [ok-name, "192.168.1.1", ab]\n    permission: read\n'), 'credentials[0].buckets[1]')[0]).toMatch(/IP address/);
    expect(messageAt(CRED('    buckets: [ok-name, "192.168.1.1", ab]\n    permission: read\n'), 'credentials[0].buckets[2]')[0]).toMatch(/3 to 63/);
  });

  it('missing fields, a short key id, a short secret and an unknown permission are each reported, without the secret', () => {
    const issues = issuesOf('credentials:\n  - access_key_id: "a-b"\n    secret_access_key: tiny-pw\n    buckets: "*"\n    permission: owner\n  - {}\n');
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['credentials[0].access_key_id']).toMatch(/3-128 characters of A-Z, a-z and 0-9, got "a-b"/);
    expect(byPath['credentials[0].secret_access_key']).toMatch(/at least 8 characters \(the value is not shown\)/);
    expect(byPath['credentials[0].permission']).toMatch(/"owner" is not allowed; use one of: "read", "read-write", "admin"/);
    for (const field of ['access_key_id', 'secret_access_key', 'buckets', 'permission']) expect(byPath[`credentials[1].${field}`]).toBe('is required');
    expect(JSON.stringify(issues)).not.toContain('tiny-pw');
  });

  it('a duplicate access key id is an error at the duplicate', () => {
    const yaml = CRED('    buckets: "*"\n    permission: admin\n') + '  - access_key_id: AKIAEXAMPLE1\n    secret_access_key: other-secret\n    buckets: "*"\n    permission: read\n';
    expect(messageAt(yaml, 'credentials[1].access_key_id')).toEqual(['"AKIAEXAMPLE1" is already used by credentials[0]']);
  });

  it('an unset secret variable is an error naming the variable, not a value', () => {
    expect(messageAt(CRED('').replace('s3cr3t-value', '${MISSING_SECRET}') + '    buckets: "*"\n    permission: admin\n', 'credentials[0].secret_access_key')[0]).toMatch(
      /MISSING_SECRET is not set/,
    );
  });
});

describe('buckets', () => {
  it('are read, and every name breaking S3 rules is reported with its index', () => {
    expect(parse('buckets: [photos, logs-2026, a.b.c]\n').buckets).toEqual(['photos', 'logs-2026', 'a.b.c']);
    const issues = issuesOf('buckets: [photos, Upper, "-dash", "a..b", xn--punycode, ok-s3alias, fine]\n');
    expect(issues.map((i) => i.path)).toEqual(['buckets[1]', 'buckets[2]', 'buckets[3]', 'buckets[4]', 'buckets[5]']);
    expect(issues[0]!.message).toBe(`"Upper" contains "U"; only lowercase letters, digits, '.' and '-' are allowed`);
  });

  it('a duplicate name is an error at the duplicate', () => {
    expect(issuesOf('buckets: [photos, logs, photos]\n')).toEqual([{ path: 'buckets[2]', message: '"photos" is already used by buckets[0]' }]);
  });
});

describe('the default backend', () => {
  it('no backends declared (absent or empty): one unlimited directory backend "local" below data_dir', () => {
    for (const yaml of ['', 'backends: []\n', 'server:\n  data_dir: /srv/s3o\n']) {
      const config = parse(yaml);
      expect(config.backends).toEqual([{ name: 'local', bytesLimit: 0, directory: join(config.server.dataDir, 'backends', 'local') }]);
    }
    expect(parse('server:\n  data_dir: /srv/s3o\n').backends[0]!.directory).toBe('/srv/s3o/backends/local');
  });

  it('declared backends replace it', () => {
    expect(parse('backends:\n  - name: eu-1\n    bytes_limit: 1GiB\n').backends).toEqual([{ name: 'eu-1', bytesLimit: 2 ** 30 }]);
  });
});
