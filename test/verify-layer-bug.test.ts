// Issue 13 item 9: an engine bug confined to one layer type — the fused up2 of the decoder's upsample-conv layers
// rounding ties down, a one-rounding-step slip in a patched copy of the engine source (bench/verify-layer-bugs.ts)
// — is found by the default `sample` verification within a few frames; the former default (1–2 regions per step)
// missed it in most frames. And `run` on that board says so: summary line, exit 3.
import t from 'tap';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchFrames, buildBuggyBoard } from '../bench/verify-layer-bugs.js';
import { openFlowDevice } from '../src/device/index.js';
import { engineFlowFactory } from '../src/cli/engine-flow.js';
import { resolveModel } from '../src/model/registry.js';
import { DEFAULT_SAMPLE, type SampleSpec } from '../src/scheduler/index.js';
import { runCli } from './helpers/cli.js';

const bin = buildBuggyBoard('up2-half-down');
const model = resolveModel(undefined);
const [h, w] = model.nativeSize;
const frames = await benchFrames(h, w, 6);
const prevBin = process.env.FLOWFPGA_EMU_BIN;
process.env.FLOWFPGA_EMU_BIN = bin;
t.teardown(() => {
  if (prevBin === undefined) delete process.env.FLOWFPGA_EMU_BIN;
  else process.env.FLOWFPGA_EMU_BIN = prevBin;
});

async function flagged(sample: SampleSpec): Promise<boolean[]> {
  const dev = await openFlowDevice({ board: 'emu', engineFlow: engineFlowFactory({ verify: 'sample', policy: 'log', sample }) });
  try {
    await dev.load(model, h, w);
    const out: boolean[] = [];
    for (const f of frames) out.push(((await dev.infer(f)).verify?.mismatches ?? 0) > 0);
    return out;
  } finally {
    await dev.close();
  }
}

t.test('the default sample finds a decoder-only rounding bug in the first frames', async (t) => {
  const now = await flagged(DEFAULT_SAMPLE);
  const before = await flagged({ commands: 2, channels: 1, rows: 1, cols: 1 });
  t.ok(now[0] || now[1], `found within 2 frames: ${now}`);
  t.ok(now.filter(Boolean).length >= 5, `default: ${now.filter(Boolean).length} of 6 frames flagged`);
  t.ok(before.filter(Boolean).length < now.filter(Boolean).length, `former default: ${before.filter(Boolean).length} of 6`);
});

t.test('run on the faulty board: summary line and exit 3', async (t) => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'fflayerbug-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await runCli(['run', '--board', 'emu', '--out', dir]);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /^flowfpga: verification found \d+ mismatch\(es\) in [1-3] of 3 pair\(s\)/m);
});
