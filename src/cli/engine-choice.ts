import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { AppConfig } from '../config/types.js';

/**
 * Why the config's engine was chosen, for the start-up log: `database.driver in FILE`, a postgres
 * setting in the file (host or url), `DATABASE_URL`, or the default. The config loader applies the
 * same rules (src/config/resolve.ts); this only reads which inputs were there.
 */
export function engineChoiceReason(config: AppConfig, source: string, env: NodeJS.ProcessEnv): string {
  const database = rawDatabaseSection(source);
  const given = (key: string) => database[key] !== undefined && database[key] !== null;
  if (given('driver')) return `database.driver in ${source}`;
  if (config.database.driver === 'postgres') {
    if (given('url')) return `database.url in ${source}`;
    if (env.DATABASE_URL) return 'DATABASE_URL in the environment';
    if (given('host')) return `database.host in ${source}`;
    return 'postgres settings';
  }
  return 'the default (no database.driver, host or url, and no DATABASE_URL)';
}

function rawDatabaseSection(source: string): Record<string, unknown> {
  try {
    const doc = parse(readFileSync(source, 'utf8')) as { database?: unknown } | null;
    const section = doc?.database;
    return typeof section === 'object' && section !== null ? (section as Record<string, unknown>) : {};
  } catch {
    return {}; // built-in defaults, or a file that was read a moment ago and is gone: no keys
  }
}
