import t from 'tap';
import { flownetsQ, totalMacs, flownetsOriginal, layerShapes } from '../src/model/arch.js';

t.test('FlowNetS-Q MACs at 384x512 match the reference counts', async (t) => {
  t.equal(totalMacs(flownetsQ(), 384, 512), 20_269_498_368);
  t.equal(totalMacs(flownetsQ({ decoder: 'conv-upsample' }), 384, 512), 14_154_203_136);
  const enc = layerShapes(flownetsQ(), 384, 512).filter((l) => l.layer.op === 'conv');
  t.equal(enc.reduce((s, l) => s + l.macs, 0), 12_073_304_064);
});

t.test('original FlowNetS MACs and params', async (t) => {
  const o = flownetsOriginal(384, 512);
  t.equal(o.reduce((s, l) => s + l.macs, 0), 15_787_782_912);
  t.equal(o.reduce((s, l) => s + l.params, 0), 38_676_506);
});

t.test('concat partners share bits and sizes must be multiples of 64', async (t) => {
  const a = flownetsQ({ bits: { w: 5, a: 5, layers: { conv2: { a: 8 } } } });
  t.equal(a.layers.find((l) => l.name === 'deconv2')!.bits, 8);
  t.throws(() => layerShapes(a, 100, 128), /multiple of 64/);
  const w = flownetsQ({ width: 0.25 });
  t.same(w.layers.map((l) => l.cout).slice(0, 3), [16, 32, 64]);
  t.equal(w.layers.find((l) => l.name === 'predict_flow2')!.cin, 32 + 16);
});
