/**
 * AWS SigV4's URI encoding rule, applied to what arrived on the wire.
 *
 * Clients disagree on which characters they escape in a path or query (one sends `!` raw, another
 * `%21`; one sends a space as `%20`, another signs `+`), but the signer of every one of them fed the
 * same canonical form into the signature: every byte except A-Z a-z 0-9 - _ . ~ as %XX (upper case).
 * So the wire form is first decoded to bytes, then re-encoded with that rule. S3 does not
 * double-encode and does not normalise `.`, `..` or `//` runs: every segment stays.
 */

const UNRESERVED = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[ch.charCodeAt(0)] = 1;
const HEX_UPPER = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/**
 * The bytes a wire-form component stands for: `%XX` escapes become their byte, other characters
 * their UTF-8 bytes. A `%` not followed by two hex digits stands for itself (it is what was sent).
 * `plusIsSpace` applies the form-encoding reading of `+` (only ever tried for query strings).
 */
export function percentDecodeToBytes(wire: string, plusIsSpace = false): Buffer {
  // Fast path: nothing to decode and pure ASCII.
  if (!/[%+\u0080-\uffff]/.test(wire)) return Buffer.from(wire, 'latin1');
  const out: number[] = [];
  for (let i = 0; i < wire.length; i++) {
    const code = wire.charCodeAt(i);
    if (code === 0x25 /* % */ && i + 2 < wire.length) {
      const high = hexValue(wire.charCodeAt(i + 1));
      const low = hexValue(wire.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        out.push(high * 16 + low);
        i += 2;
        continue;
      }
    }
    if (code === 0x2b /* + */ && plusIsSpace) {
      out.push(0x20);
    } else if (code < 0x80) {
      out.push(code);
    } else {
      // Take the whole code point (a surrogate pair counts as one) and emit its UTF-8 bytes.
      const codePoint = wire.codePointAt(i) ?? code;
      const char = String.fromCodePoint(codePoint);
      for (const byte of Buffer.from(char, 'utf8')) out.push(byte);
      i += char.length - 1;
    }
  }
  return Buffer.from(out);
}

/** Encode bytes with the SigV4 rule: every byte except the unreserved set as %XX, upper-case hex. */
export function awsUriEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    if (UNRESERVED[byte] === 1) out += String.fromCharCode(byte);
    else out += '%' + HEX_UPPER[byte >> 4] + HEX_UPPER[byte & 15];
  }
  return out;
}

/**
 * Whether a wire component is already in canonical form: only unreserved characters and upper-case
 * %XX escapes of bytes outside the unreserved set (what every SDK sends for most names and values).
 */
function isCanonical(wire: string): boolean {
  for (let i = 0; i < wire.length; i++) {
    const code = wire.charCodeAt(i);
    if (code < 0x80 && UNRESERVED[code] === 1) continue;
    if (code !== 0x25 /* % */ || i + 2 >= wire.length) return false;
    const high = upperHexValue(wire.charCodeAt(i + 1));
    const low = upperHexValue(wire.charCodeAt(i + 2));
    if (high < 0 || low < 0 || UNRESERVED[high * 16 + low] === 1) return false;
    i += 2;
  }
  // A '+' is not unreserved: a component holding one is never taken as canonical, whatever plusIsSpace says.
  return true;
}

function upperHexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

/** Re-encode one wire-form component (a path segment, a query name or value) canonically. */
export function canonicalizeComponent(wire: string, plusIsSpace = false): string {
  if (isCanonical(wire)) return wire;
  return awsUriEncodeBytes(percentDecodeToBytes(wire, plusIsSpace));
}

/**
 * The canonical URI for S3: each `/`-separated segment of the wire path re-encoded, every
 * segment kept (empty ones included), `/` kept as the separator. An encoded `%2F` stays `%2F`.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  return rawPath
    .split('/')
    .map((segment) => canonicalizeComponent(segment))
    .join('/');
}

/** One query parameter as it arrived: raw (still encoded) name and value. */
export interface RawQueryParameter {
  readonly name: string;
  readonly value: string;
}

/** Split a wire query string (without '?') into its parameters; `a` with no `=` has value ''. */
export function splitRawQuery(rawQuery: string): RawQueryParameter[] {
  if (rawQuery === '') return [];
  const parameters: RawQueryParameter[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals < 0) parameters.push({ name: part, value: '' });
    else parameters.push({ name: part.slice(0, equals), value: part.slice(equals + 1) });
  }
  return parameters;
}

/** Decode a wire query component to text (for reading X-Amz-* parameter values). */
export function decodeQueryComponent(wire: string): string {
  // Nothing escaped and plain ASCII: the text is the wire form.
  if (!/[%\u0080-\uffff]/.test(wire)) return wire;
  return percentDecodeToBytes(wire).toString('utf8');
}

/**
 * The canonical query string: every parameter except `omitName` (compared without case, as the
 * official signer does for X-Amz-Signature), names and values re-encoded, sorted by encoded name
 * then value.
 */
export function canonicalQuery(parameters: readonly RawQueryParameter[], omitName: string, plusIsSpace = false): string {
  const omitLower = omitName.toLowerCase();
  const encoded: Array<[string, string]> = [];
  for (const { name, value } of parameters) {
    if (decodeQueryComponent(name).toLowerCase() === omitLower) continue;
    encoded.push([canonicalizeComponent(name, plusIsSpace), canonicalizeComponent(value, plusIsSpace)]);
  }
  encoded.sort((a, b) => compareCodeUnits(a[0], b[0]) || compareCodeUnits(a[1], b[1]));
  return encoded.map(([name, value]) => `${name}=${value}`).join('&');
}

// Encoded strings are ASCII: code-unit order is byte order, as AWS sorts.
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
