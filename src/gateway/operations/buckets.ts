import { BucketNotEmptyError, NotFoundError } from '../../store/core/errors.js';
import { validateBucketName } from '../../store/core/buckets.js';
import { InvalidArgumentError } from '../../store/core/errors.js';
import { mayUseBucket } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { owner } from './listing.js';

export async function listBuckets(ctx: S3Context): Promise<void> {
  const all = await ctx.deps.store.buckets.list();
  // A credential sees the buckets it may use; admin and "*" see all.
  const visible = ctx.credential.permission === 'admin' ? all : all.filter((b) => mayUseBucket(ctx.credential, b.name));
  sendXml(ctx.res, 200, 'ListAllMyBucketsResult', {
    Owner: owner(ctx),
    Buckets: { Bucket: visible.map((b) => ({ Name: b.name, CreationDate: b.createdAt })) },
  });
}

export async function createBucket(ctx: S3Context): Promise<void> {
  try {
    validateBucketName(ctx.bucket);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new S3Error('InvalidBucketName', err.message, { extra: { BucketName: ctx.bucket } });
    throw err;
  }
  // The body, when any, is a CreateBucketConfiguration: the location constraint means nothing here.
  if (ctx.declaredLength() > 0 || ctx.isChunked) await ctx.bodyText();
  const { bucket, created } = await ctx.deps.store.buckets.create({ name: ctx.bucket, owner: ctx.credential.accessKeyId });
  // One gateway is one account: a bucket the credential may use (its own, or one declared in the
  // config) is "already yours", which tools such as `aws s3 mb` and rclone accept.
  if (!created) {
    const yours = bucket.owner === ctx.credential.accessKeyId || mayUseBucket(ctx.credential, bucket.name);
    throw new S3Error(yours ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { extra: { BucketName: ctx.bucket } });
  }
  sendEmpty(ctx.res, 200, { Location: `/${ctx.bucket}` });
}

export async function headBucket(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  sendEmpty(ctx.res, 200, { 'x-amz-bucket-region': ctx.deps.config.server.region });
}

export async function deleteBucket(ctx: S3Context): Promise<void> {
  try {
    await ctx.deps.store.buckets.delete(ctx.bucket);
  } catch (err) {
    if (err instanceof NotFoundError) throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
    if (err instanceof BucketNotEmptyError) throw new S3Error('BucketNotEmpty', undefined, { extra: { BucketName: ctx.bucket } });
    throw err;
  }
  ctx.deps.buckets.forget(ctx.bucket);
  sendEmpty(ctx.res, 204);
}

export async function getBucketLocation(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  const region = ctx.deps.config.server.region;
  // us-east-1 is written as an empty constraint, as AWS does.
  sendXml(ctx.res, 200, 'LocationConstraint', region === 'us-east-1' ? '' : region);
}

export async function getBucketVersioning(ctx: S3Context): Promise<void> {
  await ctx.deps.buckets.require(ctx.bucket);
  sendXml(ctx.res, 200, 'VersioningConfiguration', {});
}
