// Issue 13 items 2 and 9 through the CLI on a faulty virtual board (the emu's `corrupt` switch): a finding is never
// silent — summary line + exit 3 unless `--on-mismatch log` was chosen explicitly; `drop` writes and counts nothing
// of a failed pair and exits 4; `rerun` recomputes on the reference (outputs identical to --board ref), counted once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flownetsQ } from '../src/model/arch.js';
import { encodeModel } from '../src/model/format.js';
import { randomModel } from '../src/reference/index.js';
import { parseFault, startEmu } from '../src/emu/index.js';
import { runCli } from './helpers/cli.js';

execFileSync('make', ['-s', '-C', 'hw', 'emu'], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'ffrunv-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const model = randomModel(flownetsQ({ width: 1 / 16 }), 3);
model.name = 'tiny';
model.nativeSize = [64, 64];
const modelPath = join(dir, 'tiny.ffq');
writeFileSync(modelPath, encodeModel(model));

const board = await startEmu({ faults: parseFault('corrupt'), stderr: 'ignore' });
const prevDir = process.env.FLOWFPGA_EMU_DIR;
process.env.FLOWFPGA_EMU_DIR = board.info.dir;
t.teardown(async () => {
  if (prevDir === undefined) delete process.env.FLOWFPGA_EMU_DIR;
  else process.env.FLOWFPGA_EMU_DIR = prevDir;
  await board.stop();
});

const run = (name: string, ...extra: string[]) =>
  runCli(['run', '--board', 'emu', '--model', modelPath, '--out', join(dir, name), '--limit', '2', ...extra]);

t.test('default policy: mismatches → summary line on stderr and exit 3, outputs written', async (t) => {
  const r = await run('default');
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /^flowfpga: verification found \d+ mismatch\(es\) in 2 of 2 pair\(s\).*hint: --on-mismatch rerun/m);
  t.equal(readdirSync(join(dir, 'default')).filter((f) => f.endsWith('.flo')).length, 2);
});

t.test('explicit --on-mismatch log: reported, exit 0', async (t) => {
  const r = await run('log', '--on-mismatch', 'log');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /verification found .* kept as computed \(--on-mismatch log\)/);
});

t.test('drop: nothing written, nothing counted, exit 4', async (t) => {
  const r = await run('drop', '--on-mismatch', 'drop', '--json');
  t.equal(r.code, 4, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const sum = lines.at(-1);
  t.equal(sum.type, 'summary');
  t.equal(sum.pairs, 0);
  t.equal(sum.dropped, 2);
  t.equal(sum.epe, null, 'dropped pairs are not in the mean EPE');
  t.ok(lines.slice(0, -1).every((l) => l.type === 'frame' && l.verify.state === 'dropped' && l.files.length === 0));
  t.same(readdirSync(join(dir, 'drop')), [], 'no .flo / .png written');
  t.match(r.stderr, /2 pair\(s\) DROPPED \(not written, not counted\)/);
});

t.test('rerun: the engine keeps failing → the reference computes the pair; outputs equal --board ref; counted once', async (t) => {
  const r = await run('rerun', '--on-mismatch', 'rerun', '--json');
  t.equal(r.code, 3, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const sum = lines.at(-1);
  t.equal(sum.pairs, 2);
  t.equal(sum.recomputed, 2);
  t.equal(lines.length, 3, 'one line per pair, no duplicate for the re-run');
  t.ok(lines.slice(0, -1).every((l) => l.verify.state === 'recomputed'));
  t.ok(lines.slice(0, -1).every((l) => l.refine_net?.[0] === 128), 'the refinement pass ran on the faulty engine too (and was recomputed)');
  const ref = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'ref'), '--limit', '2', '--json']);
  t.equal(ref.code, 0, ref.stderr);
  const refSum = JSON.parse(ref.stdout.trim().split('\n').at(-1)!);
  t.equal(sum.epe, refSum.epe, 'mean EPE over 2 pairs, equal to the reference run');
  for (const f of ['00001.flo', '00002.flo', '00001.png']) {
    t.ok(readFileSync(join(dir, 'rerun', f)).equals(readFileSync(join(dir, 'ref', f))), `${f} identical to --board ref`);
  }
  t.notOk(existsSync(join(dir, 'rerun', '00003.flo')));
});

// A failing pass of a refined pair is recomputed on the model that ran it: the coarse-pass model's first pass, the
// refinement model's second; the outputs equal --board ref with the same models.
for (const [what, flag, name, seed, key] of [
  ['a coarse-pass model: the first', '--coarse-model', 'tiny-other', 7, 'coarse_model'],
  ['a refinement model: the second', '--refine-model', 'tiny-refine', 9, 'refine_model'],
] as const) {
  t.test(`rerun with ${what} pass is recomputed on that model; outputs equal --board ref`, async (t) => {
    const other = randomModel(flownetsQ({ width: 1 / 16 }), seed);
    other.name = name;
    other.nativeSize = [64, 64];
    const otherPath = join(dir, `${name}.ffq`);
    writeFileSync(otherPath, encodeModel(other));
    const r = await run(`rerun-${name}`, '--on-mismatch', 'rerun', '--json', flag, otherPath);
    t.equal(r.code, 3, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    t.equal(lines.at(-1).recomputed, 2);
    t.ok(lines.slice(0, -1).every((l) => l.verify.state === 'recomputed' && l[key] === name));
    const ref = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, `ref-${name}`), '--limit', '2', '--no-png', flag, otherPath]);
    t.equal(ref.code, 0, ref.stderr);
    for (const f of ['00001.flo', '00002.flo']) {
      t.ok(readFileSync(join(dir, `rerun-${name}`, f)).equals(readFileSync(join(dir, `ref-${name}`, f))), `${f} identical to --board ref`);
      t.notOk(readFileSync(join(dir, `rerun-${name}`, f)).equals(readFileSync(join(dir, 'ref', f))), `${f}: not the one-model flow`);
    }
  });
}
