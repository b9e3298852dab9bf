import type Sqlite from 'better-sqlite3';

/**
 * Shared by the hand-written query mirrors: a per-connection cache of prepared statements, and the
 * type mapping between SQLite's storage (INTEGER epoch milliseconds, 0/1) and the generated types
 * (Date, boolean) that both engines must return.
 */
export class StatementCache {
  readonly #statements = new Map<string, Sqlite.Statement>();

  constructor(readonly db: Sqlite.Database) {}

  get(sql: string): Sqlite.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }
}

export class SqliteQueryContext {
  #open = true;

  constructor(private readonly cache: StatementCache) {}

  /** The prepared statement for `sql`; throws once the transaction this handle belongs to has ended. */
  protected stmt(sql: string): Sqlite.Statement {
    if (!this.#open) throw new Error('query called after its transaction ended');
    return this.cache.get(sql);
  }

  end(): void {
    this.#open = false;
  }
}

export function ms(date: Date): number {
  return date.getTime();
}

export function msOrNull(date: Date | null | undefined): number | null {
  return date == null ? null : date.getTime();
}

/**
 * better-sqlite3 returns integers past 2^53 as rounded numbers without a word; any such value is
 * refused here instead (spec §4: never a silent loss of precision).
 */
export function exact(value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`integer ${value} from the database is beyond ±2^53 and cannot be represented exactly`);
  return value;
}

type Row = Record<string, unknown>;

/** Converts the named epoch-millisecond columns of each row into Dates, in place. */
export function withDates<T>(rows: unknown[], ...columns: string[]): T[] {
  for (const row of rows as Row[]) {
    for (const c of columns) {
      const v = row[c];
      if (v !== null && v !== undefined) row[c] = new Date(v as number);
    }
  }
  return rows as T[];
}

/** Checks the named integer columns of each row for exactness, in place. */
export function withExact<T>(rows: T[], ...columns: string[]): T[] {
  for (const row of rows as Row[]) for (const c of columns) if (row[c] != null) exact(row[c] as number);
  return rows;
}
