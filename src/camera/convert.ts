// Captured pixels to the network input planes in one pass over the capture buffer (issue #10's copy rule): each
// output row converts the (at most two) source rows it samples into a one-row RGB scratch line and interpolates from
// there — no full-frame intermediate (a same-size YUYV frame goes straight into the planes, yuyvToPlanes). The
// sampling is src/flow/netinput.ts's (bilinear, half-pixel centres, edge clamp; pad/crop a shifted copy with edge replication) with the same float expressions in the same order, so
// fitPlanes(...) equals stackPair-style planes of fitImage(rgb(), map) bit for bit (test/camera/convert.test.ts).
//
// YUYV (YUV 4:2:2, bytes Y0 U Y1 V per pixel pair) is converted with ITU-R BT.601 *limited range* (Y 16..235,
// Cb/Cr 16..240 — what UVC cameras send for YUYV and the V4L2 default quantization of SRGB/SMPTE170M YUV), in the
// usual 8-bit fixed point: C = Y−16, D = U−128, E = V−128; R = (298C + 409E + 128) >> 8, G = (298C − 100D − 208E +
// 128) >> 8, B = (298C + 516D + 128) >> 8, clamped to 0..255. Both pixels of a pair use the pair's U and V (no chroma
// interpolation, as libv4lconvert).
import { createImage, LITTLE_ENDIAN, type RgbImage } from '../flow/image.js';
import { taps, type InputMapping, type Taps } from '../flow/netinput.js';
import { splitRgb } from '../flow/fit.js';
import type { SourceFrame } from '../flow/source.js';
import { UserError } from '../errors.js';

/** Writes source row y as interleaved RGB (width·3 bytes) into `dst` and returns it, or returns a view of the row. */
export type RowReader = (y: number, scratch: Uint8Array) => Uint8Array;

/** A frame as rows of RGB, read straight from its buffer. */
export interface RowSource {
  width: number;
  height: number;
  row: RowReader;
  /** Optional: the whole frame as planes (row y's R at dst[to + y·width], G and B `stride` and 2·`stride` after),
   *  the bytes of `row` split — what a same-size fit does, without the interleaved row. */
  planes?: (dst: Uint8Array, to: number, stride: number) => void;
}

// CLAMP[(v + (512 << 8)) >> 8] = v >> 8 clamped to 0..255. YUYV sums v lie within [−70688, 136882] (Y, U, V anywhere in
// 0..255, out of the nominal range included), so the index lies within [235, 1046]. (Until 2026-12-04 the table had
// 1024 entries and an index past 1023 — Y ≥ 237 with U ≥ 244, blue beyond 511 before the clamp — read undefined, i.e.
// stored 0 instead of 255.)
const CLAMP = new Uint8Array(1280);
for (let i = 0; i < 1280; i++) CLAMP[i] = Math.min(255, Math.max(0, i - 512));
// The rounding term and the table's bias, folded into the chroma terms.
const K = 128 + (512 << 8);

/** BT.601 limited-range YUYV row → RGB. `src` holds the row at `offset` (width even, 2·width bytes). */
export function yuyvRowToRgb(src: Uint8Array, offset: number, width: number, d: Uint8Array): void {
  const pairs = width >> 1;
  let p = 0;
  const sa = src.byteOffset + offset;
  if (LITTLE_ENDIAN && pairs >= 2 && sa % 4 === 0 && d.byteOffset % 4 === 0) {
    // Four pixels a step: two words in, R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 out.
    const q = pairs >> 1;
    rowToRgbWords(new Int32Array(src.buffer, sa, 2 * q), new Int32Array(d.buffer, d.byteOffset, 3 * q), q);
    p = 2 * q;
  }
  pairsToRgb(src, offset + 4 * p, pairs - p, d, 6 * p, 3, 1);
}

/**
 * `count` YUYV pixel pairs from src[s] one byte at a time (unaligned rows, the last pairs of a row, big-endian
 * hosts): pixel k's R at d[o + k·px], its G `ch` bytes after that, its B 2·`ch` after — interleaved rows are px 3,
 * ch 1; planes px 1, ch the plane stride.
 */
