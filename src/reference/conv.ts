// Convolution + requantization of the integer contract (2.1 conv, 2.2 flow head), whole-layer and per-tile.
//
// Hot loop order: c_out → c_in → ky → y → x. For one output channel an Int32Array holds the tile's accumulators;
// each output row's interior is one pass of a kernel specialized for (k, stride) that applies all k taps of the
// kernel row with the weights hoisted into locals. Zero padding is handled by clipping rows/cols to their in-range
// span up front; only the few border columns go tap by tap (no per-element branch anywhere). k = 3 tiles ≥ 4 px wide
// instead copy their input window into a zero-bordered patch and run one 9-tap pass per (c_out, c_in) over the
// flattened rows (convFlat3); tiles < 4 px wide (verification samples) go pixel by pixel (smallTile).
import type { QLayerParams } from '../model/types.js';
import { upsampleRegion } from './upsample.js';

/** 'relu': clamp to [0, 2^bits − 1] (2.1); 'linear': clamp to int16 (2.2, the flow head). */
export type OutputMode = 'relu' | 'linear';

/** One convolution layer's geometry and output rule. */
export interface ConvSpec {
  cin: number;
  cout: number;
  /** 1, 3, 5 or 7; padding (k − 1)/2 of code 0 on every side. */
  k: number;
  /** 1 or 2. */
  stride: number;
  mode: OutputMode;
  /** Output bits n (2..8) for 'relu'; ignored for 'linear'. */
  bits: number;
  /** upsample-conv decoder: the conv reads the up2 of its (low-res) input, fused into the input load. */
  upsampleInput?: boolean;
}

/** Half-open output region: rows y0..y1−1, cols x0..x1−1, output channels m0..m1−1 (of the layer's Cout). */
export interface Tile {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  m0: number;
  m1: number;
}

/**
 * Where output channel m, row y, col x of a layer lands in the destination buffer:
 * `out[(channelOffset + m)·h·w + (y − originY)·w + (x − originX)]`. Defaults describe a plain Cout×Hout×Wout tensor;
 * a concatenation buffer sets channelsTotal/channelOffset, a tile-local buffer sets h, w and the origin.
 */
export interface OutPlacement {
  channelsTotal?: number;
  channelOffset?: number;
  h?: number;
  w?: number;
  originY?: number;
  originX?: number;
}

/** Size of the tensor the conv itself reads (2H × 2W for an upsample-conv input). */
export function convInputSize(spec: ConvSpec, inH: number, inW: number): [number, number] {
  return spec.upsampleInput ? [2 * inH, 2 * inW] : [inH, inW];
}

/** Output size Hout × Wout (contract 2.1) for an input of inH × inW (before any fused up2). */
export function convOutSize(spec: ConvSpec, inH: number, inW: number): [number, number] {
  const [h, w] = convInputSize(spec, inH, inW);
  const p = (spec.k - 1) >> 1;
  return [Math.floor((h + 2 * p - spec.k) / spec.stride) + 1, Math.floor((w + 2 * p - spec.k) / spec.stride) + 1];
}

/** The accumulator bound of contract 2.1: K·(2^n_in − 1)·2^(nw−1) ≤ 2^31 − 1. */
export function accumulatorBound(cin: number, k: number, bitsIn: number, bitsW: number): number {
  return cin * k * k * (2 ** bitsIn - 1) * 2 ** (bitsW - 1);
}

// Scratch reused across calls (the reference is synchronous, so one set suffices).
let accBuf = new Int32Array(4096);
let patchBuf = new Uint8Array(4096);
const yLo = new Int32Array(8);
const yHi = new Int32Array(8);
const xLo = new Int32Array(8);
const xHi = new Int32Array(8);
const POW2NEG = Array.from({ length: 64 }, (_, s) => 2 ** -s);

