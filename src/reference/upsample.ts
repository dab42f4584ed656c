// Bilinear up-sampling of the integer contract: up2 of activations (2.3) and up4 of flow (2.4).
// Both are evaluated separably in exact integers (vertical taps first, then horizontal, one rounding at the end),
// which equals the 2-D formula because nothing is rounded in between.

/** Per output phase r = i mod factor: [offset of tap a, weight a, offset of tap b, weight b], taps relative to ⌊i/f⌋. */
const TAPS2 = [
  [-1, 1, 0, 3],
  [0, 3, 1, 1],
];
const TAPS4 = [
  [-1, 3, 0, 5],
  [-1, 1, 0, 7],
  [0, 7, 1, 1],
  [0, 5, 1, 3],
];

let rowA = new Int32Array(64);
let rowB = new Int32Array(64);
let rowWA = new Int32Array(64);
let rowWB = new Int32Array(64);
let colA = new Int32Array(64);
let colB = new Int32Array(64);
let colWA = new Int32Array(64);
let colWB = new Int32Array(64);
let vtmp = new Int32Array(256);

function grow(n: number): void {
  if (rowA.length < n) {
    const m = Math.max(n, rowA.length * 2);
    rowA = new Int32Array(m);
    rowB = new Int32Array(m);
    rowWA = new Int32Array(m);
    rowWB = new Int32Array(m);
    colA = new Int32Array(m);
    colB = new Int32Array(m);
    colWA = new Int32Array(m);
    colWB = new Int32Array(m);
  }
}

/** A source patch: element (c, y, x) of the full virtual tensor is at `data[base + c·plane + (y − y0)·row + (x − x0)]`. */
export interface SrcPatch<T extends Uint8Array | Int16Array> {
  data: T;
  base: number;
  plane: number;
  row: number;
  /** Coordinates of the patch's first element in the full tensor. */
  y0: number;
  x0: number;
  /** Size of the full tensor (edge replication clamps to it); the patch must hold every tap the region needs. */
  h: number;
  w: number;
}

/** Destination of a region [r0, r1) × [q0, q1): element (c, i, j) goes to `data[base + c·plane + (i − r0)·row + (j − q0)]`. */
export interface DstRegion<T extends Uint8Array | Int16Array> {
  data: T;
  base: number;
  plane: number;
  row: number;
}

function fillTaps(
  factor: number, i0: number, n: number, len: number, origin: number,
  a: Int32Array, wa: Int32Array, b: Int32Array, wb: Int32Array,
): void {
  const taps = factor === 2 ? TAPS2 : TAPS4;
  const last = len - 1;
  for (let t = 0; t < n; t++) {
    const i = i0 + t;
    const j = Math.floor(i / factor);
    const tp = taps[i - j * factor];
    let ta = j + tp[0];
    let tb = j + tp[2];
    ta = ta < 0 ? 0 : ta > last ? last : ta;
    tb = tb < 0 ? 0 : tb > last ? last : tb;
    a[t] = ta - origin;
    wa[t] = tp[1];
    b[t] = tb - origin;
    wb[t] = tp[3];
  }
}

/**
 * Up-samples rows r0..r1−1, cols q0..q1−1 of channels 0..channels−1 of the factor·h × factor·w output.
 * factor 2: contract 2.3 (quarters, +8 >> 4); factor 4: contract 2.4 (eighths, +32 >> 6). Source and destination
 * must have the same element type (u8 codes for up2, i16 flow for up4). No allocation once scratch has grown.
 */
export function upsampleRegion<T extends Uint8Array | Int16Array>(
  factor: 2 | 4, channels: number, src: SrcPatch<T>,
  r0: number, r1: number, q0: number, q1: number, dst: DstRegion<T>,
): void {
  const nr = r1 - r0;
  const nq = q1 - q0;
  if (nr <= 0 || nq <= 0 || channels <= 0) return;
  if (r0 < 0 || q0 < 0 || r1 > factor * src.h || q1 > factor * src.w) {
    throw new RangeError(`upsample region [${r0},${r1})x[${q0},${q1}) outside ${factor * src.h}x${factor * src.w}`);
  }
  grow(Math.max(nr, nq));
  fillTaps(factor, r0, nr, src.h, src.y0, rowA, rowWA, rowB, rowWB);
  fillTaps(factor, q0, nq, src.w, src.x0, colA, colWA, colB, colWB);
  const shift = factor === 2 ? 4 : 6;
  const round = 1 << (shift - 1);
  if (nr * nq <= SMALL_REGION && channels > 1) {
    smallRegion(channels, src, nr, nq, dst, shift, round);
    return;
  }
  // Taps are monotone in the output index, so the columns read are [colA[0], colB[nq-1]].
  const cmin = colA[0];
  const ncols = colB[nq - 1] - cmin + 1;
  if (vtmp.length < ncols) vtmp = new Int32Array(Math.max(ncols, vtmp.length * 2));
  const tmp = vtmp;
  const s = src.data;
  const d = dst.data;
  for (let c = 0; c < channels; c++) {
    const sPlane = src.base + c * src.plane + cmin;
    const dPlane = dst.base + c * dst.plane;
    for (let t = 0; t < nr; t++) {
      const pa = sPlane + rowA[t] * src.row;
      const pb = sPlane + rowB[t] * src.row;
      const wa = rowWA[t];
      const wb = rowWB[t];
      for (let x = 0; x < ncols; x++) tmp[x] = wa * s[pa + x] + wb * s[pb + x];
      let o = dPlane + t * dst.row;
      for (let u = 0; u < nq; u++, o++) {
        d[o] = (colWA[u] * tmp[colA[u] - cmin] + colWB[u] * tmp[colB[u] - cmin] + round) >> shift;
      }
    }
  }
}

