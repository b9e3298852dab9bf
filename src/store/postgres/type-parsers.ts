import pg from 'pg';

const INT8 = 20;
const INT8_ARRAY = 1016;
const TEXT_ARRAY = 1009;
const JSON_OID = 114;
const JSONB = 3802;

type Parser = (value: string) => unknown;
const builtinParser = pg.types.getTypeParser as unknown as (oid: number, format: 'text' | 'binary') => Parser;

/** int8 → number, refusing values a JS number cannot hold exactly (no silent precision loss). */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`integer ${text} from the database is beyond ±2^53 and cannot be represented exactly`);
  }
  return n;
}

const parseTextArray = builtinParser(TEXT_ARRAY, 'text') as (value: string) => (string | null)[];

function parseInt8Array(value: string): (number | null)[] {
  return parseTextArray(value).map((v) => (v === null ? null : parseInt8(v)));
}

/**
 * Per-pool type parsers (the global pg.types registry is left alone): int8 as exact numbers, as
 * the generated types promise; JSON as its text, so both engines hand core the same string.
 */
export const storeTypeParsers = {
  getTypeParser(oid: number, format: 'text' | 'binary' = 'text'): Parser {
    if (format === 'text') {
      if (oid === INT8) return parseInt8;
      if (oid === INT8_ARRAY) return parseInt8Array;
      if (oid === JSON_OID || oid === JSONB) return (value: string) => value;
    }
    return builtinParser(oid, format);
  },
};
