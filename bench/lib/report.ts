import type { GatewayBenchResult } from '../scenarios/gateway.js';
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

export function printGateway(r: GatewayBenchResult): void {
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number) => x.toFixed(2);
  if (r.sigv4) {
    const s = r.sigv4;
    table('SigV4 per request (µs; GET, one signed header besides the x-amz ones)', ['operation', 'µs'], [
      ['@smithy/signature-v4 sign (Authorization header)', f1(s.smithySignHeaderUs)],
      ['gateway verifySignature (Authorization header)', f1(s.verifyHeaderUs)],
      ['@smithy/signature-v4 presign (query)', f1(s.smithyPresignUs)],
      ['gateway verifySignature (presigned query)', f1(s.verifyPresignedUs)],
      ['bench presigner (load generator, cached key)', f1(s.benchPresignUs)],
    ]);
  }
  if (r.large.length > 0) {
    table('Large objects, one stream (MiB/s; ratio = gateway / direct; bench-process CPU ms per MiB: client + disk server or gateway)', ['backend', 'op', 'size MiB', 'rounds', 'direct', 'gateway', 'ratio', 'direct cpu', 'gateway cpu'],
      r.large.map((l) => [l.backend, l.direction, String(l.bytes / 2 ** 20), String(l.rounds), f1(l.directMiBps), f1(l.gatewayMiBps), f2(l.ratio), f2(l.directCpuMsPerMiB), f2(l.gatewayCpuMsPerMiB)]));
  }
  if (r.memory) {
    const m = r.memory;
    table(`Memory during one PUT and one GET of ${m.bytes / 2 ** 20} MiB (RSS, MiB; ${m.how})`, ['baseline', 'PUT peak', 'GET peak', 'growth', 'PUT MiB/s', 'GET MiB/s'],
      [[f1(m.baselineMiB), f1(m.putPeakMiB), f1(m.getPeakMiB), f1(m.growthMiB), f1(m.putMiBps), f1(m.getMiBps)]]);
  }
  if (r.multipart.length > 0) {
    const m0 = r.multipart[0]!;
    table(`Multipart on s3rver, ${m0.parts} × ${m0.partBytes / 2 ** 20} MiB (part uploads MiB/s; Complete ms and object bytes through the gateway)`,
      ['parts in flight', 'direct MiB/s', 'gateway MiB/s', 'ratio', 'direct Complete ms', 'gateway Complete ms', "gateway's own share ms", 'Complete bytes moved'],
      r.multipart.map((m) => [String(m.inFlight), f1(m.directMiBps), f1(m.gatewayMiBps), f2(m.ratio), f1(m.directCompleteMs), f1(m.gatewayCompleteMs), f1(m.gatewayOwnCompleteMs), String(m.completeBytesMoved)]));
  }
  if (r.ceiling.length > 0) {
    table('Load generator ceiling: a node:http server answering 200 with no work (4 KiB bodies)', ['clients', 'PUT ops/s', 'p50 ms', 'p99 ms', 'GET ops/s', 'p50 ms', 'p99 ms'],
      r.ceiling.map((c) => [String(c.clients), n(c.put.opsPerSecond), ms(c.put.p50Ms), ms(c.put.p99Ms), n(c.get.opsPerSecond), ms(c.get.p50Ms), ms(c.get.p99Ms)]));
  }
  if (r.small.length > 0) {
    table('Small objects (4 KiB) through the gateway, beside the store on the same database (ops/s; ms)',
      ['engine', 'backend', 'clients', 'PUT ops/s', 'p50', 'p99', 'store write/s', 'vs store', 'vs bound', 'GET ops/s', 'p50', 'p99', 'store lookup/s', 'vs store', 'vs bound', 'errors'],
      r.small.map((s) => {
        const base = r.small.find((b) => b.engine === s.engine && b.clients === s.clients && b.storeCommitWrite)!;
        const ceiling = r.ceiling.find((c) => c.clients === s.clients);
        // The bound: the store's rate, or the load generator's ceiling when that is lower.
        const bound = (store: number, gen: number | undefined) => Math.min(store, gen ?? Infinity);
        const w = base.storeCommitWrite!.opsPerSecond;
        const l = base.storeLookup!.opsPerSecond;
        return [
          s.engine, s.backend, String(s.clients),
          n(s.put.opsPerSecond), ms(s.put.p50Ms), ms(s.put.p99Ms), n(w), f2(s.put.opsPerSecond / w), f2(s.put.opsPerSecond / bound(w, ceiling?.put.opsPerSecond)),
          n(s.get.opsPerSecond), ms(s.get.p50Ms), ms(s.get.p99Ms), n(l), f2(s.get.opsPerSecond / l), f2(s.get.opsPerSecond / bound(l, ceiling?.get.opsPerSecond)),
          String(s.put.errors + s.get.errors),
        ];
      }));
    for (const s of r.small) if (s.put.firstError || s.get.firstError) console.log(`  ${s.engine}/${s.backend}/${s.clients}: ${s.put.firstError ?? s.get.firstError}`);
  }
  console.log(`\nload average: ${r.loadAverage.start.map((l) => l.toFixed(2)).join(' ')} at the start, ${r.loadAverage.end.map((l) => l.toFixed(2)).join(' ')} at the end`);
}
