import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientEnv,
  clientProgram,
  CREDENTIAL,
  expectSameFile,
  expectSameTree,
  fetchBytes,
  type Fixtures,
  makeFixtures,
  md5,
  MiB,
  multipartEtag,
  mustFail,
  mustRun,
  REGION,
  run,
  describeRun,
  type RunResult,
  type Serve,
  sha256,
  startServe,
  tempDir,
  TREE_FILES,
} from './support.js';

/**
 * The AWS CLI (Debian's awscli) against a real `serve`: mb, cp (small and multipart), sync, ls,
 * s3api head-object, presign (fetched by Node), rm, rb; bytes compared end to end.
 */

const BUCKET = 'clients-awscli';
/** awscli's "8MB" is 8 MiB; 40 MiB goes up in 5 parts. */
const PART = 8 * MiB;

let serve: Serve;
let work: string;
let fx: Fixtures;
let aws: string;
let env: NodeJS.ProcessEnv;

const cli = (...args: string[]): Promise<RunResult> => mustRun(aws, ['--endpoint-url', serve.url, ...args], { env, timeoutMs: 90_000 });
const headObject = async (key: string): Promise<Record<string, unknown>> =>
  JSON.parse((await cli('s3api', 'head-object', '--bucket', BUCKET, '--key', key, '--output', 'json')).stdout) as Record<string, unknown>;

beforeAll(async () => {
  aws = clientProgram('aws', 'awscli');
  work = tempDir('awscli');
  fx = makeFixtures(join(work, 'local'));
  // Never the user's ~/.aws: config and credentials files of our own, HOME in the temp dir.
  const configFile = join(work, 'aws-config');
  const credentialsFile = join(work, 'aws-credentials');
  writeFileSync(
    configFile,
    ['[default]', `region = ${REGION}`, 's3 =', '  multipart_threshold = 8MB', '  multipart_chunksize = 8MB', '  addressing_style = path', '  signature_version = s3v4', ''].join('\n'),
  );
  writeFileSync(credentialsFile, '');
  env = clientEnv(join(work, 'home'), {
    AWS_ACCESS_KEY_ID: CREDENTIAL.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIAL.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
    AWS_RETRY_MODE: 'standard',
  });
  serve = await startServe('awscli');
});

afterAll(async () => {
  await serve?.stop();
  if (work && !process.env.S3O_KEEP_CLIENT_DIRS) rmSync(work, { recursive: true, force: true });
});

