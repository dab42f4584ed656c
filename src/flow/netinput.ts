// From camera/dataset frames to the contract's network input (6xHxW planar uint8, H and W multiples of 64) and from
// the network's flow back to the frames' resolution. This is outside the integer contract (quantization.md §1).
//
// Resampling is float bilinear with half-pixel centres and edge clamping, no antialiasing: the same sampling as
// PyTorch F.interpolate(mode='bilinear', align_corners=False) and OpenCV INTER_LINEAR. Image samples round half up
// to uint8. Strong downscaling (< 0.5x) aliases; that is what the FlowNet training code did too.
import { UserError } from '../errors.js';
import { createFlow, fixedStep, scaleCodes, type FlowField } from './flo.js';
import { fitPlanesFromRgb } from './fit.js';
import { createImage, type RgbImage } from './image.js';
import { RowPair } from './rowpair.js';

/**
 * resize: scale each frame to the network size (aspect may change slightly); flow is resized back and rescaled.
 * pad:    centre the frame in the next multiple up, replicating edge pixels (as RAFT's InputPadder); flow is cropped back.
 * crop:   centre-crop to the multiple below (flownet2 StaticCenterCrop, e.g. Sintel 436 -> 384 rows); the flow covers
 *         only `window`, so compare it with cropFlow(gt, mapping.window).
 */
export type FitMode = 'resize' | 'pad' | 'crop';

/** A rectangle of the source frame. */
export interface Window {
  x0: number;
  y0: number;
  width: number;
  height: number;
}

export interface InputMapping {
  mode: FitMode;
  srcWidth: number;
  srcHeight: number;
  netWidth: number;
  netHeight: number;
  /** Region of the source frame that flowToSource() returns flow for (the whole frame except in crop mode). */
  window: Window;
  /** Crop/pad only: where the source's (0,0) lands in the network frame (negative for crop). */
  offsetX: number;
  offsetY: number;
}

export interface FitOptions {
  mode?: FitMode;
  /** Network size; default per mode from `multiple`. Must be a multiple of `multiple`. */
  width?: number;
  height?: number;
  /** Default 64 (six stride-2 layers). */
  multiple?: number;
}

export const NET_MULTIPLE = 64;

/** Decide the network size and the mapping for a source frame size. */
export function planInput(srcWidth: number, srcHeight: number, opts: FitOptions = {}): InputMapping {
  const mode = opts.mode ?? 'resize';
  if (mode !== 'resize' && mode !== 'pad' && mode !== 'crop') {
    throw new UserError(`unknown fit mode "${String(mode)}"`, 'use resize, pad or crop');
  }
  const m = opts.multiple ?? NET_MULTIPLE;
  if (!Number.isInteger(m) || m < 1) throw new UserError(`invalid size multiple ${m}`, 'use a positive integer such as 64');
  const pick = (src: number, given: number | undefined, axis: string): number => {
    if (given !== undefined) {
      if (!Number.isInteger(given) || given < m || given % m !== 0) {
        throw new UserError(`network ${axis} ${given} is not a positive multiple of ${m}`, `FlowNetS needs sizes divisible by ${m}`);
      }
      return given;
    }
    if (mode === 'pad') return Math.ceil(src / m) * m;
    if (mode === 'crop') {
      const c = Math.floor(src / m) * m;
      if (c < m) throw new UserError(`frame ${axis} ${src} is smaller than ${m}, cannot crop`, 'use --fit resize or pad');
      return c;
    }
    return Math.max(m, Math.round(src / m) * m);
  };
  const netWidth = pick(srcWidth, opts.width, 'width');
  const netHeight = pick(srcHeight, opts.height, 'height');
  if (mode === 'resize') {
    return { mode, srcWidth, srcHeight, netWidth, netHeight, window: { x0: 0, y0: 0, width: srcWidth, height: srcHeight }, offsetX: 0, offsetY: 0 };
  }
  if (mode === 'pad' && (netWidth < srcWidth || netHeight < srcHeight)) {
    throw new UserError(`cannot pad ${srcWidth}x${srcHeight} to smaller ${netWidth}x${netHeight}`, 'use --fit crop or resize, or a larger size');
  }
  if (mode === 'crop' && (netWidth > srcWidth || netHeight > srcHeight)) {
    throw new UserError(`cannot crop ${srcWidth}x${srcHeight} to larger ${netWidth}x${netHeight}`, 'use --fit pad or resize, or a smaller size');
  }
  const offsetX = Math.floor((netWidth - srcWidth) / 2);
  const offsetY = Math.floor((netHeight - srcHeight) / 2);
  const window =
    mode === 'pad'
      ? { x0: 0, y0: 0, width: srcWidth, height: srcHeight }
      : { x0: -offsetX, y0: -offsetY, width: netWidth, height: netHeight };
  return { mode, srcWidth, srcHeight, netWidth, netHeight, window, offsetX, offsetY };
}

