import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { colorWheelLegend, computeColor, flowToColor, makeColorWheel, NCOLS, writeFlowPng } from '../src/flow/colorwheel.js';
import { createFlow } from '../src/flow/flo.js';
import { readImage } from '../src/flow/image.js';

const dir = mkdtempSync(join(tmpdir(), 'flow-cw-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const px = (u: number, v: number) => {
  const o = new Uint8Array(3);
  computeColor(u, v, o);
  return [...o];
};

t.test('wheel table: 55 colours RY15 YG6 GC4 CB11 BM13 MR6 with floored ramps', async (t) => {
  const w = makeColorWheel();
  t.equal(w.length, NCOLS * 3);
  const c = (k: number) => [...w.subarray(3 * k, 3 * k + 3)];
  t.same(c(0), [255, 0, 0]); // RY start
  t.same(c(1), [255, 17, 0]); // 255*1/15
  t.same(c(14), [255, 238, 0]); // 255*14/15
  t.same(c(15), [255, 255, 0]); // YG start
  t.same(c(16), [213, 255, 0]); // 255 - floor(255/6)=255-42
  t.same(c(21), [0, 255, 0]); // GC start
  t.same(c(22), [0, 255, 63]); // floor(255/4)
  t.same(c(25), [0, 255, 255]); // CB start
  t.same(c(27), [0, 209, 255]); // 255 - floor(510/11)=255-46
  t.same(c(36), [0, 0, 255]); // BM start
  t.same(c(40), [78, 0, 255]); // floor(1020/13)
  t.same(c(49), [255, 0, 255]); // MR start
  t.same(c(54), [255, 0, 43]); // 255 - floor(1275/6)=255-212
});

t.test('pixel colours at known angles (RGB order)', async (t) => {
  // a = atan2(-v,-u)/pi, fk = (a+1)/2*54. Right (u=1,v=+0): atan2(-0,-1) = -pi -> k 0, red.
  t.same(px(1, 0), [255, 0, 0]);
  // Left: a = -0 -> fk = 27 -> colour 27 exactly.
  t.same(px(-1, 0), [0, 209, 255]);
  // Down (v=1): a = -1/2 -> fk = 13.5, halfway between (255,221,0) and (255,238,0): G = 229.5 -> (int) 229.
  t.same(px(0, 1), [255, 229, 0]);
  // Up (v=-1): a = 1/2 -> fk = 40.5, halfway between R 78 and 98 = 88/255, but the C code's float steps
  // (1 - rad*(1 - col) at rad = 1) land just below 88/255 and (int) truncates to 87.
  t.same(px(0, -1), [87, 0, 255]);
  // Half radius towards red: col = 1 - 0.5*(1 - col): R 1 -> 255, G,B 0 -> 0.5 -> 127.
  t.same(px(0.5, 0), [255, 127, 127]);
  // Out of range (rad 2): colour * 0.75 -> 191.25 -> 191.
  t.same(px(2, 0), [191, 0, 0]);
  // Zero motion: white.
  t.same(px(0, 0), [255, 255, 255]);
});

t.test('flowToColor: max-radius normalisation, maxMotion, unknown pixels black', async (t) => {
  const f = createFlow(4, 1);
  f.u.set([4, 2, NaN, 0]);
  f.v.set([0, 0, 0, 2e9]);
  const r = flowToColor(f);
  t.equal(r.maxRadius, 4);
  t.same([...r.image.data], [255, 0, 0, 255, 127, 127, 0, 0, 0, 0, 0, 0]);
  // Unknown pixels (1e10 would win the max otherwise) do not enter the normalisation; maxMotion overrides it.
  const r2 = flowToColor(f, { maxMotion: 2 });
  t.equal(r2.maxRadius, 2);
  t.same([...r2.image.data.subarray(0, 6)], [191, 0, 0, 255, 0, 0]);
  // all-zero flow: radius 0 -> 1, white
  const z = flowToColor(createFlow(2, 1));
  t.equal(z.maxRadius, 1);
  t.same([...z.image.data], [255, 255, 255, 255, 255, 255]);
  t.throws(() => flowToColor(f, { maxMotion: -1 }), { name: 'UserError' });
  // written as an RGB PNG
  const p = join(dir, 'f.png');
  await writeFlowPng(p, f);
  t.same(Buffer.from((await readImage(p)).data), Buffer.from(r.image.data));
});

t.test('legend: centre white, right red, corners darkened', async (t) => {
  const L = colorWheelLegend(5);
  const at = (x: number, y: number) => [...L.data.subarray((y * 5 + x) * 3, (y * 5 + x) * 3 + 3)];
  t.same(at(2, 2), [255, 255, 255]);
  t.same(at(4, 2), [255, 0, 0]);
  t.same(at(0, 2), [0, 209, 255]);
  t.same(at(2, 4), [255, 229, 0]);
  t.ok(Math.max(...at(0, 0)) <= 191, 'outside the unit circle is scaled by 0.75');
  t.throws(() => colorWheelLegend(2), { name: 'UserError' });
});
