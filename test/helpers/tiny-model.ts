// The tiny random FlowNetS-Q (width 1/16, trained size 64x64) that the CLI tests run: fast on the reference and the
// virtual board, written as a .ffq into a temp folder that goes away with the test.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flownetsQ } from '../../src/model/arch.js';
import { encodeModel } from '../../src/model/format.js';
import { randomModel } from '../../src/reference/index.js';
import { tempDir } from './tmp.js';

export function tinyModelFile(t: Parameters<typeof tempDir>[0], prefix: string, seed = 3): { dir: string; modelPath: string } {
  const dir = tempDir(t, prefix);
  const m = randomModel(flownetsQ({ width: 1 / 16 }), seed);
  m.nativeSize = [64, 64];
  m.name = 'tiny';
  const modelPath = join(dir, 'tiny.ffq');
  writeFileSync(modelPath, encodeModel(m));
  return { dir, modelPath };
}
