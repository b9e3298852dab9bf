import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from '../store/core/errors.js';
import { resolveConfig } from './resolve.js';
import type { AppConfig } from './types.js';

/** Where the program looks when no --config is given. */
export const DEFAULT_CONFIG_PATH = 's3-orchestrator.yaml';

/** Parses YAML text; syntax errors come back as ConfigError issues with their line and column. */
export function parseConfigText(text: string, env: NodeJS.ProcessEnv = process.env, source?: string): AppConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: '',
        message: `YAML syntax error${e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ''}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
      source,
    );
  }
  return resolveConfig(doc.toJS(), env, source);
}

/**
 * Loads the config file at `path`. Without a path, `s3-orchestrator.yaml` in the working directory
 * is used when present, otherwise the built-in defaults (SQLite at ./data/s3-orchestrator.db).
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): { config: AppConfig; source: string } {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && path === undefined) return { config: resolveConfig({}, env, 'built-in defaults'), source: 'built-in defaults' };
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read config file ${file}: ${reason}` }], file);
  }
  return { config: parseConfigText(text, env, file), source: file };
}