function validate(spec: ConvSpec, p: QLayerParams): void {
  const { cin, cout, k, stride } = spec;
  if (!(k === 1 || k === 3 || k === 5 || k === 7)) throw new RangeError(`conv kernel ${k} is not 1, 3, 5 or 7`);
  if (!(stride === 1 || stride === 2)) throw new RangeError(`conv stride ${stride} is not 1 or 2`);
  if (!(cin >= 1 && cout >= 1)) throw new RangeError('conv needs at least one input and one output channel');
  if (p.weights.length !== cout * cin * k * k) {
    throw new RangeError(`conv weights have ${p.weights.length} codes, expected ${cout}·${cin}·${k}·${k}`);
  }
  if (p.mult.length < cout || p.shift.length < cout || p.bias.length < cout) {
    throw new RangeError(`conv requantization arrays are shorter than Cout = ${cout}`);
  }
}

/**
 * A window of a layer's input tensor (before any fused up2): element (ci, y, x) of the full cin × inH × inW tensor
 * is `data[base + ci·plane + (y − y0)·row + (x − x0)]`. It must hold every in-range position the tile reads
 * (`convInputWindow`). The whole tensor is `{ data, base: 0, plane: inH·inW, row: inW, y0: 0, x0: 0 }`.
 */
export interface InputWindow {
  data: Uint8Array;
  base: number;
  plane: number;
  row: number;
  y0: number;
  x0: number;
}

/**
 * Rows [y0, y1) × cols [x0, x1) of the layer's input (before any fused up2) that output `tile` reads, clipped to
 * the tensor: what a caller must fetch (e.g. from device DDR) to compute the tile with `convTileWindow`.
 */
export function convInputWindow(spec: ConvSpec, inH: number, inW: number, tile: Tile): { y0: number; y1: number; x0: number; x1: number } {
  const [H, W] = convInputSize(spec, inH, inW);
  const p = (spec.k - 1) >> 1;
  const s = spec.stride;
  // Conv-input rows/cols the windows touch (zero padding outside needs no data).
  const r0 = Math.max(0, tile.y0 * s - p);
  const r1 = Math.min(H, (tile.y1 - 1) * s - p + spec.k);
  const c0 = Math.max(0, tile.x0 * s - p);
  const c1 = Math.min(W, (tile.x1 - 1) * s - p + spec.k);
  if (!spec.upsampleInput) return { y0: r0, y1: r1, x0: c0, x1: c1 };
  // up2 output i reads source rows ⌊i/2⌋ − 1 .. ⌊i/2⌋ + 1 (by phase), clamped (contract 2.3).
  return {
    y0: Math.max(0, (r0 >> 1) - 1), y1: Math.min(inH, ((r1 - 1) >> 1) + 2),
    x0: Math.max(0, (c0 >> 1) - 1), x1: Math.min(inW, ((c1 - 1) >> 1) + 2),
  };
}

/**
 * Computes `tile` of a conv layer's output from the layer's whole input tensor (cin × inH × inW codes; for
 * spec.upsampleInput the low-res tensor, up-sampled on the fly for just the rows/cols the tile reads) and writes it
 * into `out` at `place`. `out` is Uint8Array for 'relu', Int16Array for 'linear'. Allocates nothing once warm.
 */
export function convTile(
  spec: ConvSpec, params: QLayerParams, input: Uint8Array, inH: number, inW: number,
  tile: Tile, out: Uint8Array | Int16Array, place: OutPlacement = {},
): void {
  validate(spec, params);
  if (input.length < spec.cin * inH * inW) {
    throw new RangeError(`conv input has ${input.length} codes, needs ${spec.cin}·${inH}·${inW}`);
  }
  convTileWindow(spec, params, { data: input, base: 0, plane: inH * inW, row: inW, y0: 0, x0: 0 }, inH, inW, tile, out, place);
}

/**
 * `convTile` from a window of the input (see InputWindow, convInputWindow): the same result, for callers that fetch
 * only the input a tile needs (the per-frame verifier reads it back from device DDR).
 */
