import type { ConcurrencyResult } from '../scenarios/concurrency.js';
import type { OperationResult } from '../scenarios/operations.js';
import type { ScaleResult } from '../scenarios/scale.js';
import type { StatementPathResult } from '../scenarios/statement-path.js';

function table(title: string, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(headers));
  for (const r of rows) console.log(line(r));
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => x.toFixed(3);

export function printOperations(results: readonly OperationResult[]): void {
  table(
    'Store vs the raw driver running the same statements (ops/s; ratio = store / raw)',
    ['operation', 'engine', 'raw ops/s', 'store ops/s', 'ratio'],
    results.map((r) => [r.operation, r.engine, n(r.raw.opsPerSecond), n(r.store.opsPerSecond), r.ratio.toFixed(2)]),
  );
}

export function printConcurrency(results: readonly ConcurrencyResult[]): void {
  const oneRow = (r: ConcurrencyResult) => results.find((b) => b.design.startsWith('one quota row') && b.pools === r.pools && b.writers === r.writers);
  table(
    'Concurrent commit writes on one backend, PostgreSQL (writes/s; ratio against the one-row design)',
    ['design', 'pools', 'writers', 'writes/s', 'ratio'],
    results.map((r) => {
      const base = oneRow(r);
      return [r.design, String(r.pools), String(r.writers), n(r.throughput.opsPerSecond), base ? (r.throughput.opsPerSecond / base.throughput.opsPerSecond).toFixed(2) : '-'];
    }),
  );
}

export function printScale(results: readonly ScaleResult[]): void {
  table(
    'Latency as the object table grows (ms; ratio against the smallest size)',
    ['engine', 'objects', 'load s', 'lookup p50', 'lookup p99', 'p99 ratio', 'page p50', 'page p99', 'p50 ratio', 'p99 ratio'],
    results.map((r) => {
      const base = results.find((b) => b.engine === r.engine)!;
      return [
        r.engine,
        n(r.objects),
        r.loadSeconds.toFixed(1),
        ms(r.lookup.medianMs),
        ms(r.lookup.p99Ms),
        (r.lookup.p99Ms / base.lookup.p99Ms).toFixed(2),
        ms(r.listPage.medianMs),
        ms(r.listPage.p99Ms),
        (r.listPage.medianMs / base.listPage.medianMs).toFixed(2),
        (r.listPage.p99Ms / base.listPage.p99Ms).toFixed(2),
      ];
    }),
  );
}

export function printStatementPath(results: readonly StatementPathResult[]): void {
  const base = results[0]!.throughput.opsPerSecond;
  table(
    'One lookup, four statement paths, PostgreSQL (sequential lookups/s; ratio against raw unnamed)',
    ['path', 'lookups/s', 'ratio'],
    results.map((r) => [r.path, n(r.throughput.opsPerSecond), (r.throughput.opsPerSecond / base).toFixed(2)]),
  );
}
