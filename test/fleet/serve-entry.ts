// `s3-orchestrator` from the TypeScript sources (tests spawn it with `node --import tsx`): the same
// main() the built binary runs, without depending on a fresh `npm run build`.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
