/**
 * Byte sizes as operators write them: a whole number of bytes, or a number with a binary
 * (KiB, MiB, GiB, TiB, PiB) or decimal (KB, MB, GB, TB, PB) unit. Results must be whole bytes
 * and exactly representable (at most Number.MAX_SAFE_INTEGER, about 8 PiB).
 */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

export function parseSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+)(?:\.(\d+))?\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = UNITS[(m[3] || 'b').toLowerCase()];
  if (unit === undefined) return undefined;
  // Exact decimal arithmetic: 4.1 * 1e6 is 4099999.9999999995 in floating point.
  const fraction = m[2] ?? '';
  const scaled = BigInt(m[1]! + fraction) * BigInt(unit);
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) return undefined; // not a whole number of bytes
  const bytes = scaled / divisor;
  return bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : undefined;
}

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Human form for status output: 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  let v = Math.abs(bytes);
  let i = 0;
  while (i < BINARY.length - 1 && (v >= 1024 || Number(rounded(v)) >= 1024)) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? String(v) : rounded(v).replace(/\.0+$|(\.\d*?)0+$/, '$1');
  return `${bytes < 0 ? '-' : ''}${text} ${BINARY[i]}`;
}

/** Three significant digits or so: 1.23, 12.3, 123. */
function rounded(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