// Each aws run starts a Python interpreter and botocore (1-2 s): generous limits for a loaded machine.
describe('awscli', { timeout: 150_000 }, () => {
  it('mb makes the bucket and ls lists it', async () => {
    await serve.guard(async () => {
      const mb = await cli('s3', 'mb', `s3://${BUCKET}`);
      expect(mb.stdout).toContain(`make_bucket: ${BUCKET}`);
      const ls = await cli('s3', 'ls');
      expect(ls.stdout).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d ${BUCKET}$`, 'm'));
    })();
  });

  it('cp uploads a small file (with metadata) and a 40 MiB one in 8 MiB parts; head-object shows them', async () => {
    await serve.guard(async () => {
      await cli('s3', 'cp', fx.small.path, `s3://${BUCKET}/small.txt`, '--content-type', 'text/x-scenario', '--metadata', 'colour=blue,owner=awscli');
      const big = await cli('s3', 'cp', fx.big.path, `s3://${BUCKET}/big.bin`);
      expect(big.stdout).toContain(`upload: `);

      const small = await headObject('small.txt');
      expect(small).toMatchObject({ ContentLength: fx.small.data.length, ETag: `"${md5(fx.small.data)}"`, ContentType: 'text/x-scenario', Metadata: { colour: 'blue', owner: 'awscli' } });
      const head = await headObject('big.bin');
      // The multipart ETag proves the upload went in 5 parts of 8 MiB, and that the gateway joined them in order.
      expect(head).toMatchObject({ ContentLength: fx.big.data.length, ETag: multipartEtag(fx.big.data, PART) });
    })();
  });

  it(`sync uploads a folder of ${TREE_FILES} files; ls --recursive lists them; a second sync has nothing to do`, async () => {
    await serve.guard(async () => {
      const first = await cli('s3', 'sync', fx.tree, `s3://${BUCKET}/tree/`, '--no-progress');
      expect(first.stdout.match(/^upload: /gm)?.length).toBe(TREE_FILES);

      const ls = await cli('s3', 'ls', '--recursive', `s3://${BUCKET}/tree/`);
      const lines = ls.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(TREE_FILES);
      expect(ls.stdout).toContain(' tree/with space.txt');
      expect(ls.stdout).toContain(' tree/ünïcødé-名前.txt');
      expect(ls.stdout).toMatch(/^\S+ \S+ +0 tree\/empty\.txt$/m);

      // sync compares sizes and times: the listing's LastModified must not be older than the files.
      const second = await cli('s3', 'sync', fx.tree, `s3://${BUCKET}/tree/`, '--no-progress');
      expect(second.stdout.trim()).toBe('');

      // A changed file (newer, other size) is uploaded again, and only that one.
      const changed = join(fx.tree, 'file-007.dat');
      writeFileSync(changed, Buffer.from('changed by the test\n'));
      const later = new Date(Date.now() + 120_000);
      utimesSync(changed, later, later);
      const third = await cli('s3', 'sync', fx.tree, `s3://${BUCKET}/tree/`, '--no-progress');
      expect(third.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^upload: .*file-007\.dat to s3:\/\/clients-awscli\/tree\/file-007\.dat$/)]);
    })();
  });

  it('cp and sync download everything; the bytes are the ones uploaded', async () => {
    await serve.guard(async () => {
      // sync the whole bucket down (big.bin comes in ranged GETs of 8 MiB), and cp one object.
      const down = join(work, 'down');
      const sync = await cli('s3', 'sync', `s3://${BUCKET}/`, down, '--no-progress');
      expect(sync.stdout.match(/^download: /gm)?.length).toBe(TREE_FILES + 2);
      expectSameFile(fx.small.data, join(down, 'small.txt'));
      expectSameFile(fx.big.data, join(down, 'big.bin'));
      expectSameTree(fx.tree, join(down, 'tree'));
      await cli('s3', 'cp', `s3://${BUCKET}/big.bin`, join(work, 'big-again.bin'));
      expectSameFile(fx.big.data, join(work, 'big-again.bin'));
    })();
  });

  it('presign gives a URL that Node fetch reads without credentials; it stops working once expired', async () => {
    await serve.guard(async () => {
      const url = (await cli('s3', 'presign', `s3://${BUCKET}/big.bin`, '--expires-in', '300')).stdout.trim();
      expect(url).toMatch(/X-Amz-Signature=/);
      const got = await fetchBytes(url);
      expect(got.status).toBe(200);
      expect(got.body.length).toBe(fx.big.data.length);
      expect(sha256(got.body)).toBe(sha256(fx.big.data));

      const small = (await cli('s3', 'presign', `s3://${BUCKET}/small.txt`, '--expires-in', '1')).stdout.trim();
      await new Promise((r) => setTimeout(r, 2_100));
      const expired = await fetchBytes(small);
      expect(expired.status).toBe(403);
      expect(expired.body.toString('utf8')).toContain('<Code>AccessDenied</Code>');

      // A tampered signature is refused.
      const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
      const refused = await fetchBytes(tampered);
      expect(refused.status).toBe(403);
      expect(refused.body.toString('utf8')).toContain('<Code>SignatureDoesNotMatch</Code>');
    })();
  });

  it('rb refuses a bucket with objects; rm empties it; rb removes it', async () => {
    await serve.guard(async () => {
      await mustFail(aws, ['--endpoint-url', serve.url, 's3', 'rb', `s3://${BUCKET}`], /BucketNotEmpty/, { env });

      const rm = await cli('s3', 'rm', `s3://${BUCKET}/small.txt`);
      expect(rm.stdout).toContain(`delete: s3://${BUCKET}/small.txt`);

      const rmAll = await cli('s3', 'rm', '--recursive', `s3://${BUCKET}/`);
      // small.txt went first: big.bin and the folder are left.
      expect(rmAll.stdout.match(/^delete: /gm)?.length).toBe(TREE_FILES + 1);
      expect(rmAll.stdout).not.toContain('small.txt');
      // An empty listing: awscli exits 1 when nothing matched, with nothing printed.
      const empty = await run(aws, ['--endpoint-url', serve.url, 's3', 'ls', '--recursive', `s3://${BUCKET}/`], { env });
      expect(empty.code === 0 || empty.code === 1, describeRun(aws, ['s3', 'ls', '--recursive'], empty)).toBe(true);
      expect(empty.stdout.trim()).toBe('');

      const rb = await cli('s3', 'rb', `s3://${BUCKET}`);
      expect(rb.stdout).toContain(`remove_bucket: ${BUCKET}`);
      expect((await cli('s3', 'ls')).stdout).not.toContain(BUCKET);
    })();
  });
});
