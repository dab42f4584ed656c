import t from 'tap';
import { existsSync } from 'node:fs';
import { tempDir } from './helpers/tmp.js';
import { join } from 'node:path';
import { decodeFlo } from '../src/flow/index.js';
import { readFileSync } from 'node:fs';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'ffcli-');

t.test('run on the bundled samples with the reference writes .flo and PNG per pair', async (t) => {
  const out = join(dir, 'out');
  const r = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', out, '--limit', '2']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /model tiny on reference/);
  t.match(r.stdout, /network size 64x64: the model's trained resolution/, 'the default size is announced');
  // --refine auto adds a second pass at twice the trained size
  t.match(r.stdout, /00001: 256x192 \(net 64x64 \+ 128x128\).*EPE \d+\.\d+/, 'default network size: the model\'s trained resolution, then refined');
  t.match(r.stdout, /^refinement: every pair gets a second pass at 128x128 on the frames warped by the first \(--refine auto: twice the network size; --refine HxW: another size, off: one pass\)$/m, 'refinement announced once');
  t.equal(r.stdout.match(/^refinement:/gm)?.length, 1);
  t.match(r.stdout, /mean EPE \d+\.\d+ px, Fl-all/);
  for (const id of ['00001', '00002']) {
    t.ok(existsSync(join(out, `${id}.png`)), `${id}.png`);
    const f = decodeFlo(readFileSync(join(out, `${id}.flo`)));
    t.same([f.width, f.height], [256, 192], 'flow at the source resolution');
  }
  t.notOk(existsSync(join(out, '00003.flo')), '--limit respected');
});

t.test('run --size overrides the trained resolution', async (t) => {
  const r = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'out-size'), '--limit', '1', '--size', '128x128']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /network size 128x128 \(--size\)/);
  t.match(r.stdout, /00001: 256x192 \(net 128x128 \+ 256x256\)/, 'refined at twice the network size');
});

t.test('eval --json has epe and pairs; errors are one line with a hint', async (t) => {
  const r = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', modelPath, '--limit', '1', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.pairs, 1);
  t.ok(j.epe > 0 && Number.isFinite(j.epe));
  t.match(r.stderr, /eval: 1\/1 pairs/);
  const bad = await runCli(['eval', '--dataset', 'kitti:x', '--board', 'ref', '--model', modelPath]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^flowfpga: bad --dataset 'kitti:x' \(hint: write chairs:DIR or sintel:DIR\)\n$/);
  const missing = await runCli(['eval', '--dataset', `chairs:${join(dir, 'nope')}`, '--board', 'ref', '--model', modelPath]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope/);
  const empty = tempDir(t, 'ffempty-');
  const none = await runCli(['eval', '--dataset', `chairs:${empty}`, '--board', 'ref', '--model', modelPath]);
  t.equal(none.code, 2);
  t.equal(none.stderr.trim().split('\n').length, 1);
  const badBoard = await runCli(['run', '--board', 'zynq9000', '--model', modelPath, '--out', join(dir, 'o2')]);
  t.equal(badBoard.code, 2);
  t.match(badBoard.stderr, /unknown board 'zynq9000'/);
  const badModel = await runCli(['run', '--board', 'ref', '--model', join(dir, 'missing.ffq')]);
  t.match(badModel.stderr, /cannot read model file/);
});

t.test('info prints the FlowNetS-Q table and totals', async (t) => {
  const r = await runCli(['info', '--model', 'flownets-q', '--json']);
  const j = JSON.parse(r.stdout);
  t.equal(j.total.macs, 20_269_498_368);
  const f = await runCli(['info', '--model', 'flownets', '--size', '384x512']);
  t.match(f.stdout, /15,787,782,912/);
  const m2 = await runCli(['info', '--model', modelPath]);
  t.match(m2.stdout, /tiny \(flownets-q width 0.0625, upsample-conv\) at 64x64/);
});
