// Coarse-to-fine refinement (src/cli/refine.ts, src/flow/warp.ts): when it runs and at what size, the warp itself
// (and its Python twin train/refine.py, byte for byte), and the whole two-pass run: the virtual board equals the
// reference bit for bit, verification covers both passes, and --refine off is the one-pass flow.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFlow, createImage, decodeFlo } from '../src/flow/index.js';
import { encodePng } from '../src/flow/image.js';
import { warpImage } from '../src/flow/warp.js';
import { checkRefine, mergeInfers, parseCoarse, parseRefine, parseRefinePasses, parseSecond, refineLine, refinePass, refinePassCount, refineSize, secondPass } from '../src/cli/refine.js';
import { runFlowJob } from '../src/cli/flowjob.js';
import { openFlowDevice } from '../src/device/index.js';
import { flyingChairs } from '../src/flow/index.js';
import { coarsePartner, refinePartner } from '../src/model/registry.js';
import { flownetsQ } from '../src/model/arch.js';
import { encodeModel, loadModelFile } from '../src/model/format.js';
import { randomModel } from '../src/reference/index.js';
import { Prng } from '../src/reference/prng.js';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const ROOT = join(import.meta.dirname, '..');
const { dir, modelPath } = tinyModelFile(t, 'ffrefine-');

t.test('refineSize: auto is twice the network size (resize fitting only), an explicit size is that size', async (t) => {
  t.same(refineSize('auto', [192, 256], 'resize'), [384, 512]);
  t.same(refineSize('auto', [64, 96], 'resize'), [128, 192]);
  t.equal(refineSize('auto', [192, 256], 'pad'), undefined, 'auto only with resize fitting');
  t.equal(refineSize('off', [192, 256], 'resize'), undefined);
  t.same(refineSize([128, 192], [64, 64], 'pad'), [128, 192], 'explicit size');
  t.throws(() => refineSize([128, 128], [64, 64], 'crop'), { name: 'UserError', message: /--fit crop/ });
  t.throws(() => checkRefine([128, 128], 'crop'), { name: 'UserError' });
  t.doesNotThrow(() => checkRefine('auto', 'crop'));
  t.same(parseRefine(undefined), 'auto');
  t.same(parseRefine('off'), 'off');
  t.same(parseRefine('384x512'), [384, 512]);
  t.throws(() => parseRefine('twice'), { name: 'UserError', message: "bad --refine 'twice'" });
  t.match(refineLine('off', [64, 64], 'resize'), /^refinement off/);
  t.match(refineLine('auto', [64, 64], 'pad'), /needs --fit resize/);
});

t.test('warpImage: identity, integer shifts with the edge repeated, bilinear halves rounded half up, NaN in place', async (t) => {
  const w = 5, h = 4;
  const img = createImage(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37) & 255;
  const flow = createFlow(w, h);
  t.ok(Buffer.from(warpImage(img, flow).data).equals(img.data), 'zero flow');
  flow.u.fill(1);
  const right = warpImage(img, flow);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    t.equal(right.data[3 * (y * w + x) + c], img.data[3 * (y * w + Math.min(x + 1, w - 1)) + c]);
  }
  flow.u.fill(-0.5);
  flow.v.fill(0);
  const half = warpImage(img, flow);
  t.equal(half.data[3 * 1], Math.floor((img.data[0] + img.data[3]) / 2 + 0.5), 'average of two neighbours, half up');
  t.equal(half.data[0], img.data[0], 'left edge clamps');
  flow.u.fill(NaN);
  t.ok(Buffer.from(warpImage(img, flow).data).equals(img.data), 'unknown flow samples the pixel itself');
  t.throws(() => warpImage(img, createFlow(4, 4)), { name: 'UserError' });
});

