import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configBaseDir } from './config-paths.js';
import { parseDocument } from 'yaml';
import { ConfigError } from '../store/core/errors.js';
import { resolveConfig } from './resolve.js';
import type { AppConfig } from './types.js';

/** Where the program looks when no --config is given. */
export const DEFAULT_CONFIG_PATH = 's3-orchestrator.yaml';

/**
 * Parses YAML text; syntax errors come back as ConfigError issues with their line and column.
 * `configFile` is the file the text came from: relative paths resolve against its directory (without
 * one, against the working directory).
 */
export function parseConfigText(text: string, env: NodeJS.ProcessEnv = process.env, source?: string, configFile?: string): AppConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const messages = doc.errors.map(
      (e) => `YAML syntax error${e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ''}: ${describeYamlError(e.code)}`,
    );
    throw new ConfigError([...new Set(messages)].map((message) => ({ path: '', message })), source);
  }
  let document: unknown;
  try {
    document = doc.toJS();
  } catch {
    // yaml's message quotes the alias name, which may be a password written unquoted as *...
    throw new ConfigError([{ path: '', message: `YAML error: an alias (*name) refers to no anchor; ${QUOTE_HINT}` }], source);
  }
  const file = configFile === undefined ? undefined : resolve(configFile);
  return resolveConfig(document, env, source, { baseDir: configBaseDir(file), ...(file !== undefined ? { configFile: file } : {}) });
}

const QUOTE_HINT = 'quote values that start with * & ! | > % @ or a backtick';

/**
 * YAML errors are described from their code, never by quoting the source: the offending text may
 * be a password (an unquoted "|secret" is a block scalar header; "*secret" an alias).
 */
function describeYamlError(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'a key appears twice in the same mapping';
    case 'BAD_INDENT':
    case 'TAB_AS_INDENT':
      return 'bad indentation (use spaces, and indent nested settings consistently)';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'a key is missing its colon or spans lines';
    case 'BAD_SCALAR_START':
    case 'UNEXPECTED_TOKEN':
    case 'BAD_ALIAS':
    case 'ALIAS_PROPS':
    case 'BAD_PROP_ORDER':
      return `unexpected character; ${QUOTE_HINT}`;
    case 'MISSING_CHAR':
      return 'a quote or bracket is not closed';
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document';
    default:
      return `${code.toLowerCase().replace(/_/g, ' ')}; ${QUOTE_HINT}`;
  }
}

/**
 * Loads the config file at `path`. Without a path, `s3-orchestrator.yaml` in the working directory
 * is used when present, otherwise the built-in defaults (SQLite at ./data/s3-orchestrator.db).
 * `source` is the file's absolute path (or "built-in defaults"); so are the paths in the config.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): { config: AppConfig; source: string } {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && path === undefined) return { config: resolveConfig({}, env, 'built-in defaults', { baseDir: process.cwd() }), source: 'built-in defaults' };
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read config file ${file}: ${reason}` }], file);
  }
  const absolute = resolve(file);
  return { config: parseConfigText(text, env, absolute, absolute), source: absolute };
}
