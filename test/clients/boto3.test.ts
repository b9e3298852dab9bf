import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import {
  clientEnv,
  CREDENTIAL,
  expectSameFile,
  expectSameTree,
  fetchBytes,
  type Fixtures,
  HARD_NAMES,
  makeFixtures,
  md5,
  MiB,
  multipartEtag,
  mustRun,
  pythonWithBoto3,
  type Serve,
  sha256,
  startServe,
  tempDir,
  TREE_FILES,
} from './support.js';

/**
 * boto3 (Debian's python3-boto3) against a real `serve`: create_bucket, upload_file (multipart with
 * a TransferConfig), list_objects_v2 through the paginator, copy_object, download_file, presigned
 * URLs (GET and PUT, used by Node's fetch), delete_objects, delete_bucket; bytes compared end to end.
 */

const SCRIPT = join(PACKAGE_ROOT, 'test', 'clients', 'fixtures', 'boto3_scenario.py');
const BUCKET = 'clients-boto3';
const PART = 8 * MiB;

let serve: Serve;
let work: string;
let fx: Fixtures;
let python: string;
let env: NodeJS.ProcessEnv;

async function step<T>(name: string, ...args: string[]): Promise<T> {
  const r = await mustRun(python, [SCRIPT, name, ...args], { env, timeoutMs: 90_000 });
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  python = pythonWithBoto3();
  work = tempDir('boto3');
  fx = makeFixtures(join(work, 'local'));
  serve = await startServe('boto3');
  const home = join(work, 'home');
  const configFile = join(work, 'aws-config');
  writeFileSync(configFile, '');
  env = clientEnv(home, {
    S3O_ENDPOINT: serve.url,
    AWS_ACCESS_KEY_ID: CREDENTIAL.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIAL.secretAccessKey,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: configFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONDONTWRITEBYTECODE: '1',
  });
});

afterAll(async () => {
  await serve?.stop();
  if (work && !process.env.S3O_KEEP_CLIENT_DIRS) rmSync(work, { recursive: true, force: true });
});

