import { createHash } from 'node:crypto';
import { processSQLQueryIR, type PreparedQuery } from '@pgtyped/runtime';
import type pg from 'pg';
import { generatedQueries } from '../../src/store/postgres/generated/index.js';

type QueryName = keyof typeof generatedQueries;

export interface RawStatement {
  readonly name: string;
  readonly text: string;
  /** Parameter names in $1, $2, ... order. */
  readonly params: readonly string[];
}

/**
 * The raw `pg` driver running the store's own statements: the SQL text is the generated query's,
 * sent as a named prepared statement (parsed once per connection), with positional values. No
 * pgtyped runtime, no store code: the floor the store adds cost to.
 */
export class RawPostgres {
  readonly #statements = new Map<QueryName, RawStatement>();

  constructor(readonly pool: pg.Pool) {}

  statement(query: QueryName): RawStatement {
    let s = this.#statements.get(query);
    if (!s) {
      const ir = (generatedQueries[query].query as unknown as { queryIR: Parameters<typeof processSQLQueryIR>[0] }).queryIR;
      const { query: text, mapping } = processSQLQueryIR(ir);
      const params = [...mapping].sort((a, b) => (a as { assignedIndex: number }).assignedIndex - (b as { assignedIndex: number }).assignedIndex).map((m) => m.name);
      s = { name: `raw_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, text, params };
      this.#statements.set(query, s);
    }
    return s;
  }

  /** One statement on `client` (or on the pool: checkout, query, release); values by parameter name. */
  async run<R extends pg.QueryResultRow = pg.QueryResultRow>(client: pg.Pool | pg.PoolClient, query: QueryName, values: Record<string, unknown>): Promise<pg.QueryResult<R>> {
    const s = this.statement(query);
    return client.query<R>({ name: s.name, text: s.text, values: s.params.map((p) => values[p]) });
  }

  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export type { PreparedQuery };
