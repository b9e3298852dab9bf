import { createHash } from 'node:crypto';
import { processSQLQueryIR, type PreparedQuery } from '@pgtyped/runtime';
import type pg from 'pg';
import type { TxQueries } from '../core/generated/queries.js';
import { generatedQueries } from './generated/index.js';

/**
 * The Postgres adapter: every TxQueries method runs its generated pgtyped query on one client.
 *
 * pgtyped's runtime sends unnamed statements (parsed and planned on every call) and rebuilds the
 * SQL text on every call. Here each generated query's IR is compiled once, at start-up, into its SQL
 * text, a stable statement name and its parameter order; calls then bind values and run a named
 * prepared statement, parsed once per pooled connection. The SQL and the types are still exactly
 * the generated ones; generated files stay untouched. (docs/performance.md has the numbers.)
 */

type Registry = typeof generatedQueries;
type RegistryMethods = {
  [K in keyof Registry]: Registry[K]['query'] extends PreparedQuery<infer P, infer R>
    ? (params: P) => Promise<Registry[K]['returnsRows'] extends true ? R[] : number>
    : never;
};
// The registry and the interface come from the same generation; these lines keep them honest.
const registryCoversInterface = (m: RegistryMethods): TxQueries => m;
const interfaceCoversRegistry = (m: TxQueries): RegistryMethods => m;
void registryCoversInterface;
void interfaceCoversRegistry;

interface CompiledQuery {
  readonly method: string;
  readonly name: string;
  readonly text: string;
  /** Parameter names in $1, $2, ... order. */
  readonly params: readonly string[];
  readonly returnsRows: boolean;
  /** Result columns aliased "x!" or "x?" (pgtyped's nullability hints) come back under their plain name. */
  readonly hinted: boolean;
}

type QueryIR = Parameters<typeof processSQLQueryIR>[0];

function compile(method: string, query: PreparedQuery<unknown, unknown>, returnsRows: boolean): CompiledQuery {
  const ir = (query as unknown as { queryIR: QueryIR }).queryIR;
  const { query: text, mapping } = processSQLQueryIR(ir);
  // Every query of queries/ binds scalars (arrays travel as one array parameter, never spread), so
  // the text does not depend on the values and can be built once.
  const spread = mapping.find((m) => (m as { type: number }).type !== 0);
  if (spread) throw new Error(`query ${method}: parameter ${spread.name} is expanded; bind an array with = ANY(:param::type[]) instead`);
  const params = [...mapping]
    .sort((a, b) => (a as unknown as { assignedIndex: number }).assignedIndex - (b as unknown as { assignedIndex: number }).assignedIndex)
    .map((m) => m.name);
  return {
    method,
    name: `s3o_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`,
    text,
    params,
    returnsRows,
    hinted: /AS\s+"[^"]+[!?]"/i.test(text),
  };
}

const compiled = Object.entries(generatedQueries).map(([method, entry]) =>
  compile(method, entry.query as PreparedQuery<unknown, unknown>, entry.returnsRows),
);

function stripHints(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  for (const row of rows) {
    for (const column of Object.keys(row)) {
      const last = column[column.length - 1];
      if (last === '!' || last === '?') {
        row[column.slice(0, -1)] = row[column];
        delete row[column];
      }
    }
  }
  return rows;
}

const STATE = Symbol('state');

class PostgresQueries {
  [STATE]: { client: pg.ClientBase; open: boolean };

  constructor(client: pg.ClientBase) {
    this[STATE] = { client, open: true };
  }
}

for (const q of compiled) {
  Object.defineProperty(PostgresQueries.prototype, q.method, {
    value: async function (this: PostgresQueries, values: Record<string, unknown> | undefined) {
      const state = this[STATE];
      if (!state.open) throw new Error(`query ${q.method} called after its transaction ended`);
      const bound = values === undefined ? [] : q.params.map((p) => values[p]);
      const result = await state.client.query({ name: q.name, text: q.text, values: bound });
      if (!q.returnsRows) return result.rowCount ?? 0;
      return q.hinted ? stripHints(result.rows) : result.rows;
    },
  });
}

/** Query methods bound to `client`; `end()` makes every later call throw. */
export function postgresQueries(client: pg.ClientBase): { queries: TxQueries; end(): void } {
  const handle = new PostgresQueries(client);
  return {
    queries: handle as unknown as TxQueries,
    end: () => {
      handle[STATE].open = false;
    },
  };
}
