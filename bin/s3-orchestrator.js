#!/usr/bin/env node
// The s3-orchestrator command line. It runs the compiled code in dist/, which `npm ci` (or
// `npm run build`) produces.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('error: s3-orchestrator is not built yet: run `npm ci` (or `npm run build`) in the repository first\n');
    process.exit(1);
  }
  throw err;
}
process.exitCode = await cli.main(process.argv.slice(2));
