import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
 * rclone (Debian's) against a real `serve`, with a remote defined only by environment variables:
 * mkdir, copy/copyto (40 MiB in 5 MiB chunks), sync (and a second sync that deletes and replaces),
 * check, lsf (listings paged by 50), copy back, delete, rmdir, purge; bytes compared end to end.
 */

const BUCKET = 'clients-rclone';
const REMOTE = 's3o';
const PART = 5 * MiB;

let serve: Serve;
let work: string;
let fx: Fixtures;
let rclone: string;
let env: NodeJS.ProcessEnv;

/** Upload cutoff 8 MiB and 5 MiB chunks; listings in pages of 50; no retries that could hide a failure. */
const FLAGS = ['--s3-upload-cutoff', '8M', '--s3-chunk-size', '5M', '--s3-list-chunk', '50', '--retries', '1', '--low-level-retries', '1', '--stats', '0'];
const rc = (...args: string[]): Promise<RunResult> => mustRun(rclone, [...args, ...FLAGS], { env, timeoutMs: 90_000 });
const remote = (path = '') => `${REMOTE}:${BUCKET}${path ? `/${path}` : ''}`;
const lines = (r: RunResult) => r.stdout.split('\n').filter((l) => l !== '');

beforeAll(async () => {
  rclone = clientProgram('rclone', 'rclone');
  work = tempDir('rclone');
  fx = makeFixtures(join(work, 'local'));
  serve = await startServe('rclone');
  // An empty config file of our own: the remote comes from RCLONE_CONFIG_S3O_*, never the user's config.
  const configFile = join(work, 'rclone.conf');
  writeFileSync(configFile, '');
  const name = REMOTE.toUpperCase();
  env = clientEnv(join(work, 'home'), {
    RCLONE_CONFIG: configFile,
    [`RCLONE_CONFIG_${name}_TYPE`]: 's3',
    [`RCLONE_CONFIG_${name}_PROVIDER`]: 'Other',
    [`RCLONE_CONFIG_${name}_ENDPOINT`]: serve.url,
    [`RCLONE_CONFIG_${name}_ACCESS_KEY_ID`]: CREDENTIAL.accessKeyId,
    [`RCLONE_CONFIG_${name}_SECRET_ACCESS_KEY`]: CREDENTIAL.secretAccessKey,
    [`RCLONE_CONFIG_${name}_REGION`]: REGION,
    // Path style is rclone's default for s3; said explicitly since the gateway has no server.domain here.
    [`RCLONE_CONFIG_${name}_FORCE_PATH_STYLE`]: 'true',
  });
});

afterAll(async () => {
  await serve?.stop();
  if (work && !process.env.S3O_KEEP_CLIENT_DIRS) rmSync(work, { recursive: true, force: true });
});

describe('rclone', { timeout: 150_000 }, () => {
  it('mkdir makes the bucket; lsf of the remote lists it', async () => {
    await serve.guard(async () => {
      await rc('mkdir', remote());
      expect(lines(await rc('lsf', `${REMOTE}:`))).toContain(`${BUCKET}/`);
    })();
  });

  it('copy uploads a small file; copyto uploads 40 MiB in 5 MiB chunks (multipart, with its md5 in metadata)', async () => {
    await serve.guard(async () => {
      await rc('copy', fx.small.path, remote());
      await rc('copyto', fx.big.path, remote('big.bin'));
      expect(lines(await rc('lsf', '--format', 'ps', remote())).sort()).toEqual([`big.bin;${fx.big.data.length}`, `small.txt;${fx.small.data.length}`]);

      const head = await headWithSdk(serve.url, BUCKET, 'big.bin');
      expect(head.etag).toBe(multipartEtag(fx.big.data, PART));
      expect(head.size).toBe(fx.big.data.length);
      // rclone keeps the MD5 of a multipart upload in user metadata (the ETag is not one): it must survive.
      expect(head.metadata.md5chksum).toBe(Buffer.from(md5(fx.big.data), 'hex').toString('base64'));
    })();
  });

  it(`sync uploads a folder of ${TREE_FILES} files; check finds it identical; lsf -R lists every name`, async () => {
    await serve.guard(async () => {
      await rc('sync', fx.tree, remote('tree'));
      // check compares sizes and MD5s (the ETags of single-part uploads) of both sides.
      const check = await rc('check', fx.tree, remote('tree'));
      expect(check.stderr).toMatch(/0 differences found/);
      const names = lines(await rc('lsf', '-R', '--files-only', remote('tree')));
      expect(names).toHaveLength(TREE_FILES);
      for (const name of HARD_NAMES) expect(names).toContain(name);
      expect(names).toContain('empty.txt');
    })();
  });

  it('a second sync deletes, replaces and adds files; check agrees again', async () => {
    await serve.guard(async () => {
      // Change the local folder: 10 files gone, 5 rewritten, 3 new.
      const next = join(work, 'tree-v2');
      cpSync(fx.tree, next, { recursive: true });
      const top = readdirSync(next).filter((n) => n.startsWith('file-')).sort();
      for (const name of top.slice(0, 10)) rmSync(join(next, name));
      top.slice(10, 15).forEach((name, i) => writeFileSync(join(next, name), `rewritten ${i}\n`.repeat(i + 1)));
      for (let i = 0; i < 3; i++) writeFileSync(join(next, `new-${i}.txt`), `new file ${i}\n`);

      await rc('sync', next, remote('tree'));
      const check = await rc('check', next, remote('tree'));
      expect(check.stderr).toMatch(/0 differences found/);
      expect(lines(await rc('lsf', '-R', '--files-only', remote('tree')))).toHaveLength(TREE_FILES - 10 + 3);
      // A check against the old folder must now see the differences.
      await mustFail(rclone, ['check', fx.tree, remote('tree'), ...FLAGS], /\d+ differences found/, { env });
      rmSync(fx.tree, { recursive: true });
      cpSync(next, fx.tree, { recursive: true });
    })();
  });

  it('copy brings the whole bucket back with the bytes uploaded', async () => {
    await serve.guard(async () => {
      const down = join(work, 'down');
      await rc('copy', remote(), down);
      expectSameFile(fx.small.data, join(down, 'small.txt'));
      expectSameFile(fx.big.data, join(down, 'big.bin'));
      expectSameTree(fx.tree, join(down, 'tree'));
      // And check --download compares the bytes themselves, not hashes.
      const check = await rc('check', '--download', fx.tree, remote('tree'));
      expect(check.stderr).toMatch(/0 differences found/);
    })();
  });

  it('delete removes files; rmdir removes the emptied bucket; purge removes a bucket with its objects', async () => {
    await serve.guard(async () => {
      await rc('deletefile', remote('small.txt'));
      expect(lines(await rc('lsf', remote()))).not.toContain('small.txt');
      await rc('delete', remote('tree'));
      expect(lines(await rc('lsf', '-R', remote('tree')))).toEqual([]);
      await rc('delete', remote());
      expect(lines(await rc('lsf', '-R', remote()))).toEqual([]);
      await rc('rmdir', remote());
      expect(lines(await rc('lsf', `${REMOTE}:`))).not.toContain(`${BUCKET}/`);

      const other = `${REMOTE}:${BUCKET}-purge`;
      await rc('mkdir', other);
      await rc('copy', join(fx.tree, 'sub-1'), `${other}/some`);
      expect(lines(await rc('lsf', '-R', '--files-only', `${other}/some`))).toHaveLength(readdirSync(join(fx.tree, 'sub-1')).length);
      await rc('purge', other);
      expect(lines(await rc('lsf', `${REMOTE}:`))).toEqual([]);
    })();
  });
});
