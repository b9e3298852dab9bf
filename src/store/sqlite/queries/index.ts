import type { TxQueries } from '../../core/generated/queries.js';
import { BackendCheckQueries } from './backend-check.js';
import { BucketQueries } from './buckets.js';
import { CleanupQueries } from './cleanup.js';
import { SqliteQueryContext, type StatementCache } from './context.js';
import { MultipartQueries } from './multipart.js';
import { NotificationQueries } from './notifications.js';
import { ObjectQueries } from './objects.js';
import { PendingQueries } from './pending.js';
import { QuotaQueries } from './quota.js';
import { UsageQueries } from './usage.js';

/**
 * The SQLite adapter: the hand-written mirror of queries/, one class per .sql file, joined into one
 * handle. The compiler checks the join against TxQueries (derived from queries/): a query added
 * to queries/ without its mirror here fails `tsc`, and so does a mirror whose query was removed.
 */
const AREAS = [BackendCheckQueries, BucketQueries, CleanupQueries, MultipartQueries, NotificationQueries, ObjectQueries, PendingQueries, QuotaQueries, UsageQueries];

class SqliteTxQueries extends SqliteQueryContext {}
for (const area of AREAS) {
  for (const name of Object.getOwnPropertyNames(area.prototype)) {
    if (name === 'constructor') continue;
    if (Object.hasOwn(SqliteTxQueries.prototype, name)) throw new Error(`SQLite query ${name} is defined twice`);
    Object.defineProperty(SqliteTxQueries.prototype, name, Object.getOwnPropertyDescriptor(area.prototype, name)!);
  }
}

interface SqliteTxQueries extends BackendCheckQueries, BucketQueries, CleanupQueries, MultipartQueries, NotificationQueries, ObjectQueries, PendingQueries, QuotaQueries, UsageQueries {}

type Missing = Exclude<keyof TxQueries, keyof SqliteTxQueries>;
type Extra = Exclude<keyof SqliteTxQueries, keyof TxQueries | 'end'>;
const mirrorIsComplete: [Missing, Extra] extends [never, never] ? true : { missing: Missing; extra: Extra } = true;
void mirrorIsComplete;

/** Query methods over one connection's statements; `end()` makes every later call throw. */
export function sqliteQueries(cache: StatementCache): { queries: TxQueries; end(): void } {
  const handle = new SqliteTxQueries(cache);
  const queries: TxQueries = handle;
  return { queries, end: () => handle.end() };
}

export { StatementCache } from './context.js';
