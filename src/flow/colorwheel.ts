// Middlebury flow colour coding (flow-code colorcode.cpp / color_flow.cpp by D. Scharstein; facts.md §6).
// The C code computes in single precision; Math.fround reproduces its float roundings so pixel values match it
// (including the (int) truncation), and the result is stored RGB where the C code writes BGR.
import { UserError } from '../errors.js';
import type { FlowField } from './flo.js';
import { UNKNOWN_FLOW_THRESH } from './flo.js';
import { createImage, LITTLE_ENDIAN, writePng, type RgbImage } from './image.js';

const f32 = Math.fround;

/** Segment lengths RY, YG, GC, CB, BM, MR. */
export const WHEEL_SEGMENTS = [15, 6, 4, 11, 13, 6] as const;
export const NCOLS = 55;

/** The 55 wheel colours, [k*3 + c] with c = R, G, B; ramps 255*i/N with integer (floor) division as in the C code. */
export function makeColorWheel(): Uint8Array {
  const [RY, YG, GC, CB, BM, MR] = WHEEL_SEGMENTS;
  const w = new Uint8Array(NCOLS * 3);
  let k = 0;
  const set = (r: number, g: number, b: number): void => {
    w[3 * k] = r;
    w[3 * k + 1] = g;
    w[3 * k + 2] = b;
    k++;
  };
  const ramp = (i: number, n: number): number => Math.floor((255 * i) / n);
  for (let i = 0; i < RY; i++) set(255, ramp(i, RY), 0);
  for (let i = 0; i < YG; i++) set(255 - ramp(i, YG), 255, 0);
  for (let i = 0; i < GC; i++) set(0, 255, ramp(i, GC));
  for (let i = 0; i < CB; i++) set(0, 255 - ramp(i, CB), 255);
  for (let i = 0; i < BM; i++) set(ramp(i, BM), 0, 255);
  for (let i = 0; i < MR; i++) set(255, 0, 255 - ramp(i, MR));
  return w;
}

const WHEEL = makeColorWheel();
/** colorwheel[k][b] / 255.0 stored to float, as the C code does per use. */
const WHEEL_F = Float32Array.from(WHEEL, (c) => c / 255);

/**
 * computeColor(fx, fy): colour of one normalised vector, written as R, G, B into out[o..o+2].
 * |(fx, fy)| <= 1 blends from white towards the wheel colour; beyond 1 the colour is darkened to 75 %.
 */
export function computeColor(fx: number, fy: number, out: Uint8Array, o = 0): void {
  fx = f32(fx);
  fy = f32(fy);
  const rad = f32(Math.sqrt(f32(f32(fx * fx) + f32(fy * fy))));
  const a = f32(f32(Math.atan2(-fy, -fx)) / Math.PI);
  const fk = f32(((a + 1.0) / 2.0) * (NCOLS - 1));
  const k0 = Math.trunc(fk);
  const k1 = (k0 + 1) % NCOLS;
  const f = f32(fk - k0);
  const f1 = f32(1 - f);
  for (let b = 0; b < 3; b++) {
    const col0 = WHEEL_F[3 * k0 + b];
    const col1 = WHEEL_F[3 * k1 + b];
    let col = f32(f32(f1 * col0) + f32(f * col1));
    if (rad <= 1) col = f32(1 - f32(rad * f32(1 - col)));
    else col = f32(col * 0.75);
    out[o + b] = Math.trunc(255.0 * col);
  }
}

/**
 * The colour of flow (u, v) normalised by maxrad, packed R | G << 8 | B << 16 | 1 << 24: computeColor() of
 * (u / maxrad, v / maxrad) with the same float32 operations in the same order (identical bytes).
 */
