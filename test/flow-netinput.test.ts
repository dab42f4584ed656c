import t from 'tap';
import { createFlow } from '../src/flow/flo.js';
import { createImage } from '../src/flow/image.js';
import {
  cropFlow, cropImage, cropPlane, fitImage, flowToSource, planInput, prepareInput, resizeFlow, resizeImage, stackPair, taps,
} from '../src/flow/netinput.js';

function img(w: number, h: number, f: (x: number, y: number, c: number) => number) {
  const im = createImage(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) im.data[(y * w + x) * 3 + c] = f(x, y, c);
  return im;
}

t.test('stackPair: planar R1 G1 B1 R2 G2 B2', async (t) => {
  const a = img(2, 1, (x, _y, c) => 10 * c + x);
  const b = img(2, 1, (x, _y, c) => 100 + 10 * c + x);
  t.same([...stackPair(a, b)], [0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
  t.throws(() => stackPair(a, createImage(1, 1)), { name: 'UserError', message: /frames differ in size: 2x1 vs 1x1/ });
});

t.test('planInput: sizes per mode (Sintel 1024x436, Chairs 512x384)', async (t) => {
  const r = planInput(1024, 436);
  t.same([r.mode, r.netWidth, r.netHeight], ['resize', 1024, 448]);
  const p = planInput(1024, 436, { mode: 'pad' });
  t.same([p.netWidth, p.netHeight, p.offsetX, p.offsetY], [1024, 448, 0, 6]);
  t.same(p.window, { x0: 0, y0: 0, width: 1024, height: 436 });
  const c = planInput(1024, 436, { mode: 'crop' });
  t.same([c.netWidth, c.netHeight], [1024, 384]);
  t.same(c.window, { x0: 0, y0: 26, width: 1024, height: 384 }, 'flownet2 StaticCenterCrop: (436-384)//2 = 26');
  t.same([planInput(512, 384).netWidth, planInput(512, 384).netHeight], [512, 384]);
  t.same([planInput(20, 10).netWidth, planInput(20, 10).netHeight], [64, 64]);
  t.same([planInput(640, 480, { width: 512, height: 384 }).netWidth], [512]);
  t.throws(() => planInput(640, 480, { width: 500 }), { name: 'UserError', message: /width 500 is not a positive multiple of 64/ });
  t.throws(() => planInput(40, 100, { mode: 'crop' }), { name: 'UserError', message: /smaller than 64/ });
  t.throws(() => planInput(100, 100, { mode: 'pad', width: 64 }), { message: /cannot pad 100x100 to smaller/ });
  t.throws(() => planInput(100, 100, { mode: 'crop', width: 128 }), { message: /cannot crop 100x100 to larger/ });
  t.throws(() => planInput(100, 100, { mode: 'zoom' as never }), { message: /unknown fit mode "zoom"/ });
});

t.test('bilinear resize: half-pixel centres, edge clamp, round half up', async (t) => {
  const row = img(2, 1, (x) => [0, 100][x]);
  // up x2: source coords -0.25 (clamped to 0), 0.25, 0.75, 1.25 (tap clamped)
  t.same([...resizeImage(row, 4, 1).data].filter((_, i) => i % 3 === 0), [0, 25, 75, 100]);
  const r4 = img(4, 1, (x) => [0, 10, 20, 31][x]);
  // down x2: source coords 0.5 and 2.5 -> 5 and 25.5 -> 26 (half up)
  t.same([...resizeImage(r4, 2, 1).data].filter((_, i) => i % 3 === 0), [5, 26]);
  // vertical uses the same rule
  const col = img(1, 2, (_x, y) => [0, 100][y]);
  t.same([...resizeImage(col, 1, 4).data].filter((_, i) => i % 3 === 1), [0, 25, 75, 100]);
});

t.test('resize mode: frames scaled to the net, flow scaled back in size and magnitude', async (t) => {
  const a = img(100, 50, (x, y) => (x + y) & 255);
  const n = prepareInput(a, a);
  t.same([n.width, n.height, n.data.length], [128, 64, 6 * 128 * 64]);
  // constant net flow (4, 2) at 128x64 back to 100x50: u * 100/128, v * 50/64
  const f = createFlow(128, 64);
  f.u.fill(4);
  f.v.fill(2);
  const back = flowToSource(f, n.mapping);
  t.same([back.width, back.height], [100, 50]);
  t.ok(back.u.every((x) => Math.abs(x - 3.125) < 1e-6) && back.v.every((x) => Math.abs(x - 1.5625) < 1e-6));
  // identity when the frame already fits
  const same = planInput(128, 64);
  t.equal(flowToSource(f, same), f);
  t.equal(fitImage(createImage(128, 64), same).width, 128);
  t.throws(() => fitImage(createImage(10, 10), same), { name: 'UserError', message: /frame is 10x10, expected 128x64/ });
  t.throws(() => flowToSource(createFlow(3, 3), same), /mapping expects the network size 128x64/);
  // a linear ramp stays linear in the interior (bilinear is exact on linear functions)
  const ramp = createFlow(8, 1);
  for (let x = 0; x < 8; x++) ramp.u[x] = x;
  const half = resizeFlow(ramp, 4, 1, false);
  t.same([...half.u], [0.5, 2.5, 4.5, 6.5]);
  t.same([...resizeFlow(ramp, 4, 1).u], [0.25, 1.25, 2.25, 3.25]);
});

t.test('resizeFlow equals the direct bilinear formula bit for bit, up, down and mixed', async (t) => {
  // The separable implementation reuses horizontally resized rows; every value must still be the direct formula's.
  const direct = (s: Float32Array, sw: number, sh: number, dw: number, dh: number, gain: number): Float32Array => {
    const tx = taps(sw, dw), ty = taps(sh, dh);
    const d = new Float32Array(dw * dh);
    for (let y = 0, o = 0; y < dh; y++) {
      const r0 = ty.i0[y] * sw, r1 = ty.i1[y] * sw, wy = ty.w1[y];
      for (let x = 0; x < dw; x++, o++) {
        const c0 = tx.i0[x], c1 = tx.i1[x], wx = tx.w1[x];
        const top = s[r0 + c0] + (s[r0 + c1] - s[r0 + c0]) * wx;
        const bot = s[r1 + c0] + (s[r1 + c1] - s[r1 + c0]) * wx;
        d[o] = (top + (bot - top) * wy) * gain;
      }
    }
    return d;
  };
  let seed = 3;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 40 - 20;
  for (const [sw, sh, dw, dh] of [[512, 384, 640, 480], [128, 96, 640, 480], [64, 48, 31, 17], [7, 5, 7, 20], [9, 1, 4, 1], [1, 9, 3, 30], [100, 80, 100, 80]]) {
    const f = createFlow(sw, sh);
    for (let i = 0; i < f.u.length; i++) [f.u[i], f.v[i]] = [rnd(), rnd()];
    const r = resizeFlow(f, dw, dh);
    const same = Buffer.from(r.u.buffer).equals(Buffer.from(direct(f.u, sw, sh, dw, dh, dw / sw).buffer)) &&
      Buffer.from(r.v.buffer).equals(Buffer.from(direct(f.v, sw, sh, dw, dh, dh / sh).buffer));
    t.ok(same, `${sw}x${sh} -> ${dw}x${dh}`);
  }
});

t.test('pad mode: centred, edges replicated, flow cropped back exactly', async (t) => {
  const a = img(62, 60, (x, y, c) => (x * 4 + y + c) & 255);
  const n = prepareInput(a, a, { mode: 'pad' });
  const m = n.mapping;
  t.same([n.width, n.height, m.offsetX, m.offsetY], [64, 64, 1, 2]);
  const R = n.data; // plane 0 = R1
  t.equal(R[2 * 64 + 1], a.data[0], 'source (0,0) lands at (1,2)');
  t.equal(R[0], a.data[0], 'top-left padding replicates the corner');
  t.equal(R[63 * 64 + 63], a.data[(59 * 62 + 61) * 3], 'bottom-right padding replicates the corner');
  const f = createFlow(64, 64);
  for (let i = 0; i < 64 * 64; i++) {
    f.u[i] = i % 64;
    f.v[i] = Math.floor(i / 64);
  }
  const back = flowToSource(f, m);
  t.same([back.width, back.height, back.u[0], back.v[0], back.u[61], back.v[59 * 62]], [62, 60, 1, 2, 62, 61]);
});

t.test('crop mode and crop helpers', async (t) => {
  const a = img(70, 66, (x, y) => (x + 3 * y) & 255);
  const n = prepareInput(a, a, { mode: 'crop' });
  t.same([n.width, n.height], [64, 64]);
  t.same(n.mapping.window, { x0: 3, y0: 1, width: 64, height: 64 });
  t.equal(n.data[0], a.data[(1 * 70 + 3) * 3]);
  t.same(cropImage(a, n.mapping.window).data, fitImage(a, n.mapping).data);
  const gt = createFlow(70, 66);
  for (let i = 0; i < gt.u.length; i++) gt.u[i] = i;
  const c = cropFlow(gt, n.mapping.window);
  t.same([c.width, c.height, c.u[0], c.u[64]], [64, 64, 73, 143]);
  t.equal(flowToSource(c, n.mapping), c);
  const plane = Uint8Array.from({ length: 70 * 66 }, (_, i) => i & 1);
  t.equal(cropPlane(plane, 70, 66, n.mapping.window)[0], 1);
  t.throws(() => cropFlow(gt, { x0: 10, y0: 0, width: 64, height: 64 }), /outside 70x66/);
});
