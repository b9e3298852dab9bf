import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { backendsWithoutClient, createBackendClients, hasClient, withoutClientWarning } from '../../src/backends/backend-clients.js';
import { DirectoryBackend } from '../../src/backends/directory.js';
import { S3Backend } from '../../src/backends/s3.js';
import { backendKind, monthlyLimitsOf } from '../../src/config/backends.js';
import { parseConfigText } from '../../src/config/load.js';
import type { AppConfig, BackendConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/store/core/errors.js';

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';

function parse(yaml: string, env: NodeJS.ProcessEnv = {}): AppConfig {
  return parseConfigText(yaml, env);
}

function errorOf(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parse(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

function issues(err: ConfigError): Record<string, string> {
  return Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
}

const s3 = (extra: string[] = []) =>
  [
    'backends:',
    '  - name: eu',
    '    endpoint: https://s3.eu.example.test',
    '    bucket: bytes-eu',
    '    access_key_id: AKIAEXAMPLE',
    `    secret_access_key: ${SECRET}`,
    ...extra,
    '',
  ].join('\n');

describe('s3 backend config', () => {
  it('an endpoint makes an S3 backend with the defaults: us-east-1, path style, 30 s, no monthly limits', () => {
    const [b] = parse(s3()).backends;
    expect(b!.name).toBe('eu');
    expect(b!.directory).toBeUndefined();
    expect(backendKind(b!)).toBe('s3');
    expect(b!.s3).toMatchObject({
      endpoint: 'https://s3.eu.example.test',
      region: 'us-east-1',
      bucket: 'bytes-eu',
      accessKeyId: 'AKIAEXAMPLE',
      forcePathStyle: true,
      timeoutMs: 30_000,
    });
    expect(b!.s3!.secretAccessKey.reveal()).toBe(SECRET);
    expect(b!.monthlyLimits).toBeUndefined();
    expect(monthlyLimitsOf(b!)).toEqual({ apiRequests: 0, egressBytes: 0, ingressBytes: 0 });
  });

  it('every key given: region, path style off, timeout, bytes_limit and the monthly limits', () => {
    const [b] = parse(
      s3([
        '    region: eu-central-1',
        '    force_path_style: false',
        '    timeout: 2m',
        '    bytes_limit: 10GiB',
        '    api_request_limit: 1000000',
        '    egress_byte_limit: 1TiB',
        '    ingress_byte_limit: 0',
      ]),
    ).backends;
    expect(b!.s3).toMatchObject({ region: 'eu-central-1', forcePathStyle: false, timeoutMs: 120_000 });
    expect(b!.bytesLimit).toBe(10 * 2 ** 30);
    expect(b!.monthlyLimits).toEqual({ apiRequests: 1_000_000, egressBytes: 2 ** 40, ingressBytes: 0 });
  });

  it('the monthly limits apply to directory backends too (a limit given alone defaults the others to 0)', () => {
    const [b] = parse('backends:\n  - name: disk\n    directory: /srv/disk\n    egress_byte_limit: 5GiB\n').backends;
    expect(backendKind(b!)).toBe('directory');
    expect(monthlyLimitsOf(b!)).toEqual({ apiRequests: 0, egressBytes: 5 * 2 ** 30, ingressBytes: 0 });
  });

  it('the secret comes from ${VAR} and is never printed by the config, its inspection or JSON', () => {
    const config = parse(s3().replace(SECRET, '${S3_SECRET}'), { S3_SECRET: SECRET });
    const b = config.backends[0]!;
    expect(b.s3!.secretAccessKey.reveal()).toBe(SECRET);
    for (const rendering of [JSON.stringify(config), inspect(config, { depth: Infinity }), String(b.s3!.secretAccessKey)]) {
      expect(rendering).not.toContain(SECRET);
    }
    expect(JSON.stringify(b.s3)).toContain('[redacted]');
  });

  it('force_path_style from ${VAR} ("true"/"false" text)', () => {
    expect(parse(s3(['    force_path_style: ${PATH_STYLE}']), { PATH_STYLE: 'false' }).backends[0]!.s3!.forcePathStyle).toBe(false);
  });

  it('reports every problem of every backend in one error, each with its field path', () => {
    const err = errorOf(
      [
        'backends:',
        '  - name: both',
        '    directory: /srv/x',
        '    endpoint: https://s3.example.test',
        '  - name: no-bucket',
        '    endpoint: http://127.0.0.1:9000',
        '  - name: stray-keys',
        '    directory: /srv/y',
        '    bucket: b',
        '    region: eu-west-1',
        '  - name: bad-values',
        '    endpoint: ftp://example.test',
        '    bucket: b',
        '    access_key_id: AK',
        `    secret_access_key: ${SECRET}`,
        '    region: EU West',
        '    force_path_style: maybe',
        '    timeout: 30',
        '    api_request_limit: -1',
        '    egress_byte_limit: lots',
        '    ingress_byte_limit: 1.5',
        '',
      ].join('\n'),
    );
    const found = issues(err);
    expect(Object.keys(found).sort()).toEqual(
      [
        'backends[0].endpoint',
        'backends[1].bucket',
        'backends[1].access_key_id',
        'backends[1].secret_access_key',
        'backends[2].bucket',
        'backends[2].region',
        'backends[3].endpoint',
        'backends[3].region',
        'backends[3].force_path_style',
        'backends[3].timeout',
        'backends[3].api_request_limit',
        'backends[3].egress_byte_limit',
        'backends[3].ingress_byte_limit',
      ].sort(),
    );
    expect(found['backends[0].endpoint']).toMatch(/either `directory`.*or `endpoint`.*not both/);
    expect(found['backends[1].bucket']).toMatch(/required for an S3 backend/);
    expect(found['backends[2].region']).toMatch(/setting of S3 backends: set `endpoint`/);
    expect(found['backends[3].endpoint']).toMatch(/http:\/\/ or https:\/\/ URL/);
    expect(found['backends[3].force_path_style']).toMatch(/true or false/);
    expect(found['backends[3].timeout']).toMatch(/duration/);
    for (const rendering of [err.message, JSON.stringify(err.issues), inspect(err, { depth: Infinity })]) expect(rendering).not.toContain(SECRET);
  });

  it('a non-text secret is refused without echoing it; a password in the endpoint URL is not echoed either', () => {
    const err = errorOf(
      [
        'backends:',
        '  - name: eu',
        '    endpoint: "gopher://user:hunter2hunter2@example.test"',
        '    bucket: b',
        '    access_key_id: AK',
        '    secret_access_key: [1, 2]',
        '',
      ].join('\n'),
    );
    expect(issues(err)['backends[0].secret_access_key']).toMatch(/not shown/);
    expect(err.message).not.toContain('hunter2hunter2');
  });

  it('unknown keys of a backend are still errors', () => {
    expect(Object.keys(issues(errorOf(s3(['    secret_key: x']))))).toEqual(['backends[0].secret_key']);
  });
});

describe('backend clients for every kind', () => {
  it('directory and endpoint backends get a client; a backend with neither has none and is warned about', async () => {
    const backends: BackendConfig[] = [
      { name: 'disk', bytesLimit: 0, directory: '/srv/disk' },
      parse(s3()).backends[0]!,
      { name: 'bare', bytesLimit: 0 },
    ];
    expect(backends.map(hasClient)).toEqual([true, true, false]);
    expect(backendsWithoutClient(backends).map((b) => b.name)).toEqual(['bare']);
    const clients = await createBackendClients(backends);
    expect([...clients.keys()]).toEqual(['disk', 'eu']);
    expect(clients.get('disk')).toBeInstanceOf(DirectoryBackend);
    expect(clients.get('eu')).toBeInstanceOf(S3Backend);
    expect(withoutClientWarning(backends[2]!)).toMatch(/"bare" has no client \(neither `directory` nor `endpoint` is set\)/);
    for (const c of clients.values()) if (c instanceof S3Backend) c.destroy();
  });
});