function colorPacked(u: number, v: number, maxrad: number): number {
  const W = WHEEL_F;
  const fx = f32(u / maxrad);
  const fy = f32(v / maxrad);
  const rad = f32(Math.sqrt(f32(f32(fx * fx) + f32(fy * fy))));
  const a = f32(f32(Math.atan2(-fy, -fx)) / Math.PI);
  const fk = f32(((a + 1.0) / 2.0) * (NCOLS - 1));
  const k0 = Math.trunc(fk);
  const k1 = k0 + 1 === NCOLS ? 0 : k0 + 1;
  const f = f32(fk - k0);
  const f1 = f32(1 - f);
  const j0 = 3 * k0;
  const j1 = 3 * k1;
  let c0 = f32(f32(f1 * W[j0]) + f32(f * W[j1]));
  let c1 = f32(f32(f1 * W[j0 + 1]) + f32(f * W[j1 + 1]));
  let c2 = f32(f32(f1 * W[j0 + 2]) + f32(f * W[j1 + 2]));
  if (rad <= 1) {
    c0 = f32(1 - f32(rad * f32(1 - c0)));
    c1 = f32(1 - f32(rad * f32(1 - c1)));
    c2 = f32(1 - f32(rad * f32(1 - c2)));
  } else {
    c0 = f32(c0 * 0.75);
    c1 = f32(c1 * 0.75);
    c2 = f32(c2 * 0.75);
  }
  return Math.trunc(255.0 * c0) | (Math.trunc(255.0 * c1) << 8) | (Math.trunc(255.0 * c2) << 16) | (1 << 24);
}

// ---------------------------------------------------------------------------------------------------- fast path
// colorPacked() is a chain of ~40 float32 roundings plus atan2: ≈ 80 ns a pixel in V8, latency-bound. Most pixels
// need none of that precision to get the same bytes. The fast path computes the radius and the wheel position fk in
// double (atan2 from a 33-entry table plus four series terms, error < 1e-15), then the one channel that varies along
// the wheel segment and the radius-only constant channels; each differs from the float32 chain by a bounded amount,
// so when fk is not within FK_MARGIN of an integer and no byte is within FAST_MARGIN of one, truncation gives the
// float32 chain's bytes. The rest (≈ 1 % of pixels; all of a zero-flow region's first pixel) go to colorPacked().
// It runs as two simple loops over chunks (position, then bytes): fused into one loop body the same arithmetic took
// twice as long (V8 keeps fewer iterations in flight).

/** atan(k / 32), k = 0..32: the table the argument reduction steps from. */
const ATAN_K = Float64Array.from({ length: 33 }, (_, k) => Math.atan(k / 32));
/**
 * Bound on |255 * col_double - 255 * col_float32|, times 3 for safety. The float32 chain rounds fx, fy (angle off by
 * <= 6e-8 rad, radius relatively by 2^-24), a = f32(f32(atan2) / pi) (1.2e-7), fk = f32((a + 1) / 2 * 54) (3.2e-6):
 * fk within 7e-6 of the double one; the blend f1 * W0 + f * W1 (|W1 - W0| <= 64/255) and 1 - rad * (1 - c) or
 * c * 0.75 add six roundings of <= 6e-8: 2.3e-6 in all, 5.9e-4 after * 255. Measured over 3e6 vectors: 1.4e-4.
 */
const FAST_MARGIN = 2e-3;
/** fk this close to an integer may truncate differently in float32. */
const FK_MARGIN = 1e-4;
/** Radii this close to 1 may fall on the other side of the white/darkened switch in float32. */
const RAD_MARGIN = 1e-6;
/**
 * Per wheel index k0 = 0..53 (k1 = k0 + 1; fk = 54 exactly never takes the fast path): exactly one channel varies
 * between colours k0 and k1 (checked here); 255 * its blend is BASE + fr * SLOPE, placed at bit SHIFT. The constant
 * channels are 0 or 255, and for w = 0 or 1 the float32 blend f1 * w + f * w is exactly w (f1 + f rounds to 1), so
 * their bytes depend on the radius only: 255 / trunc(255 * (1 - rad)) inside the unit circle, 191 / 0 beyond it.
 * ONES / ZEROS hold 1 in the bytes of the channels that are 255 / 0, so one multiply places the byte in each.
 */