function pairsToRgb(src: Uint8Array, s: number, count: number, d: Uint8Array, o: number, px: number, ch: number): void {
  for (let p = 0; p < count; p++, s += 4, o += 2 * px) {
    const dU = src[s + 1] - 128;
    const eV = src[s + 3] - 128;
    const r = 409 * eV + K;
    const g = -100 * dU - 208 * eV + K;
    const b = 516 * dU + K;
    const c0 = 298 * (src[s] - 16);
    const c1 = 298 * (src[s + 2] - 16);
    d[o] = CLAMP[(c0 + r) >> 8];
    d[o + ch] = CLAMP[(c0 + g) >> 8];
    d[o + 2 * ch] = CLAMP[(c0 + b) >> 8];
    d[o + px] = CLAMP[(c1 + r) >> 8];
    d[o + px + ch] = CLAMP[(c1 + g) >> 8];
    d[o + px + 2 * ch] = CLAMP[(c1 + b) >> 8];
  }
}

function rowToRgbWords(s: Int32Array, d: Int32Array, q: number): void {
  for (let j = 0, i = 0, o = 0; j < q; j++, i += 2, o += 3) {
    const w0 = s[i], w1 = s[i + 1];
    let dU = ((w0 >>> 8) & 255) - 128, eV = (w0 >>> 24) - 128;
    let r = 409 * eV + K, g = -100 * dU - 208 * eV + K, b = 516 * dU + K;
    let c0 = 298 * ((w0 & 255) - 16), c1 = 298 * (((w0 >>> 16) & 255) - 16);
    const a0 = CLAMP[(c0 + r) >> 8] | (CLAMP[(c0 + g) >> 8] << 8) | (CLAMP[(c0 + b) >> 8] << 16) | (CLAMP[(c1 + r) >> 8] << 24);
    const a1 = CLAMP[(c1 + g) >> 8] | (CLAMP[(c1 + b) >> 8] << 8);
    dU = ((w1 >>> 8) & 255) - 128;
    eV = (w1 >>> 24) - 128;
    r = 409 * eV + K;
    g = -100 * dU - 208 * eV + K;
    b = 516 * dU + K;
    c0 = 298 * ((w1 & 255) - 16);
    c1 = 298 * (((w1 >>> 16) & 255) - 16);
    d[o] = a0;
    d[o + 1] = a1 | (CLAMP[(c0 + r) >> 8] << 16) | (CLAMP[(c0 + g) >> 8] << 24);
    d[o + 2] = CLAMP[(c0 + b) >> 8] | (CLAMP[(c1 + r) >> 8] << 8) | (CLAMP[(c1 + g) >> 8] << 16) | (CLAMP[(c1 + b) >> 8] << 24);
  }
}

/**
 * A whole YUYV frame (rows `bytesPerLine` apart from src[offset]) straight into planes: row y's R at dst[to + y·width],
 * G `stride` bytes after it, B 2·`stride` after it — the bytes of yuyvRowToRgb + splitRgb without the interleaved row.
 * Rows whose source and destination start on a 4-byte boundary (little-endian hosts, stride a multiple of 4) go four
 * pixels a step: two 32-bit loads, one 32-bit store per plane.
 */
export function yuyvToPlanes(src: Uint8Array, offset: number, bytesPerLine: number, width: number, height: number, dst: Uint8Array, to: number, stride: number): void {
  const pairs = width >> 1;
  const sBase = src.byteOffset & ~3;
  const dBase = dst.byteOffset & ~3;
  const words = LITTLE_ENDIAN && pairs >= 2 && stride % 4 === 0;
  const s32 = words ? new Int32Array(src.buffer, sBase, (src.byteOffset + src.length - sBase) >> 2) : undefined;
  const d32 = words ? new Int32Array(dst.buffer, dBase, (dst.byteOffset + dst.length - dBase) >> 2) : undefined;
  for (let y = 0; y < height; y++) {
    const s0 = offset + y * bytesPerLine;
    const o0 = to + y * width;
    let p = 0;
    const sa = src.byteOffset + s0, da = dst.byteOffset + o0;
    if (words && sa % 4 === 0 && da % 4 === 0) {
      const q = pairs >> 1;
      const ro = (da - dBase) >> 2;
      rowToPlaneWords(s32!, (sa - sBase) >> 2, d32!, ro, ro + (stride >> 2), ro + (stride >> 1), q);
      p = 2 * q;
    }
    pairsToRgb(src, s0 + 4 * p, pairs - p, dst, o0 + 2 * p, 1, stride);
  }
}

