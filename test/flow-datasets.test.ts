import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectDataset, filePair, flyingChairs, imageSequence, mpiSintel, openDataset, type FlowPair } from '../src/flow/datasets.js';
import { createFlow, encodeFlo } from '../src/flow/flo.js';
import { createImage, encodePng, encodePngGray, encodePpm } from '../src/flow/image.js';

const root = mkdtempSync(join(tmpdir(), 'flow-ds-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const W = 4;
const H = 3;
/** Frame whose every byte is `tag`, so a loaded pair shows which files it came from. */
const frame = (tag: number) => {
  const im = createImage(W, H);
  im.data.fill(tag);
  return im;
};
const flo = (tag: number) => {
  const f = createFlow(W, H);
  f.u.fill(tag);
  f.v.fill(-tag);
  return f;
};
async function collect(ds: AsyncIterable<FlowPair>) {
  const out: FlowPair[] = [];
  for await (const p of ds) out.push(p);
  return out;
}

function makeChairs(dir: string, n: number) {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= n; i++) {
    const id = String(i).padStart(5, '0');
    writeFileSync(join(dir, `${id}_img1.ppm`), encodePpm(frame(i)));
    writeFileSync(join(dir, `${id}_img2.ppm`), encodePpm(frame(100 + i)));
    writeFileSync(join(dir, `${id}_flow.flo`), encodeFlo(flo(i)));
  }
}

t.test('FlyingChairs: pairs, lazy loading, split file', async (t) => {
  const rel = join(root, 'FlyingChairs_release');
  makeChairs(join(rel, 'data'), 4);
  writeFileSync(join(rel, 'data', 'README.txt'), 'not a pair');
  writeFileSync(join(rel, 'FlyingChairs_train_val.txt'), '1\n2\n1\n2\n');
  const all = await flyingChairs(rel); // release folder -> data/
  t.equal(all.length, 4);
  t.same(all.entries.map((e) => e.id), ['00001', '00002', '00003', '00004']);
  const pairs = await collect(all);
  t.same(pairs.map((p) => [p.id, p.img1.data[0], p.img2.data[5], p.flow!.u[0], p.flow!.v[11]]), [
    ['00001', 1, 101, 1, -1], ['00002', 2, 102, 2, -2], ['00003', 3, 103, 3, -3], ['00004', 4, 104, 4, -4],
  ]);
  const val = await flyingChairs(join(rel, 'data'), { split: 'val' });
  t.equal(val.name, 'FlyingChairs (val)');
  t.same(val.entries.map((e) => e.id), ['00002', '00004']);
  t.same((await val.load(1)).flow!.u[0], 4);
  t.same((await flyingChairs(rel, { split: 'train' })).entries.map((e) => e.id), ['00001', '00003']);
  await t.rejects(val.load(2), RangeError);
  t.equal(await detectDataset(rel), 'chairs');
  t.equal((await openDataset(join(rel, 'data'))).length, 4);
});

t.test('FlyingChairs errors name the path and the expected layout', async (t) => {
  await t.rejects(flyingChairs(join(root, 'nowhere')), { name: 'UserError', message: /FlyingChairs folder not found: .*nowhere/ });
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await t.rejects(flyingChairs(empty), { name: 'UserError', message: /no FlyingChairs pairs in .*empty/ });
  const broken = join(root, 'broken');
  makeChairs(broken, 2);
  unlinkSync(join(broken, '00002_flow.flo'));
  await t.rejects(flyingChairs(broken), { message: /pair 00002 is incomplete: .*00002_flow\.flo is missing/ });
  const noSplit = join(root, 'nosplit');
  makeChairs(noSplit, 2);
  await t.rejects(flyingChairs(noSplit, { split: 'train' }), { message: /FlyingChairs_train_val\.txt not found next to/ });
  writeFileSync(join(noSplit, 's.txt'), '1\n2\n1\n');
  await t.rejects(flyingChairs(noSplit, { split: 'train', splitFile: join(noSplit, 's.txt') }), { message: /has 3 entries but .* has 2 pairs/ });
  writeFileSync(join(noSplit, 's.txt'), '1\n3\n');
  await t.rejects(flyingChairs(noSplit, { split: 'val', splitFile: join(noSplit, 's.txt') }), { message: /line 2 is "3", expected 1 or 2/ });
  // a corrupt file surfaces at load time with its own name
  writeFileSync(join(noSplit, '00002_flow.flo'), 'garbage');
  const ds = await flyingChairs(noSplit);
  await t.rejects(ds.load(1), { name: 'UserError', message: /00002_flow\.flo: not a \.flo file/ });
  // stopping after pair 1 abandons the failing prefetch of pair 2: no unhandled rejection may follow
  const seen: string[] = [];
  for await (const p of ds) {
    seen.push(p.id);
    break;
  }
  t.same(seen, ['00001']);
  // Not a race: time for a stray rejection of the abandoned prefetch to surface (it would fail the test run).
  await new Promise((r) => setTimeout(r, 20));
  await t.rejects(collect(ds), { message: /00002_flow\.flo/ });
  // size mismatch inside a pair
  writeFileSync(join(noSplit, '00001_img2.ppm'), encodePpm(createImage(5, 3)));
  await t.rejects(ds.load(0), { message: /00001_img2\.ppm: frame 2 is 5x3 but .*00001_img1\.ppm is 4x3/ });
});

function makeSintel(base: string) {
  const scenes: Record<string, number> = { alley_1: 3, bamboo_2: 2 };
  for (const [scene, frames] of Object.entries(scenes)) {
    for (const pass of ['clean', 'final']) mkdirSync(join(base, 'training', pass, scene), { recursive: true });
    for (const sub of ['flow', 'invalid', 'occlusions']) mkdirSync(join(base, 'training', sub, scene), { recursive: true });
    for (let i = 1; i <= frames; i++) {
      const stem = `frame_${String(i).padStart(4, '0')}`;
      const tag = (scene === 'alley_1' ? 10 : 50) + i;
      writeFileSync(join(base, 'training', 'clean', scene, `${stem}.png`), encodePng(frame(tag)));
      writeFileSync(join(base, 'training', 'final', scene, `${stem}.png`), encodePng(frame(tag + 100)));
      const inv = new Uint8Array(W * H);
      inv[i] = 255;
      writeFileSync(join(base, 'training', 'invalid', scene, `${stem}.png`), encodePngGray({ width: W, height: H, data: inv }));
      const occ = new Uint8Array(W * H);
      occ[0] = 255;
      writeFileSync(join(base, 'training', 'occlusions', scene, `${stem}.png`), encodePngGray({ width: W, height: H, data: occ }));
      if (i < frames) writeFileSync(join(base, 'training', 'flow', scene, `${stem}.flo`), encodeFlo(flo(tag)));
    }
  }
}

t.test('MPI-Sintel: passes, scenes, consecutive pairs, masks', async (t) => {
  const base = join(root, 'MPI-Sintel-complete');
  makeSintel(base);
  const clean = await mpiSintel(base);
  t.equal(clean.name, 'MPI-Sintel training/clean');
  t.same(clean.entries.map((e) => e.id), ['alley_1/frame_0001', 'alley_1/frame_0002', 'bamboo_2/frame_0001']);
  const ps = await collect(clean);
  t.same(ps.map((p) => [p.img1.data[0], p.img2.data[0], p.flow!.u[0]]), [[11, 12, 11], [12, 13, 12], [51, 52, 51]]);
  t.same([...ps[1].valid!], [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'invalid mask of frame 2 inverted');
  t.same([...ps[1].occluded!].slice(0, 3), [1, 0, 0]);
  const final = await mpiSintel(join(base, 'training'), { pass: 'final', scenes: ['bamboo_2'], masks: false });
  t.equal(final.length, 1);
  const p = await final.load(0);
  t.same([p.img1.data[0], p.flow!.v[0], p.valid, p.occluded], [151, -51, undefined, undefined]);
  // linked scene folders and frames count like real ones
  const linked = join(root, 'linked', 'training');
  mkdirSync(join(linked, 'clean', 'alley_1'), { recursive: true });
  symlinkSync(join(base, 'training', 'clean', 'bamboo_2'), join(linked, 'clean', 'bamboo_2'));
  symlinkSync(join(base, 'training', 'clean', 'alley_1', 'frame_0001.png'), join(linked, 'clean', 'alley_1', 'frame_0001.png'));
  symlinkSync(join(base, 'training', 'clean', 'alley_1', 'frame_0002.png'), join(linked, 'clean', 'alley_1', 'frame_0002.png'));
  t.same((await mpiSintel(linked)).entries.map((e) => e.id), ['alley_1/frame_0001', 'bamboo_2/frame_0001']);
  t.equal(await detectDataset(base), 'sintel');
  t.equal((await openDataset(base, { pass: 'final' })).length, 3);
});

t.test('MPI-Sintel errors', async (t) => {
  const base = join(root, 'MPI-Sintel-complete');
  await t.rejects(mpiSintel(join(root, 'nope')), { name: 'UserError', message: /MPI-Sintel folder not found/ });
  await t.rejects(mpiSintel(root), { name: 'UserError', message: /no MPI-Sintel training\/ or clean\/ folder in/ });
  await t.rejects(mpiSintel(base, { scenes: ['market_9'] }), { message: /scene\(s\) not in .*: market_9/ });
  await t.rejects(mpiSintel(base, { split: 'test' }), { message: /no MPI-Sintel test\/ or clean\/ folder/ });
  unlinkSync(join(base, 'training', 'flow', 'bamboo_2', 'frame_0001.flo'));
  await t.rejects(mpiSintel(base), { message: /ground truth missing: .*bamboo_2.frame_0001\.flo/ });
  const lonely = join(root, 'lonely', 'training', 'clean', 'x');
  mkdirSync(lonely, { recursive: true });
  writeFileSync(join(lonely, 'frame_0001.png'), encodePng(frame(1)));
  await t.rejects(mpiSintel(join(root, 'lonely')), { message: /no MPI-Sintel pairs in/ });
});

t.test('image sequences and explicit pairs', async (t) => {
  const d = join(root, 'seq');
  mkdirSync(d);
  for (const [name, tag] of [['f10.png', 10], ['f9.png', 9], ['f11.ppm', 11]] as const) {
    writeFileSync(join(d, name), name.endsWith('.png') ? encodePng(frame(tag)) : encodePpm(frame(tag)));
  }
  writeFileSync(join(d, 'notes.txt'), 'x');
  const seq = await imageSequence(d);
  t.same(seq.entries.map((e) => e.id), ['f9', 'f10'], 'natural order: f9 < f10 < f11');
  t.same((await collect(seq)).map((p) => [p.img1.data[0], p.img2.data[0], p.flow]), [[9, 10, undefined], [10, 11, undefined]]);
  t.equal(await detectDataset(d), 'frames');
  const one = join(root, 'one');
  mkdirSync(one);
  writeFileSync(join(one, 'a.png'), encodePng(frame(1)));
  await t.rejects(imageSequence(one), { name: 'UserError', message: /no frame pairs in .*one \(1 image\)/ });
  await t.rejects(imageSequence(join(d, 'f9.png')), { message: /image folder is not a directory/ });
  const fp = await filePair(join(d, 'f9.png'), join(d, 'f10.png'));
  t.equal((await fp.load(0)).img2.data[0], 10);
  await t.rejects(filePair(join(d, 'f9.png'), join(d, 'f12.png')), { name: 'UserError', message: /image not found: .*f12\.png/ });
});