const SEG_BASE = new Float64Array(NCOLS - 1);
const SEG_SLOPE = new Float64Array(NCOLS - 1);
const SEG_SHIFT = new Int32Array(NCOLS - 1);
const SEG_ONES = new Int32Array(NCOLS - 1);
const SEG_ZEROS = new Int32Array(NCOLS - 1);
{
  const w = makeColorWheel();
  for (let k = 0; k < NCOLS - 1; k++) {
    let varying = -1;
    for (let c = 0; c < 3; c++) {
      const a = w[3 * k + c], b = w[3 * k + 3 + c];
      if (a !== b) {
        if (varying >= 0) throw new Error(`wheel colours ${k} and ${k + 1} differ in two channels`);
        varying = c;
        SEG_SHIFT[k] = 8 * c;
        SEG_BASE[k] = 255 * WHEEL_F[3 * k + c];
        SEG_SLOPE[k] = 255 * (WHEEL_F[3 * k + 3 + c] - WHEEL_F[3 * k + c]);
      } else if (a === 255) SEG_ONES[k] |= 1 << (8 * c);
      else if (a === 0) SEG_ZEROS[k] |= 1 << (8 * c);
      else throw new Error(`wheel colours ${k} and ${k + 1} share channel ${c} = ${a}, not 0 or 255`);
    }
    if (varying < 0) throw new Error(`wheel colours ${k} and ${k + 1} are equal`);
  }
}

/** Pixels per chunk: the two loops' scratch (16 bytes a pixel) stays in L1/L2. */
const CHUNK = 2048;
const SCRATCH_RAD = new Float64Array(CHUNK);
const SCRATCH_FK = new Float64Array(CHUNK);

/** Radius and wheel position fk of pixels [i0, i1) in double into rad/fk[i - i0]; rad = -1 for unknown pixels. */
function wheelPositions(u: Float32Array, v: Float32Array, i0: number, i1: number, inv: number, rad: Float64Array, fk: Float64Array): void {
  const AT = ATAN_K, PI = Math.PI, HALF_PI = Math.PI / 2, SCALE = (NCOLS - 1) / 2 / Math.PI;
  for (let i = i0, j = 0; i < i1; i++, j++) {
    const uu = u[i];
    const vv = v[i];
    if (!(Math.abs(uu) <= UNKNOWN_FLOW_THRESH && Math.abs(vv) <= UNKNOWN_FLOW_THRESH)) {
      rad[j] = -1;
      continue;
    }
    const fx = uu * inv;
    const fy = vv * inv;
    rad[j] = Math.sqrt(fx * fx + fy * fy);
    // atan2(-fy, -fx): z = min/max in [0, 1], a step from the nearest k/32, four series terms (|s| <= 1/64).
    const ax = Math.abs(fx), ay = Math.abs(fy);
    const swap = ay > ax;
    const z = swap ? ax / ay : ay / ax;
    const k = (z * 32 + 0.5) | 0;
    const zk = k * 0.03125;
    const s = (z - zk) / (1 + z * zk);
    const s2 = s * s;
    let t = AT[k] + s * (1 - s2 * (0.3333333333333333 - s2 * (0.2 - s2 * 0.14285714285714285)));
    if (swap) t = HALF_PI - t;
    if (fx > 0) t = PI - t; // -fx < 0
    if (fy > 0) t = -t; // -fy < 0
    fk[j] = t * SCALE + (NCOLS - 1) / 2; // ((a + 1) / 2) * (NCOLS - 1), a = t / pi
  }
}

/**
 * RGB bytes of pixels [i0, i1) from their positions; colorPacked() where the fast path cannot vouch for the bytes.
 * The previous known pixel's float32 bits and colour are kept (across chunks too: state[0..2]), so runs of one vector
 * (static background, blocky flow) cost a comparison; the bits keep the sign of zero, which can pick the other end.
 */
