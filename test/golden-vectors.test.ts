import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import {
  checkGoldenCase, parseGolden, generateGolden, goldenLayout, GOLDEN_DEFAULT_SEED,
} from '../src/reference/golden.js';
import type { GoldenCase } from '../src/reference/golden.js';
import { naiveAccumulators, naiveConv, naiveUpsample } from '../src/reference/naive.js';

const DIR = new URL('./golden/', import.meta.url);
const FILES = ['conv.gv', 'upconv.gv', 'flow.gv', 'up2.gv', 'up4.gv'];
const committed = new Map(FILES.map((f) => [f, readFileSync(new URL(f, DIR), 'utf8')]));
const parsed = new Map([...committed].map(([f, text]) => [f, parseGolden(text, f).cases]));

t.test('flowfpga golden regenerates the committed files byte for byte', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await main(['node', 'flowfpga', 'golden', '--out', dir, '--seed', String(GOLDEN_DEFAULT_SEED)]);
  } finally {
    process.stdout.write = write;
  }
  t.same(readdirSync(dir).sort(), [...FILES].sort());
  for (const f of FILES) t.ok(readFileSync(join(dir, f), 'utf8') === committed.get(f), `${f} identical`);
  const total = [...committed.values()].reduce((s, x) => s + x.length, 0);
  t.ok(total < 2_000_000, `total ${total} bytes`);
  t.not(generateGolden(2)[0].text, committed.get('conv.gv'), 'another seed gives other vectors');
});

/** The naive oracle's answer for a case, independent of the fast reference that generated the file. */
function oracle(c: GoldenCase): number[] {
  const p = c.params;
  const input = c.tensors.input.data;
  if (c.op === 'up2') return naiveUpsample(2, input, p.c, p.h, p.w);
  if (c.op === 'up4') return naiveUpsample(4, input, p.c, p.h, p.w);
  const up = c.op === 'upconv';
  const r = naiveConv({
    input: up ? naiveUpsample(2, input, p.cin, p.h, p.w) : input, cin: p.cin, h: up ? 2 * p.h : p.h, w: up ? 2 * p.w : p.w,
    cout: p.cout, k: p.k, stride: p.stride, weights: c.tensors.weights.data, mult: c.tensors.mult.data,
    shift: c.tensors.shift.data, bias: c.tensors.bias.data, mode: p.mode === 1 ? 'linear' : 'relu', bits: p.bits_out,
  });
  const out = Array.from(c.tensors.out_init.data);
  const plane = r.ho * r.wo;
  for (let i = 0; i < r.out.length; i++) out[p.out_c_offset * plane + i] = r.out[i];
  return out;
}

t.test('every committed case agrees with the reference and with the naive oracle', async (t) => {
  for (const [f, cases] of parsed) {
    let bad = 0;
    for (const c of cases) {
      const chk = checkGoldenCase(c);
      if (!chk.ok) t.fail(`${f} ${c.id}: ${chk.mismatches} mismatches, ${chk.first}`);
      const want = oracle(c);
      if (want.some((v, i) => v !== c.tensors.out.data[i])) {
        bad++;
        t.fail(`${f} ${c.id} disagrees with the naive oracle`);
      }
    }
    t.equal(bad, 0, `${f}: ${cases.length} cases`);
  }
});

