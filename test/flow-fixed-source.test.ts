// flowFromFixedToSource (netinput.ts): the engine's int16 codes → flow at the frames' resolution in one pass, against
// the two-step path it replaces, flowToSource(flowFromFixed(...)), bit for bit (float32 bits, the sign of zero
// included) for every mapping mode, odd sizes, all fractional bit counts and an offset into the codes.
import t from 'tap';
import { flowFromFixed, type FlowField } from '../src/flow/flo.js';
import { flowFromFixedToSource, flowToSource, planInput, sourceFlowSize, type FitMode, type InputMapping } from '../src/flow/netinput.js';
import { Prng } from '../src/reference/prng.js';

function codesFor(w: number, h: number, seed: number, offset = 0): Int16Array {
  const r = new Prng(seed);
  const c = new Int16Array(offset + 2 * w * h + 3);
  for (let i = 0; i < c.length; i++) c[i] = r.int(-32768, 32767);
  // the extremes and zero, and a smooth stretch (what the engine outputs) in the middle
  c[offset] = -32768;
  c[offset + 1] = 32767;
  c[offset + 2] = 0;
  for (let i = Math.floor(w * h / 2); i < w * h; i++) c[offset + i] = c[offset + w * h + i] = (i % 97) - 48;
  return c;
}

const bits = (f: FlowField): Buffer => Buffer.concat([Buffer.from(f.u.buffer, f.u.byteOffset, 4 * f.width * f.height), Buffer.from(f.v.buffer, f.v.byteOffset, 4 * f.width * f.height)]);

t.test('one pass equals flowToSource(flowFromFixed()) bit for bit: every mode, odd sizes, every fracBits', async (t) => {
  // [frame width, height, network width, height]: the same size, up- and downscaling, odd sizes either way
  const sizes: Array<[number, number, number, number]> = [
    [16, 8, 16, 8], [13, 7, 13, 7], [37, 23, 16, 8], [9, 5, 16, 8], [640, 480, 512, 384], [41, 29, 24, 40], [7, 3, 5, 11],
    [100, 70, 128, 64], [1, 1, 3, 2], [3, 2, 1, 1],
  ];
  let cases = 0;
  for (const [sw, sh, nw, nh] of sizes) {
    for (const mode of ['resize', 'pad', 'crop'] as FitMode[]) {
      let map: InputMapping;
      try {
        map = planInput(sw, sh, { mode, width: nw, height: nh, multiple: 1 });
      } catch {
        continue; // pad to a smaller / crop to a larger network: not a mapping
      }
      for (const fracBits of [0, 5, 15]) {
        const offset = (sw + fracBits) % 5;
        const codes = codesFor(nw, nh, sw * 31 + nh + fracBits, offset);
        const old = flowToSource(flowFromFixed(codes, nw, nh, fracBits, offset), map);
        const fused = flowFromFixedToSource(codes, nw, nh, fracBits, map, { offset });
        const label = `${mode} ${sw}x${sh} -> ${nw}x${nh}, ${fracBits} bits`;
        t.same([fused.width, fused.height], [old.width, old.height], label);
        t.same([fused.width, fused.height], [sourceFlowSize(map).width, sourceFlowSize(map).height]);
        t.ok(bits(fused).equals(bits(old)), label);
        // into caller-owned planes: the same values, the same object back
        const out = { width: fused.width, height: fused.height, u: new Float32Array(fused.u.length).fill(NaN), v: new Float32Array(fused.v.length).fill(NaN) };
        t.equal(flowFromFixedToSource(codes, nw, nh, fracBits, map, { offset, out }), out);
        t.ok(bits(out).equals(bits(old)), `${label}, into given planes`);
        cases++;
      }
    }
  }
  t.ok(cases >= 55, `${cases} cases (sizes × modes that exist × fracBits)`);
});

t.test('the network-size case is the network flow (identity, crop); errors as the two-step path', async (t) => {
  const codes = Int16Array.from([32, -64, 1, 0, 16, 8, -1, 0]);
  const map = planInput(2, 2, { width: 2, height: 2, multiple: 1 });
  const f = flowFromFixedToSource(codes, 2, 2, 5, map);
  t.same([...f.u], [1, -2, 1 / 32, 0]);
  t.same([...f.v], [0.5, 0.25, -1 / 32, 0]);
  t.throws(() => flowFromFixedToSource(codes, 2, 2, 16, map), { name: 'UserError', message: /flow_frac_bits 16/ });
  t.throws(() => flowFromFixedToSource(codes, 3, 2, 5, map), /need 2x2x3 = 12/);
  t.throws(() => flowFromFixedToSource(codes, 2, 2, 5, map, { offset: 1 }), /need 2x2x2 = 8/);
  t.throws(() => flowFromFixedToSource(codes, 1, 2, 5, map), /flow is 1x2, mapping expects the network size 2x2/);
  t.throws(() => flowFromFixedToSource(codes, 2, 2, 5, map, { out: { width: 2, height: 1, u: new Float32Array(2), v: new Float32Array(2) } }),
    /output flow is 2x1, the mapping gives 2x2/);
});

t.test('flowFromFixed: the unrolled scaling covers every length', async (t) => {
  for (const n of [1, 7, 8, 9, 15, 16, 17, 63]) {
    const codes = codesFor(n, 1, n);
    const f = flowFromFixed(codes, n, 1, 3);
    for (let i = 0; i < n; i++) {
      if (f.u[i] !== codes[i] / 8 || f.v[i] !== codes[n + i] / 8) t.fail(`n ${n}, pixel ${i}`);
    }
  }
  t.pass('all values code / 8');
});
