import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { redactUrl } from './redact-url.js';

/**
 * Field types of the config file. Values may arrive as strings after `${VAR}` expansion
 * (`port: ${PGPORT:-5432}`), so numbers accept numeric strings. Messages say what was expected and
 * show what was found; secrets never pass through these helpers.
 */

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

export function parseWholeNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.unknown().transform((value, ctx) => {
    const n = parseWholeNumber(value);
    if (n === undefined || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
      ctx.addIssue({ code: 'custom', message: `must be a whole number ${range}, got ${show(value)}` });
      return z.NEVER;
    }
    return n;
  });

/** A duration string with a unit ("30s", "5m", "1h30m"); the result is milliseconds. */
export const duration = (minMs = 1) =>
  z.unknown().transform((value, ctx) => {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration with a unit such as "500ms", "30s", "5m" or "1h30m", got ${show(value)}` });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minMs} ms, got ${show(value)}` });
      return z.NEVER;
    }
    return ms;
  });

/** Bytes: a whole number, or a number with a unit ("500MiB", "10GiB", "2TB"). */
export const byteSize = () =>
  z.unknown().transform((value, ctx) => {
    const n = typeof value === 'number' || typeof value === 'string' ? parseSize(value) : undefined;
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a byte size such as 1073741824, "500MiB" or "10GiB" (0 = unlimited), got ${show(value)}` });
      return z.NEVER;
    }
    return n;
  });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.unknown().transform((value, ctx): T[number] => {
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      ctx.addIssue({ code: 'custom', message: `${show(value)} is not allowed; use one of: ${values.map((v) => JSON.stringify(v)).join(', ')}` });
      return z.NEVER;
    }
    return value as T[number];
  });

export const text = (what = 'a text value') =>
  z.unknown().transform((value, ctx) => {
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'string' || value.trim() === '') {
      ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${value === '' ? 'an empty value' : show(value)}` });
      return z.NEVER;
    }
    return value;
  });

/** Like `text`, but the value is never echoed back in a message (passwords, signing secrets). */
export const secretText = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value === 'number') return String(value);
    if (typeof value !== 'string') {
      ctx.addIssue({ code: 'custom', message: 'must be a text value (the value is not shown)' });
      return z.NEVER;
    }
    return value;
  });

/** An http:// or https:// URL (a password in it is never echoed). */
export const httpUrl = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value === 'string') {
      try {
        const u = new URL(value);
        if (u.protocol === 'http:' || u.protocol === 'https:') return value;
      } catch {
        // reported below
      }
    }
    ctx.addIssue({ code: 'custom', message: `must be an http:// or https:// URL, got ${typeof value === 'string' ? redactUrl(value) : typeof value}` });
    return z.NEVER;
  });

/** true or false (also as the text "true"/"false", which `${VAR}` expansion yields). */
export const yesNo = () =>
  z.unknown().transform((value, ctx) => {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    ctx.addIssue({ code: 'custom', message: `must be true or false, got ${show(value)}` });
    return z.NEVER;
  });