t.test('the Python twin (train/refine.py) warps to the same bytes and picks the same sizes', async (t) => {
  const w = 97, h = 61;
  const r = new Prng(5);
  const img = createImage(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = r.int(0, 255);
  const flow = createFlow(w, h);
  for (let i = 0; i < w * h; i++) {
    flow.u[i] = Math.fround((r.int(0, 4000) - 2000) / 97);
    flow.v[i] = Math.fround((r.int(0, 4000) - 2000) / 131);
  }
  writeFileSync(join(dir, 'img.u8'), img.data);
  writeFileSync(join(dir, 'flow.f32'), Buffer.concat([Buffer.from(flow.u.buffer), Buffer.from(flow.v.buffer)]));
  const py = `
import sys, numpy as np, torch
from train import refine as R
img = torch.from_numpy(np.fromfile(sys.argv[1] + '/img.u8', dtype=np.uint8).reshape(${h}, ${w}, 3).transpose(2, 0, 1).copy())
flow = torch.from_numpy(np.fromfile(sys.argv[1] + '/flow.f32', dtype=np.float32).reshape(2, ${h}, ${w}))
R.warp(img, flow).numpy().transpose(1, 2, 0).tofile(sys.argv[1] + '/warped.u8')
print(R.refine_size((192, 256)), R.refine_size((64, 96)), R.refine_size((192, 256), 'off'), R.refine_size((192, 256), (128, 192)))
print(R.refine_passes('auto', True), R.refine_passes('auto', False), R.refine_passes(3, True), R.refine_passes(1, True))
`;
  const p = spawnSync('/usr/bin/python3', ['-c', py, dir], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  t.equal(p.status, 0, p.stderr);
  t.ok(readFileSync(join(dir, 'warped.u8')).equals(warpImage(img, flow).data), 'identical warped bytes');
  const [sizes, passes] = p.stdout.trim().split('\n');
  t.equal(sizes, '(384, 512) (128, 192) None (128, 192)', 'same sizes as refineSize');
  t.equal(passes, [refinePassCount('auto', true), refinePassCount('auto', false), refinePassCount(3, true), refinePassCount(1, true)].join(' '), 'same pass counts as refinePassCount');
});

t.test('two passes on the virtual board equal the reference bit for bit; --refine off is the one-pass flow', async (t) => {
  const run = async (board: string, out: string, extra: string[] = []): Promise<string> => {
    const r = await runCli(['run', '--board', board, '--model', modelPath, '--out', join(dir, out), '--limit', '2', '--no-png', ...extra]);
    t.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const ref = await run('ref', 'ref');
  const emu = await run('emu', 'emu', ['--verify', 'full']);
  t.match(emu, /00001: 256x192 \(net 64x64 \+ 128x128\).*verify full: \d+ regions, 0 mismatch\(es\)/, 'both passes verified');
  t.match(ref, /\(net 64x64 \+ 128x128\)/);
  const off = await run('emu', 'off', ['--refine', 'off']);
  t.match(off, /^refinement off \(--refine\): one pass at the network size$/m);
  t.match(off, /00001: 256x192 \(net 64x64\) /);
  const once = await run('ref', 'once', ['--refine', 'off']);
  const explicit = await run('ref', 'explicit', ['--refine', '192x256']);
  t.match(explicit, /^refinement: every pair gets a second pass at 192x256 on the frames warped by the first \(--refine\)$/m);
  // Buffer.equals: tap's deep comparison of 400 KB buffers takes minutes
  const flo = (d: string, id: string): Buffer => readFileSync(join(dir, d, `${id}.flo`));
  for (const id of ['00001', '00002']) {
    const a = flo('ref', id);
    t.ok(flo('emu', id).equals(a), `${id}: emu == ref with refinement`);
    t.ok(flo('off', id).equals(flo('once', id)), `${id}: one pass, emu == ref`);
    t.notOk(flo('once', id).equals(a), `${id}: the second pass changes the flow`);
    t.notOk(flo('explicit', id).equals(a), `${id}: --refine HxW sets the second pass's size`);
    t.same([decodeFlo(a).width, decodeFlo(a).height], [256, 192], 'flow at the frames\' size');
  }
  const bad = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'bad'), '--fit', 'crop', '--refine', '128x128']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^flowfpga: --refine needs the whole frame's flow, which --fit crop does not give \(hint: /);
});

t.test('eval: refined by default, announced on stderr; --refine off gives the one-pass error', async (t) => {
  const ev = async (extra: string[]): Promise<{ j: Record<string, number>; err: string }> => {
    const r = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', modelPath, '--limit', '2', '--json', ...extra]);
    t.equal(r.code, 0, r.stderr);
    return { j: JSON.parse(r.stdout), err: r.stderr };
  };
  const two = await ev([]);
  const one = await ev(['--refine', 'off']);
  t.equal(two.j.refined_pairs, 2);
  t.equal(one.j.refined_pairs, 0);
  t.match(two.err, /^eval: refinement: every pair gets a second pass at 128x128 on the frames warped by the first \(--refine auto: twice the network size; --refine HxW: another size, off: one pass\)$/m);
  t.match(one.err, /^eval: refinement off \(--refine\): one pass at the network size$/m);
  t.not(two.j.epe, one.j.epe, 'a different flow');
});

t.test('a coarse-pass partner (models/<name>-coarse.ffq, meta.coarse_for) runs the first pass of refined pairs', async (t) => {
  // A models folder with the tiny model and a partner of other weights.
  const models = join(dir, 'models');
  mkdirSync(models, { recursive: true });
  copyFileSync(modelPath, join(models, 'tiny.ffq'));
  const c = randomModel(flownetsQ({ width: 1 / 16 }), 5);
  c.name = 'tiny-coarse';
  c.nativeSize = [64, 64];
  c.meta = { coarse_for: 'tiny' };
  writeFileSync(join(models, 'tiny-coarse.ffq'), encodeModel(c));
  const tiny = loadModelFile(modelPath);
  t.equal(coarsePartner(tiny, models)?.name, 'tiny-coarse');
  t.equal(coarsePartner(loadModelFile(join(models, 'tiny-coarse.ffq')), models), undefined, 'the partner has none');
  c.meta = { coarse_for: 'other' };
  writeFileSync(join(models, 'tiny-x-coarse.ffq'), encodeModel({ ...c, name: 'tiny-x-coarse' }));
  t.equal(coarsePartner({ ...tiny, name: 'tiny-x' }, models), undefined, 'a -coarse file for another model is not a partner');
  // A model may name its partner itself (meta.coarse_model): a partner trained for another model, reused.
  const wide = { ...tiny, name: 'tiny-wide', meta: { coarse_model: 'tiny-coarse' } };
  t.equal(coarsePartner(wide, models)?.name, 'tiny-coarse', 'meta.coarse_model names the partner');
  t.throws(() => coarsePartner({ ...wide, meta: { coarse_model: 'gone' } }, models),
    { name: 'UserError', message: /^model tiny-wide runs its refined pairs' first pass on gone \(meta.coarse_model\), which is not in / });
  t.equal(parseCoarse('same', tiny, 'auto'), undefined);
  t.throws(() => parseCoarse(join(models, 'tiny-coarse.ffq'), tiny, 'off'), { name: 'UserError', message: /--refine off refines none/ });
  t.equal(parseCoarse(join(models, 'tiny-coarse.ffq'), tiny, 'auto')?.name, 'tiny-coarse');
  t.equal(parseCoarse(modelPath, tiny, 'auto'), undefined, 'the model itself is no coarse model');
  t.match(refineLine('auto', [64, 64], 'resize', 'tiny-coarse'), /first pass runs tiny-coarse \(--refine auto: twice the network size; --refine HxW: another size, off: one pass; --coarse-model same: one model for both\)$/);

  const prev = process.env.FLOWFPGA_MODELS;
  process.env.FLOWFPGA_MODELS = models;
  t.teardown(() => (prev === undefined ? delete process.env.FLOWFPGA_MODELS : (process.env.FLOWFPGA_MODELS = prev)));
  const run = async (board: string, out: string, extra: string[] = []): Promise<{ out: string; err: string; lines: Record<string, unknown>[] }> => {
    const r = await runCli(['run', '--board', board, '--model', 'tiny', '--out', join(dir, out), '--limit', '2', '--no-png', '--json', ...extra]);
    t.equal(r.code, 0, r.stderr);
    return { out, err: r.stderr, lines: r.stdout.trim().split('\n').map((l) => JSON.parse(l)) };
  };
  const ref = await run('ref', 'c-ref');
  const emu = await run('emu', 'c-emu', ['--verify', 'full']);
  const same = await run('ref', 'c-same', ['--coarse-model', 'same']);
  const named = await run('ref', 'c-named', ['--coarse-model', 'tiny-coarse']);
  t.match(ref.err, /^refinement: every pair gets a second pass at 128x128 on the frames warped by the first, whose first pass runs tiny-coarse/m);
  t.ok(ref.lines.slice(0, -1).every((l) => l.coarse_model === 'tiny-coarse'), 'frame lines name the first pass\'s model');
  t.equal(ref.lines.at(-1)!.coarse_model, 'tiny-coarse', 'and the summary');
  t.ok(same.lines.slice(0, -1).every((l) => l.coarse_model === null));
  t.ok(emu.lines.slice(0, -1).every((l) => (l.verify as { mismatches: number }).mismatches === 0));
  const flo = (d: string, id: string): Buffer => readFileSync(join(dir, d, `${id}.flo`));
  for (const id of ['00001', '00002']) {
    t.ok(flo('c-emu', id).equals(flo('c-ref', id)), `${id}: emu == ref with the coarse-pass model`);
    t.ok(flo('c-named', id).equals(flo('c-ref', id)), `${id}: --coarse-model NAME == the shipped partner`);
    t.ok(flo('c-same', id).equals(flo('ref', id)), `${id}: --coarse-model same == one model for both passes`);
    t.notOk(flo('c-same', id).equals(flo('c-ref', id)), `${id}: the partner changes the flow`);
  }
  const off = await run('ref', 'c-off', ['--refine', 'off']);
  t.ok(off.lines.slice(0, -1).every((l) => l.refine_net === null && l.coarse_model === null), 'no refinement, no coarse model');
  const bad = await runCli(['run', '--board', 'ref', '--model', 'tiny', '--out', join(dir, 'c-bad'), '--refine', 'off', '--coarse-model', 'tiny-coarse']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^flowfpga: --coarse-model runs the first pass of a refined pair, and --refine off refines none \(hint: /);
  const ev = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', 'tiny', '--limit', '2', '--json']);
  t.equal(ev.code, 0, ev.stderr);
  t.equal(JSON.parse(ev.stdout).coarse_model, 'tiny-coarse');
  t.match(ev.stderr, /whose first pass runs tiny-coarse/);
});

t.test('a refinement partner (models/<name>-refine.ffq, meta.refine_for) runs the second pass', async (t) => {
  const models = join(dir, 'rmodels');
  mkdirSync(models, { recursive: true });
  copyFileSync(modelPath, join(models, 'tiny.ffq'));
  const r = randomModel(flownetsQ({ width: 1 / 16 }), 7);
  r.name = 'tiny-refine';
  r.nativeSize = [64, 64];
  r.meta = { refine_for: 'tiny' };
  writeFileSync(join(models, 'tiny-refine.ffq'), encodeModel(r));
  writeFileSync(join(models, 'DEFAULT'), 'tiny\n');
  const tiny = loadModelFile(modelPath);
  const partner = refinePartner(tiny, models)!;
  t.equal(partner.name, 'tiny-refine');
  t.equal(refinePartner(partner, models), undefined, 'the partner has none');
  writeFileSync(join(models, 'tiny-x-refine.ffq'), encodeModel({ ...r, name: 'tiny-x-refine', meta: { refine_for: 'other' } }));
  t.equal(refinePartner({ ...tiny, name: 'tiny-x' }, models), undefined, 'a -refine file for another model is not a partner');
  // A model may name its refinement partner itself (meta.refine_model): one trained for another model, reused.
  const six = { ...tiny, name: 'tiny-6bit', meta: { refine_model: 'tiny-refine' } };
  t.equal(refinePartner(six, models)?.name, 'tiny-refine', 'meta.refine_model names the partner');
  t.same(secondPass('auto', [64, 64], 'resize', six, refinePartner(six, models)), { size: [128, 128], model: partner, passes: 2 }, '... which runs its passes, twice');
  t.throws(() => refinePartner({ ...six, meta: { refine_model: 'gone' } }, models),
    { name: 'UserError', message: /^model tiny-6bit runs its refined pairs' refinement on gone \(meta.refine_model\), which is not in /, hint: /--refine-model same/ });
  // Which model runs the second pass, at which size.
  t.same(secondPass('auto', [64, 64], 'resize', tiny, partner), { size: [128, 128], model: partner, passes: 2 }, 'auto: twice the size, on the partner, twice');
  t.same(secondPass('auto', [64, 64], 'resize', tiny), { size: [128, 128], model: tiny, passes: 1 }, 'on the model without one, once');
  t.same(secondPass([64, 64], [64, 64], 'pad', tiny, partner), { size: [64, 64], model: partner, passes: 2 }, 'an explicit pass');
  t.same(secondPass('auto', [64, 64], 'resize', tiny, partner, 1), { size: [128, 128], model: partner, passes: 1 }, '--refine-passes 1');
  t.same(secondPass('auto', [64, 64], 'resize', tiny, undefined, 3), { size: [128, 128], model: tiny, passes: 3 }, '--refine-passes 3 on the model');
  const scoped = { ...partner, meta: { refine_for: 'tiny', refine_scope: 'trained-size' } };
  t.same(secondPass('auto', [64, 64], 'resize', tiny, scoped), { size: [128, 128], model: tiny, passes: 1 }, 'refine_scope trained-size: larger passes on the model');
  t.same(secondPass([64, 64], [64, 64], 'resize', tiny, scoped), { size: [64, 64], model: scoped, passes: 2 }, '... and its own size on it');
  t.match(refineLine('auto', [64, 64], 'resize', undefined, scoped), /^refinement: every pair gets a second pass at 128x128 on the frames warped by the first \(/);
  t.match(refineLine([64, 64], [64, 64], 'resize', undefined, scoped), /^refinement: every pair gets 2 refinement passes at 64x64 on tiny-refine \(trained for it\), each on the frames warped by the flow so far \(--refine; --refine-passes 1: one, faster\)$/);
  t.match(refineLine('auto', [64, 64], 'resize', undefined, partner, 1), /^refinement: every pair gets a second pass at 128x128 on tiny-refine \(trained for it\) on the frames warped by the first \(--refine auto: twice the network size; --refine HxW: another size, off: one pass; --refine-model same: the model itself\)$/);
  t.match(refineLine('auto', [64, 64], 'resize', undefined, undefined, 3), /^refinement: every pair gets 3 refinement passes at 128x128, each on the frames warped by the flow so far \(--refine auto: twice the network size; --refine HxW: another size, off: one pass\)$/);
  t.equal(secondPass('auto', [64, 64], 'pad', tiny, partner), undefined, 'auto needs resize fitting');
  t.equal(secondPass('off', [64, 64], 'resize', tiny, partner), undefined);
  t.equal(parseSecond('same', tiny, 'auto'), undefined);
  t.equal(parseSecond(modelPath, tiny, 'auto'), undefined, 'the model itself is no refinement model');
  t.throws(() => parseSecond(join(models, 'tiny-refine.ffq'), tiny, 'off'), { name: 'UserError', message: /--refine-model runs the second pass of a refined pair, and --refine off refines none/ });
  t.match(refineLine('auto', [64, 64], 'resize', undefined, partner), /^refinement: every pair gets 2 refinement passes at 128x128 on tiny-refine \(trained for it\), each on the frames warped by the flow so far \(--refine auto: twice the network size; --refine HxW: another size, off: one pass; --refine-model same: the model itself; --refine-passes 1: one, faster\)$/);
  t.match(refineLine([128, 128], [64, 64], 'resize', undefined, partner, 2), /^refinement: every pair gets 2 refinement passes at 128x128 on tiny-refine \(trained for it\), each on the frames warped by the flow so far \(--refine\)$/);

  // Small frames (80x64, under twice the network size): resized up for the partner's pass, emu == ref.
  const frames = join(dir, 'small');
  mkdirSync(frames, { recursive: true });
  const g = new Prng(11);
  const base = createImage(88, 64);
  for (let i = 0; i < base.data.length; i++) base.data[i] = g.int(0, 255);
  for (let f = 0; f < 3; f++) {
    const img = createImage(80, 64);
    for (let y = 0; y < 64; y++) img.data.set(base.data.subarray((y * 88 + 2 * f) * 3, (y * 88 + 2 * f + 80) * 3), y * 80 * 3);
    writeFileSync(join(frames, `f${f}.png`), encodePng(img));
  }
  const prev = process.env.FLOWFPGA_MODELS;
  process.env.FLOWFPGA_MODELS = models;
  t.teardown(() => (prev === undefined ? delete process.env.FLOWFPGA_MODELS : (process.env.FLOWFPGA_MODELS = prev)));
  const list = await runCli(['models', '--json']);
  t.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout).models as { name: string; refine_for: string | null }[];
  t.same(rows.filter((r) => r.refine_for).map((r) => [r.name, r.refine_for]), [['tiny-refine', 'tiny'], ['tiny-x-refine', 'other']]);
  writeFileSync(join(models, 'tiny-6bit.ffq'), encodeModel({ ...tiny, name: 'tiny-6bit', meta: { refine_model: 'tiny-refine' } }));
  const list6 = await runCli(['models', '--json']);
  t.match((JSON.parse(list6.stdout).models as { name: string }[]).find((r) => r.name === 'tiny-6bit'), { refine_model: 'tiny-refine' });
  t.match((await runCli(['models'])).stdout, /^ {2}tiny-6bit .*KiB {2}\(refined pairs end on tiny-refine\)$/m);
  const six6 = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', 'tiny-6bit', '--limit', '1', '--json']);
  t.equal(six6.code, 0, six6.stderr);
  t.match(JSON.parse(six6.stdout), { refine_model: 'tiny-refine', refine_passes: 2 }, 'run/eval follow meta.refine_model');
  t.match((await runCli(['models'])).stdout, /^ {2}tiny-refine .*KiB {2}\(second pass of tiny's refined pairs\)$/m);
  const run = async (board: string, out: string, extra: string[] = []): Promise<{ err: string; lines: Record<string, unknown>[] }> => {
    const res = await runCli(['run', '--board', board, '--model', 'tiny', '--input', frames, '--out', join(dir, out), '--no-png', '--json', ...extra]);
    t.equal(res.code, 0, res.stderr);
    return { err: res.stderr, lines: res.stdout.trim().split('\n').map((l) => JSON.parse(l)) };
  };
  const ref = await run('ref', 'r-ref');
  const emu = await run('emu', 'r-emu', ['--verify', 'full']);
  const same = await run('ref', 'r-same', ['--refine-model', 'same']);
  const one = await run('ref', 'r-one', ['--refine', 'off']);
  const named = await run('ref', 'r-named', ['--refine-model', join(models, 'tiny-refine.ffq')]);
  const p1 = await run('ref', 'r-p1', ['--refine-passes', '1']);
  const p3 = await run('emu', 'r-p3', ['--refine-passes', '3', '--verify', 'full']);
  const p3ref = await run('ref', 'r-p3ref', ['--refine-passes', '3']);
  t.match(ref.err, /^refinement: every pair gets 2 refinement passes at 128x128 on tiny-refine \(trained for it\), each on the frames warped by the flow so far \(/m);
  const frameLines = (x: { lines: Record<string, unknown>[] }): Record<string, unknown>[] => x.lines.slice(0, -1);
  t.equal(frameLines(ref).length, 2);
  t.ok(frameLines(ref).every((l) => l.refine_model === 'tiny-refine' && JSON.stringify(l.refine_net) === '[128,128]' && l.refine_passes === 2), 'every pair: the partner\'s passes, two');
  t.ok(frameLines(p1).every((l) => l.refine_passes === 1), '--refine-passes 1: one');
  t.ok(frameLines(same).every((l) => l.refine_passes === 1), 'the model itself: one pass');
  t.ok(frameLines(p3).every((l) => l.refine_passes === 3 && (l.verify as { mismatches: number; regions: number }).mismatches === 0), '--refine-passes 3, every pass verified');
  t.equal(ref.lines.at(-1)!.refine_model, 'tiny-refine', 'named in the summary');
  t.ok(frameLines(one).every((l) => l.refine_net === null && l.refine_model === null), '--refine off: one pass');
  t.ok(frameLines(same).every((l) => l.refine_model === null && JSON.stringify(l.refine_net) === '[128,128]'), '--refine-model same: the model\'s pass');
  t.ok(frameLines(emu).every((l) => (l.verify as { mismatches: number }).mismatches === 0), 'both passes verified');
  const flo = (d: string, id: string): Buffer => readFileSync(join(dir, d, `${id}.flo`));
  for (const id of frameLines(ref).map((l) => String(l.id))) {
    t.ok(flo('r-emu', id).equals(flo('r-ref', id)), `${id}: emu == ref with the refinement partner`);
    t.ok(flo('r-named', id).equals(flo('r-ref', id)), `${id}: --refine-model FILE == the shipped partner`);
    t.notOk(flo('r-same', id).equals(flo('r-ref', id)), `${id}: the partner changes the flow`);
    t.notOk(flo('r-one', id).equals(flo('r-ref', id)), `${id}: the pass changes the flow`);
    t.notOk(flo('r-p1', id).equals(flo('r-ref', id)), `${id}: the partner's second pass changes the flow`);
    t.ok(flo('r-p3', id).equals(flo('r-p3ref', id)), `${id}: three passes, emu == ref`);
  }
  const ev = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', 'tiny', '--limit', '1', '--json', '--refine', '64x64']);
  t.equal(ev.code, 0, ev.stderr);
  t.equal(JSON.parse(ev.stdout).refine_model, 'tiny-refine');
  t.match(ev.stderr, /^eval: refinement: every pair gets 2 refinement passes at 64x64 on tiny-refine \(trained for it\), each on the frames warped by the flow so far \(--refine; --refine-passes 1: one, faster\)$/m);
  // Large frames (256x192): the auto pass at 128x128 on the partner too.
  const large = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', 'tiny', '--limit', '1', '--json']);
  t.equal(large.code, 0, large.stderr);
  t.match(JSON.parse(large.stdout), { refine_model: 'tiny-refine', refined_pairs: 1, refine_passes: 2 });
  const same1 = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', 'tiny', '--limit', '1', '--json', '--refine-model', 'same']);
  t.equal(same1.code, 0, same1.stderr);
  t.not(JSON.parse(same1.stdout).epe, JSON.parse(large.stdout).epe, 'the partner ran the pass');
});

t.test('--refine-passes: parsed and checked before any frame; each pass warps by the flow so far', async (t) => {
  t.equal(parseRefinePasses(undefined, 'auto'), 'auto');
  t.equal(parseRefinePasses('auto', 'off'), 'auto');
  t.equal(parseRefinePasses('1', 'auto'), 1);
  t.equal(parseRefinePasses('4', [64, 64]), 4);
  for (const bad of ['0', '5', 'two', '1.5', '-1']) {
    t.throws(() => parseRefinePasses(bad, 'auto'), { name: 'UserError', message: `bad --refine-passes '${bad}'` });
  }
  t.throws(() => parseRefinePasses('2', 'off'), { name: 'UserError', message: /--refine-passes counts the passes of a refined pair, and --refine off refines none/ });
  const bad = await runCli(['eval', '--dataset', 'chairs:samples', '--board', 'ref', '--model', modelPath, '--refine-passes', '9']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^flowfpga: bad --refine-passes '9' \(hint: use auto or a count from 1 to 4\)$/m);

  // Two passes are one pass and then another on the frames warped by its flow; their results merge into one.
  const model = loadModelFile(modelPath);
  const data = await flyingChairs(join(ROOT, 'samples'));
  const dev = await openFlowDevice({ board: 'ref' });
  t.teardown(() => dev.close());
  const outs: { one?: import('../src/flow/index.js').FlowField; two?: import('../src/flow/index.js').FlowField; infers: number } = { infers: 0 };
  const job = (passes: number, key: 'one' | 'two') => runFlowJob(dev, model, data, {
    fit: 'resize', refine: 'auto', passes, limit: 1, onPair: (o) => { outs[key] = o.flow; if (passes === 2) outs.infers = o.refine!.passes; },
  });
  const s2 = await job(2, 'two');
  await job(1, 'one');
  t.equal(s2.refinePasses, 2);
  t.equal(outs.infers, 2);
  const pair = await data.load(0);
  const again = await refinePass(dev, model, pair.img1, pair.img2, outs.one!, [128, 128], 'resize');
  const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  t.ok(bytes(again.flow.u).equals(bytes(outs.two!.u)), 'u: the second pass on the first\'s refined flow');
  t.ok(bytes(again.flow.v).equals(bytes(outs.two!.v)), 'v: the same');
  t.notOk(bytes(outs.one!.u).equals(bytes(outs.two!.u)), 'the second pass changes the flow');

  const r = (ms: number, mismatches: number, dropped = false) => ({ flow: new Int16Array(2), h: 1, w: 1, fracBits: 4,
    timings: { totalMs: ms, engineMs: ms / 2, jobs: 3, cycles: 10n }, verify: { mode: 'full' as const, regions: 2, macs: 5, ms: 1, mismatches, dropped, reruns: mismatches } });
  const m = mergeInfers([r(4, 0), r(6, 2, true)]);
  t.same(m.timings, { totalMs: 10, jobs: 6, engineMs: 5, cycles: 20n });
  t.same(m.verify, { mode: 'full', regions: 4, macs: 10, ms: 2, mismatches: 2, dropped: true, reruns: 2 });
  const one = r(3, 0);
  t.equal(mergeInfers([one]), one, 'one pass: its own result');
});
