import type { StoreContext } from './context.js';
import { BucketNotEmptyError, InvalidArgumentError, NotFoundError, PreconditionFailedError } from './errors.js';
import type { IGetBucketResult } from './generated/queries.js';
import { prefixEnd } from './keys.js';
import type { Bucket, BucketStats } from './types.js';

export const MIN_BUCKET_NAME_LENGTH = 3;
export const MAX_BUCKET_NAME_LENGTH = 63;
export const MAX_BUCKET_OWNER_LENGTH = 255;

// S3's reserved name forms (general purpose bucket naming rules).
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '--x-s3', '--table-s3'];

/**
 * Checks a bucket name against S3's rules and returns it: 3-63 characters of lowercase letters,
 * digits, '.' and '-', starting and ending with a letter or digit, no '..', not an IPv4 address,
 * and none of S3's reserved prefixes and suffixes. Throws InvalidArgument (field `bucket`) naming
 * the value and the rule it breaks.
 */
export function validateBucketName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidArgumentError('bucket', `must be a string, got ${typeof name}`);
  const shown = JSON.stringify(name);
  const refuse = (reason: string): never => {
    throw new InvalidArgumentError('bucket', `${shown} ${reason}`);
  };
  if (name.length < MIN_BUCKET_NAME_LENGTH || name.length > MAX_BUCKET_NAME_LENGTH) {
    refuse(`is ${name.length} characters long; a bucket name has ${MIN_BUCKET_NAME_LENGTH} to ${MAX_BUCKET_NAME_LENGTH}`);
  }
  const bad = /[^a-z0-9.-]/.exec(name);
  if (bad) refuse(`contains ${JSON.stringify(bad[0])}; only lowercase letters, digits, '.' and '-' are allowed`);
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) refuse('must start and end with a lowercase letter or a digit');
  if (name.includes('..')) refuse("must not contain '..'");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) refuse('is formatted as an IP address');
  for (const p of RESERVED_PREFIXES) if (name.startsWith(p)) refuse(`must not start with the reserved prefix ${JSON.stringify(p)}`);
  for (const s of RESERVED_SUFFIXES) if (name.endsWith(s)) refuse(`must not end with the reserved suffix ${JSON.stringify(s)}`);
  return name;
}

/** Whether `name` passes validateBucketName. */
export function isValidBucketName(name: unknown): name is string {
  try {
    validateBucketName(name);
    return true;
  } catch (err) {
    if (err instanceof InvalidArgumentError) return false;
    throw err;
  }
}

function validateOwner(owner: unknown): string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_BUCKET_OWNER_LENGTH || /[\u0000-\u001f]/.test(owner)) {
    throw new InvalidArgumentError('owner', `must be 1-${MAX_BUCKET_OWNER_LENGTH} printable characters, got ${JSON.stringify(owner)}`);
  }
  return owner;
}

/**
 * The object keys of a bucket: ["{name}/", prefixEnd("{name}/")), a range of the byte-ordered key
 * indexes, so checking it is an index probe.
 */
export function bucketKeyRange(name: string): { fromKey: string; toKey: string } {
  const fromKey = `${name}/`;
  // A prefix ending in '/' always has an end ('/' + 1 = '0').
  return { fromKey, toKey: prefixEnd(fromKey)! };
}

export interface CreateBucketResult {
  readonly bucket: Bucket;
  /** False when the bucket already existed (then `bucket` is the existing one, with its owner). */
  readonly created: boolean;
}

/** A create that keeps finding the name taken and then gone gives up after this many tries. */
const CREATE_ATTEMPTS = 5;

/**
 * Buckets of the S3 gateway (gateway spec §3). Buckets are virtual: an object's store key is
 * "{bucket}/{key}" and every bucket shares the backend pool, so a bucket is just a named row.
 */
export class BucketOperations {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Creates the bucket, or finds it already there (`created: false`). Concurrent creates of one
   * name are safe: the insert skips on conflict, so exactly one of them creates it.
   */
  async create(input: { readonly name: string; readonly owner: string }): Promise<CreateBucketResult> {
    const name = validateBucketName(input.name);
    const owner = validateOwner(input.owner);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const [inserted] = await this.ctx.db.autocommit((q) => q.insertBucket({ name, owner, createdAt: this.ctx.clock.now() }));
      if (inserted) return { bucket: toBucket(inserted), created: true };
      const [existing] = await this.ctx.db.read((q) => q.getBucket({ name }));
      if (existing) return { bucket: toBucket(existing), created: false };
      // It was deleted between the insert and the read: try again.
    }
    throw new PreconditionFailedError(`bucket ${JSON.stringify(name)} was deleted ${CREATE_ATTEMPTS} times while being created; retry`);
  }

  /** The bucket, or undefined; a name S3 would refuse cannot have been created, so it finds nothing. */
  async get(name: string): Promise<Bucket | undefined> {
    if (!isValidBucketName(name)) return undefined;
    const [row] = await this.ctx.db.read((q) => q.getBucket({ name }));
    return row ? toBucket(row) : undefined;
  }

  /** Every bucket, by name (byte order). */
  async list(): Promise<Bucket[]> {
    const rows = await this.ctx.db.read((q) => q.listBuckets());
    return rows.map(toBucket);
  }

  /**
   * Deletes an empty bucket (NotFound when there is none). Refused with BucketNotEmpty while any object or open multipart upload
   * has a key in it (the caller deletes or aborts those first). Concurrent deletes of one bucket
   * are serialised by the row lock. A write into the bucket racing with its delete is not blocked
   * here (writes do not lock the bucket row): the gateway checks the bucket exists before a write.
   */
  async delete(name: string): Promise<void> {
    if (!isValidBucketName(name)) throw new NotFoundError('bucket', String(name));
    await this.ctx.db.transaction(async (q) => {
      const [row] = await q.lockBucket({ name });
      if (!row) throw new NotFoundError('bucket', name);
      const [contents] = await q.bucketContents(bucketKeyRange(name));
      if (contents!.hasObjects || contents!.hasUploads) {
        throw new BucketNotEmptyError(name, { objects: contents!.hasObjects, uploads: contents!.hasUploads });
      }
      await q.deleteBucket({ name });
    });
  }

  /** Per bucket, by name: its objects and their bytes (each object once). One grouped read. */
  async stats(): Promise<BucketStats[]> {
    const rows = await this.ctx.db.read((q) => q.bucketStats());
    return rows.map((r) => ({ name: r.name, objects: r.objects, bytes: r.bytes }));
  }
}

function toBucket(row: IGetBucketResult): Bucket {
  return { name: row.name, owner: row.owner, createdAt: row.created_at };
}
