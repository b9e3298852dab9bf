/**
 * Profiles the gateway's thread during 4 KiB PUTs or GETs (the small-object figures of
 * docs/performance.md §5): the same rig and load generator as the bench, the inspector's CPU
 * profiler on the gateway's thread only (the load generator is a worker thread of its own), and a
 * table of the functions with the most self time.
 *
 *   npm run bench:profile -- [--engine sqlite|postgres] [--backend memory|directory] [--method GET|PUT] [--clients n] [--seconds s] [--out file.cpuprofile] [--no-profile] [--store] [--put-first s] [--synchronous full|normal] [--store-calls database|memory]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgresServer, type PostgresServer } from '../scripts/lib/postgres-server.js';
import { BUCKET, LoadClient, startGatewayRig } from './lib/gateway-rig.js';
import { runConcurrentFor } from './lib/measure.js';
import { answerObjectCallsFromMemory, primeHeads, storeCommitWriteStep } from './lib/memory-store-calls.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    backend: { type: 'string', default: 'memory' },
    method: { type: 'string', default: 'GET' },
    clients: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    out: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    'put-first': { type: 'string', default: '0' },
    store: { type: 'boolean', default: false },
    synchronous: { type: 'string', default: 'full' },
    'store-calls': { type: 'string', default: 'database' },
  },
});
const engine = values.engine as 'sqlite' | 'postgres';
const method = values.method as 'GET' | 'PUT';
const KEYS = 1000;
const SMALL = 4096;

const server: PostgresServer | undefined = engine === 'postgres' ? await startPostgresServer() : undefined;
const dir = mkdtempSync(join(tmpdir(), 's3o-profile-'));
const rig = await startGatewayRig(engine, server, values.backend === 'directory' ? { kind: 'directory', root: dir } : { kind: 'memory' }, { target: { synchronous: values.synchronous as 'full' | 'normal' } });
const client = new LoadClient();
const job = { endpoint: rig.endpoint, prefix: `/${BUCKET}/small/`, keyCount: KEYS, concurrency: Number(values.clients), bodyBytes: SMALL };
await client.small({ ...job, method: 'PUT', run: 'seed', durationMs: 0, seed: KEYS });
// --store-calls memory: the request's store calls answered from memory: what the gateway costs on its own.
if (values['store-calls'] === 'memory') {
  answerObjectCallsFromMemory(rig.target.store, await primeHeads(rig.target.store, Array.from({ length: KEYS }, (_, i) => `${BUCKET}/small/${i}`)));
} else if (values['store-calls'] !== 'database') throw new Error(`--store-calls must be database or memory, got ${values['store-calls']}`);
if (Number(values['put-first']) > 0) await client.small({ ...job, method: 'PUT', run: 'before', durationMs: Number(values['put-first']) * 1000 });
await client.small({ ...job, method, run: 'warm', durationMs: 1000 });

const session = new Session();
const profiling = !values['no-profile'];
if (profiling) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
// The gateway thread's busy time (event-loop utilization) per request: CPU spent on this thread,
// unlike the samples, which also count time the thread was descheduled while in a function.
const elu = performance.eventLoopUtilization();
const sched = threadSchedule();
const machine = machineBusy();
const result = await client.small({ ...job, method, run: 'profile', durationMs: Number(values.seconds) * 1000 });
const machineRan = machineBusy(machine);
const busy = performance.eventLoopUtilization(elu);
const ran = threadSchedule(sched);
const profile = profiling ? (await session.post('Profiler.stop')).profile : undefined;
if (profiling) session.disconnect();
/**
 * The main thread's time on a CPU and waiting for one, from the kernel's scheduler statistics: busy
 * time (ELU) also counts the moments the thread was runnable but descheduled, or blocked in a
 * synchronous call such as an fsync. Linux only; zeros elsewhere.
 */
function threadSchedule(since?: { cpuUs: number; waitUs: number }): { cpuUs: number; waitUs: number } {
  let now = { cpuUs: 0, waitUs: 0 };
  try {
    const [cpuNs, waitNs] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    now = { cpuUs: cpuNs! / 1000, waitUs: waitNs! / 1000 };
  } catch {
    // not Linux
  }
  return since ? { cpuUs: now.cpuUs - since.cpuUs, waitUs: now.waitUs - since.waitUs } : now;
}

/**
 * CPU time of the whole machine (every process: the database server too), from /proc/stat: what
 * the two cores spent per request, whoever spent it. Linux only; zero elsewhere.
 */
function machineBusy(since?: number): number {
  let busyUs = 0;
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are work.
    const ticks = fields.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0);
    busyUs = (ticks * 1e6) / 100;
  } catch {
    // not Linux
  }
  return since === undefined ? busyUs : busyUs - since;
}

function perOp(us: number, ops: number): string {
  return `${(us / Math.max(1, ops)).toFixed(1)} µs`;
}

// --store: the store's own calls for the same request, at the same concurrency and duration, right after.
let storeLine: string | undefined;
if (values.store) {
  const store = rig.target.store;
  let n = 0;
  const step = method === 'PUT'
    ? storeCommitWriteStep(store, `${BUCKET}/small/store-`, SMALL)
    : async () => store.objects.lookup(`${BUCKET}/small/${n++ % KEYS}`);
  const before = performance.eventLoopUtilization();
  const ownSched = threadSchedule();
  const ownMachine = machineBusy();
  const own = await runConcurrentFor(Number(values.seconds) * 1000, Number(values.clients), step);
  const ownMachineRan = machineBusy(ownMachine);
  const ownBusy = performance.eventLoopUtilization(before);
  const ownRan = threadSchedule(ownSched);
  storeLine = `store ${method === 'PUT' ? 'commit-write' : 'lookup'} × ${values.clients}: ${Math.round(own.opsPerSecond)} ops/s, thread busy ${(100 * ownBusy.utilization).toFixed(0)}%: ${((ownBusy.active * 1000) / Math.max(1, own.ops)).toFixed(1)} µs per call (on a CPU: ${perOp(ownRan.cpuUs, own.ops)}; the whole machine's CPU: ${perOp(ownMachineRan, own.ops)}); gateway / store ${(result.opsPerSecond / own.opsPerSecond).toFixed(2)}`;
}
await client.close();
await rig.close();
await server?.stop();
rmSync(dir, { recursive: true, force: true });

console.log(`${engine} ${values.backend} ${method} × ${values.clients} clients: ${Math.round(result.opsPerSecond)} ops/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}`);
console.log(`gateway thread busy ${(100 * busy.utilization).toFixed(0)}%: ${((busy.active * 1000) / Math.max(1, result.ops)).toFixed(1)} µs per request (on a CPU: ${perOp(ran.cpuUs, result.ops)}; waiting for a CPU: ${perOp(ran.waitUs, result.ops)}; the whole machine's CPU, load generator and database included: ${perOp(machineRan, result.ops)})`);
if (storeLine) console.log(storeLine);
if (!profile) process.exit(0);
if (values.out) writeFileSync(values.out, JSON.stringify(profile));

// Self time per function (sample counts × interval), then the top 30.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
const counts = new Map<number, number>();
for (const id of profile.samples ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
let total = 0;
for (const [id, n] of counts) {
  const f = nodes.get(id)!.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src|work)\//, '$1/')}:${f.lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + n);
  total += n;
}
console.log(`samples ${total}; ${(((profile.endTime - profile.startTime) / Math.max(1, result.ops))).toFixed(1)} µs of the thread per request`);
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${(((profile.endTime - profile.startTime) * n) / total / Math.max(1, result.ops)).toFixed(1).padStart(6)} µs  ${name}`);
}
