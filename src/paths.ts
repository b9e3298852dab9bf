import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: the nearest directory above this file holding package.json. Found by walking up
 * rather than by a fixed depth, so src/ (tsx, tests), dist/ (the binary) and the benchmark's build
 * directory all resolve the same schema.sql and migrations/.
 */
function findPackageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'migrations');
export const SQLITE_SCHEMA_FILE = join(PACKAGE_ROOT, 'schema.sql');