t.test('the committed set covers what docs/golden-vectors.md promises', async (t) => {
  const convLike = [...parsed.get('conv.gv')!, ...parsed.get('upconv.gv')!, ...parsed.get('flow.gv')!];
  const conv = parsed.get('conv.gv')!;
  const set = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
  t.same(set(conv.map((c) => c.params.k)), [1, 3, 5, 7]);
  t.same(set(conv.map((c) => c.params.stride)), [1, 2]);
  t.ok(conv.some((c) => c.params.h === 1 && c.params.w === 1), '1x1 input');
  t.ok(conv.some((c) => c.params.h % 2 === 1 && c.params.w % 2 === 1 && c.params.h > 1), 'odd sizes');
  const range = [2, 3, 4, 5, 6, 7, 8];
  for (const key of ['bits_in', 'bits_w', 'bits_out']) t.same(set(conv.map((c) => c.params[key])), range, key);
  for (const f of ['upconv.gv', 'flow.gv']) {
    t.same(set(parsed.get(f)!.map((c) => c.params.bits_in)), range, `${f} bits_in`);
  }
  t.same(set(parsed.get('up2.gv')!.map((c) => c.params.bits)), range, 'up2 bits');
  const shifts = (cs: GoldenCase[]) => set(cs.flatMap((c) => Array.from(c.tensors.shift.data)));
  t.same(shifts(conv), Array.from({ length: 51 }, (_, i) => i), 'conv shifts 0..50');
  t.same(shifts(parsed.get('flow.gv')!), Array.from({ length: 51 }, (_, i) => i), 'flow shifts 0..50');
  t.ok(convLike.some((c) => c.tensors.mult.data.some((m) => m < 0)) && convLike.some((c) => c.tensors.mult.data.some((m) => m > 0)));
  t.ok(convLike.some((c) => c.params.out_c_total > c.params.cout && c.params.out_c_offset > 0), 'channel offsets');
  t.ok(parsed.get('upconv.gv')!.some((c) => c.params.out_c_total > c.params.cout), 'upconv into a concatenation');
  // The accumulator limit of the contract is reached (within 0.1%) in both signs.
  let lo = 0;
  let hi = 0;
  for (const c of conv) {
    const p = c.params;
    const { acc } = naiveAccumulators({ input: c.tensors.input.data, cin: p.cin, h: p.h, w: p.w, cout: p.cout, k: p.k,
      stride: p.stride, weights: c.tensors.weights.data, mult: [], shift: [], bias: [], mode: 'relu', bits: 8 });
    for (const v of acc) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  t.ok(lo <= -0.999 * 2 ** 31 && hi >= 0.99 * 2 ** 31, `acc range ${lo}..${hi}`);
  const biases = convLike.flatMap((c) => Array.from(c.tensors.bias.data));
  t.ok(biases.includes(2 ** 50) && biases.includes(-(2 ** 50)), '|B| = 2^50 both ways');
  const flowOut = parsed.get('flow.gv')!.flatMap((c) => Array.from(c.tensors.out.data));
  t.ok(flowOut.includes(32767) && flowOut.includes(-32768), 'flow clamps both ways');
});

t.test('the parser rejects malformed files with the line number', async (t) => {
  const good = committed.get('up2.gv')!;
  t.throws(() => parseGolden('flowfpga-gold 1 1\n'), /not a golden file/);
  t.throws(() => parseGolden('flowfpga-golden 2 1\n'), /format version 2/);
  t.throws(() => parseGolden('flowfpga-golden 1 9\n'), /contract version 9/);
  const lines = good.split('\n');
  const ti = lines.findIndex((l) => l.startsWith('tensor input'));
  const mutate = (fn: (l: string) => string) => lines.map((l, i) => (i === ti ? fn(l) : l)).join('\n');
  t.throws(() => parseGolden(mutate((l) => l + ' 1')), /values, count says/);
  t.throws(() => parseGolden(mutate((l) => l.replace(/ \d+$/, ' 256'))), /outside u8/);
  t.throws(() => parseGolden(mutate((l) => l.replace(/ \d+$/, ' x'))), new RegExp(`:${ti + 1}: .*not an integer`));
  t.throws(() => parseGolden(good.replace(/\nend\n$/, '\n')), /missing 'end'/);
  t.throws(() => parseGolden(good.replace('\nbits ', '\nbitz ')), /parameters/);
  t.throws(() => parseGolden(good.replace(/tensor out u8 (\d+)/, 'tensor out i16 $1')), /must be u8/);
  t.same(goldenLayout('up4', { c: 1, h: 2, w: 3 }), [['input', 'i16', 6], ['out', 'i16', 96]]);
  const one = parseGolden(good).cases[0];
  t.ok(one.tensors.input.data instanceof Uint8Array);
});
