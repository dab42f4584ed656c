#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli by `npm run build` (run automatically by `npm install`).
import { main } from '../dist/cli/main.js';
main(process.argv).catch((err) => {
  process.stderr.write(`flowfpga: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