/** Bring one frame to the network size per `map`. Returns the input itself when nothing changes. */
export function fitImage(img: RgbImage, map: InputMapping): RgbImage {
  if (img.width !== map.srcWidth || img.height !== map.srcHeight) {
    throw new UserError(`frame is ${img.width}x${img.height}, expected ${map.srcWidth}x${map.srcHeight}`, 'all frames of a stream must have one size');
  }
  if (map.netWidth === img.width && map.netHeight === img.height) return img;
  if (map.mode === 'resize') return resizeImage(img, map.netWidth, map.netHeight);
  // pad and crop are both a shifted copy with edge replication (crop never reaches outside the frame).
  const out = createImage(map.netWidth, map.netHeight);
  const xs = new Int32Array(map.netWidth);
  for (let x = 0; x < map.netWidth; x++) xs[x] = 3 * clampI(x - map.offsetX, 0, img.width - 1);
  const s = img.data;
  const d = out.data;
  for (let y = 0, o = 0; y < map.netHeight; y++) {
    const row = clampI(y - map.offsetY, 0, img.height - 1) * img.width * 3;
    for (let x = 0; x < map.netWidth; x++, o += 3) {
      const i = row + xs[x];
      d[o] = s[i];
      d[o + 1] = s[i + 1];
      d[o + 2] = s[i + 2];
    }
  }
  return out;
}

/** Two same-size RGB frames to the contract's input: planar uint8 [6][H][W] in the order R1 G1 B1 R2 G2 B2. */
export function stackPair(img1: RgbImage, img2: RgbImage, out?: Uint8Array): Uint8Array {
  if (img1.width !== img2.width || img1.height !== img2.height) {
    throw new UserError(`frames differ in size: ${img1.width}x${img1.height} vs ${img2.width}x${img2.height}`, 'both frames of a pair must have the same size');
  }
  const n = img1.width * img1.height;
  const dst = out ?? new Uint8Array(6 * n);
  if (dst.length < 6 * n) throw new Error(`input buffer holds ${dst.length} bytes, need ${6 * n}`);
  const a = img1.data;
  const b = img2.data;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    dst[i] = a[s];
    dst[n + i] = a[s + 1];
    dst[2 * n + i] = a[s + 2];
    dst[3 * n + i] = b[s];
    dst[4 * n + i] = b[s + 1];
    dst[5 * n + i] = b[s + 2];
  }
  return dst;
}

export interface NetInput {
  /** Planar uint8 [6][height][width]. */
  data: Uint8Array;
  width: number;
  height: number;
  mapping: InputMapping;
}

/**
 * Fit both frames and stack them: stackPair(fitImage(img1), fitImage(img2)) in one pass per frame (fitPlanesFromRgb,
 * the same bytes), without the fitted RGB images in between: a 256x192 pair into a 384x512 second pass took 7.4 CPU ms
 * that way, 3.4 ms now (bench/refine-host.ts, docs/performance.md).
 */