function rowToPlaneWords(s: Int32Array, i: number, d: Int32Array, ro: number, go: number, bo: number, q: number): void {
  for (let j = 0; j < q; j++, i += 2) {
    const w0 = s[i], w1 = s[i + 1];
    let dU = ((w0 >>> 8) & 255) - 128, eV = (w0 >>> 24) - 128;
    let r = 409 * eV + K, g = -100 * dU - 208 * eV + K, b = 516 * dU + K;
    let c0 = 298 * ((w0 & 255) - 16), c1 = 298 * (((w0 >>> 16) & 255) - 16);
    const R = CLAMP[(c0 + r) >> 8] | (CLAMP[(c1 + r) >> 8] << 8);
    const G = CLAMP[(c0 + g) >> 8] | (CLAMP[(c1 + g) >> 8] << 8);
    const B = CLAMP[(c0 + b) >> 8] | (CLAMP[(c1 + b) >> 8] << 8);
    dU = ((w1 >>> 8) & 255) - 128;
    eV = (w1 >>> 24) - 128;
    r = 409 * eV + K;
    g = -100 * dU - 208 * eV + K;
    b = 516 * dU + K;
    c0 = 298 * ((w1 & 255) - 16);
    c1 = 298 * (((w1 >>> 16) & 255) - 16);
    d[ro + j] = R | (CLAMP[(c0 + r) >> 8] << 16) | (CLAMP[(c1 + r) >> 8] << 24);
    d[go + j] = G | (CLAMP[(c0 + g) >> 8] << 16) | (CLAMP[(c1 + g) >> 8] << 24);
    d[bo + j] = B | (CLAMP[(c0 + b) >> 8] << 16) | (CLAMP[(c1 + b) >> 8] << 24);
  }
}

/** Rows of a YUYV buffer (bytesperline ≥ 2·width). */
export function yuyvRows(buf: Uint8Array, width: number, height: number, bytesPerLine = 2 * width): RowSource {
  if (width % 2 !== 0) throw new Error(`YUYV width ${width} is odd`);
  if (bytesPerLine < 2 * width || buf.length < bytesPerLine * (height - 1) + 2 * width) {
    throw new Error(`YUYV buffer of ${buf.length} bytes is too small for ${width}x${height} at ${bytesPerLine} bytes per line`);
  }
  return {
    width,
    height,
    row: (y, scratch) => {
      yuyvRowToRgb(buf, y * bytesPerLine, width, scratch);
      return scratch;
    },
    planes: (dst, to, stride) => yuyvToPlanes(buf, 0, bytesPerLine, width, height, dst, to, stride),
  };
}

/** Rows of an interleaved RGB image: views, no conversion. */
export function rgbRows(img: RgbImage): RowSource {
  const stride = img.width * 3;
  return { width: img.width, height: img.height, row: (y) => img.data.subarray(y * stride, y * stride + stride) };
}

/** The whole frame as RGB (for rgb(): the live page, tests). */
export function toRgb(src: RowSource): RgbImage {
  const img = createImage(src.width, src.height);
  const stride = src.width * 3;
  const scratch = new Uint8Array(stride);
  for (let y = 0; y < src.height; y++) {
    const r = src.row(y, scratch);
    img.data.set(r.subarray(0, stride), y * stride);
  }
  return img;
}

/** Per-mapping tables and scratch rows, reused frame after frame (the run loop fits every frame with one mapping). */
export class PlaneFitter {
  readonly map: InputMapping;
  #tx?: Taps;
  #ty?: Taps;
  #xs?: Int32Array;
  // Two scratch rows with the source row each holds (−1: none), so consecutive output rows reuse conversions.
  #rows: [Uint8Array, Uint8Array];
  #held = new Int32Array(2);
  #last = -1;
  // Resize: two horizontally interpolated rows and the source row each holds.
  #h: [Float64Array, Float64Array];
  #hheld = new Int32Array(2);
  #hlast = -1;

