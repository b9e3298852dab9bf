/**
 * npm run bench [-- options]
 *
 *   --engine sqlite|postgres|both   default both
 *   --duration <seconds>            per measured operation and side (default 3)
 *   --sizes 10000,100000,1000000    object-table sizes for the scale run
 *   --concurrency 1,4,16            writer counts for the concurrency run (PostgreSQL)
 *   --only statements,operations,concurrency,scale,gateway
 *   --quick                         about a minute: --duration 0.5 --sizes 10000,100000
 *   --large                         gateway: 1 GiB streams, a 2 GiB memory run, 100 × 10 MiB multipart
 *   --clients 1,16,64               gateway: concurrent clients for the small-object run
 *   --gateway sigv4,large,memory,multipart,small   gateway sections (default all)
 *
 * PostgreSQL: the server named by DATABASE_URL / PG* when set, else an embedded one started with
 * fsync on (durability costs what it costs in production). Results are printed as tables and
 * written as JSON to bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgresServer, type PostgresServer } from '../scripts/lib/postgres-server.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { printConcurrency, printGateway, printOperations, printScale, printStatementPath } from './lib/report.js';
import { runConcurrency, type ConcurrencyResult } from './scenarios/concurrency.js';
import { runGateway, type GatewayBenchResult } from './scenarios/gateway.js';
import { runOperations, type OperationResult } from './scenarios/operations.js';
import { runScale, type ScaleResult } from './scenarios/scale.js';
import { runStatementPath, type StatementPathResult } from './scenarios/statement-path.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'both' },
    duration: { type: 'string' },
    sizes: { type: 'string' },
    concurrency: { type: 'string', default: '1,4,16' },
    only: { type: 'string', default: 'statements,operations,concurrency,scale,gateway' },
    quick: { type: 'boolean', default: false },
    large: { type: 'boolean', default: false },
    clients: { type: 'string', default: '1,16,64' },
    gateway: { type: 'string', default: 'sigv4,large,memory,multipart,small' },
  },
});

const durationMs = Number(values.duration ?? (values.quick ? 0.5 : 3)) * 1000;
const sizes = (values.sizes ?? (values.quick ? '10000,100000' : '10000,100000,1000000')).split(',').map(Number);
const writerCounts = values.concurrency!.split(',').map(Number);
const only = new Set(values.only!.split(','));
const gatewayClients = values.clients!.split(',').map(Number);
const engines = values.engine === 'both' ? (['sqlite', 'postgres'] as const) : ([values.engine] as ('sqlite' | 'postgres')[]);
if (!engines.every((e) => e === 'sqlite' || e === 'postgres') || !(durationMs > 0) || sizes.some((s) => !Number.isInteger(s) || s < 1000)) {
  console.error('usage: npm run bench -- [--engine sqlite|postgres|both] [--duration s] [--sizes n,n] [--concurrency n,n] [--only statements,operations,concurrency,scale,gateway] [--quick] [--large] [--clients n,n] [--gateway sigv4,large,memory,multipart,small]');
  process.exit(2);
}

const started = new Date();
let server: PostgresServer | undefined;
const operations: OperationResult[] = [];
let concurrency: ConcurrencyResult[] = [];
let statements: StatementPathResult[] = [];
const scale: ScaleResult[] = [];
let gateway: GatewayBenchResult | undefined;
const gatewaySections = new Set(values.gateway!.split(','));
try {
  if (engines.includes('postgres') && (only.has('statements') || only.has('operations') || only.has('concurrency') || only.has('scale') || (only.has('gateway') && gatewaySections.has('small')))) {
    server = await startPostgresServer({ fsync: true });
    console.log(`PostgreSQL: ${server.source === 'embedded' ? 'embedded server (fsync on)' : `${server.admin.host}:${server.admin.port}`}`);
  }
  if (only.has('statements') && server) {
    statements = await runStatementPath(server, durationMs);
    printStatementPath(statements);
  }
  if (only.has('operations')) {
    for (const engine of engines) {
      operations.push(...(await runOperations(engine, server, durationMs)));
      if (engine === 'sqlite') operations.push(...(await runOperations('sqlite', undefined, durationMs, 'normal')).filter((r) => r.operation.startsWith('commit write')));
    }
    printOperations(operations);
  }
  if (only.has('concurrency') && server) {
    concurrency = await runConcurrency(server, durationMs, writerCounts);
    printConcurrency(concurrency);
  }
  if (only.has('scale')) {
    // Many samples: a p99 over microsecond lookups needs them to be more than the machine's noise.
    for (const engine of engines) scale.push(...(await runScale(engine, server, sizes, engine === 'sqlite' ? { lookups: 50_000, pages: 300 } : { lookups: 5000, pages: 300 })));
    printScale(scale);
  }
  if (only.has('gateway')) {
    gateway = await runGateway({ engines, server, durationMs, large: values.large!, clients: gatewayClients, sections: gatewaySections });
    printGateway(gateway);
  }
} finally {
  await server?.stop();
}

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
const dir = join(PACKAGE_ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ started: started.toISOString(), machine, options: { durationMs, sizes, writerCounts, engines, large: values.large, gatewayClients }, loadAverage: loadavg(), statements, operations, concurrency, scale, gateway }, null, 2)}\n`);
console.log(`\nresults: ${file}`);
