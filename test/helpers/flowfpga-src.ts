// The CLI from src/ as its own process (no build needed): tests start `flowfpga agent` with it, locally and over ssh.
// node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import test/helpers/flowfpga-src.ts ARGS… (TS_NODE_TRANSPILE_ONLY=1)
import { main } from '../../src/cli/main.js';

main(process.argv).catch((err: Error) => {
  process.stderr.write(`flowfpga: ${err.message}\n`);
  process.exit(1);
});
