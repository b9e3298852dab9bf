import type { PostgresServer } from '../../scripts/lib/postgres-server.js';
import { generatedQueries } from '../../src/store/postgres/generated/index.js';
import type { PostgresDatabase } from '../../src/store/postgres/database.js';
import { benchKey, loadObjects } from '../lib/bulk-load.js';
import { random, runFor, type Throughput } from '../lib/measure.js';
import { openTarget, rawPostgres } from '../lib/targets.js';

export interface StatementPathResult {
  readonly path: string;
  readonly throughput: Throughput;
}

/**
 * The same lookup (LookupCopies, one row by primary key) sent four ways over one pool, sequentially:
 * raw unnamed and raw named statements, pgtyped's own runtime (unnamed: parsed and planned on every
 * call), and the store (generated IR compiled once, named prepared statement).
 */
export async function runStatementPath(server: PostgresServer, durationMs: number): Promise<StatementPathResult[]> {
  const target = await openTarget('postgres', server);
  try {
    await loadObjects(target, 'list/', 0, 20_000);
    const pool = (target.store.db as PostgresDatabase).pool;
    const raw = rawPostgres(target);
    const statement = raw.statement('lookupCopies');
    const pick = random(11);
    const key = () => benchKey('list/', Math.floor(pick() * 20_000));
    const paths: [string, () => Promise<unknown>][] = [
      ['raw pg, unnamed statement', () => pool.query(statement.text, [key()])],
      ['raw pg, named prepared statement', () => pool.query({ name: statement.name, text: statement.text, values: [key()] })],
      [
        'pgtyped runtime as generated (unnamed)',
        async () => {
          const client = await pool.connect();
          try {
            await generatedQueries.lookupCopies.query.run({ objectKey: key() }, client);
          } finally {
            client.release();
          }
        },
      ],
      ['store (generated SQL, named prepared statement)', () => target.store.objects.lookup(key())],
    ];
    const results: StatementPathResult[] = [];
    for (const [, step] of paths) await runFor(300, step);
    // Two rounds each, interleaved, to spread the machine's noise over all four.
    const sums = paths.map(() => ({ ops: 0, seconds: 0 }));
    for (let round = 0; round < 2; round++) {
      for (const [i, [, step]] of paths.entries()) {
        const t = await runFor(durationMs / 2, step);
        sums[i]!.ops += t.ops;
        sums[i]!.seconds += t.seconds;
      }
    }
    paths.forEach(([path], i) => results.push({ path, throughput: { ...sums[i]!, opsPerSecond: sums[i]!.ops / sums[i]!.seconds } }));
    return results;
  } finally {
    await target.close();
  }
}
