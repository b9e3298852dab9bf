import { createHash } from 'node:crypto';
import type { IDatabaseConnection, PreparedQuery } from '@pgtyped/runtime';
import type pg from 'pg';
import type { TxQueries } from '../core/generated/queries.js';
import { generatedQueries } from './generated/index.js';

/**
 * The Postgres adapter: every TxQueries method runs its generated pgtyped query on one client.
 * pgtyped's runtime sends unnamed statements (parsed and planned on every call); the connection
 * handed to it below turns each into a named prepared statement instead, parsed once per pooled
 * connection and reused. Generated files stay untouched.
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

const statementNames = new Map<string, string>();

/** A stable name per statement text: the same text always maps to the same prepared statement. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `s3o_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

class NamedStatementConnection implements IDatabaseConnection {
  constructor(private readonly client: pg.ClientBase) {}

  query(text: string, values: unknown[]): Promise<{ rows: unknown[]; rowCount: number }> {
    return this.client.query({ name: statementName(text), text, values }) as Promise<{ rows: unknown[]; rowCount: number }>;
  }
}

interface QueryHandleState {
  connection: NamedStatementConnection;
  open: boolean;
}

const STATE = Symbol('state');

class PostgresQueries {
  [STATE]: QueryHandleState;

  constructor(client: pg.ClientBase) {
    this[STATE] = { connection: new NamedStatementConnection(client), open: true };
  }
}

for (const [method, entry] of Object.entries(generatedQueries) as [string, { query: PreparedQuery<unknown, unknown>; returnsRows: boolean }][]) {
  Object.defineProperty(PostgresQueries.prototype, method, {
    value: async function (this: PostgresQueries, params: unknown) {
      const state = this[STATE];
      if (!state.open) throw new Error(`query ${method} called after its transaction ended`);
      const { result, rowCount } = await entry.query.runWithCounts(params ?? {}, state.connection);
      return entry.returnsRows ? result : rowCount;
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
