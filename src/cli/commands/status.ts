import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { formatSize } from '../../config/size.js';
import type { AppConfig } from '../../config/types.js';
import { silentLogger } from '../../logging.js';
import type { MetadataStore } from '../../store/core/store.js';
import { utcMonth } from '../../store/core/usage-meter.js';
import { openStore } from '../../store/open.js';
import { SCHEMA_VERSION } from '../../store/sqlite/schema.js';
import type { CommandContext } from '../context.js';
import { hasClient } from '../../backends/backend-clients.js';
import { describeDatabase } from '../database-description.js';
import { formatAge, plural, utilisationBar } from '../output.js';

interface StatusReport {
  engine: string;
  database: string;
  schema: { current: string | null; pending: readonly string[] };
  backends: {
    name: string;
    limitBytes: number | null;
    usedBytes: number;
    orphanBytes: number;
    inflightBytes: number;
    /** Room left under the limit (0 when over it); null when unlimited. */
    freeBytes: number | null;
    /** How far used + orphan + in-flight bytes are above the limit (a limit lowered below what the backend holds); 0 when within it. */
    overLimitBytes: number;
    utilisation: number | null;
    configured: boolean;
    synced: boolean;
    /** Whether this program has a client for it (a `directory` or `endpoint`); without one its cleanup rows and intents wait. */
    client: boolean;
    /** Its circuit breaker in the running instance (`closed`, `half-open`, `open`); null when no instance answered. */
    breaker: string | null;
  }[];
  /** Where the breaker states came from (the running instance's /metrics), or null when it did not answer. */
  instance: string | null;
  usage: { period: string; backends: { name: string; apiRequests: number; egressBytes: number; ingressBytes: number }[] };
  cleanup: { queueRows: number; queueBytes: number; deadLetterRows: number; deadLetterBytes: number };
  intents: { count: number; oldestAgeMs: number | null };
  outbox: { pending: number; failed: number };
}

export function registerStatus(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('status')
    .description('engine, schema, per-backend quota and usage, queue and outbox depths')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { config } = ctx.config();
        if (config.database.driver === 'sqlite' && !existsSync(config.database.path)) {
          const report = emptyReport(config);
          if (ctx.out.json) ctx.out.printJson(report);
          else ctx.out.line(`database ${describeDatabase(config.database)} does not exist yet: it is created on first start (${ctx.suggest('serve')} or ${ctx.suggest('migrate')})`);
          return;
        }
        const store = await openStore(config, { role: 'inspect', logger: silentLogger });
        try {
          const report = await collect(store, config);
          if (ctx.out.json) ctx.out.printJson(report);
          else print(ctx, report);
        } finally {
          await store.close();
        }
      }),
    );
}

function emptyReport(config: AppConfig): StatusReport {
  return {
    engine: 'sqlite',
    database: describeDatabase(config.database),
    schema: { current: null, pending: [`sqlite schema ${SCHEMA_VERSION}`] },
    backends: [],
    usage: { period: utcMonth(new Date()), backends: [] },
    cleanup: { queueRows: 0, queueBytes: 0, deadLetterRows: 0, deadLetterBytes: 0 },
    intents: { count: 0, oldestAgeMs: null },
    outbox: { pending: 0, failed: 0 },
    instance: null,
  };
}

/**
 * The breaker states of the running `serve`, read from its /metrics (they live in its memory).
 * Undefined when it does not answer within a second (not running, or only reachable over TLS).
 */
async function runningInstanceBreakers(config: AppConfig): Promise<{ url: string; states: Map<string, string> } | undefined> {
  const target = config.server.metricsListen ?? (config.server.tls ? undefined : { host: config.server.host, port: config.server.port });
  if (!target) return undefined;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host === '0.0.0.0' ? '127.0.0.1' : target.host;
  const url = `http://${host}:${target.port}/metrics`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return undefined;
    const states = new Map<string, string>();
    for (const m of (await res.text()).matchAll(/^s3o_backend_breaker_state\{backend="([^"]*)",state="([^"]*)"\} 1$/gm)) states.set(m[1]!, m[2]!);
    return { url, states };
  } catch {
    return undefined;
  }
}

