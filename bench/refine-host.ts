// bench/refine-host.ts: host cost of a refined pair's second pass, beside its engine pass (src/cli/refine.ts
// refinePass): the second frame warped by the coarse flow (warpImage), both frames fitted to the second pass's size
// (prepareInput), and the residual brought to the frame size and added (addResidual). Since session 13 every pair
// gets this pass at twice the trained size (384x512), so small frames pay it too. Frames: samples/00001 resized to
// each size; coarse flow: a smooth synthetic field; residual: int16 codes of a smooth field at the network size (the
// engine's output).
// Prints per frame size the mean CPU ms (process.cpuUsage) and the wall median per step; on a shared machine the CPU
// figure is the stable one.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/refine-host.ts [--json] [reps]
import path from 'node:path';
import { addResidual } from '../src/cli/refine.js';
import { createFlow } from '../src/flow/flo.js';
import { readImage } from '../src/flow/image.js';
import { prepareInput, resizeImage } from '../src/flow/netinput.js';
import { warpImage } from '../src/flow/warp.js';
import { packageRoot } from '../src/paths.js';
import { measure as measureReps } from './measure.js';

const json = process.argv.includes('--json');
const reps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20);
const SIZES: [number, number][] = [[256, 192], [512, 384], [640, 480]];
const NET: [number, number] = [384, 512];
const src1 = await readImage(path.join(packageRoot(), 'samples', '00001_img1.ppm'));
const src2 = await readImage(path.join(packageRoot(), 'samples', '00001_img2.ppm'));

const measure = (f: () => void): { cpu: number; median: number } => measureReps(f, reps);

const rows = SIZES.map(([w, h]) => {
  const img1 = resizeImage(src1, w, h);
  const img2 = resizeImage(src2, w, h);
  const coarse = createFlow(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    coarse.u[y * w + x] = 6 * Math.sin(x / 37) + 2;
    coarse.v[y * w + x] = 3 * Math.cos(y / 29);
  }
  const warped = warpImage(img2, coarse);
  const input = prepareInput(img1, warped, { mode: 'resize', height: NET[0], width: NET[1] });
  const rw = NET[1], rh = NET[0];
  const codes = new Int16Array(2 * rw * rh);
  for (let i = 0; i < rw * rh; i++) {
    codes[i] = Math.round(32 * Math.sin(i / 50));
    codes[rw * rh + i] = Math.round(16 * Math.cos(i / 70));
  }
  const r = { w: rw, h: rh, fracBits: 5 };
  const warp = measure(() => void warpImage(img2, coarse));
  const fit = measure(() => void prepareInput(img1, warped, { mode: 'resize', height: NET[0], width: NET[1] }));
  const residual = measure(() => void addResidual(coarse, codes, r, input.mapping));
  return { frames: `${w}x${h}`, net: `${NET[0]}x${NET[1]}`, warp, fit, residual, sum_cpu: warp.cpu + fit.cpu + residual.cpu };
});

if (json) {
  console.log(JSON.stringify({ reps, node: process.version, rows }));
} else {
  console.log(`refine host work, ${reps} reps after 5, CPU ms (wall median), Node ${process.version}`);
  console.log('| Frames → second pass | warp | fit | residual | sum (CPU) |');
  console.log('|---|---|---|---|---|');
  const f = (m: { cpu: number; median: number }): string => `${m.cpu.toFixed(1)} (${m.median.toFixed(1)})`;
  for (const x of rows) console.log(`| ${x.frames} → ${x.net} | ${f(x.warp)} | ${f(x.fit)} | ${f(x.residual)} | ${x.sum_cpu.toFixed(1)} |`);
}
