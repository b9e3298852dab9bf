import { isAbsolute, resolve } from 'node:path';

/**
 * Relative paths in a config file mean "next to this file", so that the same file works from any
 * working directory (issue 9: a relative path read against the wrong directory found no bytes and
 * the workers took that as "absent"). Without a file they mean the working directory.
 */
export function configBaseDir(configFile: string | undefined, cwd: string = process.cwd()): string {
  return configFile === undefined ? cwd : resolve(cwd, configFile, '..');
}

/** `path` made absolute against `baseDir` (an absolute path is kept as it is). */
export function resolveConfigPath(baseDir: string, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}
