// flowToColorPreview (the live page's colour wheel, colorwheel.ts "display path"): within 2 levels of the byte-exact
// flowToColor everywhere, exact where the Middlebury colour jumps (the unit circle, the +x axis, ±0) and for unknown
// flow, with the same normalisation.
import t from 'tap';
import { createFlow } from '../src/flow/index.js';
import { flowToColor, flowToColorPreview, PREVIEW_N } from '../src/flow/colorwheel.js';
import { Prng } from '../src/reference/prng.js';

/** Largest and mean absolute byte difference, and the number of differing bytes. */
function compare(a: Uint8Array, b: Uint8Array): { max: number; mean: number; diff: number } {
  let max = 0, sum = 0, diff = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
    if (d) diff++;
  }
  return { max, mean: sum / a.length, diff };
}

t.test('dense random vectors inside and beyond the unit circle: at most 2 levels off, 0.2 on average', async (t) => {
  const r = new Prng(11);
  const n = 200_000;
  const f = createFlow(n, 1);
  for (let i = 0; i < n; i++) {
    const rad = Math.sqrt(r.int(0, 1 << 20) / (1 << 20)) * 12;
    const a = (r.int(0, 1 << 20) / (1 << 20)) * 2 * Math.PI;
    f.u[i] = rad * Math.cos(a);
    f.v[i] = rad * Math.sin(a);
  }
  for (const maxMotion of [0, 6]) {
    const exact = flowToColor(f, { maxMotion });
    const prev = flowToColorPreview(f, { maxMotion });
    t.equal(prev.maxRadius, exact.maxRadius, 'the same normalisation');
    const c = compare(exact.image.data, prev.image.data);
    t.ok(c.max <= 2, `max ${c.max} levels (maxMotion ${maxMotion})`);
    t.ok(c.mean < 0.2, `mean ${c.mean.toFixed(3)}`);
    t.ok(c.diff > 0, 'the table is an approximation (this test would notice the exact path everywhere)');
  }
});

t.test('where the colour jumps the display path is exact: unit circle, +x axis with ±0, unknown, zero flow', async (t) => {
  const cases: Array<[number, number]> = [];
  for (let k = 0; k < 2000; k++) {
    const a = (k / 2000) * 2 * Math.PI;
    for (const rad of [1 - 1e-7, 1, 1 + 1e-7, 1 - 3 / PREVIEW_N, 0.9999]) cases.push([10 * rad * Math.cos(a), 10 * rad * Math.sin(a)]);
  }
  for (let x = 0.01; x < 10; x += 0.01) cases.push([x, 0], [x, -0], [x, 1e-9], [x, -1e-9]);
  cases.push([NaN, 1], [2e9, 0], [0, 0], [10, 0]); // [10, 0] fixes maxrad = 10
  const f = createFlow(cases.length, 1);
  cases.forEach(([u, v], i) => ((f.u[i] = u), (f.v[i] = v)));
  const c = compare(flowToColor(f, { maxMotion: 10 }).image.data, flowToColorPreview(f, { maxMotion: 10 }).image.data);
  t.ok(c.max <= 2, `max ${c.max}`);
  const sign = createFlow(2, 1);
  sign.u.set([5, 5]);
  sign.v.set([0, -0]);
  t.same(flowToColorPreview(sign).image.data, flowToColor(sign).image.data, '+0 and -0 pick the two ends of the wheel, as in the C code');
  t.notSame(Array.from(flowToColor(sign).image.data.subarray(0, 3)), Array.from(flowToColor(sign).image.data.subarray(3, 6)));
  const unk = createFlow(3, 1);
  unk.u.set([NaN, 2e9, 0]);
  t.same(Array.from(flowToColorPreview(unk).image.data), [0, 0, 0, 0, 0, 0, 255, 255, 255], 'unknown black, zero flow white');
  t.throws(() => flowToColorPreview(unk, { maxMotion: -1 }), { name: 'UserError' });
});

t.test('into: the same bytes written into a reused image, for both wheels; a wrong size is refused', async (t) => {
  const r = new Prng(5);
  const f = createFlow(37, 11); // 407 pixels: the four-pixel words and the byte tail
  for (let i = 0; i < f.u.length; i++) ((f.u[i] = r.int(-400, 400) / 40), (f.v[i] = r.int(-400, 400) / 40));
  f.u[3] = NaN;
  const into = { width: 37, height: 11, data: new Uint8Array(3 * 407).fill(7) };
  for (const wheel of [flowToColorPreview, flowToColor]) {
    const fresh = wheel(f);
    const reused = wheel(f, { into });
    t.equal(reused.image, into, 'the given image is returned');
    t.same(Buffer.compare(Buffer.from(reused.image.data), Buffer.from(fresh.image.data)), 0, `${wheel.name}: every byte written`);
    t.equal(reused.maxRadius, fresh.maxRadius);
    into.data.fill(7);
  }
  t.throws(() => flowToColorPreview(f, { into: { width: 11, height: 37, data: new Uint8Array(3 * 407) } }), /colour image is 11x37, the flow 37x11/);
});