export function convTileWindow(
  spec: ConvSpec, params: QLayerParams, win: InputWindow, inH: number, inW: number,
  tile: Tile, out: Uint8Array | Int16Array, place: OutPlacement = {},
): void {
  validate(spec, params);
  const [H, W] = convInputSize(spec, inH, inW);
  const [Ho, Wo] = convOutSize(spec, inH, inW);
  const outBase = placeTile('conv', tile, spec.cout, Ho, Wo, out, place);
  const ow = place.w ?? Wo;
  const plane = (place.h ?? Ho) * ow;
  const { y0, y1, x0, x1, m0, m1 } = tile;
  if (y0 === y1 || x0 === x1 || m0 === m1) return;
  if ((spec.mode === 'linear') !== out instanceof Int16Array) {
    throw new TypeError(`conv output must be ${spec.mode === 'linear' ? 'Int16Array' : 'Uint8Array'} for mode ${spec.mode}`);
  }
  const need = convInputWindow(spec, inH, inW, tile);
  const wy1 = need.y1 - win.y0;
  const wx1 = need.x1 - win.x0;
  if (need.y0 < win.y0 || need.x0 < win.x0 || (wy1 - 1) * win.row + wx1 > win.plane || wx1 > win.row ||
    win.base + (spec.cin - 1) * win.plane + (wy1 - 1) * win.row + wx1 > win.data.length) {
    throw new RangeError(`conv input window does not hold rows ${need.y0}..${need.y1} cols ${need.x0}..${need.x1} of all ${spec.cin} channels`);
  }
  if (!spec.upsampleInput) {
    convCore(spec, params, win.data, win.base, win.plane, win.row, win.y0, win.x0, H, W, tile, out, outBase, plane, ow);
    return;
  }
  // Fused up2: materialize only the up-sampled rows/cols this tile's windows touch.
  const p = (spec.k - 1) >> 1;
  const r0 = Math.max(0, y0 * spec.stride - p);
  const r1 = Math.min(H, (y1 - 1) * spec.stride - p + spec.k);
  const c0 = Math.max(0, x0 * spec.stride - p);
  const c1 = Math.min(W, (x1 - 1) * spec.stride - p + spec.k);
  const ph = r1 - r0;
  const pw = c1 - c0;
  const n = spec.cin * ph * pw;
  if (patchBuf.length < n) patchBuf = new Uint8Array(Math.max(n, patchBuf.length * 2));
  const patch = patchBuf;
  upsampleRegion(2, spec.cin, { data: win.data, base: win.base, plane: win.plane, row: win.row, y0: win.y0, x0: win.x0, h: inH, w: inW },
    r0, r1, c0, c1, { data: patch, base: 0, plane: ph * pw, row: pw });
  convCore(spec, params, patch, 0, ph * pw, pw, r0, c0, H, W, tile, out, outBase, plane, ow);
}

/**
 * Checks `tile` against a layer output of cout × Ho × Wo and `place` against `out` (`what` names the layer kind in
 * the errors); returns the index in `out` of the tile's first output (channel m0, row y0, col x0). A number, not an
 * object: tiles run in the hot loop, which allocates nothing once warm.
 */
export function placeTile(
  what: string, tile: Tile, cout: number, Ho: number, Wo: number, out: { length: number }, place: OutPlacement,
): number {
  const { y0, y1, x0, x1, m0, m1 } = tile;
  if (!(0 <= y0 && y0 <= y1 && y1 <= Ho && 0 <= x0 && x0 <= x1 && x1 <= Wo && 0 <= m0 && m0 <= m1 && m1 <= cout)) {
    throw new RangeError(`tile rows ${y0}..${y1} cols ${x0}..${x1} ch ${m0}..${m1} outside ${cout}x${Ho}x${Wo}`);
  }
  const oh = place.h ?? Ho;
  const ow = place.w ?? Wo;
  const oy = place.originY ?? 0;
  const ox = place.originX ?? 0;
  const total = place.channelsTotal ?? cout;
  const off = place.channelOffset ?? 0;
  if (off + m0 < 0 || off + m1 > total) throw new RangeError(`channels ${off + m0}..${off + m1} outside 0..${total}`);
  if (y0 - oy < 0 || y1 - oy > oh || x0 - ox < 0 || x1 - ox > ow) throw new RangeError('tile does not fit the output placement');
  if (out.length < total * oh * ow) throw new RangeError(`${what} output has ${out.length} elements, needs ${total * oh * ow}`);
  return (off + m0) * oh * ow + (y0 - oy) * ow + (x0 - ox);
}

