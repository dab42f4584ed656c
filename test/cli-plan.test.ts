// `flowfpga plan` as the scheduler issue specifies it: a per-layer table, `--json` with {layers, total} and
// efficiency = roofline_ms / est_ms, architecture names with --bits/--size, shipped models at their native size,
// and one-line errors with hints.
import t from 'tap';
import { runCli } from './helpers/cli.js';

interface PlanJson {
  board: string;
  model: string;
  size: [number, number];
  layers: Array<{ name: string; macs: number; est_ms: number; roofline_ms: number; ddr_bytes: number; min_ddr_bytes: number }>;
  total: { est_ms: number; roofline_ms: number; efficiency: number; ddr_bytes: number; min_ddr_bytes: number; macs: number };
  pair?: import('../src/cli/commands/plan.js').PairCost;
}

t.test('--json: layers and totals that add up, for each hardware board', async (t) => {
  for (const board of ['pynq-z2', 'ultra96v2', 'zcu104']) {
    const r = await runCli(['plan', '--board', board, '--json']);
    t.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as PlanJson;
    t.equal(j.board, board);
    t.same(j.size, [384, 512]);
    t.equal(j.layers.length, 16, 'FlowNetS-Q: 14 convs, the flow head and the up4 output');
    const sum = (k: 'est_ms' | 'roofline_ms' | 'ddr_bytes' | 'min_ddr_bytes' | 'macs') => j.layers.reduce((s, l) => s + l[k], 0);
    t.equal(j.total.macs, 20_269_498_368, 'full-width FlowNetS-Q MACs at 384x512');
    t.equal(j.total.macs, sum('macs'));
    t.ok(Math.abs(j.total.est_ms - sum('est_ms')) < 1e-6 * j.total.est_ms);
    t.ok(Math.abs(j.total.roofline_ms - sum('roofline_ms')) < 1e-6 * j.total.roofline_ms);
    t.equal(j.total.ddr_bytes, sum('ddr_bytes'));
    t.equal(j.total.min_ddr_bytes, sum('min_ddr_bytes'));
    t.ok(Math.abs(j.total.efficiency - j.total.roofline_ms / j.total.est_ms) < 1e-12, 'efficiency = roofline / estimate');
    // The goals for this model and size (docs/hardware.md §5).
    t.ok(j.total.efficiency >= 0.85, `${board}: efficiency ${j.total.efficiency.toFixed(3)}`);
    t.ok(j.total.ddr_bytes <= 1.5 * j.total.min_ddr_bytes, `${board}: DDR ${(j.total.ddr_bytes / j.total.min_ddr_bytes).toFixed(3)}x`);
  }
});

t.test('table: one row per layer, a total row and the summary line', async (t) => {
  const r = await runCli(['plan', '--board', 'ultra96v2', '--model', 'flownets-q-convup', '--bits', '6', '--size', '192x256']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^flownets-q-convup at 192x256 on ultra96v2: Tm=64 Tn=6 /);
  for (const name of ['conv1', 'conv6_1', 'deconv2', 'predict_flow2', 'output', 'total']) t.match(r.stdout, new RegExp(`^${name}\\s`, 'm'));
  t.match(r.stdout, /estimated \d+\.\d ms\/frame \(\d+\.\d\d fps\), roofline \d+\.\d ms, efficiency \d\.\d{3}; DDR \d+\.\d MB = \d\.\d\dx/);
});

t.test('a shipped model plans at its native size', async (t) => {
  const r = await runCli(['plan', '--board', 'pynq-z2', '--model', 'flownets-q-w0.25-8bit', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as PlanJson;
  t.same(j.size, [192, 256]);
  t.ok(j.total.macs < 20_269_498_368 / 50, 'width 0.25 at a quarter of the pixels');
  // The pair under run/eval's defaults: coarse partner first, then two passes of the refinement partner at 384x512.
  const p = j.pair!;
  t.match(p, { first: { model: 'flownets-q-w0.25-8bit-coarse', size: [192, 256] }, refine: { model: 'flownets-q-w0.25-8bit-refine', size: [384, 512], passes: 2 } });
  t.equal(p.first.est_ms, j.total.est_ms, 'the coarse partner has the model\'s layers: the same cost');
  const big = JSON.parse((await runCli(['plan', '--board', 'pynq-z2', '--model', 'flownets-q-w0.25-8bit', '--size', '384x512', '--json'])).stdout) as PlanJson;
  t.equal(big.pair, undefined, '--size plans one pass');
  t.equal(p.refine.est_ms, big.total.est_ms, 'a refinement pass costs a 384x512 pass');
  t.equal(p.est_ms, p.first.est_ms + 2 * p.refine.est_ms);
  t.equal(p.one_refine_ms, p.first.est_ms + p.refine.est_ms);
  t.equal(p.off_ms, j.total.est_ms);
  const partner = JSON.parse((await runCli(['plan', '--board', 'pynq-z2', '--model', 'flownets-q-w0.25-8bit-refine', '--json'])).stdout) as PlanJson;
  t.equal(partner.pair, undefined, 'a partner file has no pair of its own');
  const six = JSON.parse((await runCli(['plan', '--board', 'zcu104', '--model', 'flownets-q-w0.25-6bit', '--json'])).stdout) as PlanJson;
  t.match(six.pair, { first: { model: 'flownets-q-w0.25-6bit-coarse' }, refine: { model: 'flownets-q-w0.25-8bit-refine', passes: 2 } }, 'the partner its meta.refine_model names');
  const text = await runCli(['plan', '--board', 'pynq-z2', '--model', 'flownets-q-w0.25-8bit']);
  t.match(text.stdout, /^a pair under run\/eval defaults: first pass \d+\.\d ms \(flownets-q-w0\.25-8bit-coarse at 192x256\) \+ 2 x \d+\.\d ms \(flownets-q-w0\.25-8bit-refine at 384x512\) = \d+\.\d ms \(\d+\.\d\d pairs\/s\); --refine-passes 1: \d+\.\d ms, --refine off: \d+\.\d ms$/m);
});

t.test('user errors: one line with a hint, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['plan', '--board', 'nope'], /unknown board 'nope' \(hint: valid boards: pynq-z2, ultra96v2, zcu104, emu\)/],
    [['plan', '--board', 'pynq-z2', '--size', '100x100'], /not a positive multiple of 64/],
    [['plan', '--board', 'pynq-z2', '--bits', '9'], /--bits/],
    [['plan', '--board', 'pynq-z2', '--model', 'flownets-q-w0.25-8bit', '--bits', '6'], /--bits applies to architecture names only \(hint: /],
  ];
  for (const [args, msg] of cases) {
    const r = await runCli(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.equal(r.stdout, '');
  }
});
