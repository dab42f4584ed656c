// One-pass fitting of an RGB frame straight into the network input planes (the copy rule of source.ts): the same
// samples as fitImage() followed by stackPair() — bit for bit (tested) — without the intermediate fitted image.
import { UserError } from '../errors.js';
import type { RgbImage } from './image.js';
import type { InputMapping } from './netinput.js';
import type { SourceFrame } from './source.js';

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

/** Per output index: the two source taps (already multiplied by `step`) and the weight of the second. */
function taps(src: number, dst: number, step: number): Taps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float64Array(dst);
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    let s = (i + 0.5) * scale - 0.5; // netinput.ts taps(): half-pixel centres, edge clamp
    if (s < 0) s = 0;
    const a = Math.floor(s);
    i0[i] = a * step;
    i1[i] = (a + 1 < src ? a + 1 : src - 1) * step;
    w1[i] = s - a;
  }
  return { i0, i1, w1 };
}

interface Plan {
  tx: Taps;
  ty: Taps;
  /** pad/crop: source byte offset of each network column / row (edge replicated). */
  xs: Int32Array;
  ys: Int32Array;
}

// Taps depend only on the mapping; a stream reuses one mapping object for every frame.
const plans = new WeakMap<InputMapping, Plan>();

function planFor(map: InputMapping): Plan {
  let p = plans.get(map);
  if (p) return p;
  const { srcWidth: sw, srcHeight: sh, netWidth: nw, netHeight: nh } = map;
  const xs = new Int32Array(nw);
  const ys = new Int32Array(nh);
  for (let x = 0; x < nw; x++) xs[x] = 3 * Math.min(Math.max(x - map.offsetX, 0), sw - 1);
  for (let y = 0; y < nh; y++) ys[y] = 3 * sw * Math.min(Math.max(y - map.offsetY, 0), sh - 1);
  p = { tx: taps(sw, nw, 3), ty: taps(sh, nh, 3 * sw), xs, ys };
  plans.set(map, p);
  return p;
}

/**
 * Writes `img` fitted by `map` as planes R, G, B (netHeight x netWidth bytes each) at dst[offset]: offset 0 for the
 * first frame of a pair, 3·netHeight·netWidth for the second.
 */
export function fitPlanesFromRgb(img: RgbImage, map: InputMapping, dst: Uint8Array, offset: number): void {
  if (img.width !== map.srcWidth || img.height !== map.srcHeight) {
    throw new UserError(`frame is ${img.width}x${img.height}, expected ${map.srcWidth}x${map.srcHeight}`, 'all frames of a stream must have one size');
  }
  const nw = map.netWidth;
  const nh = map.netHeight;
  const n = nw * nh;
  if (offset < 0 || offset + 3 * n > dst.length) throw new RangeError(`planes at ${offset} do not fit a ${dst.length}-byte input`);
  const s = img.data;
  const r = dst.subarray(offset, offset + n);
  const g = dst.subarray(offset + n, offset + 2 * n);
  const b = dst.subarray(offset + 2 * n, offset + 3 * n);
  if (nw === img.width && nh === img.height) {
    for (let i = 0, k = 0; i < n; i++, k += 3) {
      r[i] = s[k];
      g[i] = s[k + 1];
      b[i] = s[k + 2];
    }
    return;
  }
  const p = planFor(map);
  if (map.mode !== 'resize') {
    const xs = p.xs;
    for (let y = 0, o = 0; y < nh; y++) {
      const row = p.ys[y];
      for (let x = 0; x < nw; x++, o++) {
        const k = row + xs[x];
        r[o] = s[k];
        g[o] = s[k + 1];
        b[o] = s[k + 2];
      }
    }
    return;
  }
  // Bilinear, the arithmetic of resizeImage() in the same order (float, round half up).
  const { tx, ty } = p;
  for (let y = 0, o = 0; y < nh; y++) {
    const r0 = ty.i0[y];
    const r1 = ty.i1[y];
    const wy = ty.w1[y];
    for (let x = 0; x < nw; x++, o++) {
      const c0 = tx.i0[x];
      const c1 = tx.i1[x];
      const wx = tx.w1[x];
      let a = r0 + c0, a1 = r0 + c1, q = r1 + c0, q1 = r1 + c1;
      let top = s[a] + (s[a1] - s[a]) * wx;
      let bot = s[q] + (s[q1] - s[q]) * wx;
      r[o] = Math.floor(top + (bot - top) * wy + 0.5);
      a++, a1++, q++, q1++;
      top = s[a] + (s[a1] - s[a]) * wx;
      bot = s[q] + (s[q1] - s[q]) * wx;
      g[o] = Math.floor(top + (bot - top) * wy + 0.5);
      a++, a1++, q++, q1++;
      top = s[a] + (s[a1] - s[a]) * wx;
      bot = s[q] + (s[q1] - s[q]) * wx;
      b[o] = Math.floor(top + (bot - top) * wy + 0.5);
    }
  }
}

/** A decoded image as a SourceFrame (files, datasets, video): `release()` drops the reference to its pixels. */
export function imageFrame(img: RgbImage, index: number, timestampMs = 0): SourceFrame {
  let pixels: RgbImage | undefined = img;
  const live = (): RgbImage => {
    if (!pixels) throw new Error(`frame ${index} used after release()`);
    return pixels;
  };
  return {
    index,
    width: img.width,
    height: img.height,
    timestampMs,
    fitPlanes: (map, dst, offset) => fitPlanesFromRgb(live(), map, dst, offset),
    rgb: () => live(),
    release: () => {
      pixels = undefined;
    },
  };
}
