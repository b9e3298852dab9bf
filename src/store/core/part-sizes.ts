/**
 * The part sizes of a multipart object, kept with its copies (object_locations.part_sizes, migration
 * 0006) so that GET/HEAD `?partNumber=N` can answer the bytes of part N without asking the backend.
 *
 * Stored and exposed run-length encoded: a run `[sizeBytes, count]` stands for `count` consecutive
 * parts of `sizeBytes` bytes each, runs in part order. The usual upload (equal parts, a shorter last
 * one) is two runs whatever its part count, e.g. `[[5242880,19],[1048576,1]]` for 20 parts.
 */

/** `count` (>= 1) consecutive parts of `sizeBytes` (>= 0) bytes each. */
export type PartSizeRun = readonly [sizeBytes: number, count: number];

/** A multipart object's part sizes, run-length encoded, in part order (see PartSizeRun). */
export type PartSizes = readonly PartSizeRun[];

/** S3's limit on the parts of one upload. */
const MAX_PARTS = 10_000;

/** The runs of a list of part sizes (in part order); consecutive equal sizes merge into one run. */
export function partSizeRuns(sizes: readonly number[]): PartSizes {
  const runs: [number, number][] = [];
  for (const size of sizes) {
    const last = runs.at(-1);
    if (last && last[0] === size) last[1]++;
    else runs.push([size, 1]);
  }
  return runs;
}

/** The stored text of `runs` (JSON). */
export function encodePartSizes(runs: PartSizes): string {
  return JSON.stringify(runs);
}

/**
 * The runs stored in `text`, or undefined when there are none (NULL: not a multipart object, or one
 * completed before part sizes were kept) or when the value is not a well-formed list of runs whose
 * sizes add up to `totalBytes` (the copy's size): a malformed value is treated as absent, so the
 * caller falls back to asking the backend instead of answering a wrong range.
 */
export function decodePartSizes(text: string | null | undefined, totalBytes: number): PartSizes | undefined {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PARTS) return undefined;
  let parts = 0;
  let bytes = 0;
  for (const run of value as unknown[]) {
    if (!Array.isArray(run) || run.length !== 2) return undefined;
    const [size, count] = run as unknown[];
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) return undefined;
    parts += count;
    bytes += size * count;
    if (parts > MAX_PARTS || !Number.isSafeInteger(bytes)) return undefined;
  }
  if (bytes !== totalBytes) return undefined;
  return value as PartSizes;
}

/** How many parts the runs describe. */
export function partCount(runs: PartSizes): number {
  let parts = 0;
  for (const [, count] of runs) parts += count;
  return parts;
}

/**
 * The byte range of part `partNumber` (1-based): `start` and `end` are offsets into the object, `end`
 * inclusive (so a part of 0 bytes has `end = start - 1`). Undefined when there is no such part.
 */
export function partByteRange(runs: PartSizes, partNumber: number): { start: number; end: number } | undefined {
  if (!Number.isInteger(partNumber) || partNumber < 1) return undefined;
  let start = 0;
  let before = partNumber - 1;
  for (const [size, count] of runs) {
    if (before < count) return { start: start + before * size, end: start + (before + 1) * size - 1 };
    start += size * count;
    before -= count;
  }
  return undefined;
}
