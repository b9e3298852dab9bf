import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 's3-orchestrator.js');

/**
 * How the user can run this program from their shell: `s3-orchestrator` when a directory of PATH
 * holds it (a global install), else `npx s3-orchestrator` (a clone or a local dependency). npm and
 * npx put node_modules/.bin on PATH only while they run, so those directories do not count.
 */
export function invocationName(env: NodeJS.ProcessEnv): string {
  let ours: string;
  try {
    ours = realpathSync(BIN);
  } catch {
    return 'npx s3-orchestrator';
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.endsWith(`${sep}node_modules${sep}.bin`) || dir.endsWith(`node_modules${sep}.bin${sep}`)) continue;
    const candidate = join(dir, 's3-orchestrator');
    try {
      accessSync(candidate, constants.X_OK);
      if (realpathSync(candidate) === ours) return 's3-orchestrator';
    } catch {
      // not there, or not ours
    }
  }
  return 'npx s3-orchestrator';
}