export function prepareInput(img1: RgbImage, img2: RgbImage, opts: FitOptions = {}): NetInput {
  if (img1.width !== img2.width || img1.height !== img2.height) {
    throw new UserError(`frames differ in size: ${img1.width}x${img1.height} vs ${img2.width}x${img2.height}`, 'both frames of a pair must have the same size');
  }
  const mapping = planInput(img1.width, img1.height, opts);
  const n = mapping.netWidth * mapping.netHeight;
  const data = new Uint8Array(6 * n);
  fitPlanesFromRgb(img1, mapping, data, 0);
  fitPlanesFromRgb(img2, mapping, data, 3 * n);
  return { data, width: mapping.netWidth, height: mapping.netHeight, mapping };
}

/**
 * Network-resolution flow back to the source frame: resize mode resizes spatially and multiplies u by
 * srcWidth/netWidth and v by srcHeight/netHeight; pad mode crops the padding away; crop mode returns the flow of
 * `mapping.window` unchanged (compare it with cropFlow(gt, mapping.window)).
 */
export function flowToSource(flow: FlowField, map: InputMapping): FlowField {
  if (flow.width !== map.netWidth || flow.height !== map.netHeight) {
    throw new Error(`flow is ${flow.width}x${flow.height}, mapping expects the network size ${map.netWidth}x${map.netHeight}`);
  }
  if (map.mode === 'resize') {
    if (map.srcWidth === map.netWidth && map.srcHeight === map.netHeight) return flow;
    return resizeFlow(flow, map.srcWidth, map.srcHeight);
  }
  if (map.mode === 'pad') return cropFlow(flow, { x0: map.offsetX, y0: map.offsetY, width: map.srcWidth, height: map.srcHeight });
  return flow;
}

/** Size of the flow flowToSource() returns for `map`: the frame's, or in crop mode the network's (`map.window`). */
export function sourceFlowSize(map: InputMapping): { width: number; height: number } {
  return map.mode === 'crop' ? { width: map.netWidth, height: map.netHeight } : { width: map.srcWidth, height: map.srcHeight };
}

/**
 * flowToSource(flowFromFixed(codes, width, height, fracBits, offset), map) in one pass, without the network-size
 * float planes in between: the engine's int16 codes (planar [2][height][width] from `offset`, 2^-fracBits pixels)
 * straight to flow in pixels at the frames' resolution — resized and rescaled (resize), the padding cropped away
 * (pad), or at the network size (crop, and resize to the same size). The values are the two-step path's bit for bit:
 * code * 2^-fracBits is exact both as a double and as a float32, so every later operation sees the same operands in
 * the same order (test/flow-fixed-source.test.ts). The result is fresh planes, or `out`'s when given (it must have
 * sourceFlowSize(map)) — for a caller that is done with the previous result, as the run loop is once its observers
 * have returned (e.flow is valid during onFrame only).
 */
export function flowFromFixedToSource(codes: Int16Array, width: number, height: number, fracBits: number, map: InputMapping,
  o: { offset?: number; out?: FlowField } = {}): FlowField {
  const s = fixedStep(fracBits);
  const offset = o.offset ?? 0;
  const n = width * height;
  if (offset < 0 || codes.length - offset < 2 * n) {
    throw new Error(`flow codes hold ${codes.length - offset} values after offset ${offset}, need 2x${height}x${width} = ${2 * n}`);
  }
  if (width !== map.netWidth || height !== map.netHeight) {
    throw new Error(`flow is ${width}x${height}, mapping expects the network size ${map.netWidth}x${map.netHeight}`);
  }
  const size = sourceFlowSize(map);
  let out = o.out;
  if (!out) out = unfilledFlow(size.width, size.height);
  else if (out.width !== size.width || out.height !== size.height || out.u.length < size.width * size.height || out.v.length < size.width * size.height) {
    throw new Error(`output flow is ${out.width}x${out.height}, the mapping gives ${size.width}x${size.height}`);
  }
  const uc = codes.subarray(offset, offset + n);
  const vc = codes.subarray(offset + n, offset + 2 * n);
  if (map.mode === 'resize' && (map.srcWidth !== width || map.srcHeight !== height)) {
    // resizeFlow(): u rescaled by srcWidth / netWidth, v by srcHeight / netHeight.
    resizePlane(uc, s, width, height, out.u, size.width, size.height, size.width / width);
    resizePlane(vc, s, width, height, out.v, size.width, size.height, size.height / height);
  } else if (map.mode === 'pad') {
    // cropFlow() of the frame's rectangle; with no padding at all that is every row.
    const sw = size.width;
    for (let y = 0; y < size.height; y++) {
      const r = (map.offsetY + y) * width + map.offsetX;
      scaleCodes(uc.subarray(r, r + sw), s, out.u.subarray(y * sw, (y + 1) * sw), sw);
      scaleCodes(vc.subarray(r, r + sw), s, out.v.subarray(y * sw, (y + 1) * sw), sw);
    }
  } else {
    scaleCodes(uc, s, out.u, n);
    scaleCodes(vc, s, out.v, n);
  }
  return out;
}

