import { processSQLQueryIR } from '@pgtyped/runtime';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresConfig } from '../src/config/types.js';
import { generatedQueries } from '../src/store/postgres/generated/index.js';
import { openStore } from '../src/store/open.js';
import { appConfig, createTestDatabase } from './support/engines.js';
import { closeStores } from './support/store.js';

afterEach(closeStores);

type QueryName = keyof typeof generatedQueries;

/** The generated statement's SQL text, exactly as the store sends it, and its parameters in $n order. */
function statementOf(name: QueryName): { text: string; params: string[] } {
  const ir = (generatedQueries[name].query as unknown as { queryIR: Parameters<typeof processSQLQueryIR>[0] }).queryIR;
  const { query, mapping } = processSQLQueryIR(ir);
  const params = [...mapping]
    .sort((a, b) => (a as unknown as { assignedIndex: number }).assignedIndex - (b as unknown as { assignedIndex: number }).assignedIndex)
    .map((m) => m.name);
  return { text: query, params };
}

/**
 * The plan PostgreSQL uses for a store statement once it runs as a prepared statement (the generic
 * plan: the store's statements are named, so after a few executions this is the plan). Sequential
 * scans are switched off: on the tiny tables of a test they would win, and the question is whether
 * an index can serve the statement at all.
 */
async function planOf(client: pg.Client, name: QueryName, named: Record<string, unknown>): Promise<string> {
  const statement = statementOf(name);
  const values = statement.params.map((p) => named[p] ?? null);
  await client.query(`PREPARE probe AS ${statement.text}`);
  try {
    // EXPLAIN EXECUTE is a utility statement and takes no bind parameters: the test's own constant
    // probe values are written as escaped literals.
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) EXECUTE probe(${values.map(literal).join(', ')})`);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('DEALLOCATE probe');
  }
}

/** Any scan that reads `index` (plain, index-only, or bitmap). */
function uses(index: string): RegExp {
  return new RegExp(`Index (Only )?Scan using ${index}\\b|Bitmap Index Scan on ${index}\\b`);
}

function literal(value: unknown): string {
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]`;
  if (typeof value === 'number') return String(value);
  if (value === null) return 'NULL';
  return pg.escapeLiteral(String(value));
}

describe('PostgreSQL indexes serve the operations (EXPLAIN of the generated statements)', () => {
  it('each hot statement runs on the index meant for it', async () => {
    const db = (await createTestDatabase('postgres')) as PostgresConfig;
    const store = await openStore(appConfig(db));
    const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password?.reveal(), database: db.database });
    await client.connect();
    try {
      await client.query("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan; SET TIME ZONE 'UTC'");
      const now = new Date();
      const later = new Date(now.getTime() + 1000);
      const cases: [QueryName, Record<string, unknown>, RegExp][] = [
        // lookup by key, and the listing's range scan in byte order (no sort: the index is in C order)
        ['lookupCopies', { objectKey: 'b/k' }, uses('object_locations_pkey')],
        ['listObjectsRange', { fromKey: 'b/', toKey: 'b0', limit: 1001 }, /Index Scan using object_locations_pkey/],
        ['listObjectsFrom', { fromKey: 'b/', limit: 1001 }, /Index Scan using object_locations_pkey/],
        // the queues are claimed in due order
        ['claimCleanup', { now, worker: 'w', claimUntil: later, limit: 10, backendNames: ['alpha'] }, /Index Scan using cleanup_queue_due/],
        ['claimOutbox', { now, worker: 'w', claimUntil: later, limit: 10 }, /Index Scan using notification_outbox_due/],
        // the reaper and the multipart expiry read by age; uploads are listed by key
        ['listIntentsCreatedBefore', { cutoff: now, limit: 10 }, /Index Scan using pending_objects_by_age/],
        ['listUploadsCreatedBefore', { cutoff: now, limit: 10 }, /Index Scan using multipart_uploads_by_age/],
        ['listUploadsFrom', { afterKey: 'b/', afterUploadId: '', toKey: 'b0', limit: 10 }, /Index Scan using multipart_uploads_by_key/],
        ['listParts', { uploadId: 'u', afterPart: 0, limit: 10 }, /Index Scan using multipart_parts_pkey/],
        // ending a version finds the key's copies and its pending write intents by key
        ['endVersion', { now, objectKey: 'b/k' }, /object_locations_pkey[\s\S]*pending_objects_by_key|pending_objects_by_key[\s\S]*object_locations_pkey/],
        ['takeIntent', { objectKey: 'b/k', intentId: 'i' }, uses('pending_objects_pkey')],
      ];
      const failures: string[] = [];
      for (const [name, values, expected] of cases) {
        const plan = await planOf(client, name, values);
        if (!expected.test(plan)) failures.push(`${name}: expected ${expected}\n${plan}`);
        if ((name === 'listObjectsRange' || name === 'listObjectsFrom') && /Sort/.test(plan)) failures.push(`${name} sorts instead of reading the index in order:\n${plan}`);
      }
      expect(failures).toEqual([]);
      // Lookups by backend (the foreign-key side of backend_name, and operators acting on a backend's
      // rows): each table that references a backend finds its rows by index.
      const byBackend: [string, string][] = [
        ['object_locations', 'object_locations_backend_name_storage_key_key'],
        ['cleanup_queue', 'cleanup_queue_by_backend'],
        ['cleanup_dlq', 'cleanup_dlq_by_backend'],
      ];
      for (const [table, index] of byBackend) {
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) SELECT 1 FROM ${table} WHERE backend_name = $1`, ['alpha']);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), table).toMatch(uses(index));
      }
    } finally {
      await client.end();
      await store.close();
    }
  });
});