describe('boto3', { timeout: 150_000 }, () => {
  it('create_bucket makes the bucket; list_buckets shows it', async () => {
    await serve.guard(async () => {
      const r = await step<{ buckets: string[] }>('mb', BUCKET);
      expect(r.buckets).toContain(BUCKET);
    })();
  });

  it('upload_file: a small file in one PUT, 40 MiB in 8 MiB parts (TransferConfig); head_object shows type and metadata', async () => {
    await serve.guard(async () => {
      const small = await step<Record<string, unknown>>('upload', BUCKET, 'small.txt', fx.small.path, 'text/x-boto3');
      expect(small).toEqual({ ContentLength: fx.small.data.length, ETag: `"${md5(fx.small.data)}"`, ContentType: 'text/x-boto3', Metadata: { colour: 'green', client: 'boto3' } });
      const big = await step<Record<string, unknown>>('upload', BUCKET, 'big.bin', fx.big.path, 'application/octet-stream');
      expect(big).toMatchObject({ ContentLength: fx.big.data.length, ETag: multipartEtag(fx.big.data, PART), Metadata: { colour: 'green', client: 'boto3' } });
    })();
  });

  it(`uploads a folder of ${TREE_FILES} files (8 threads); the list_objects_v2 paginator walks them in pages of 50, sorted`, async () => {
    await serve.guard(async () => {
      expect(await step('upload-folder', BUCKET, 'tree/', fx.tree)).toEqual({ uploaded: TREE_FILES });
      const r = await step<{ pages: number; objects: { Key: string; Size: number }[]; prefixes: string[]; topLevelKeys: string[] }>('list', BUCKET, 'tree/', '50');
      expect(r.pages).toBe(TREE_FILES / 50);
      const keys = r.objects.map((o) => o.Key);
      expect(keys).toHaveLength(TREE_FILES);
      // S3 lists in the byte order of the UTF-8 keys.
      expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      for (const name of HARD_NAMES) expect(keys).toContain(`tree/${name}`);
      expect(r.objects.find((o) => o.Key === 'tree/empty.txt')?.Size).toBe(0);
      expect(r.prefixes.sort()).toEqual(['tree/deep/', 'tree/sub-0/', 'tree/sub-1/', 'tree/sub-2/']);
      expect(r.topLevelKeys).toEqual(keys.filter((k) => !k.slice('tree/'.length).includes('/')));
    })();
  });

  it('copy_object copies bytes and metadata; a ranged get_object reads a slice of the multipart object', async () => {
    await serve.guard(async () => {
      const copy = await step<{ ETag: string; head: Record<string, unknown> }>('copy', BUCKET, 'small.txt', 'copies/small-copy.txt');
      expect(copy.ETag).toBe(`"${md5(fx.small.data)}"`);
      expect(copy.head).toEqual({ ETag: `"${md5(fx.small.data)}"`, ContentLength: fx.small.data.length, Metadata: { colour: 'green', client: 'boto3' } });

      // A range across the boundary of parts 1 and 2.
      const first = PART - 1000;
      const last = PART + 999;
      const range = await step<Record<string, unknown>>('get-range', BUCKET, 'big.bin', String(first), String(last));
      expect(range).toEqual({ ContentRange: `bytes ${first}-${last}/${fx.big.data.length}`, ContentLength: 2000, sha256: sha256(fx.big.data.subarray(first, last + 1)) });
    })();
  });

  it('download_file brings every object back with the bytes uploaded (big.bin in ranged parts)', async () => {
    await serve.guard(async () => {
      const down = join(work, 'down');
      expect(await step('download', BUCKET, '', down)).toEqual({ downloaded: TREE_FILES + 3 });
      expectSameFile(fx.small.data, join(down, 'small.txt'));
      expectSameFile(fx.small.data, join(down, 'copies', 'small-copy.txt'));
      expectSameFile(fx.big.data, join(down, 'big.bin'));
      expectSameTree(fx.tree, join(down, 'tree'));
    })();
  });

  it('generate_presigned_url: GET reads the object, PUT writes one, both with Node fetch and no credentials', async () => {
    await serve.guard(async () => {
      const { url } = await step<{ url: string }>('presign', BUCKET, 'big.bin', 'GET', '300');
      const got = await fetchBytes(url);
      expect(got.status).toBe(200);
      expect(sha256(got.body)).toBe(sha256(fx.big.data));

      const body = randomBytes(70_000);
      const put = await step<{ url: string }>('presign', BUCKET, 'presigned/put.bin', 'PUT', '300');
      const stored = await fetchBytes(put.url, { method: 'PUT', body });
      expect(stored.status, stored.body.toString('utf8')).toBe(200);
      expect(stored.headers.get('etag')).toBe(`"${md5(body)}"`);
      const back = await fetchBytes((await step<{ url: string }>('presign', BUCKET, 'presigned/put.bin', 'GET', '300')).url);
      expect(back.status).toBe(200);
      expect(back.body.equals(body)).toBe(true);

      // The PUT URL signs the method: the same URL cannot read.
      expect((await fetchBytes(put.url)).status).toBe(403);
    })();
  });

  it('delete_bucket refuses a bucket with objects; delete_objects empties it; delete_bucket removes it', async () => {
    await serve.guard(async () => {
      expect(await step('rb', BUCKET)).toEqual({ error: 'BucketNotEmpty', status: 409 });
      const r = await step<{ deleted: number; errors: unknown[]; remaining: number }>('delete-all', BUCKET, '');
      expect(r).toEqual({ deleted: TREE_FILES + 4, errors: [], remaining: 0 });
      expect(await step('rb', BUCKET)).toEqual({ deleted: true, headAfter: 404, buckets: [] });
    })();
  });
});