// Interior row kernels: n outputs, every tap in range, all k taps of one kernel row fused into one accumulator
// update, with the input window sliding through locals so each input code is loaded once per (ky, row).
function rowK1S1(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w0: number): void {
  const end = ai + n;
  const end4 = end - 3;
  for (; ai < end4; ai += 4, ii += 4) {
    acc[ai] += src[ii] * w0;
    acc[ai + 1] += src[ii + 1] * w0;
    acc[ai + 2] += src[ii + 2] * w0;
    acc[ai + 3] += src[ii + 3] * w0;
  }
  for (; ai < end; ai++, ii++) acc[ai] += src[ii] * w0;
}

function rowK1S2(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w0: number): void {
  const end = ai + n;
  const end4 = end - 3;
  for (; ai < end4; ai += 4, ii += 8) {
    acc[ai] += src[ii] * w0;
    acc[ai + 1] += src[ii + 2] * w0;
    acc[ai + 2] += src[ii + 4] * w0;
    acc[ai + 3] += src[ii + 6] * w0;
  }
  for (; ai < end; ai++, ii += 2) acc[ai] += src[ii] * w0;
}

function rowK3S1(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2];
  let a = src[ii], b = src[ii + 1];
  ii += 2;
  for (const end = ai + n; ai < end; ai++, ii++) {
    const c = src[ii];
    acc[ai] += a * w0 + b * w1 + c * w2;
    a = b;
    b = c;
  }
}

function rowK3S2(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2];
  let a = src[ii];
  ii += 1;
  for (const end = ai + n; ai < end; ai++, ii += 2) {
    const b = src[ii], c = src[ii + 1];
    acc[ai] += a * w0 + b * w1 + c * w2;
    a = c;
  }
}

// k = 3 over all three kernel rows at once (rows ii, ii + pw, ii + 2·pw): one accumulator update per output for
// nine taps, so the accumulator is loaded and stored once per input channel instead of three times.
function rowK3S1R3(acc: Int32Array, ai: number, src: Uint8Array, ii: number, pw: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4], w5 = w[wi + 5];
  const w6 = w[wi + 6], w7 = w[wi + 7], w8 = w[wi + 8];
  const i1 = ii + pw;
  const i2 = ii + 2 * pw;
  let a0 = src[ii], b0 = src[ii + 1], a1 = src[i1], b1 = src[i1 + 1], a2 = src[i2], b2 = src[i2 + 1];
  for (let x = 2, end = ai + n; ai < end; ai++, x++) {
    const c0 = src[ii + x], c1 = src[i1 + x], c2 = src[i2 + x];
    acc[ai] += a0 * w0 + b0 * w1 + c0 * w2 + a1 * w3 + b1 * w4 + c1 * w5 + a2 * w6 + b2 * w7 + c2 * w8;
    a0 = b0;
    b0 = c0;
    a1 = b1;
    b1 = c1;
    a2 = b2;
    b2 = c2;
  }
}

function rowK3S2R3(acc: Int32Array, ai: number, src: Uint8Array, ii: number, pw: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4], w5 = w[wi + 5];
  const w6 = w[wi + 6], w7 = w[wi + 7], w8 = w[wi + 8];
  const i1 = ii + pw;
  const i2 = ii + 2 * pw;
  let a0 = src[ii], a1 = src[i1], a2 = src[i2];
  for (let x = 1, end = ai + n; ai < end; ai++, x += 2) {
    const b0 = src[ii + x], c0 = src[ii + x + 1], b1 = src[i1 + x], c1 = src[i1 + x + 1], b2 = src[i2 + x], c2 = src[i2 + x + 1];
    acc[ai] += a0 * w0 + b0 * w1 + c0 * w2 + a1 * w3 + b1 * w4 + c1 * w5 + a2 * w6 + b2 * w7 + c2 * w8;
    a0 = c0;
    a1 = c1;
    a2 = c2;
  }
}

