// Where the virtual board's native binary lives and how to get it built.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

/** Package root: two levels above this file in src/emu and in dist/emu alike. */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** hw/build/flowfpga-emu (FLOWFPGA_EMU_BIN overrides, e.g. for a board built with other FF_* defines). */
export function emuBinaryPath(): string {
  return process.env.FLOWFPGA_EMU_BIN || path.join(packageRoot(), 'hw', 'build', 'flowfpga-emu');
}

export function requireEmuBinary(): string {
  const p = emuBinaryPath();
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new UserError(`virtual board binary not found at ${p}`, "build it with 'make -C hw emu' (needs g++); 'npm install' does this in its prepare step");
  }
  return p;
}
