import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

// `--import tsx` runs TypeScript in this one process (the tsx CLI would add a parent process, and a
// test that kills the child must kill the process that holds the resources).
const TSX = ['--import', 'tsx'];

/** Runs a TypeScript file of the repository in a new Node process and waits for it. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...TSX, join(PACKAGE_ROOT, file), ...args], { cwd: PACKAGE_ROOT, encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a TypeScript file in a new Node process; resolves once it printed `line`. */
export function startTs(file: string, args: string[], line: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...TSX, join(PACKAGE_ROOT, file), ...args], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(line)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before printing ${line}: ${out}`)));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}
