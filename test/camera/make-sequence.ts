// Writes samples/sequence/ (the simulated camera's bundled frames) from samples/00001_img1 and 00002_img1.
// Run: node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import test/camera/make-sequence.ts   (TS_NODE_TRANSPILE_ONLY=1)
import fs from 'node:fs';
import path from 'node:path';
import { readImage } from '../../src/flow/image.js';
import { makeSequence } from '../../src/camera/sim/sequence.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const out = path.join(root, 'samples', 'sequence');
const { info, files } = makeSequence({
  background: await readImage(path.join(root, 'samples', '00001_img1.ppm')),
  foreground: await readImage(path.join(root, 'samples', '00002_img1.ppm')),
});
fs.mkdirSync(out, { recursive: true });
for (const [f, b] of files) fs.writeFileSync(path.join(out, f), b);
fs.writeFileSync(path.join(out, 'sequence.json'), JSON.stringify(info, null, 2) + '\n');
console.log(`${files.size} frames ${info.width}x${info.height} -> ${out}`);
