// Middlebury flow colour coding (flow-code colorcode.cpp / color_flow.cpp by D. Scharstein; facts.md §6).
// The C code computes in single precision; Math.fround reproduces its float roundings so pixel values match it
// (including the (int) truncation), and the result is stored RGB where the C code writes BGR.
import { UserError } from '../errors.js';
import type { FlowField } from './flo.js';
import { UNKNOWN_FLOW_THRESH } from './flo.js';
import { createImage, writePng, type RgbImage } from './image.js';

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

// flowToColor's memo: 2^13 entries (96 KiB, stays in L2), enough for the distinct vectors of a smooth 384x512 field.
const MEMO_BITS = 13;
const MEMO_SHIFT = 32 - MEMO_BITS;
const MEMO_U = new Int32Array(1 << MEMO_BITS);
const MEMO_V = new Int32Array(1 << MEMO_BITS);
const MEMO_VAL = new Int32Array(1 << MEMO_BITS);

export interface FlowColorOptions {
  /** Normalisation radius in pixels; 0 or absent = the largest known vector length (Middlebury `maxmotion`). */
  maxMotion?: number;
}

export interface FlowColorResult {
  image: RgbImage;
  /** The radius actually used (pixels); a vector this long gets the fully saturated wheel colour. */
  maxRadius: number;
}

/** MotionToColor: unknown pixels (|u| or |v| > 1e9, NaN) are black. */
export function flowToColor(flow: FlowField, opts: FlowColorOptions = {}): FlowColorResult {
  const { width, height, u, v } = flow;
  const n = width * height;
  if (opts.maxMotion !== undefined && !(opts.maxMotion >= 0 && Number.isFinite(opts.maxMotion))) {
    throw new UserError(`invalid max motion ${opts.maxMotion}`, 'give a non-negative number of pixels (0 = automatic)');
  }
  let maxrad = maxKnownRadius(u, v, n);
  if (opts.maxMotion !== undefined && opts.maxMotion > 0) maxrad = f32(opts.maxMotion);
  if (maxrad === 0) maxrad = 1;
  const image = createImage(width, height);
  colorize(u, v, n, maxrad, image.data);
  return { image, maxRadius: maxrad < 0 ? 0 : maxrad };
}

// The two per-pixel loops are functions of their own on purpose: inside one big function V8 compiles each loop on
// stack replacement and throws the code away when it reaches the not-yet-run statements after the loop ("insufficient
// type feedback"), so every frame ran partly interpreted (docs/performance.md "Host work per frame").

/** Largest float32 length of a known vector (-1 when none). */
function maxKnownRadius(u: Float32Array, v: Float32Array, n: number): number {
  let maxrad = -1;
  for (let i = 0; i < n; i++) {
    const fx = u[i];
    const fy = v[i];
    if (!(Math.abs(fx) <= UNKNOWN_FLOW_THRESH && Math.abs(fy) <= UNKNOWN_FLOW_THRESH)) continue;
    const rad = f32(Math.sqrt(f32(f32(fx * fx) + f32(fy * fy))));
    if (rad > maxrad) maxrad = rad;
  }
  return maxrad;
}

/**
 * RGB of every pixel into d. A memo of exact results keyed by the vector's float32 bits: a flow field repeats vectors
 * (the engine's 2^-5 px grid, smooth motion, static background), and a hit costs a hash and three loads instead of
 * atan2 and ~40 float32 steps. Direct-mapped, so a collision only recomputes; the key is the exact input (sign of
 * zero included), so the bytes are those of colorPacked() whatever the hit rate.
 */
function colorize(u: Float32Array, v: Float32Array, n: number, maxrad: number, d: Uint8Array): void {
  const ub = new Int32Array(u.buffer, u.byteOffset, n);
  const vb = new Int32Array(v.buffer, v.byteOffset, n);
  const ku = MEMO_U, kv = MEMO_V, mv = MEMO_VAL;
  mv.fill(0); // maxrad changes per frame; 0 = empty (a stored value has bit 24 set)
  // The previous known pixel's key and colour first: runs of one vector (static background, upsampled flow) skip the hash.
  let pu = 0, pv = 0, pc = 0;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const fx = u[i];
    const fy = v[i];
    if (!(Math.abs(fx) <= UNKNOWN_FLOW_THRESH && Math.abs(fy) <= UNKNOWN_FLOW_THRESH)) {
      d[o] = d[o + 1] = d[o + 2] = 0;
      continue;
    }
    const bu = ub[i];
    const bv = vb[i];
    let c = pc;
    if (c === 0 || bu !== pu || bv !== pv) {
      const h = (Math.imul(bu, 0x9e3779b1) ^ Math.imul(bv ^ (bv >>> 15), 0x85ebca77)) >>> MEMO_SHIFT;
      c = mv[h];
      if (c === 0 || ku[h] !== bu || kv[h] !== bv) {
        c = colorPacked(fx, fy, maxrad);
        ku[h] = bu;
        kv[h] = bv;
        mv[h] = c;
      }
      pu = bu;
      pv = bv;
      pc = c;
    }
    d[o] = c & 255;
    d[o + 1] = (c >>> 8) & 255;
    d[o + 2] = (c >>> 16) & 255;
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