function wheelBytes(u: Float32Array, v: Float32Array, ub: Int32Array, vb: Int32Array, i0: number, i1: number, maxrad: number,
  rad: Float64Array, fk: Float64Array, d: Uint8Array, state: Int32Array): void {
  const BASE = SEG_BASE, SLOPE = SEG_SLOPE, SHIFT = SEG_SHIFT, ONES = SEG_ONES, ZEROS = SEG_ZEROS;
  let pu = state[0], pv = state[1], pc = state[2];
  for (let i = i0, j = 0, o = 3 * i0; i < i1; i++, j++, o += 3) {
    const r = rad[j];
    if (r < 0) {
      d[o] = d[o + 1] = d[o + 2] = 0;
      continue;
    }
    const bu = ub[i];
    const bv = vb[i];
    let c = pc;
    if (c === 0 || bu !== pu || bv !== pv) {
      c = 0;
      const p = fk[j];
      const k0 = p | 0;
      const fr = p - k0;
      if (r === 0) c = 0x1ffffff; // fx = fy = 0: 1 - 0 * (1 - c) = 1 in every channel, white
      else if (fr > FK_MARGIN && fr < 1 - FK_MARGIN && k0 < NCOLS - 1) {
        const cv = BASE[k0] + fr * SLOPE[k0];
        if (r < 1 - RAD_MARGIN) {
          const xv = 255 - r * (255 - cv);
          const xz = 255 - 255 * r;
          const lv = (xv - FAST_MARGIN) | 0;
          const lz = (xz - FAST_MARGIN) | 0;
          if (lv === ((xv + FAST_MARGIN) | 0) && lz === ((xz + FAST_MARGIN) | 0)) {
            c = (lv << SHIFT[k0]) | (255 * ONES[k0]) | (lz * ZEROS[k0]) | (1 << 24);
          }
        } else if (r > 1 + RAD_MARGIN && r < 1e38) { // beyond 3.4e38 float32 overflows: exact chain
          const xv = 0.75 * cv;
          const lv = (xv - FAST_MARGIN) | 0;
          if (lv === ((xv + FAST_MARGIN) | 0)) c = (lv << SHIFT[k0]) | (191 * ONES[k0]) | (1 << 24);
        }
      }
      if (c === 0) c = colorPacked(u[i], v[i], maxrad);
      pu = bu;
      pv = bv;
      pc = c;
    }
    d[o] = c & 255;
    d[o + 1] = (c >>> 8) & 255;
    d[o + 2] = (c >>> 16) & 255;
  }
  state[0] = pu;
  state[1] = pv;
  state[2] = pc;
}

export interface FlowColorOptions {
  /** Normalisation radius in pixels; 0 or absent = the largest known vector length (Middlebury `maxmotion`). */
  maxMotion?: number;
  /** Write into this image (the flow's size) instead of a fresh one: a caller that colours frame after frame and is
   *  done with the last image skips the page faults of 0.6 MB of new memory per 384x512 frame. */
  into?: RgbImage;
}

export interface FlowColorResult {
  image: RgbImage;
  /** The radius actually used (pixels); a vector this long gets the fully saturated wheel colour. */
  maxRadius: number;
}

/** What both wheels start from: the normalisation radius (Middlebury `maxmotion` or the largest known vector; -1 when
 *  none is known, 1 for all-zero flow) and the image to fill. */
function colourTarget(flow: FlowField, opts: FlowColorOptions): { u: Float32Array; v: Float32Array; n: number; maxrad: number; image: RgbImage } {
  const { width, height, u, v } = flow;
  const n = width * height;
  if (opts.maxMotion !== undefined && !(opts.maxMotion >= 0 && Number.isFinite(opts.maxMotion))) {
    throw new UserError(`invalid max motion ${opts.maxMotion}`, 'give a non-negative number of pixels (0 = automatic)');
  }
  const into = opts.into;
  if (into && (into.width !== width || into.height !== height || into.data.length < 3 * n)) {
    throw new Error(`colour image is ${into.width}x${into.height}, the flow ${width}x${height}`);
  }
  // A given radius makes the largest vector irrelevant: no pass over the field for it.
  let maxrad = opts.maxMotion !== undefined && opts.maxMotion > 0 ? f32(opts.maxMotion) : maxKnownRadius(u, v, n);
  if (maxrad === 0) maxrad = 1;
  return { u, v, n, maxrad, image: into ?? unfilledImage(width, height) };
}