function rowK5S1(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4];
  let a = src[ii], b = src[ii + 1], c = src[ii + 2], d = src[ii + 3];
  ii += 4;
  for (const end = ai + n; ai < end; ai++, ii++) {
    const e = src[ii];
    acc[ai] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4;
    a = b;
    b = c;
    c = d;
    d = e;
  }
}

function rowK5S2(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4];
  let a = src[ii], b = src[ii + 1], c = src[ii + 2];
  ii += 3;
  for (const end = ai + n; ai < end; ai++, ii += 2) {
    const d = src[ii], e = src[ii + 1];
    acc[ai] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4;
    a = c;
    b = d;
    c = e;
  }
}

function rowK7S1(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4], w5 = w[wi + 5], w6 = w[wi + 6];
  let a = src[ii], b = src[ii + 1], c = src[ii + 2], d = src[ii + 3], e = src[ii + 4], f = src[ii + 5];
  ii += 6;
  for (const end = ai + n; ai < end; ai++, ii++) {
    const g = src[ii];
    acc[ai] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4 + f * w5 + g * w6;
    a = b;
    b = c;
    c = d;
    d = e;
    e = f;
    f = g;
  }
}

function rowK7S2(acc: Int32Array, ai: number, src: Uint8Array, ii: number, n: number, w: Int8Array, wi: number): void {
  const w0 = w[wi], w1 = w[wi + 1], w2 = w[wi + 2], w3 = w[wi + 3], w4 = w[wi + 4], w5 = w[wi + 5], w6 = w[wi + 6];
  let a = src[ii], b = src[ii + 1], c = src[ii + 2], d = src[ii + 3], e = src[ii + 4];
  ii += 5;
  for (const end = ai + n; ai < end; ai++, ii += 2) {
    const f = src[ii], g = src[ii + 1];
    acc[ai] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4 + f * w5 + g * w6;
    a = c;
    b = d;
    c = e;
    d = f;
    e = g;
  }
}

/**
 * Tiles narrower than 4 px and of at most this many pixels (per-frame verification samples) go pixel by pixel; from
 * 4 px per row on, the row kernels are faster (measured).
 */
const SMALL_TILE = 16;

/**
 * Accumulators of a small tile for output channel at weight offset `wM`, pixel by pixel: per pixel the in-range
 * kernel rows/cols are computed once, then c_in → ky → kx runs as one flat dot product (k = 3 interior unrolled).
 * For a few pixels this beats the row kernels, whose per-row call costs more than the row's few MACs.
 */
function smallTile(
  acc: Int32Array, src: Uint8Array, srcBase: number, plane: number, pW: number, py0: number, px0: number,
  H: number, W: number, k: number, s: number, cin: number, weights: Int8Array, wM: number,
  y0: number, y1: number, x0: number, x1: number,
): void {
  const p = (k - 1) >> 1;
  const kk = k * k;
  let ai = 0;
  for (let y = y0; y < y1; y++) {
    const iy = y * s - p;
    const ky0 = iy < 0 ? -iy : 0;
    const ky1 = iy + k > H ? H - iy : k;
    for (let x = x0; x < x1; x++, ai++) {
      const ix = x * s - p;
      const kx0 = ix < 0 ? -ix : 0;
      const kx1 = ix + k > W ? W - ix : k;
      // Input index of tap (ky, kx) of channel ci: base + ci·plane + ky·pW + kx.
      const base = srcBase + (iy - py0) * pW + (ix - px0);
      let sum = 0;
      if (k === 3 && kx0 === 0 && kx1 === 3) {
        for (let ci = 0, ib = base, wb = wM; ci < cin; ci++, ib += plane, wb += 9) {
          for (let ky = ky0, i = ib + ky0 * pW, w = wb + ky0 * 3; ky < ky1; ky++, i += pW, w += 3) {
            sum += src[i] * weights[w] + src[i + 1] * weights[w + 1] + src[i + 2] * weights[w + 2];
          }
        }
      } else {
        for (let ci = 0, ib = base, wb = wM; ci < cin; ci++, ib += plane, wb += kk) {
          for (let ky = ky0; ky < ky1; ky++) {
            const i = ib + ky * pW;
            const w = wb + ky * k;
            for (let kx = kx0; kx < kx1; kx++) sum += src[i + kx] * weights[w + kx];
          }
        }
      }
      // |sum| < 2^31 (contract 2.1 accumulator bound), so the double sum is exact and fits the Int32 accumulator.
      acc[ai] = sum;
    }
  }
}

