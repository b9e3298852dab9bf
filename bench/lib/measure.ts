/**
 * Throughput and latency measurement. Throughput runs alternate between the two sides being
 * compared (raw driver, then store, then raw...) in short rounds, so that a change in the machine's
 * load during the run hits both sides alike.
 */

export interface Throughput {
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
}

export type Step = () => Promise<unknown> | unknown;

/** Runs `step` repeatedly for `ms` milliseconds (or until it returns false); counts completed steps. */
export async function runFor(ms: number, step: Step, unitsPerStep = 1): Promise<Throughput> {
  const started = performance.now();
  const deadline = started + ms;
  let ops = 0;
  while (performance.now() < deadline) {
    if ((await step()) === false) break;
    ops += unitsPerStep;
  }
  const seconds = (performance.now() - started) / 1000;
  return { ops, seconds, opsPerSecond: ops / seconds };
}

/** Runs `workers` copies of `step` at once for `ms`; counts completed steps across them. */
export async function runConcurrentFor(ms: number, workers: number, step: (worker: number) => Promise<unknown>): Promise<Throughput> {
  const started = performance.now();
  const deadline = started + ms;
  let ops = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < deadline) {
        await step(w);
        ops++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ops, seconds, opsPerSecond: ops / seconds };
}

export interface Comparison {
  readonly store: Throughput;
  readonly raw: Throughput;
  /** store ops/s ÷ raw ops/s */
  readonly ratio: number;
}

/** Interleaves `rounds` rounds of raw and store, each `totalMs / rounds` long, after a warm-up of both. */
export async function compare(totalMs: number, raw: Step, store: Step, options: { rounds?: number; warmupMs?: number; unitsPerStep?: number } = {}): Promise<Comparison> {
  // Short alternating rounds (250 ms per side) spread any drift in the machine's load evenly over both sides.
  const rounds = options.rounds ?? Math.max(4, Math.round(totalMs / 250));
  const units = options.unitsPerStep ?? 1;
  const warmup = options.warmupMs ?? Math.min(500, totalMs / 4);
  await runFor(warmup / 2, raw, units);
  await runFor(warmup / 2, store, units);
  const sum = { raw: { ops: 0, seconds: 0 }, store: { ops: 0, seconds: 0 } };
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always runs on a freshly warmed cache.
    const order: ['raw' | 'store', Step][] = r % 2 === 0 ? [['raw', raw], ['store', store]] : [['store', store], ['raw', raw]];
    for (const [side, step] of order) {
      const t = await runFor(totalMs / rounds, step, units);
      sum[side].ops += t.ops;
      sum[side].seconds += t.seconds;
    }
  }
  const toThroughput = (s: { ops: number; seconds: number }): Throughput => ({ ...s, opsPerSecond: s.ops / s.seconds });
  const storeT = toThroughput(sum.store);
  const rawT = toThroughput(sum.raw);
  return { store: storeT, raw: rawT, ratio: storeT.opsPerSecond / rawT.opsPerSecond };
}

export interface Latency {
  readonly samples: number;
  readonly medianMs: number;
  readonly p99Ms: number;
}

/** Times `samples` calls of `step` one after another; median and 99th percentile in milliseconds. */
export async function latency(samples: number, step: (i: number) => Promise<unknown>): Promise<Latency> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await step(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { samples, medianMs: at(0.5), p99Ms: at(0.99) };
}

/** A small deterministic generator, so runs pick the same keys. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