/** An image both wheels write every byte of (unknown pixels too): no zero fill. Buffer.allocUnsafeSlow gives an
 *  ArrayBuffer of its own, never Node's shared pool, so the image can be transferred like createImage()'s. */
function unfilledImage(width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) return createImage(width, height); // its error
  const b = Buffer.allocUnsafeSlow(3 * width * height);
  return { width, height, data: new Uint8Array(b.buffer, b.byteOffset, 3 * width * height) };
}

/** MotionToColor: unknown pixels (|u| or |v| > 1e9, NaN) are black. */
export function flowToColor(flow: FlowField, opts: FlowColorOptions = {}): FlowColorResult {
  const { u, v, n, maxrad, image } = colourTarget(flow, opts);
  colorize(u, v, n, maxrad, image.data);
  return { image, maxRadius: maxrad < 0 ? 0 : maxrad };
}

// The per-pixel loops are functions of their own on purpose: inside one big function V8 compiles each loop on
// stack replacement and throws the code away when it reaches the not-yet-run statements after the loop ("insufficient
// type feedback"), so every frame ran partly interpreted (docs/performance.md "Host work per frame").

/**
 * Largest float32 length of a known vector (-1 when none). The float32 chain runs only for vectors whose double
 * length is within 1e-6 (relative, in squares) of the largest so far: its three roundings move the length by less than
 * 2e-7, so no other vector can exceed the maximum. A vector below that floor is skipped before the unknown test: an
 * unknown one is skipped either way, and NaN fails the comparison into the full test. Four vectors a step, one branch
 * for the common case that none of them comes near the maximum (≈ 1.6x the one-at-a-time loop).
 */
function maxKnownRadius(u: Float32Array, v: Float32Array, n: number): number {
  let maxrad = -1;
  let floor = -1; // squared double lengths below this cannot beat maxrad
  let i = 0;
  for (const m = n - 3; i < m; i += 4) {
    const x0 = u[i], y0 = v[i], x1 = u[i + 1], y1 = v[i + 1], x2 = u[i + 2], y2 = v[i + 2], x3 = u[i + 3], y3 = v[i + 3];
    if (x0 * x0 + y0 * y0 < floor && x1 * x1 + y1 * y1 < floor && x2 * x2 + y2 * y2 < floor && x3 * x3 + y3 * y3 < floor) continue;
    for (let j = i; j < i + 4; j++) {
      const fx = u[j];
      const fy = v[j];
      if (fx * fx + fy * fy < floor) continue;
      const rad = knownRadius(fx, fy);
      if (rad > maxrad) {
        maxrad = rad;
        floor = rad * rad * (1 - 1e-6);
      }
    }
  }
  for (; i < n; i++) {
    const rad = knownRadius(u[i], v[i]);
    if (rad > maxrad) {
      maxrad = rad;
      floor = rad * rad * (1 - 1e-6);
    }
  }
  return maxrad;
}

/** The Middlebury float32 length of (fx, fy); -1 when the vector is unknown. */
function knownRadius(fx: number, fy: number): number {
  if (!(Math.abs(fx) <= UNKNOWN_FLOW_THRESH && Math.abs(fy) <= UNKNOWN_FLOW_THRESH)) return -1;
  return f32(Math.sqrt(f32(f32(fx * fx) + f32(fy * fy))));
}

/** RGB of every pixel into d, chunk by chunk: positions, then bytes. */
function colorize(u: Float32Array, v: Float32Array, n: number, maxrad: number, d: Uint8Array): void {
  const ub = new Int32Array(u.buffer, u.byteOffset, n);
  const vb = new Int32Array(v.buffer, v.byteOffset, n);
  const inv = 1 / maxrad;
  const state = new Int32Array(3); // previous pixel's bits and colour; colour 0 = none yet
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const i1 = Math.min(n, i0 + CHUNK);
    wheelPositions(u, v, i0, i1, inv, SCRATCH_RAD, SCRATCH_FK);
    wheelBytes(u, v, ub, vb, i0, i1, maxrad, SCRATCH_RAD, SCRATCH_FK, d, state);
  }
}

