import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientEnv,
  clientProgram,
  CREDENTIAL,
  expectSameFile,
  expectSameTree,
  type Fixtures,
  HARD_NAMES,
  makeFixtures,
  md5,
  MiB,
  multipartEtag,
  mustFail,
  mustRun,
  REGION,
  type RunResult,
  type Serve,
  startServe,
  tempDir,
  TREE_FILES,
} from './support.js';
import { headWithSdk } from './support-sdk.js';

/**
 * s3cmd (Debian's) against a real `serve`, path style, SigV4, through a .s3cfg of its own: mb, put
 * (40 MiB in 5 MiB parts), ls, sync (up and down), get, info, del, rb; bytes compared end to end.
 */

const BUCKET = 'clients-s3cmd';
const PART = 5 * MiB;

let serve: Serve;
let work: string;
let fx: Fixtures;
let s3cmd: string;
let env: NodeJS.ProcessEnv;
let config: string;

const cmd = (...args: string[]): Promise<RunResult> => mustRun(s3cmd, ['-c', config, '--no-progress', ...args], { env, timeoutMs: 90_000 });
const lines = (r: RunResult) => r.stdout.split('\n').filter((l) => l !== '');

beforeAll(async () => {
  s3cmd = clientProgram('s3cmd', 's3cmd');
  work = tempDir('s3cmd');
  fx = makeFixtures(join(work, 'local'));
  serve = await startServe('s3cmd');
  config = join(work, 's3cfg');
  const hostPort = `${serve.host}:${serve.port}`;
  // host_bucket without %(bucket)s: path-style requests.
  writeFileSync(
    config,
    [
      '[default]',
      `access_key = ${CREDENTIAL.accessKeyId}`,
      `secret_key = ${CREDENTIAL.secretAccessKey}`,
      `host_base = ${hostPort}`,
      `host_bucket = ${hostPort}`,
      `bucket_location = ${REGION}`,
      'use_https = False',
      'signature_v2 = False',
      'check_ssl_certificate = False',
      'multipart_chunk_size_mb = 5',
      'max_retries = 1',
      '',
    ].join('\n'),
  );
  env = clientEnv(join(work, 'home'));
});

afterAll(async () => {
  await serve?.stop();
  if (work && !process.env.S3O_KEEP_CLIENT_DIRS) rmSync(work, { recursive: true, force: true });
});

describe('s3cmd', { timeout: 150_000 }, () => {
  it('mb makes the bucket; ls lists it', async () => {
    await serve.guard(async () => {
      const mb = await cmd('mb', `s3://${BUCKET}`);
      expect(mb.stdout).toContain(`Bucket 's3://${BUCKET}/' created`);
      expect((await cmd('ls')).stdout).toMatch(new RegExp(` s3://${BUCKET}$`, 'm'));
    })();
  });

  it('put uploads a small file and a 40 MiB one in 5 MiB parts; ls and info show them', async () => {
    await serve.guard(async () => {
      await cmd('put', '--mime-type=text/x-s3cmd', '--add-header=x-amz-meta-colour:red', fx.small.path, `s3://${BUCKET}/small.txt`);
      // (--no-progress hides s3cmd's "part N of 8" lines: the ETag below shows the parts.)
      await cmd('put', '--multipart-chunk-size-mb=5', fx.big.path, `s3://${BUCKET}/big.bin`);

      const ls = await cmd('ls', `s3://${BUCKET}/`);
      expect(ls.stdout).toMatch(new RegExp(` ${fx.small.data.length} +s3://${BUCKET}/small\\.txt$`, 'm'));
      expect(ls.stdout).toMatch(new RegExp(` ${fx.big.data.length} +s3://${BUCKET}/big\\.bin$`, 'm'));

      const info = await cmd('info', `s3://${BUCKET}/small.txt`);
      expect(info.stdout).toMatch(new RegExp(`MIME type: +text/x-s3cmd`));
      expect(info.stdout).toMatch(new RegExp(`MD5 sum: +${md5(fx.small.data)}`));
      expect(info.stdout).toMatch(/x-amz-meta-colour: +red/);

      const head = await headWithSdk(serve.url, BUCKET, 'big.bin');
      expect(head.etag).toBe(multipartEtag(fx.big.data, PART));
      // s3cmd keeps the file's MD5 (and times) in x-amz-meta-s3cmd-attrs: it must survive the multipart upload.
      expect(head.metadata['s3cmd-attrs']).toContain(`md5:${md5(fx.big.data)}`);
    })();
  });

  it(`sync uploads a folder of ${TREE_FILES} files; ls --recursive lists them; a second sync uploads nothing`, async () => {
    await serve.guard(async () => {
      const first = await cmd('sync', `${fx.tree}/`, `s3://${BUCKET}/tree/`);
      expect(first.stdout.match(/^upload: /gm)?.length).toBe(TREE_FILES);
      const ls = await cmd('ls', '--recursive', `s3://${BUCKET}/tree/`);
      expect(lines(ls)).toHaveLength(TREE_FILES);
      for (const name of HARD_NAMES) expect(ls.stdout).toContain(`s3://${BUCKET}/tree/${name}`);

      // sync compares sizes and MD5s (the listing's ETags): nothing changed, nothing goes up.
      const second = await cmd('sync', `${fx.tree}/`, `s3://${BUCKET}/tree/`);
      expect(second.stdout).not.toMatch(/^upload: /m);
    })();
  });

  it('get and sync download everything; the bytes are the ones uploaded', async () => {
    await serve.guard(async () => {
      const down = join(work, 'down');
      await cmd('get', `s3://${BUCKET}/small.txt`, join(down, 'small.txt'));
      await cmd('get', `s3://${BUCKET}/big.bin`, join(down, 'big.bin'));
      await cmd('sync', `s3://${BUCKET}/tree/`, `${join(down, 'tree')}/`);
      expectSameFile(fx.small.data, join(down, 'small.txt'));
      expectSameFile(fx.big.data, join(down, 'big.bin'));
      expectSameTree(fx.tree, join(down, 'tree'));
    })();
  });

  it('rb refuses a bucket with objects; del removes one and then all; rb removes the bucket', async () => {
    await serve.guard(async () => {
      await mustFail(s3cmd, ['-c', config, 'rb', `s3://${BUCKET}`], /BucketNotEmpty/, { env });

      const del = await cmd('del', `s3://${BUCKET}/small.txt`);
      expect(del.stdout).toContain(`delete: 's3://${BUCKET}/small.txt'`);
      expect(lines(await cmd('ls', `s3://${BUCKET}/`))).not.toContainEqual(expect.stringContaining('small.txt'));

      const delAll = await cmd('del', '--recursive', '--force', `s3://${BUCKET}/`);
      expect(delAll.stdout.match(/^delete: /gm)?.length).toBe(TREE_FILES + 1);
      expect(lines(await cmd('ls', '--recursive', `s3://${BUCKET}/`))).toEqual([]);

      const rb = await cmd('rb', `s3://${BUCKET}`);
      expect(rb.stdout).toContain(`Bucket 's3://${BUCKET}/' removed`);
      expect((await cmd('ls')).stdout).not.toContain(BUCKET);
    })();
  });
});