/**
 * Fresh planes whose every value the caller writes before returning them: no zero fill (≈ 0.1 ms of a 384x512 pair's
 * 0.9 ms here). Buffer.allocUnsafeSlow gives each plane an ArrayBuffer of its own, never Node's shared pool, so the
 * planes can be transferred or kept like createFlow()'s.
 */
function unfilledFlow(width: number, height: number): FlowField {
  const n = width * height;
  const plane = (): Float32Array => {
    const b = Buffer.allocUnsafeSlow(4 * n);
    return new Float32Array(b.buffer, b.byteOffset, n);
  };
  return { width, height, u: plane(), v: plane() };
}

/** Copy a rectangle out of a flow field. */
export function cropFlow(flow: FlowField, w: Window): FlowField {
  checkWindow(w, flow.width, flow.height);
  const out = createFlow(w.width, w.height);
  for (let y = 0; y < w.height; y++) {
    const s = (w.y0 + y) * flow.width + w.x0;
    out.u.set(flow.u.subarray(s, s + w.width), y * w.width);
    out.v.set(flow.v.subarray(s, s + w.width), y * w.width);
  }
  return out;
}

/** Copy a rectangle out of a single-channel plane (masks). */
export function cropPlane(plane: Uint8Array, width: number, height: number, w: Window): Uint8Array {
  checkWindow(w, width, height);
  const out = new Uint8Array(w.width * w.height);
  for (let y = 0; y < w.height; y++) {
    const s = (w.y0 + y) * width + w.x0;
    out.set(plane.subarray(s, s + w.width), y * w.width);
  }
  return out;
}

export function cropImage(img: RgbImage, w: Window): RgbImage {
  checkWindow(w, img.width, img.height);
  const out = createImage(w.width, w.height);
  for (let y = 0; y < w.height; y++) {
    const s = ((w.y0 + y) * img.width + w.x0) * 3;
    out.data.set(img.data.subarray(s, s + 3 * w.width), y * w.width * 3);
  }
  return out;
}

function checkWindow(w: Window, width: number, height: number): void {
  if (w.x0 < 0 || w.y0 < 0 || w.width < 1 || w.height < 1 || w.x0 + w.width > width || w.y0 + w.height > height) {
    throw new Error(`window ${w.width}x${w.height}+${w.x0}+${w.y0} is outside ${width}x${height}`);
  }
}

// ------------------------------------------------------------------------------------------------------ resampling

export interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

/**
 * Per output index: the two source taps and the weight of the second (half-pixel centres, edge clamp). Exported for
 * the camera's one-pass conversion, which must sample exactly as fitImage does.
 */
export function taps(src: number, dst: number): Taps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float64Array(dst);
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    let s = (i + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    const a = Math.floor(s);
    i0[i] = a;
    i1[i] = a + 1 < src ? a + 1 : src - 1;
    w1[i] = s - a;
  }
  return { i0, i1, w1 };
}

