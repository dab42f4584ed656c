// Convolution + requantization of the integer contract (2.1 conv, 2.2 flow head), whole-layer and per-tile.
//
// Hot loop order: c_out → c_in → ky → y → x. For one output channel an Int32Array holds the tile's accumulators;
// each output row's interior is one pass of a kernel specialized for (k, stride) that applies all k taps of the
// kernel row with the weights hoisted into locals. Zero padding is handled by clipping rows/cols to their in-range
// span up front; only the few border columns go tap by tap (no per-element branch anywhere).
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
 * Computes `tile` of a conv layer's output from the layer's whole input tensor (cin × inH × inW codes; for
 * spec.upsampleInput the low-res tensor, up-sampled on the fly for just the rows/cols the tile reads) and writes it
 * into `out` at `place`. `out` is Uint8Array for 'relu', Int16Array for 'linear'. Allocates nothing once warm.
 */
export function convTile(
  spec: ConvSpec, params: QLayerParams, input: Uint8Array, inH: number, inW: number,
  tile: Tile, out: Uint8Array | Int16Array, place: OutPlacement = {},
): void {
  validate(spec, params);
  const [H, W] = convInputSize(spec, inH, inW);
  const [Ho, Wo] = convOutSize(spec, inH, inW);
  const { y0, y1, x0, x1, m0, m1 } = tile;
  if (!(0 <= y0 && y0 <= y1 && y1 <= Ho && 0 <= x0 && x0 <= x1 && x1 <= Wo && 0 <= m0 && m0 <= m1 && m1 <= spec.cout)) {
    throw new RangeError(`tile rows ${y0}..${y1} cols ${x0}..${x1} ch ${m0}..${m1} outside ${spec.cout}x${Ho}x${Wo}`);
  }
  if (input.length < spec.cin * inH * inW) {
    throw new RangeError(`conv input has ${input.length} codes, needs ${spec.cin}·${inH}·${inW}`);
  }
  const oh = place.h ?? Ho;
  const ow = place.w ?? Wo;
  const oy = place.originY ?? 0;
  const ox = place.originX ?? 0;
  const total = place.channelsTotal ?? spec.cout;
  const off = place.channelOffset ?? 0;
  if (off + m0 < 0 || off + m1 > total) throw new RangeError(`channels ${off + m0}..${off + m1} outside 0..${total}`);
  if (y0 - oy < 0 || y1 - oy > oh || x0 - ox < 0 || x1 - ox > ow) {
    throw new RangeError('tile does not fit the output placement');
  }
  if (out.length < total * oh * ow) throw new RangeError(`conv output has ${out.length} elements, needs ${total * oh * ow}`);
  if (y0 === y1 || x0 === x1 || m0 === m1) return;
  if ((spec.mode === 'linear') !== out instanceof Int16Array) {
    throw new TypeError(`conv output must be ${spec.mode === 'linear' ? 'Int16Array' : 'Uint8Array'} for mode ${spec.mode}`);
  }
  const outBase = (off + m0) * oh * ow + (y0 - oy) * ow + (x0 - ox);
  const p = (spec.k - 1) >> 1;
  if (!spec.upsampleInput) {
    convCore(spec, params, input, 0, inH, inW, 0, 0, H, W, tile, out, outBase, oh * ow, ow);
    return;
  }
  // Fused up2: materialize only the up-sampled rows/cols this tile's windows touch.
  const r0 = Math.max(0, y0 * spec.stride - p);
  const r1 = Math.min(H, (y1 - 1) * spec.stride - p + spec.k);
  const c0 = Math.max(0, x0 * spec.stride - p);
  const c1 = Math.min(W, (x1 - 1) * spec.stride - p + spec.k);
  const ph = r1 - r0;
  const pw = c1 - c0;
  const need = spec.cin * ph * pw;
  if (patchBuf.length < need) patchBuf = new Uint8Array(Math.max(need, patchBuf.length * 2));
  const patch = patchBuf;
  upsampleRegion(2, spec.cin, { data: input, base: 0, plane: inH * inW, row: inW, y0: 0, x0: 0, h: inH, w: inW },
    r0, r1, c0, c1, { data: patch, base: 0, plane: ph * pw, row: pw });
  convCore(spec, params, patch, 0, ph, pw, r0, c0, H, W, tile, out, outBase, oh * ow, ow);
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
 * The kernel. `src` holds a patch of the conv's (virtual, H × W) input: element (ci, y, x) at
 * `src[srcBase + ci·pH·pW + (y − py0)·pW + (x − px0)]`; it must cover every in-range position the tile reads.
 * Output element (m, y, x) of the tile goes to `out[outBase + (m − m0)·outPlane + (y − y0)·outRow + (x − x0)]`.
 *
 * Loop order c_out → c_in → ky → y → x (interior: all kx fused) — the same in bench/reference_conv.cpp.
 */
function convCore(
  spec: ConvSpec, params: QLayerParams, src: Uint8Array, srcBase: number,
  pH: number, pW: number, py0: number, px0: number, H: number, W: number,
  tile: Tile, out: Uint8Array | Int16Array, outBase: number, outPlane: number, outRow: number,
): void {
  const { cin, k, stride: s } = spec;
  const { y0, y1, x0, x1, m0, m1 } = tile;
  const p = (k - 1) >> 1;
  const tw = x1 - x0;
  const n = (y1 - y0) * tw;
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
  const weights = params.weights;
  const kk = k * k;
  const plane = pH * pW;
  const lo = spec.mode === 'linear' ? -32768 : 0;
  const hi = spec.mode === 'linear' ? 32767 : (1 << spec.bits) - 1;
  for (let m = m0; m < m1; m++) {
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
          if (nI > 0) {
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
