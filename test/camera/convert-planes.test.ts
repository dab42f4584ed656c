// The fused YUYV → planes path (yuyvToPlanes, what a same-size fit of a YUYV frame uses) and the word path of
// yuyvRowToRgb against the plain per-byte formula followed by a plain split — the two-step path as it was, with the
// clamp covering every input — on random buffers of odd pair counts, strides, offsets and misalignments.
import t from 'tap';
import { fitterFor, yuyvRowToRgb, yuyvRows, yuyvToPlanes } from '../../src/camera/convert.js';
import { splitRgb } from '../../src/flow/fit.js';
import type { InputMapping } from '../../src/flow/netinput.js';

/** BT.601 limited range in plain arithmetic, clamped with Math.min/max (no table). */
function refRow(src: Uint8Array, offset: number, width: number, d: Uint8Array): void {
  const cl = (v: number): number => Math.min(255, Math.max(0, v >> 8));
  for (let p = 0, s = offset, o = 0; p < width >> 1; p++, s += 4, o += 6) {
    const dU = src[s + 1] - 128, eV = src[s + 3] - 128;
    for (const [k, yv] of [[0, src[s]], [3, src[s + 2]]]) {
      const c = 298 * (yv - 16);
      d[o + k] = cl(c + 409 * eV + 128);
      d[o + k + 1] = cl(c - 100 * dU - 208 * eV + 128);
      d[o + k + 2] = cl(c + 516 * dU + 128);
    }
  }
}

let seed = 12345;
const rnd = (n: number): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed >>> 8) % n;
};
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rnd(256);
  // Out-of-nominal extremes too (Y 255 with U 255: blue past 511 before the clamp).
  for (let i = 0; i + 3 < n; i += 4 * (1 + rnd(7))) {
    b[i] = rnd(2) ? 255 : 0;
    b[i + 1] = rnd(2) ? 255 : 0;
  }
  return b;
}

t.test('clamp at the extremes: Y 255 with U 255 is full blue, not 0', async (t) => {
  const out = new Uint8Array(6);
  yuyvRowToRgb(Uint8Array.from([255, 255, 255, 255]), 0, 2, out);
  const ref = new Uint8Array(6);
  refRow(Uint8Array.from([255, 255, 255, 255]), 0, 2, ref);
  t.same([...out], [...ref]);
  t.equal(out[2], 255);
});

t.test('yuyvRowToRgb (word path where aligned) equals the per-byte formula', async (t) => {
  for (let trial = 0; trial < 60; trial++) {
    const width = 2 * (1 + rnd(40));
    const offset = rnd(9);
    const buf = randomBytes(offset + 2 * width + rnd(5));
    // A view at an odd byte offset into a larger buffer as well.
    const shift = rnd(4);
    const big = new Uint8Array(buf.length + shift);
    big.set(buf, shift);
    const view = big.subarray(shift);
    const dshift = rnd(2) ? 0 : 1 + rnd(3);
    const dBuf = new Uint8Array(3 * width + dshift);
    const got = dBuf.subarray(dshift, dshift + 3 * width);
    yuyvRowToRgb(view, offset, width, got);
    const want = new Uint8Array(3 * width);
    refRow(buf, offset, width, want);
    t.same([...got], [...want], `width ${width} offset ${offset} shift ${shift} dshift ${dshift}`);
  }
});

t.test('yuyvToPlanes equals row conversion + split on odd widths, strides, offsets', async (t) => {
  for (let trial = 0; trial < 60; trial++) {
    const width = 2 * (1 + rnd(30)); // pair counts odd and even
    const height = 1 + rnd(7);
    const bpl = 2 * width + (rnd(2) ? 0 : rnd(9));
    const offset = rnd(2) ? 0 : rnd(9);
    const shift = rnd(4);
    const big = randomBytes(shift + offset + bpl * height);
    const src = big.subarray(shift);
    const stride = width * height + (rnd(2) ? 0 : rnd(9));
    const to = rnd(2) ? 0 : rnd(9);
    const dshift = rnd(4);
    const dstBuf = new Uint8Array(dshift + to + 3 * stride + 8).fill(0xa5);
    const dst = dstBuf.subarray(dshift);
    const want = new Uint8Array(dst.length).fill(0xa5);
    const row = new Uint8Array(3 * width);
    for (let y = 0; y < height; y++) {
      refRow(src, offset + y * bpl, width, row);
      splitRgb(row, 0, want, to + y * width, width, stride);
    }
    yuyvToPlanes(src, offset, bpl, width, height, dst, to, stride);
    t.same([...dst], [...want], `${width}x${height} bpl ${bpl} offset ${offset} shift ${shift} stride ${stride} to ${to} dshift ${dshift}`);
  }
});

t.test('same-size fit of a YUYV frame (fused) equals converted rows split into planes', async (t) => {
  for (const [w, h, extra] of [[512, 8, 0], [512, 384, 0], [30, 5, 6], [26, 3, 3], [6, 4, 0]]) {
    const bpl = 2 * w + extra;
    const buf = randomBytes(bpl * h);
    // Network size = frame size (planInput insists on multiples of 64; the fitter does not).
    const map: InputMapping = { mode: 'resize', srcWidth: w, srcHeight: h, netWidth: w, netHeight: h, window: { x0: 0, y0: 0, width: w, height: h }, offsetX: 0, offsetY: 0 };
    const n = w * h;
    for (const offset of [0, 3 * n, 1]) {
      const got = new Uint8Array(offset + 3 * n + 2);
      fitterFor(map).fit(yuyvRows(buf, w, h, bpl), got, offset);
      const want = new Uint8Array(got.length);
      const row = new Uint8Array(3 * w);
      for (let y = 0; y < h; y++) {
        yuyvRowToRgb(buf, y * bpl, w, row);
        splitRgb(row, 0, want, offset + y * w, w, n);
      }
      t.ok(Buffer.from(got).equals(Buffer.from(want)), `${w}x${h} bpl ${bpl} offset ${offset}`);
    }
  }
});
