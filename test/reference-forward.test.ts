import t from 'tap';
import { flownetsQ } from '../src/model/arch.js';
import { UserError } from '../src/errors.js';
import {
  forward, naiveForward, randomModel, randomFrames, layerTile, runLayer, layerOutSize, foldRequant, Prng,
} from '../src/reference/index.js';

for (const decoder of ['upsample-conv', 'conv-upsample'] as const) {
  t.test(`forward on a width-1/16 ${decoder} model at 64x64 matches the naive oracle, is deterministic and lively`, async (t) => {
    const arch = flownetsQ({ width: 1 / 16, decoder, bits: { w: 6, a: 5, layers: { conv1: { a: 8 }, deconv3: { a: 7 } } } });
    const model = randomModel(arch, 42);
    const frames = randomFrames(64, 64, 1);
    const seen: string[] = [];
    const r = forward(model, frames, 64, 64, { keepLayers: true, onLayer: (o) => seen.push(o.name) });
    t.same(seen, [...arch.layers.map((l) => l.name), 'output']);
    t.equal(r.flow.length, 2 * 64 * 64);
    const naive = naiveForward(model, frames, 64, 64);
    t.same(Array.from(r.flow), naive.flow, 'flow equals the naive oracle');
    for (const l of r.layers!) {
      if (l.name === 'output') continue;
      t.same(Array.from(l.data), naive.layers.get(l.name), `${l.name} equals the naive oracle`);
      if (l.bits === 16) continue;
      // Random requantization keeps every layer alive: neither (almost) all zero nor all saturated.
      const max = 2 ** l.bits - 1;
      let zeros = 0;
      let sat = 0;
      for (const v of l.data) {
        if (v === 0) zeros++;
        if (v === max) sat++;
      }
      t.ok(zeros < 0.6 * l.data.length && sat < 0.6 * l.data.length, `${l.name}: ${zeros} zero, ${sat} saturated of ${l.data.length}`);
    }
    const again = forward(randomModel(arch, 42), frames, 64, 64);
    t.same(again.flow, r.flow, 'same seed, same model and flow');
    t.notSame(forward(randomModel(arch, 43), frames, 64, 64).flow, r.flow, 'another seed differs');
    t.ok(r.flow.some((v) => v !== r.flow[0]), 'flow is not constant');
  });
}

t.test('upconv layer tiles (both decoder orders) equal the whole layer', async (t) => {
  const rng = new Prng(8);
  for (const decoder of ['upsample-conv', 'conv-upsample'] as const) {
    const arch = flownetsQ({ width: 1 / 16, decoder, bits: 6 });
    const model = randomModel(arch, 1);
    const li = arch.layers.findIndex((l) => l.name === 'deconv3');
    const layer = arch.layers[li];
    const [h, w] = [5, 7];
    const input = rng.fillInt(new Uint8Array(layer.cin * h * w), 0, 63);
    const [ho, wo] = layerOutSize(layer, decoder, h, w);
    t.same([ho, wo], [10, 14]);
    const whole = runLayer(layer, model.params[li], decoder, input, h, w) as Uint8Array;
    for (let i = 0; i < 25; i++) {
      const y0 = i === 0 ? 0 : rng.int(0, ho - 1);
      const y1 = i === 0 ? ho : rng.int(y0 + 1, ho);
      const x0 = i === 1 ? wo - 1 : rng.int(0, wo - 1);
      const x1 = i === 1 ? wo : rng.int(x0 + 1, wo);
      const m0 = rng.int(0, layer.cout - 1);
      const m1 = rng.int(m0 + 1, layer.cout);
      const out = new Uint8Array((layer.cout + 2) * ho * wo).fill(200);
      layerTile(layer, model.params[li], decoder, input, h, w, { y0, y1, x0, x1, m0, m1 }, out, { channelsTotal: layer.cout + 2, channelOffset: 1 });
      let bad = 0;
      for (let m = 0; m < layer.cout; m++) {
        for (let y = 0; y < ho; y++) {
          for (let x = 0; x < wo; x++) {
            const inside = m >= m0 && m < m1 && y >= y0 && y < y1 && x >= x0 && x < x1;
            if (out[((m + 1) * ho + y) * wo + x] !== (inside ? whole[(m * ho + y) * wo + x] : 200)) bad++;
          }
        }
      }
      t.equal(bad, 0, `${decoder} tile ${y0}..${y1} x ${x0}..${x1} ch ${m0}..${m1}`);
    }
  }
});

t.test('forward rejects bad sizes and frames with a UserError', async (t) => {
  const model = randomModel(flownetsQ({ width: 1 / 16 }), 1);
  t.throws(() => forward(model, new Uint8Array(6 * 64 * 96), 64, 96), UserError);
  t.throws(() => forward(model, new Uint8Array(6 * 64 * 64 - 1), 64, 64), /frames hold/);
  t.throws(() => forward({ ...model, params: model.params.slice(1) }, new Uint8Array(6 * 64 * 64), 64, 64), /parameter blocks/);
});

t.test('foldRequant follows contract section 4', async (t) => {
  const f = foldRequant(0.001, 3.25);
  t.ok(Math.abs(f.mult) <= 32767 && Math.abs(f.mult) > 16383, 'M uses the full int16 range');
  t.equal(f.bias, Math.round(3.25 * 2 ** f.shift) + 2 ** (f.shift - 1));
  // (acc·M + B) >> S ≈ ⌊acc·r + o + ½⌋
  for (const acc of [0, 1000, -1000, 123456]) {
    t.equal(Math.floor((acc * f.mult + f.bias) / 2 ** f.shift), Math.floor(acc * 0.001 + 3.25 + 0.5));
  }
  t.throws(() => foldRequant(1e6, 0), /no shift/);
});