let flatBuf = new Uint8Array(4096);

/**
 * k = 3: the tile's input window is copied once into a zero-bordered patch per input channel, so that every tap is
 * in range (no border columns or rows to special-case). Stride 1 also flattens the rows: output (y, x) is position
 * y·(tw + 2) + x of one long row, and each (c_out, c_in) pair is a single call of the 3-row kernel over the whole
 * tile (the 2 positions per row that fall on the border columns are computed and discarded); stride 2 makes one
 * call per output row. No per-row border work remains, which is what dominates small maps (rows of 4–8 px).
 * Same loop nest as convFlat3 in the C++ twin.
 */
function convFlat3(
  spec: ConvSpec, params: QLayerParams, src: Uint8Array, srcBase: number,
  plane: number, pW: number, py0: number, px0: number, H: number, W: number,
  tile: Tile, out: Uint8Array | Int16Array, outBase: number, outPlane: number, outRow: number,
): void {
  const { cin, stride: s } = spec;
  const { y0, y1, x0, x1, m0, m1 } = tile;
  const th = y1 - y0;
  const tw = x1 - x0;
  // Patch row r, col c holds input (y0·s − 1 + r, x0·s − 1 + c) where in range, else 0.
  const fh = (th - 1) * s + 3;
  const fw = (tw - 1) * s + 3;
  const fplane = fh * fw;
  const need = cin * fplane;
  if (flatBuf.length < need) flatBuf = new Uint8Array(Math.max(need, flatBuf.length * 2));
  const flat = flatBuf;
  flat.fill(0, 0, need);
  const ry = y0 * s - 1;
  const rx = x0 * s - 1;
  const ca = Math.max(0, rx);
  const cb = Math.min(W, rx + fw);
  for (let ci = 0; ci < cin; ci++) {
    for (let r = 0; r < fh; r++) {
      const iy = ry + r;
      if (iy < 0 || iy >= H) continue;
      const so = srcBase + ci * plane + (iy - py0) * pW - px0;
      const d = ci * fplane + r * fw - rx;
      for (let ix = ca; ix < cb; ix++) flat[d + ix] = src[so + ix];
    }
  }
  // Accumulator row stride: the patch width for the flattened stride-1 pass, the tile width for stride 2.
  const aw = s === 1 ? fw : tw;
  const nF = (th - 1) * aw + tw;
  if (accBuf.length < nF) accBuf = new Int32Array(Math.max(nF, accBuf.length * 2));
  const acc = accBuf;
  const weights = params.weights;
  const lo = spec.mode === 'linear' ? -32768 : 0;
  const hi = spec.mode === 'linear' ? 32767 : (1 << spec.bits) - 1;
  for (let m = m0; m < m1; m++) {
    acc.fill(0, 0, nF);
    if (s === 1) {
      for (let ci = 0, wb = m * cin * 9; ci < cin; ci++, wb += 9) rowK3S1R3(acc, 0, flat, ci * fplane, fw, nF, weights, wb);
    } else {
      for (let ci = 0, wb = m * cin * 9; ci < cin; ci++, wb += 9) {
        for (let y = 0; y < th; y++) rowK3S2R3(acc, y * tw, flat, ci * fplane + 2 * y * fw, fw, tw, weights, wb);
      }
    }
    const M = params.mult[m];
    const B = params.bias[m];
    const scale = POW2NEG[params.shift[m]];
    let o = outBase + (m - m0) * outPlane;
    for (let y = 0; y < th; y++, o += outRow) {
      for (let x = 0, ai = y * aw; x < tw; x++, ai++) {
        const q = Math.floor((acc[ai] * M + B) * scale);
        out[o + x] = q < lo ? lo : q > hi ? hi : q;
      }
    }
  }
}