export function resizeImage(img: RgbImage, width: number, height: number): RgbImage {
  const out = createImage(width, height);
  const tx = taps(img.width, width);
  const ty = taps(img.height, height);
  const s = img.data;
  const d = out.data;
  const stride = img.width * 3;
  for (let y = 0, o = 0; y < height; y++) {
    const r0 = ty.i0[y] * stride;
    const r1 = ty.i1[y] * stride;
    const wy = ty.w1[y];
    for (let x = 0; x < width; x++, o += 3) {
      const c0 = tx.i0[x] * 3;
      const c1 = tx.i1[x] * 3;
      const wx = tx.w1[x];
      for (let c = 0; c < 3; c++) {
        const top = s[r0 + c0 + c] + (s[r0 + c1 + c] - s[r0 + c0 + c]) * wx;
        const bot = s[r1 + c0 + c] + (s[r1 + c1 + c] - s[r1 + c0 + c]) * wx;
        d[o + c] = Math.floor(top + (bot - top) * wy + 0.5);
      }
    }
  }
  return out;
}

/**
 * Resize a flow field. With `rescale` (default) the vectors are scaled with the axes (u by width/flow.width, v by
 * height/flow.height) so they stay in pixels of the new resolution. Unknown pixels contaminate their neighbours;
 * resize ground truth with care (or not at all).
 */
export function resizeFlow(flow: FlowField, width: number, height: number, rescale = true): FlowField {
  const out = createFlow(width, height);
  const su = rescale ? width / flow.width : 1;
  const sv = rescale ? height / flow.height : 1;
  resizePlane(flow.u, 1, flow.width, flow.height, out.u, width, height, su);
  resizePlane(flow.v, 1, flow.width, flow.height, out.v, width, height, sv);
  return out;
}

/**
 * Bilinear resize of one plane, separable: each source row a destination row needs is interpolated horizontally once
 * (into one of two row buffers) and reused by the next destination row when it needs it too; upsampling reads each
 * source row once instead of twice per output row. The arithmetic per pixel is the direct formula's, in the same
 * order (top, bottom, then vertical), so the values are identical. The source is float pixels (`step` 1) or the
 * engine's int16 codes read as code * step (exactly the float32 value flowFromFixed would have stored).
 */
function resizePlane(s: Float32Array | Int16Array, step: number, sw: number, sh: number, d: Float32Array, dw: number, dh: number, gain: number): void {
  const tx = taps(sw, dw);
  const ty = taps(sh, dh);
  // One loop per source type, so each stays monomorphic in V8.
  const lerp = s instanceof Int16Array
    ? (r: number, row: Float64Array): void => lerpCodes(s, r, step, tx, row, dw)
    : (r: number, row: Float64Array): void => lerpRow(s, r, tx, row, dw);
  const rows = new RowPair(dw);
  const fill = (y: number, row: Float64Array): void => lerp(y * sw, row);
  for (let y = 0, o = 0; y < dh; y++) {
    rows.hold(ty.i0[y], ty.i1[y], fill);
    o = blendRows(rows.a, rows.b, ty.w1[y], gain, d, o, dw);
  }
}

/** row[x] = s[r + c0] + (s[r + c1] - s[r + c0]) * wx: one source row resized horizontally. */
function lerpRow(s: Float32Array, r: number, tx: Taps, row: Float64Array, dw: number): void {
  const i0 = tx.i0, i1 = tx.i1, w1 = tx.w1;
  for (let x = 0; x < dw; x++) {
    const a = s[r + i0[x]];
    row[x] = a + (s[r + i1[x]] - a) * w1[x];
  }
}

/** lerpRow() of int16 codes worth `step` pixels each: code * step is the float32 plane's value, exactly. */
function lerpCodes(s: Int16Array, r: number, step: number, tx: Taps, row: Float64Array, dw: number): void {
  const i0 = tx.i0, i1 = tx.i1, w1 = tx.w1;
  for (let x = 0; x < dw; x++) {
    const a = s[r + i0[x]] * step;
    row[x] = a + (s[r + i1[x]] * step - a) * w1[x];
  }
}

/** d[o + x] = (top + (bot - top) * wy) * gain; returns the next output index. */
function blendRows(top: Float64Array, bot: Float64Array, wy: number, gain: number, d: Float32Array, o: number, dw: number): number {
  for (let x = 0; x < dw; x++, o++) {
    const t = top[x];
    d[o] = (t + (bot[x] - t) * wy) * gain;
  }
  return o;
}

function clampI(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
