import { z } from 'zod';
import { InvalidArgumentError } from '../store/core/errors.js';
import { validateBucketName } from '../store/core/buckets.js';
import { show } from './fields.js';

/**
 * Field types of the gateway's config sections (`server`, `credentials`, `buckets`). Like fields.ts,
 * every message says what was expected; a secret access key is never echoed.
 */

/** Fails a field that is absent with "is required"; otherwise hands the value to `inner`. */
export const required = <T extends z.ZodType>(inner: T) =>
  z.unknown().superRefine((value, ctx) => {
    if (value === undefined || value === null) ctx.addIssue({ code: 'custom', message: 'is required' });
  }).pipe(inner);

/** `host:port`, `[ipv6]:port`. Port 0 asks the system for a free port (tests). */
export const listenAddress = () =>
  z.unknown().transform((value, ctx) => {
    const m = typeof value === 'string' ? /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value.trim()) : null;
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `must be "host:port" such as "127.0.0.1:9000" or "[::1]:9000" (port 0-65535), got ${show(value)}` });
      return z.NEVER;
    }
    return { host: (m[1] ?? m[2])!, port };
  });

const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A DNS name in lowercase (`s3.example.com`): requests for `bucket.<domain>` are virtual-hosted style. */
export const domainName = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string' || !DOMAIN.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a lowercase DNS name such as "s3.example.com" (no scheme, no port), got ${show(value)}` });
      return z.NEVER;
    }
    return value;
  });

export const regionName = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a region name of lowercase letters, digits and "-" such as "us-east-1", got ${show(value)}` });
      return z.NEVER;
    }
    return value;
  });

const ACCESS_KEY_ID = /^[A-Za-z0-9]{3,128}$/;

export const accessKeyId = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string' || !ACCESS_KEY_ID.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be 3-128 characters of A-Z, a-z and 0-9, got ${show(value)}` });
      return z.NEVER;
    }
    return value;
  });

export const MIN_SECRET_KEY_LENGTH = 8;

/** A secret access key: at least 8 characters. The value is never shown, not even its length. */
export const secretAccessKey = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string' || value.length < MIN_SECRET_KEY_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a text value of at least ${MIN_SECRET_KEY_LENGTH} characters (the value is not shown); use \${VAR} to take it from the environment`,
      });
      return z.NEVER;
    }
    return value;
  });

/** The message of S3's bucket naming rules for `name`, or undefined when it follows them. */
export function bucketNameProblem(name: unknown): string | undefined {
  try {
    validateBucketName(name);
    return undefined;
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.message.slice(err.field.length + 2);
    throw err;
  }
}

export const bucketName = () =>
  z.unknown().transform((value, ctx) => {
    const problem = bucketNameProblem(value);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return value as string;
  });

/** `"*"`, `["*"]` (every bucket) or a list of bucket names. */
export const bucketGrant = () =>
  z.unknown().transform((value, ctx): readonly string[] | '*' => {
    if (value === '*' || (Array.isArray(value) && value.length === 1 && value[0] === '*')) return '*';
    if (!Array.isArray(value) || value.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must be "*" (every bucket) or a list of bucket names, got ${Array.isArray(value) ? 'an empty list' : show(value)}` });
      return z.NEVER;
    }
    const names: string[] = [];
    value.forEach((item: unknown, i) => {
      const problem = item === '*' ? '"*" must stand alone: write buckets: ["*"] for every bucket' : bucketNameProblem(item);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [i], message: problem });
      else names.push(item as string);
    });
    return [...new Set(names)];
  });
