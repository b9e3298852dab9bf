import type { ConfigIssue } from '../store/core/errors.js';

/**
 * Expands `${VAR}` and `${VAR:-default}` inside every string of a parsed YAML document, and turns
 * `$$` into a literal `$` (passwords may contain `$`). Expansion runs on parsed values, not on the
 * raw text, so a value containing `:` or `#` cannot change the document's structure.
 * A lone `$` not followed by `{` or `$` is kept as it is.
 */
export function expandEnvironment(
  document: unknown,
  env: NodeJS.ProcessEnv,
): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const value = walk(document, '', env, issues);
  return { value, issues };
}

function walk(node: unknown, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): unknown {
  if (typeof node === 'string') return expandString(node, path, env, issues);
  if (Array.isArray(node)) return node.map((item, i) => walk(item, `${path}[${i}]`, env, issues));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) {
      out[key] = walk(item, path ? `${path}.${key}` : key, env, issues);
    }
    return out;
  }
  return node;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function expandString(text: string, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next !== '{') {
      out += '$';
      i++;
      continue;
    }
    const close = text.indexOf('}', i + 2);
    if (close < 0) {
      issues.push({ path, message: `unterminated "\${" in value (write "$$" for a literal "$")` });
      return text;
    }
    const body = text.slice(i + 2, close);
    const sep = body.indexOf(':-');
    const name = sep >= 0 ? body.slice(0, sep) : body;
    if (!NAME.test(name)) {
      // The text is not echoed: this may be a password that happens to contain "${".
      issues.push({ path, message: 'contains an invalid ${...} reference (expected ${NAME} or ${NAME:-default}; write $$ for a literal $)' });
      return text;
    }
    const found = env[name];
    if (sep >= 0) {
      // `:-` as in the shell: the default also replaces a set-but-empty variable.
      out += found !== undefined && found !== '' ? found : body.slice(sep + 2);
    } else if (found !== undefined) {
      out += found;
    } else {
      issues.push({ path, message: `environment variable ${name} is not set (use \${${name}:-default} to give a default)` });
    }
    i = close + 1;
  }
  return out;
}
