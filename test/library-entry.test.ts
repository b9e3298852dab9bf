import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/paths.js';

/**
 * The store as a library: docs/store-api.md's example, taken from the page as written, is type-checked
 * against the package's published types and run against its compiled entry point (`npm run build`
 * first), from a project that depends on the package as `s3-orchestrator`.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A consumer project: node_modules/s3-orchestrator is this repository, as an installed dependency would be. */
function consumerProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3o-library-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(PACKAGE_ROOT, join(dir, 'node_modules', 's3-orchestrator'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  return dir;
}

function docExample(): string {
  const page = readFileSync(join(PACKAGE_ROOT, 'docs', 'store-api.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(page);
  expect(block, 'docs/store-api.md has a ```ts example').not.toBeNull();
  return block![1]!;
}

describe('the package entry point', () => {
  it('package.json exports compiled JS and types for "."', () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
  });

  it("docs/store-api.md's example type-checks against the published types and runs as written", () => {
    const dir = consumerProject();
    const example = docExample();
    expect(example).toContain("from 's3-orchestrator'");
    writeFileSync(join(dir, 'example.ts'), example);
    writeFileSync(
      join(dir, 's3-orchestrator.yaml'),
      ['database:', '  driver: sqlite', '  path: ./data/store.db', 'backends:', '  - name: local', '    bytes_limit: 1GiB', ''].join('\n'),
    );

    const tsc = spawnSync(
      process.execPath,
      [join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', join(PACKAGE_ROOT, 'node_modules', '@types'), '--skipLibCheck', 'example.ts'],
      { cwd: dir, encoding: 'utf8', timeout: 60_000 },
    );
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);

    // tsx is this repository's dev dependency, not the consumer's: load it by its path.
    const tsx = pathToFileURL(join(PACKAGE_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const run = spawnSync(process.execPath, ['--import', tsx, 'example.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('48213 "9b2c..."\n');
  });

  it('exposes openStore, loadConfig and the store errors, and nothing from dist/ beyond the entry', async () => {
    const lib = (await import(join(PACKAGE_ROOT, 'dist', 'index.js'))) as Record<string, unknown>;
    for (const name of ['openStore', 'loadConfig', 'parseConfigText', 'MetadataStore', 'StoreError', 'NotFoundError', 'NoSpaceError', 'ConfigError']) {
      expect(typeof lib[name], name).toBe('function');
    }
    const dir = consumerProject();
    writeFileSync(join(dir, 'deep.mjs'), "await import('s3-orchestrator/dist/store/open.js');\n");
    const deep = spawnSync(process.execPath, ['deep.mjs'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(deep.status).not.toBe(0);
    expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