export async function writeFlowPng(path: string, flow: FlowField, opts: FlowColorOptions = {}): Promise<FlowColorResult> {
  const r = flowToColor(flow, opts);
  await writePng(path, r.image);
  return r;
}

/**
 * Legend: a size x size square where pixel (x, y) shows the vector from the centre, normalised so the inscribed
 * circle has radius 1 (corners show the darkened out-of-range colours). Right = +u, down = +v.
 */
export function colorWheelLegend(size = 151): RgbImage {
  if (!Number.isInteger(size) || size < 3 || size > 4096) {
    throw new UserError(`invalid legend size ${size}`, 'use an integer 3..4096');
  }
  const img = createImage(size, size);
  const c = (size - 1) / 2;
  for (let y = 0, o = 0; y < size; y++) {
    for (let x = 0; x < size; x++, o += 3) computeColor((x - c) / c, (y - c) / c, img.data, o);
  }
  return img;
}

// ------------------------------------------------------------------------------------------------- display path
// The live page colours every image it shows, on the board. flowToColor() is byte-exact to the Middlebury code and
// costs ≈ 35 ns a pixel here (WebAssembly SIMD and C are no faster: docs/performance.md); for display a table does:
// computeColor() at the centres of a PREVIEW_N x PREVIEW_N grid over the unit square of normalised vectors, looked up
// by the cell a vector falls in. Cells that reach within two cells of the unit circle (where the colour jumps from
// saturated to darkened) and the row holding the +x axis (where the wheel does not close; y = ±0 picks the side) hold
// PREVIEW_EXACT instead of a colour, so their vectors, those outside the square and unknown ones take the exact path:
// one bounds test and one load per pixel. Measured deviation from flowToColor: see
// test/flow-colorwheel-preview.test.ts and docs/live-page.md.

/** Cells per axis of the display table (1 MiB of packed colours). */
export const PREVIEW_N = 512;
/** A table entry that sends its cell's vectors to the exact path (colours are 0x00BBGGRR, never negative). */
const PREVIEW_EXACT = -1;
let previewTable: Int32Array | undefined;

function previewLut(): Int32Array {
  if (previewTable) return previewTable;
  const half = PREVIEW_N / 2;
  const inner = (half - 2) * (half - 2);
  const t = new Int32Array(PREVIEW_N * PREVIEW_N);
  const rgb = new Uint8Array(3);
  for (let y = 0; y < PREVIEW_N; y++) {
    // The cell's farthest corner from the centre, in cells: a cell is served by the table only when all of it lies
    // more than two cells inside the unit circle.
    const fy = Math.max(Math.abs(y - half), Math.abs(y + 1 - half));
    for (let x = 0; x < PREVIEW_N; x++) {
      const fx = Math.max(Math.abs(x - half), Math.abs(x + 1 - half));
      if (y === half || fx * fx + fy * fy >= inner) {
        t[y * PREVIEW_N + x] = PREVIEW_EXACT;
        continue;
      }
      computeColor(((x + 0.5) * 2) / PREVIEW_N - 1, ((y + 0.5) * 2) / PREVIEW_N - 1, rgb);
      t[y * PREVIEW_N + x] = rgb[0] | (rgb[1] << 8) | (rgb[2] << 16);
    }
  }
  return (previewTable = t);
}

/**
 * The colour-wheel image for display: flowToColor()'s normalisation (the same maxRadius) and, for most pixels, the
 * colour of the nearest grid cell of a 512 x 512 table instead of the exact float32 chain — within a few levels of
 * flowToColor() (docs/live-page.md), about 10x cheaper. Files (`run --png`, `flowfpga color`) keep flowToColor().
 */