/** Regions of at most this many pixels (per-frame verification windows) use per-pixel tap tables. */
const SMALL_REGION = 64;
let pOff = new Int32Array(4 * SMALL_REGION);
const pW = new Int32Array(4 * SMALL_REGION);

/**
 * Small regions over many channels: the 2-D form Σ w_row·w_col·s of the same taps (equal to the separable
 * evaluation: no rounding in between), with each pixel's 4 offsets and weights tabulated once for all channels,
 * so the per-channel, per-row set-up of the separable loop is not paid for a handful of pixels.
 */
function smallRegion<T extends Uint8Array | Int16Array>(
  channels: number, src: SrcPatch<T>, nr: number, nq: number, dst: DstRegion<T>, shift: number, round: number,
): void {
  if (pOff.length < 4 * nr * nq) pOff = new Int32Array(4 * nr * nq);
  let e = 0;
  for (let t = 0; t < nr; t++) {
    for (let u = 0; u < nq; u++, e += 4) {
      pOff[e] = rowA[t] * src.row + colA[u];
      pOff[e + 1] = rowA[t] * src.row + colB[u];
      pOff[e + 2] = rowB[t] * src.row + colA[u];
      pOff[e + 3] = rowB[t] * src.row + colB[u];
      pW[e] = rowWA[t] * colWA[u];
      pW[e + 1] = rowWA[t] * colWB[u];
      pW[e + 2] = rowWB[t] * colWA[u];
      pW[e + 3] = rowWB[t] * colWB[u];
    }
  }
  const s = src.data;
  const d = dst.data;
  for (let c = 0; c < channels; c++) {
    const sp = src.base + c * src.plane;
    for (let t = 0, e2 = 0; t < nr; t++) {
      let o = dst.base + c * dst.plane + t * dst.row;
      for (let u = 0; u < nq; u++, o++, e2 += 4) {
        d[o] = (pW[e2] * s[sp + pOff[e2]] + pW[e2 + 1] * s[sp + pOff[e2 + 1]] + pW[e2 + 2] * s[sp + pOff[e2 + 2]] +
          pW[e2 + 3] * s[sp + pOff[e2 + 3]] + round) >> shift;
      }
    }
  }
}

function checkLen(what: string, got: number, need: number): void {
  if (got < need) throw new RangeError(`${what} has ${got} elements, needs ${need}`);
}

/**
 * up2 (contract 2.3) of a C×H×W code tensor into `out` (C·2H·2W, allocated when omitted). With `channelsTotal` and
 * `channelOffset`, writes the channels at that offset of a larger (concatenation) buffer of 2H×2W planes.
 */
export function up2(
  input: Uint8Array, c: number, h: number, w: number,
  out?: Uint8Array, channelOffset = 0, channelsTotal = c,
): Uint8Array {
  checkLen('up2 input', input.length, c * h * w);
  const plane = 4 * h * w;
  const dst = out ?? new Uint8Array(channelsTotal * plane);
  checkLen('up2 output', dst.length, channelsTotal * plane);
  if (channelOffset < 0 || channelOffset + c > channelsTotal) throw new RangeError('up2 channel offset out of range');
  upsampleRegion(2, c, { data: input, base: 0, plane: h * w, row: w, y0: 0, x0: 0, h, w }, 0, 2 * h, 0, 2 * w,
    { data: dst, base: channelOffset * plane, plane, row: 2 * w });
  return dst;
}

/** up4 (contract 2.4) of a C×H×W int16 flow tensor into `out` (C·4H·4W, allocated when omitted). */
export function up4(input: Int16Array, c: number, h: number, w: number, out?: Int16Array): Int16Array {
  checkLen('up4 input', input.length, c * h * w);
  const plane = 16 * h * w;
  const dst = out ?? new Int16Array(c * plane);
  checkLen('up4 output', dst.length, c * plane);
  upsampleRegion(4, c, { data: input, base: 0, plane: h * w, row: w, y0: 0, x0: 0, h, w }, 0, 4 * h, 0, 4 * w,
    { data: dst, base: 0, plane, row: 4 * w });
  return dst;
}