async function collect(store: MetadataStore, config: AppConfig): Promise<StatusReport> {
  const schema = await store.db.schemaStatus();
  const now = store.context.clock.now();
  const period = utcMonth(now);
  if (schema.pending.length > 0) {
    // Tables may be missing or old: show the schema only (s3-orchestrator migrate brings it up to date).
    return { ...emptyReport(config), engine: store.db.engine, schema: { current: schema.current ?? null, pending: schema.pending } };
  }
  const [quotas, usage, depths, intents, outbox, instance] = await Promise.all([
    store.quota.totals(),
    store.usage.totals(period),
    store.cleanup.depths(),
    store.intents.summary(),
    store.outbox.summary(),
    runningInstanceBreakers(config),
  ]);
  const withClient = new Set(config.backends.filter(hasClient).map((b) => b.name));
  const configured = new Set(config.backends.map((b) => b.name));
  const known = new Set(quotas.map((q) => q.backendName));
  // Backends of the config that no instance has synced yet (the service syncs at start-up).
  const unsynced = config.backends
    .filter((b) => !known.has(b.name))
    .map((b) => ({ backendName: b.name, bytesLimit: b.bytesLimit, bytesUsed: 0, orphanBytes: 0, inflightBytes: 0, freeBytes: b.bytesLimit === 0 ? Infinity : b.bytesLimit }));
  return {
    engine: store.db.engine,
    database: describeDatabase(config.database),
    schema: { current: schema.current ?? null, pending: schema.pending },
    backends: [...quotas, ...unsynced].map((q) => ({
      name: q.backendName,
      limitBytes: q.bytesLimit === 0 ? null : q.bytesLimit,
      usedBytes: q.bytesUsed,
      orphanBytes: q.orphanBytes,
      inflightBytes: q.inflightBytes,
      freeBytes: q.bytesLimit === 0 ? null : Math.max(0, q.freeBytes),
      overLimitBytes: q.bytesLimit === 0 ? 0 : Math.max(0, q.bytesUsed + q.orphanBytes + q.inflightBytes - q.bytesLimit),
      utilisation: q.bytesLimit === 0 ? null : (q.bytesUsed + q.orphanBytes + q.inflightBytes) / q.bytesLimit,
      configured: configured.has(q.backendName),
      synced: known.has(q.backendName),
      client: withClient.has(q.backendName),
      breaker: instance?.states.get(q.backendName) ?? null,
    })),
    instance: instance?.url ?? null,
    usage: { period, backends: usage.map((u) => ({ name: u.backendName, apiRequests: u.apiRequests, egressBytes: u.egressBytes, ingressBytes: u.ingressBytes })) },
    cleanup: depths.reduce(
      (sum, d) => ({
        queueRows: sum.queueRows + d.queueRows,
        queueBytes: sum.queueBytes + d.queueBytes,
        deadLetterRows: sum.deadLetterRows + d.deadLetterRows,
        deadLetterBytes: sum.deadLetterBytes + d.deadLetterBytes,
      }),
      { queueRows: 0, queueBytes: 0, deadLetterRows: 0, deadLetterBytes: 0 },
    ),
    intents: { count: intents.count, oldestAgeMs: intents.oldest ? now.getTime() - intents.oldest.getTime() : null },
    outbox: { pending: outbox.pending, failed: outbox.failed },
  };
}

function print(ctx: CommandContext, r: StatusReport): void {
  const { color, line } = { color: ctx.out.color, line: (t = '') => ctx.out.line(t) };
  line(`${color.bold('engine')}    ${r.engine}  ${r.database}`);
  const schemaState = r.schema.pending.length === 0 ? color.green('up to date') : color.yellow(`${r.schema.pending.length} pending: ${r.schema.pending.join(', ')}`);
  line(`${color.bold('schema')}    ${r.schema.current ?? '(none)'}  (${schemaState})`);
  if (r.schema.pending.length > 0) {
    line(`run ${ctx.suggest('migrate')} (or start the service) to apply them; the rest of the status needs the current schema`);
    return;
  }
  line();
  line(color.bold('backends'));
  if (r.backends.length === 0) line('  (none configured)');
  else {
    ctx.out.table(
      ['  NAME', 'LIMIT', 'USED', 'ORPHAN', 'IN-FLIGHT', 'FREE', 'UTILISATION', 'STATE'],
      r.backends.map((b) => [
        `  ${b.name}${b.configured ? '' : color.dim(' (not in config)')}${b.synced ? '' : color.dim(' (not synced yet)')}`,
        b.limitBytes === null ? 'unlimited' : formatSize(b.limitBytes),
        formatSize(b.usedBytes),
        formatSize(b.orphanBytes),
        formatSize(b.inflightBytes),
        b.overLimitBytes > 0 ? color.red(`over limit by ${formatSize(b.overLimitBytes)}`) : b.freeBytes === null ? '-' : formatSize(b.freeBytes),
        b.utilisation === null ? '-' : colourBar(ctx, b.utilisation),
        !b.client ? color.yellow('no client: its cleanup rows and intents wait') : b.breaker === null ? '-' : b.breaker === 'closed' ? color.green('closed') : color.red(`breaker ${b.breaker}`),
      ]),
      [1, 2, 3, 4, 5],
    );
  }
  line(r.instance ? color.dim(`  breaker states from the running instance (${r.instance})`) : color.dim('  breaker states: no running instance answered (they live in serve\'s memory)'));
  line();
  line(`${color.bold('usage')} ${r.usage.period} (UTC month)`);
  if (r.usage.backends.length === 0) line('  (no requests recorded)');
  else ctx.out.table(['  NAME', 'REQUESTS', 'EGRESS', 'INGRESS'], r.usage.backends.map((u) => [`  ${u.name}`, String(u.apiRequests), formatSize(u.egressBytes), formatSize(u.ingressBytes)]), [1, 2, 3]);
  line();
  line(color.bold('queues'));
  const dlq = r.cleanup.deadLetterRows > 0 ? color.red(`${r.cleanup.deadLetterRows} (${formatSize(r.cleanup.deadLetterBytes)})`) : '0';
  line(`  cleanup queue   ${plural(r.cleanup.queueRows, 'row')} (${formatSize(r.cleanup.queueBytes)})   dead letters ${dlq}`);
  line(`  intents         ${r.intents.count}${r.intents.oldestAgeMs === null ? '' : ` (oldest ${formatAge(r.intents.oldestAgeMs)})`}`);
  const failed = r.outbox.failed > 0 ? color.red(String(r.outbox.failed)) : '0';
  line(`  outbox          ${r.outbox.pending} pending, ${failed} failed`);
}

function colourBar(ctx: CommandContext, ratio: number): string {
  const bar = utilisationBar(ratio);
  return ratio >= 0.9 ? ctx.out.color.red(bar) : ratio >= 0.75 ? ctx.out.color.yellow(bar) : bar;
}
