// One-pass fitting of an RGB frame straight into the network input planes (the copy rule of source.ts): the same
// samples as fitImage() followed by stackPair() — bit for bit (tested) — without the intermediate fitted image.
import { UserError } from '../errors.js';
import { LITTLE_ENDIAN, type RgbImage } from './image.js';
import type { InputMapping } from './netinput.js';
import { RowPair } from './rowpair.js';
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
  /** resize up: two horizontally interpolated source rows, RGB interleaved (fitPlanesFromRgb is synchronous). */
  rows: RowPair;
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
  p = { tx: taps(sw, nw, 3), ty: taps(sh, nh, 3 * sw), xs, ys, rows: new RowPair(3 * nw) };
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
  if (nw === img.width && nh === img.height) {
    splitRgb(s, 0, dst, offset, n, n);
    return;
  }
  const r = dst.subarray(offset, offset + n);
  const g = dst.subarray(offset + n, offset + 2 * n);
  const b = dst.subarray(offset + 2 * n, offset + 3 * n);
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
  if (nh > map.srcHeight) upsampleRows(s, p, r, g, b, nw, nh);
  else bilinearDirect(s, p, r, g, b, nw, nh);
}

/**
 * Bilinear, the arithmetic of resizeImage() in the same order (float, round half up), separable as resizePlane() in
 * netinput.ts: each source row an output row needs is interpolated horizontally once, into one of two row buffers,
 * and kept while the next output rows need it. Upsampling reads each source row once instead of twice per output row
 * (4.7 -> 3.6 CPU ms for a 256x192 pair into 384x512); downsampling gains nothing (4.6 -> 5.1 ms for a 640x480 pair into
 * 384x512: the rows are not reused and the buffers cost), so it stays direct (docs/performance.md).
 */
function upsampleRows(s: Uint8Array, p: Plan, r: Uint8Array, g: Uint8Array, b: Uint8Array, nw: number, nh: number): void {
  const { tx, ty, rows } = p;
  rows.reset();
  const fill = (rowOff: number, row: Float64Array): void => lerpRgbRow(s, rowOff, tx, row, nw);
  for (let y = 0, o = 0; y < nh; y++) {
    rows.hold(ty.i0[y], ty.i1[y], fill);
    const rowA = rows.a, rowB = rows.b;
    const wy = ty.w1[y];
    for (let x = 0, k = 0; x < nw; x++, o++, k += 3) {
      let top = rowA[k];
      r[o] = Math.floor(top + (rowB[k] - top) * wy + 0.5);
      top = rowA[k + 1];
      g[o] = Math.floor(top + (rowB[k + 1] - top) * wy + 0.5);
      top = rowA[k + 2];
      b[o] = Math.floor(top + (rowB[k + 2] - top) * wy + 0.5);
    }
  }
}

/** Bilinear straight from the RGB bytes: both taps of both rows per output pixel (resizeImage()'s loop). */
function bilinearDirect(s: Uint8Array, p: Plan, r: Uint8Array, g: Uint8Array, b: Uint8Array, nw: number, nh: number): void {
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

/** row[3x + c] = s[a] + (s[a1] - s[a]) * wx for channel c of source row `rowOff` at output column x. */
function lerpRgbRow(s: Uint8Array, rowOff: number, tx: Taps, row: Float64Array, nw: number): void {
  const i0 = tx.i0, i1 = tx.i1, w1 = tx.w1;
  for (let x = 0, k = 0; x < nw; x++, k += 3) {
    const a = rowOff + i0[x], a1 = rowOff + i1[x], wx = w1[x];
    row[k] = s[a] + (s[a1] - s[a]) * wx;
    row[k + 1] = s[a + 1] + (s[a1 + 1] - s[a + 1]) * wx;
    row[k + 2] = s[a + 2] + (s[a1 + 2] - s[a + 2]) * wx;
  }
}

/**
 * `count` interleaved RGB pixels from src[from] to three planes `stride` bytes apart: R at dst[to], G at dst[to +
 * stride], B at dst[to + 2·stride]. Where the bytes allow it (little-endian, 4-byte aligned), four pixels at a time
 * as three 32-bit loads and one store per plane — R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 — ≈ 2.5x the byte loop
 * (0.30 against 0.80 ms for a 512x384 frame); the same bytes either way.
 */
export function splitRgb(src: Uint8Array, from: number, dst: Uint8Array, to: number, count: number, stride: number): void {
  let i = 0;
  const sa = src.byteOffset + from, da = dst.byteOffset + to;
  if (LITTLE_ENDIAN && count >= 4 && sa % 4 === 0 && da % 4 === 0 && stride % 4 === 0) {
    const q = count >> 2;
    splitWords(new Int32Array(src.buffer, sa, 3 * q), new Int32Array(dst.buffer, da, q), new Int32Array(dst.buffer, da + stride, q),
      new Int32Array(dst.buffer, da + 2 * stride, q), q);
    i = 4 * q;
  }
  for (let k = from + 3 * i, o = to + i; i < count; i++, k += 3, o++) {
    dst[o] = src[k];
    dst[o + stride] = src[k + 1];
    dst[o + 2 * stride] = src[k + 2];
  }
}

function splitWords(s: Int32Array, r: Int32Array, g: Int32Array, b: Int32Array, q: number): void {
  for (let j = 0, k = 0; j < q; j++, k += 3) {
    const w0 = s[k], w1 = s[k + 1], w2 = s[k + 2];
    r[j] = (w0 & 0xff) | ((w0 >>> 16) & 0xff00) | (w1 & 0xff0000) | ((w2 << 16) & 0xff000000);
    g[j] = ((w0 >>> 8) & 0xff) | ((w1 << 8) & 0xff00) | ((w1 >>> 8) & 0xff0000) | ((w2 << 8) & 0xff000000);
    b[j] = ((w0 >>> 16) & 0xff) | (w1 & 0xff00) | ((w2 << 16) & 0xff0000) | (w2 & 0xff000000);
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