/**
 * The kernel. `src` holds a patch of the conv's (virtual, H × W) input: element (ci, y, x) at
 * `src[srcBase + ci·plane + (y − py0)·pW + (x − px0)]`; it must cover every in-range position the tile reads.
 * Output element (m, y, x) of the tile goes to `out[outBase + (m − m0)·outPlane + (y − y0)·outRow + (x − x0)]`.
 *
 * Loop order c_out → c_in → ky → y → x (interior: all kx fused) — the same in bench/reference_conv.cpp.
 */
function convCore(
  spec: ConvSpec, params: QLayerParams, src: Uint8Array, srcBase: number,
  plane: number, pW: number, py0: number, px0: number, H: number, W: number,
  tile: Tile, out: Uint8Array | Int16Array, outBase: number, outPlane: number, outRow: number,
): void {
  const { cin, k, stride: s } = spec;
  const { y0, y1, x0, x1, m0, m1 } = tile;
  const p = (k - 1) >> 1;
  const tw = x1 - x0;
  const n = (y1 - y0) * tw;
  if (k === 3 && tw >= 4 && m1 - m0 >= 2) {
    convFlat3(spec, params, src, srcBase, plane, pW, py0, px0, H, W, tile, out, outBase, outPlane, outRow);
    return;
  }
  if (accBuf.length < n) accBuf = new Int32Array(Math.max(n, accBuf.length * 2));
  const acc = accBuf;
  // In-range output rows for each ky: 0 ≤ y·s + ky − p < H (likewise cols per kx), clipped to the tile.
  let xIa = x0;
  let xIb = x1;
  for (let d = 0; d < k; d++) {
    yLo[d] = Math.max(y0, Math.ceil((p - d) / s));
    yHi[d] = Math.min(y1, Math.floor((H - 1 + p - d) / s) + 1);
    xLo[d] = Math.max(x0, Math.ceil((p - d) / s));
    xHi[d] = Math.min(x1, Math.floor((W - 1 + p - d) / s) + 1);
    xIa = Math.max(xIa, xLo[d]);
    xIb = Math.min(xIb, xHi[d]);
  }
  // Interior columns [xIa, xIb) read every kx in range; the rest are border columns, done tap by tap.
  if (xIa >= xIb) {
    xIa = x1;
    xIb = x1;
  }
  const nI = xIb - xIa;
  // k = 3: output rows whose three kernel rows are all in range get the fused 3-row kernel (empty range otherwise).
  let yFa = 0;
  let yFb = 0;
  if (k === 3 && nI > 0) {
    yFa = Math.max(yLo[0], yLo[1], yLo[2]);
    yFb = Math.max(yFa, Math.min(yHi[0], yHi[1], yHi[2]));
  }
  const weights = params.weights;
  const kk = k * k;
  const lo = spec.mode === 'linear' ? -32768 : 0;
  const hi = spec.mode === 'linear' ? 32767 : (1 << spec.bits) - 1;
  for (let m = m0; m < m1; m++) {
    if (tw < 4 && n <= SMALL_TILE) {
      smallTile(acc, src, srcBase, plane, pW, py0, px0, H, W, k, s, cin, weights, m * cin * kk, y0, y1, x0, x1);
    } else {
    acc.fill(0, 0, n);
    for (let ci = 0; ci < cin; ci++) {
      const inPlane = srcBase + ci * plane;
      const wBase = (m * cin + ci) * kk;
      for (let ky = 0; ky < k; ky++) {
        const ya = yLo[ky];
        const yb = yHi[ky];
        const wi = wBase + ky * k;
        for (let y = ya; y < yb; y++) {
          // Input index of (row y·s + ky − p, col x·s − p), i.e. of tap kx = 0 for output col x, is rowIdx + x·s.
          const rowIdx = inPlane + (y * s + ky - p - py0) * pW - p - px0;
          const aRow = (y - y0) * tw - x0;
          if (nI > 0 && !(y >= yFa && y < yFb)) {
            const ai = aRow + xIa;
            const ii = rowIdx + xIa * s;
            switch (k * 2 + s) {
              case 3: rowK1S1(acc, ai, src, ii, nI, weights[wi]); break;
              case 4: rowK1S2(acc, ai, src, ii, nI, weights[wi]); break;
              case 7: rowK3S1(acc, ai, src, ii, nI, weights, wi); break;
              case 8: rowK3S2(acc, ai, src, ii, nI, weights, wi); break;
              case 11: rowK5S1(acc, ai, src, ii, nI, weights, wi); break;
              case 12: rowK5S2(acc, ai, src, ii, nI, weights, wi); break;
              case 15: rowK7S1(acc, ai, src, ii, nI, weights, wi); break;
              default: rowK7S2(acc, ai, src, ii, nI, weights, wi); break;
            }
          }
          if (xIa > x0 || xIb < x1) {
            for (let kx = 0; kx < k; kx++) {
              const wv = weights[wi + kx];
              const lo0 = xLo[kx];
              const hi0 = xHi[kx];
              for (let x = lo0, e = Math.min(xIa, hi0); x < e; x++) acc[aRow + x] += src[rowIdx + x * s + kx] * wv;
              for (let x = Math.max(xIb, lo0); x < hi0; x++) acc[aRow + x] += src[rowIdx + x * s + kx] * wv;
            }
          }
        }
      }
      // k = 3, rows whose three kernel rows are all in range: the interior in one pass over all nine taps.
      for (let y = yFa; y < yFb; y++) {
        const ii = inPlane + (y * s - p - py0) * pW - p - px0 + xIa * s;
        const ai = (y - y0) * tw - x0 + xIa;
        if (s === 1) rowK3S1R3(acc, ai, src, ii, pW, nI, weights, wBase);
        else rowK3S2R3(acc, ai, src, ii, pW, nI, weights, wBase);
      }
    }
    }
    // Requantize: t = acc·M + B is exact in a double (|t| < 2^51, contract 2.1), and t·2^−S is exact too, so
    // Math.floor gives the arithmetic shift.
    const M = params.mult[m];
    const B = params.bias[m];
    const scale = POW2NEG[params.shift[m]];
    let o = outBase + (m - m0) * outPlane;
    for (let ai = 0, y = y0; y < y1; y++, o += outRow) {
      for (let x = 0; x < tw; x++, ai++) {
        const q = Math.floor((acc[ai] * M + B) * scale);
        out[o + x] = q < lo ? lo : q > hi ? hi : q;
      }
    }
  }
}

/**
 * Whole conv layer: input cin × inH × inW codes → output (allocated when `out` is omitted: Uint8Array for 'relu',
 * Int16Array for 'linear'), optionally at a channel offset of a concatenation buffer via `place`.
 */
export function conv(
  spec: ConvSpec, params: QLayerParams, input: Uint8Array, inH: number, inW: number,
  out?: Uint8Array | Int16Array, place: OutPlacement = {},
): Uint8Array | Int16Array {
  const [Ho, Wo] = convOutSize(spec, inH, inW);
  const size = (place.channelsTotal ?? spec.cout) * (place.h ?? Ho) * (place.w ?? Wo);
  const dst = out ?? (spec.mode === 'linear' ? new Int16Array(size) : new Uint8Array(size));
  convTile(spec, params, input, inH, inW, { y0: 0, y1: Ho, x0: 0, x1: Wo, m0: 0, m1: spec.cout }, dst, place);
  return dst;
}