  constructor(map: InputMapping) {
    this.map = map;
    const stride = map.srcWidth * 3;
    this.#rows = [new Uint8Array(stride), new Uint8Array(stride)];
    this.#h = [new Float64Array(3 * map.netWidth), new Float64Array(3 * map.netWidth)];
    if (map.mode === 'resize') {
      this.#tx = taps(map.srcWidth, map.netWidth);
      this.#ty = taps(map.srcHeight, map.netHeight);
    } else {
      const xs = new Int32Array(map.netWidth);
      for (let x = 0; x < map.netWidth; x++) xs[x] = 3 * clampI(x - map.offsetX, 0, map.srcWidth - 1);
      this.#xs = xs;
    }
  }

  /**
   * Writes the frame fitted per the mapping as planes R, G, B of netHeight·netWidth bytes at dst[offset…]. Equals
   * the planes of fitImage(toRgb(src), map) exactly.
   */
  fit(src: RowSource, dst: Uint8Array, offset: number): void {
    const m = this.map;
    if (src.width !== m.srcWidth || src.height !== m.srcHeight) {
      throw new UserError(`frame is ${src.width}x${src.height}, expected ${m.srcWidth}x${m.srcHeight}`, 'all frames of a stream must have one size');
    }
    const W = m.netWidth;
    const H = m.netHeight;
    const n = W * H;
    if (!Number.isInteger(offset) || offset < 0 || dst.length < offset + 3 * n) {
      throw new RangeError(`fitPlanes: ${dst.length}-byte destination cannot hold 3x${H}x${W} at offset ${offset}`);
    }
    this.#held.fill(-1);
    this.#last = -1;
    this.#hheld.fill(-1);
    this.#hlast = -1;
    const pR = offset;
    const pG = offset + n;
    const pB = offset + 2 * n;
    if (m.mode === 'resize' && (W !== m.srcWidth || H !== m.srcHeight)) {
      // Separable: resizeImage's `top` and `bot` are the horizontal interpolations of source rows i0 and i1, so each
      // source row is interpolated once (kept while the next output row may need it), then blended vertically.
      const ty = this.#ty!;
      for (let y = 0, o = 0; y < H; y++) {
        const a = this.#hrow(src, ty.i0[y]);
        const b = this.#hrow(src, ty.i1[y]);
        const wy = ty.w1[y];
        // Math.floor(v + 0.5) of resizeImage, as the Uint8Array store's truncation: v + 0.5 lies in [0.5, 255.5],
        // where truncation and floor agree (and the store needs no clamp).
        for (let x = 0, k = 0; x < W; x++, o++, k += 3) {
          dst[pR + o] = a[k] + (b[k] - a[k]) * wy + 0.5;
          dst[pG + o] = a[k + 1] + (b[k + 1] - a[k + 1]) * wy + 0.5;
          dst[pB + o] = a[k + 2] + (b[k + 2] - a[k + 2]) * wy + 0.5;
        }
      }
      return;
    }
    if (!this.#xs) {
      // Same size (fitImage returns the frame itself): each converted row split into the planes as it is — for YUYV
      // in one pass, straight into the planes.
      if (src.planes) {
        src.planes(dst, pR, n);
        return;
      }
      for (let y = 0; y < H; y++) splitRgb(this.#row(src, y), 0, dst, pR + y * W, W, n);
      return;
    }
    // Pad or crop: a shifted copy with edge replication.
    const xs = this.#xs;
    const oy = m.offsetY;
    for (let y = 0, o = 0; y < H; y++) {
      const r = this.#row(src, clampI(y - oy, 0, m.srcHeight - 1));
      for (let x = 0; x < W; x++, o++) {
        const i = xs[x];
        dst[pR + o] = r[i];
        dst[pG + o] = r[i + 1];
        dst[pB + o] = r[i + 2];
      }
    }
  }

  /** Source row y interpolated horizontally to the network width (interleaved RGB, float), cached like #row. */
  #hrow(src: RowSource, y: number): Float64Array {
    const h = this.#hheld;
    const hit = h[0] === y ? 0 : h[1] === y ? 1 : -1;
    if (hit >= 0) {
      this.#hlast = hit;
      return this.#h[hit as 0 | 1];
    }
    const slot = this.#hlast === 0 ? 1 : 0;
    const out = this.#h[slot];
    const a = src.row(y, this.#rows[0]);
    const { i0, i1, w1 } = this.#tx!;
    const W = this.map.netWidth;
    for (let x = 0, k = 0; x < W; x++, k += 3) {
      const c0 = i0[x] * 3;
      const c1 = i1[x] * 3;
      const wx = w1[x];
      // resizeImage's `top`/`bot` expression, channel by channel.
      out[k] = a[c0] + (a[c1] - a[c0]) * wx;
      out[k + 1] = a[c0 + 1] + (a[c1 + 1] - a[c0 + 1]) * wx;
      out[k + 2] = a[c0 + 2] + (a[c1 + 2] - a[c0 + 2]) * wx;
    }
    h[slot] = y;
    this.#hlast = slot;
    return out;
  }

  #row(src: RowSource, y: number): Uint8Array {
    const h = this.#held;
    let slot: number;
    if (h[0] === y) slot = 0;
    else if (h[1] === y) slot = 1;
    else {
      // Overwrite the slot not used last: the row an output row already holds stays valid while it fetches its second.
      slot = this.#last === 0 ? 1 : 0;
      const r = src.row(y, this.#rows[slot]);
      if (r !== this.#rows[slot]) return r; // a view into an RGB source: nothing to keep
      h[slot] = y;
    }
    this.#last = slot;
    return this.#rows[slot];
  }
}

// Tables and scratch depend only on the mapping; a stream reuses one mapping object for every frame.
const fitters = new WeakMap<InputMapping, PlaneFitter>();

/** The PlaneFitter of a mapping (made once per mapping object). */
export function fitterFor(map: InputMapping): PlaneFitter {
  let f = fitters.get(map);
  if (!f) {
    f = new PlaneFitter(map);
    fitters.set(map, f);
  }
  return f;
}

/**
 * A YUYV buffer as a SourceFrame that converts inside the one fitting pass (what a camera frame does, without the
 * driver: `flowfpga bench host --camera-format yuyv`, tests). `release()` drops the reference to the buffer.
 */
export function yuyvFrame(buf: Uint8Array, width: number, height: number, index: number, bytesPerLine = 2 * width): SourceFrame {
  let rows: RowSource | undefined = yuyvRows(buf, width, height, bytesPerLine);
  const live = (): RowSource => {
    if (!rows) throw new Error(`frame ${index} used after release()`);
    return rows;
  };
  return {
    index,
    width,
    height,
    timestampMs: 0,
    fitPlanes: (map, dst, offset) => fitterFor(map).fit(live(), dst, offset),
    rgb: () => toRgb(live()),
    release: () => {
      rows = undefined;
    },
  };
}

function clampI(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * RGB → YUYV with the inverse BT.601 limited-range fixed point (Y = ((66R + 129G + 25B + 128) >> 8) + 16, U and V
 * from the pair's mean RGB). Used by the simulated camera and the bench to make what a YUYV camera would send.
 */
export function rgbToYuyv(img: RgbImage, out?: Uint8Array): Uint8Array {
  const { width, height, data } = img;
  if (width % 2 !== 0) throw new UserError(`frame width ${width} is odd`, 'YUYV packs pixel pairs: use frames with an even width');
  const dst = out ?? new Uint8Array(2 * width * height);
  for (let i = 0, s = 0, o = 0; i < (width * height) >> 1; i++, s += 6, o += 4) {
    const r0 = data[s], g0 = data[s + 1], b0 = data[s + 2];
    const r1 = data[s + 3], g1 = data[s + 4], b1 = data[s + 5];
    const r = (r0 + r1 + 1) >> 1, g = (g0 + g1 + 1) >> 1, b = (b0 + b1 + 1) >> 1;
    dst[o] = ((66 * r0 + 129 * g0 + 25 * b0 + 128) >> 8) + 16;
    dst[o + 1] = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    dst[o + 2] = ((66 * r1 + 129 * g1 + 25 * b1 + 128) >> 8) + 16;
    dst[o + 3] = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
  }
  return dst;
}