export function flowToColorPreview(flow: FlowField, opts: FlowColorOptions = {}): FlowColorResult {
  const { u, v, n, maxrad, image } = colourTarget(flow, opts);
  previewPixels(u, v, n, maxrad, previewLut(), image.data);
  return { image, maxRadius: maxrad < 0 ? 0 : maxrad };
}

function previewPixels(u: Float32Array, v: Float32Array, n: number, maxrad: number, lut: Int32Array, d: Uint8Array): void {
  // Per frame: a vector's table coordinates are (u, v) * k + PREVIEW_N / 2 cells.
  const k = PREVIEW_N / 2 / maxrad;
  let i = 0;
  if (LITTLE_ENDIAN && d.byteOffset % 4 === 0) {
    i = n - (n % 4);
    previewWords(u, v, i, k, maxrad, lut, new Int32Array(d.buffer, d.byteOffset, (3 * i) / 4));
  }
  for (let o = 3 * i; i < n; i++, o += 3) {
    const c = previewColour(u[i], v[i], k, maxrad, lut);
    d[o] = c & 255;
    d[o + 1] = (c >>> 8) & 255;
    d[o + 2] = (c >>> 16) & 255;
  }
}

/**
 * Pixels [0, n) (n a multiple of 4), four at a time: R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 as three little-endian
 * words — three stores instead of twelve (≈ 1.5x the byte loop). The exact path is out of the four lookups' way: a
 * group with any cell that cannot serve (≈ 1 % of a smooth field's pixels) is mended after them (≈ 1.3x).
 */
function previewWords(u: Float32Array, v: Float32Array, n: number, k: number, maxrad: number, lut: Int32Array, w: Int32Array): void {
  for (let i = 0, o = 0; i < n; i += 4, o += 3) {
    let c0 = previewCell(u[i], v[i], k, lut);
    let c1 = previewCell(u[i + 1], v[i + 1], k, lut);
    let c2 = previewCell(u[i + 2], v[i + 2], k, lut);
    let c3 = previewCell(u[i + 3], v[i + 3], k, lut);
    if ((c0 | c1 | c2 | c3) < 0) {
      if (c0 < 0) c0 = previewExact(u[i], v[i], maxrad);
      if (c1 < 0) c1 = previewExact(u[i + 1], v[i + 1], maxrad);
      if (c2 < 0) c2 = previewExact(u[i + 2], v[i + 2], maxrad);
      if (c3 < 0) c3 = previewExact(u[i + 3], v[i + 3], maxrad);
    }
    w[o] = c0 | (c1 << 24);
    w[o + 1] = (c1 >>> 8) | (c2 << 16);
    w[o + 2] = (c2 >>> 16) | (c3 << 8);
  }
}

/** 0x00BBGGRR of one vector: the table's cell, or the exact colour where the table may not serve (see above). */
function previewColour(uu: number, vv: number, k: number, maxrad: number, lut: Int32Array): number {
  const c = previewCell(uu, vv, k, lut);
  return c >= 0 ? c : previewExact(uu, vv, maxrad);
}

/** The table's entry for a vector: its colour, or PREVIEW_EXACT for the exact path (also outside the square). */
function previewCell(uu: number, vv: number, k: number, lut: Int32Array): number {
  const x = uu * k + PREVIEW_N / 2;
  const y = vv * k + PREVIEW_N / 2;
  // The bounds test is on the doubles (NaN fails it, and |0 would wrap huge values into the table).
  return x >= 0 && x < PREVIEW_N && y >= 0 && y < PREVIEW_N ? lut[(y | 0) * PREVIEW_N + (x | 0)] : PREVIEW_EXACT;
}

function previewExact(uu: number, vv: number, maxrad: number): number {
  if (!(Math.abs(uu) <= UNKNOWN_FLOW_THRESH && Math.abs(vv) <= UNKNOWN_FLOW_THRESH)) return 0;
  return colorPacked(uu, vv, maxrad) & 0xffffff;
}
