// bench/verify-layer-bugs.ts: how fast per-frame verification finds an engine bug confined to one layer type
// (issue 13 item 9, docs/verification.md "Bugs confined to one layer type"). Builds virtual boards from patched
// copies of the engine source — each a one-rounding-step bug in one kind of layer — then, over real frame pairs
// (the bundled samples and the frames of a synthetic moving scene), measures with `full` verification the fraction
// of wrong elements per step, and with `sample` (the given specs) the fraction of frames flagged.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/verify-layer-bugs.ts [frames]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openFlowDevice } from '../src/device/index.js';
import { engineFlowFactory } from '../src/cli/engine-flow.js';
import { resolveModel } from '../src/model/registry.js';
import { openDataset, prepareInput, createImage, resizeImage } from '../src/flow/index.js';
import type { Mismatch, SampleSpec } from '../src/scheduler/index.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** name → [search, replace] in hw/hls/flowfpga_engine.cpp. */
export const BUGS: Record<string, { what: string; from: string; to: string }> = {
  'up2-half-down': {
    what: 'fused up2 / UPSAMPLE rounds ties down (upsample-conv decoder layers and the final up4)',
    from: 'return (sum + (1 << (sh - 1))) >> sh;',
    to: 'return (sum + (1 << (sh - 1)) - 1) >> sh;',
  },
  'linear-floor': {
    what: 'requantization of linear layers (the flow heads) floors instead of rounding half up',
    from: 'int64_t q = t >> sh;',
    to: 'int64_t q = (linear && sh > 0 ? t - (1LL << (sh - 1)) : t) >> sh;',
  },
  'stride2-floor': {
    what: 'requantization of stride-2 convolutions floors instead of rounding half up',
    from: 'int64_t q = t >> sh;',
    to: 'int64_t q = (c.stride == 2 && sh > 0 ? t - (1LL << (sh - 1)) : t) >> sh;',
  },
};

/**
 * Builds (once: reused while the patched source and emu_main.cpp are unchanged) a virtual board with bug `name`,
 * under `into` (default hw/build/bugs). Returns the binary's path (for FLOWFPGA_EMU_BIN).
 */
export function buildBuggyBoard(name: string, into = path.join(root, 'hw', 'build', 'bugs')): string {
  const b = BUGS[name];
  const src = fs.readFileSync(path.join(root, 'hw/hls/flowfpga_engine.cpp'), 'utf8');
  if (!src.includes(b.from)) throw new Error(`bug ${name}: pattern not found in the engine source`);
  const patched = src.replace(b.from, b.to);
  const dir = path.join(into, name);
  fs.mkdirSync(dir, { recursive: true });
  const cpp = path.join(dir, 'flowfpga_engine.cpp');
  const out = path.join(dir, 'flowfpga-emu');
  const deps = ['hw/emu/emu_main.cpp', 'hw/hls/flowfpga_engine.h'].map((f) => fs.statSync(path.join(root, f)).mtimeMs);
  const fresh = fs.existsSync(out) && fs.existsSync(cpp) && fs.readFileSync(cpp, 'utf8') === patched &&
    fs.statSync(out).mtimeMs > Math.max(...deps);
  if (!fresh) {
    fs.writeFileSync(cpp, patched);
    execFileSync('g++', ['-std=c++17', '-O2', '-w', `-I${path.join(root, 'hw/hls')}`, '-o', out,
      path.join(root, 'hw/emu/emu_main.cpp'), cpp], { stdio: 'inherit' });
  }
  return out;
}

/** Network inputs of `nFrames` pairs: the bundled samples, then a moving textured scene. */
export async function benchFrames(h: number, w: number, nFrames: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const ds = await openDataset(path.join(root, 'samples'));
  for (let i = 0; i < ds.length && out.length < nFrames; i++) {
    const p = await ds.load(i);
    out.push(prepareInput(p.img1, p.img2, { height: h, width: w }).data);
  }
  // A moving textured scene for more pairs.
  for (let k = 0; out.length < nFrames; k++) {
    const a = createImage(w + 16, h + 16);
    for (let y = 0, o = 0; y < h + 16; y++) for (let x = 0; x < w + 16; x++, o += 3) {
      a.data[o] = (128 + 100 * Math.sin((x + 3 * k) / 9) * Math.cos(y / 13)) | 0;
      a.data[o + 1] = ((x * y + 17 * k) >> 4) & 255;
      a.data[o + 2] = (200 * ((x >> 4) + (y >> 4) & 1)) | 0;
    }
    const b = resizeImage(a, w + 16, h + 16);
    out.push(prepareInput(resizeImage(a, w, h), resizeImage({ ...b, data: b.data.map((v, i) => b.data[Math.max(0, i - 3 * (2 + k))]) }, w, h), { height: h, width: w }).data);
  }
  return out;
}

const SPECS: Record<string, SampleSpec> = {
  'regions 1-2 (old default: 2 commands, 1x1x1)': { commands: 2, channels: 1, rows: 1, cols: 1 },
  'regions 4 (default)': { commands: 2, regions: 4, channels: 1, rows: 1, cols: 1 },
  'regions 8': { commands: 2, regions: 8, channels: 1, rows: 1, cols: 1 },
};

async function main(): Promise<void> {
  const model = resolveModel(undefined);
  const [h, w] = model.nativeSize;
  const data = await benchFrames(h, w, Number(process.argv[2] ?? 10));
  const tmp = process.env.FF_BUG_DIR;
  const only = process.env.FF_BUGS?.split(',') ?? Object.keys(BUGS);
  for (const name of only) {
    process.env.FLOWFPGA_EMU_BIN = buildBuggyBoard(name, tmp);
    // full: wrong elements per step
    const perStep = new Map<string, number>();
    let fullMs = 0;
    {
      const dev = await openFlowDevice({ board: 'emu', engineFlow: engineFlowFactory({ verify: 'full', policy: 'log', onMismatch: (m: Mismatch) => perStep.set(m.step, (perStep.get(m.step) ?? 0) + m.count) }) });
      await dev.load(model, h, w);
      for (const f of data.slice(0, 2)) {
        const r = await dev.infer(f);
        fullMs += r.verify!.ms;
      }
      await dev.close();
    }
    console.log(`\n${name}: ${BUGS[name].what}`);
    console.log(`  full, 2 frames: wrong elements per step: ${[...perStep].map(([s, c]) => `${s} ${c}`).join(', ') || 'none'}`);
    for (const [label, sample] of Object.entries(SPECS)) {
      const dev = await openFlowDevice({ board: 'emu', engineFlow: engineFlowFactory({ verify: 'sample', policy: 'log', sample }) });
      await dev.load(model, h, w);
      let flagged = 0;
      let first = -1;
      let ms = 0;
      let macs = 0;
      for (let i = 0; i < data.length; i++) {
        const r = await dev.infer(data[i]);
        ms += r.verify!.ms;
        macs += r.verify!.macs;
        if (r.verify!.mismatches) {
          flagged++;
          if (first < 0) first = i;
        }
      }
      await dev.close();
      console.log(`  sample ${label}: ${flagged}/${data.length} frames flagged, first at frame ${first}; ${Math.round(macs / data.length)} reference MACs per frame`);
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
