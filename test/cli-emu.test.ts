// Whole frames on the virtual board through the scheduler: bit-exact with the reference, and the emu's bit-flip
// fault is caught by per-frame verification.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flownetsQ } from '../src/model/arch.js';
import { encodeModel } from '../src/model/format.js';
import { forward, randomFrames, randomModel } from '../src/reference/index.js';
import { openFlowDevice } from '../src/device/index.js';
import { engineFlowFactory } from '../src/cli/engine-flow.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

execFileSync('make', ['-s', '-C', 'hw', 'emu'], { stdio: 'inherit' });

const dir = tempDir(t, 'ffemu-');
const model = randomModel(flownetsQ({ width: 1 / 16, decoder: 'conv-upsample', bits: 6 }), 11);
model.name = 'tiny6';
model.nativeSize = [64, 128];
const modelPath = join(dir, 'tiny6.ffq');
writeFileSync(modelPath, encodeModel(model));

t.test('virtual board frames equal the reference bit for bit', async (t) => {
  const dev = await openFlowDevice({ board: 'emu', engineFlow: engineFlowFactory({ verify: 'full', policy: 'stop' }) });
  t.teardown(() => dev.close());
  await dev.load(model, 64, 128);
  for (let i = 0; i < 2; i++) {
    const frames = randomFrames(64, 128, 100 + i);
    const r = await dev.infer(frames);
    const ref = forward(model, frames, 64, 128);
    t.same(Buffer.from(r.flow.buffer), Buffer.from(ref.flow.buffer), `frame ${i} bit-exact`);
    t.equal(r.verify?.mismatches, 0);
    t.ok((r.verify?.regions ?? 0) > 0, 'full verification checked regions');
    t.ok((r.timings.jobs ?? 0) > 0, 'engine jobs ran');
  }
});

t.test('corrupted tiles are caught by sample verification and dropped by policy', async (t) => {
  const seen: number[] = [];
  const dev = await openFlowDevice({
    board: 'emu', faults: { corrupt: 0x01 },
    engineFlow: engineFlowFactory({ verify: 'sample', policy: 'drop', onMismatch: (_m, f) => seen.push(f) }),
  });
  t.teardown(() => dev.close());
  await dev.load(model, 64, 128);
  const r = await dev.infer(randomFrames(64, 128, 7));
  t.ok((r.verify?.mismatches ?? 0) > 0, `mismatches found: ${r.verify?.mismatches}`);
  t.equal(r.verify?.dropped, true);
  t.ok(seen.length > 0, 'onMismatch called');
});

t.test('a single flipped bit per command is caught by full verification; off sees nothing', async (t) => {
  const full = await openFlowDevice({ board: 'emu', faults: { flip: 0x01 }, engineFlow: engineFlowFactory({ verify: 'full', policy: 'log' }) });
  t.teardown(() => full.close());
  await full.load(model, 64, 128);
  const frames = randomFrames(64, 128, 8);
  const r = await full.infer(frames);
  t.ok((r.verify?.mismatches ?? 0) > 0, `full: ${r.verify?.mismatches} mismatches`);
  t.equal(r.verify?.dropped, false, 'policy log keeps the frame');
  const off = await openFlowDevice({ board: 'emu', faults: { flip: 0x01 }, engineFlow: engineFlowFactory({ verify: 'off', policy: 'log' }) });
  t.teardown(() => off.close());
  await off.load(model, 64, 128);
  const o = await off.infer(frames);
  t.equal(o.verify?.regions, 0);
  const ref = forward(model, frames, 64, 128);
  t.not(Buffer.compare(Buffer.from(o.flow.buffer), Buffer.from(ref.flow.buffer)), 0, 'the fault really changed the output');
});

t.test('flowfpga run --board emu writes the same flow as --board ref', async (t) => {
  const a = await runCli(['run', '--board', 'emu', '--model', modelPath, '--out', join(dir, 'emu'), '--limit', '1', '--size', '64x128']);
  t.equal(a.code, 0, a.stderr);
  t.match(a.stdout, /virtual board/);
  t.match(a.stdout, /verify sample: \d+ regions, 0 mismatch/);
  const b = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'ref'), '--limit', '1', '--size', '64x128']);
  t.equal(b.code, 0, b.stderr);
  t.same(readFileSync(join(dir, 'emu', '00001.flo')), readFileSync(join(dir, 'ref', '00001.flo')));
  const auto = await runCli(['run', '--model', modelPath, '--out', join(dir, 'auto'), '--limit', '1', '--size', '64x128', '--verify', 'off']);
  t.equal(auto.code, 0, auto.stderr);
  t.match(auto.stderr, /no FPGA board found.*using the virtual board/);
  const bad = await runCli(['run', '--board', 'ref', '--model', modelPath, '--verify', 'most']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown --verify mode 'most'/);
});
