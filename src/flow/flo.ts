// Optical flow in memory, Middlebury .flo I/O (facts.md §6) and the integer model's fixed-point flow (contract 2.2/2.4).
import { UserError } from '../errors.js';
import { readInput, writeOutput } from './io.js';

/**
 * A dense flow field. Planar like the engine output: u[y*width+x] is the x displacement (right positive),
 * v the y displacement (down positive), in pixels of this field's own resolution.
 * NaN or |value| > UNKNOWN_FLOW_THRESH marks an unknown pixel (Middlebury convention).
 */
export interface FlowField {
  width: number;
  height: number;
  u: Float32Array;
  v: Float32Array;
}

/** Middlebury flowIO.h: |u| or |v| above this (or NaN) is "unknown". flownet2's Python uses 1e7; we follow the C code. */
export const UNKNOWN_FLOW_THRESH = 1e9;
/** What writers store for unknown pixels (Middlebury UNKNOWN_FLOW). */
export const UNKNOWN_FLOW = 1e10;
/** "PIEH" read as a little-endian float32. */
export const FLO_MAGIC = 202021.25;
const FLO_TAG = 'PIEH';
const FLO_MAX_DIM = 99999;

export function createFlow(width: number, height: number): FlowField {
  checkDims(width, height, 'flow');
  const n = width * height;
  return { width, height, u: new Float32Array(n), v: new Float32Array(n) };
}

export function isUnknownFlow(u: number, v: number): boolean {
  // Written so that NaN fails both comparisons and lands in "unknown".
  return !(Math.abs(u) <= UNKNOWN_FLOW_THRESH && Math.abs(v) <= UNKNOWN_FLOW_THRESH);
}

/** Per-pixel 1 = known, 0 = unknown. */
export function knownMask(flow: FlowField): Uint8Array {
  const n = flow.width * flow.height;
  const m = new Uint8Array(n);
  const { u, v } = flow;
  for (let i = 0; i < n; i++) m[i] = Math.abs(u[i]) <= UNKNOWN_FLOW_THRESH && Math.abs(v[i]) <= UNKNOWN_FLOW_THRESH ? 1 : 0;
  return m;
}

function checkDims(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new UserError(`invalid ${what} size ${width}x${height}`, 'width and height must be positive integers');
  }
}

/** Parse a .flo file held in memory. `name` only labels error messages. */
export function decodeFlo(buf: Uint8Array, name = '<buffer>'): FlowField {
  if (buf.length < 12) {
    throw new UserError(`${name}: not a .flo file (${buf.length} bytes, header needs 12)`, 'file is empty or truncated');
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getFloat32(0, true);
  if (magic !== FLO_MAGIC) {
    const tag = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]).replace(/[^\x20-\x7e]/g, '?');
    throw new UserError(`${name}: bad .flo magic "${tag}" (expected "${FLO_TAG}")`, 'not a Middlebury .flo file');
  }
  const width = dv.getInt32(4, true);
  const height = dv.getInt32(8, true);
  if (width < 1 || width > FLO_MAX_DIM || height < 1 || height > FLO_MAX_DIM) {
    throw new UserError(`${name}: bad .flo size ${width}x${height}`, `width and height must be 1..${FLO_MAX_DIM}; file is corrupt`);
  }
  const n = width * height;
  const need = 12 + 8 * n;
  if (buf.length < need) {
    throw new UserError(`${name}: truncated .flo (${buf.length} bytes, ${width}x${height} needs ${need})`, 'file was cut short; re-copy it');
  }
  // A header that shrinks the field would otherwise be read as a smaller flow with the rest ignored.
  if (buf.length > need) {
    throw new UserError(`${name}: ${buf.length - need} unexpected bytes after the ${width}x${height} .flo data (${buf.length} bytes, ${need} expected)`,
      'the header does not match the file (corrupt, or two files joined); re-copy or re-export it');
  }
  const flow = createFlow(width, height);
  const { u, v } = flow;
  for (let i = 0, o = 12; i < n; i++, o += 8) {
    u[i] = dv.getFloat32(o, true);
    v[i] = dv.getFloat32(o + 4, true);
  }
  return flow;
}

/** Serialize to .flo bytes; unknown pixels are written as given (NaN stays NaN, 1e10 stays 1e10). */
export function encodeFlo(flow: FlowField): Buffer {
  const { width, height, u, v } = flow;
  checkDims(width, height, 'flow');
  if (width > FLO_MAX_DIM || height > FLO_MAX_DIM) {
    throw new UserError(`flow ${width}x${height} too large for .flo`, `width and height must be at most ${FLO_MAX_DIM}`);
  }
  const n = width * height;
  if (u.length !== n || v.length !== n) throw new Error(`flow planes have ${u.length}/${v.length} values, expected ${n}`);
  const out = Buffer.alloc(12 + 8 * n);
  out.write(FLO_TAG, 0, 'latin1');
  out.writeInt32LE(width, 4);
  out.writeInt32LE(height, 8);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0, o = 12; i < n; i++, o += 8) {
    dv.setFloat32(o, u[i], true);
    dv.setFloat32(o + 4, v[i], true);
  }
  return out;
}

export async function readFlo(path: string): Promise<FlowField> {
  return decodeFlo(await readInput(path, '.flo file'), path);
}

export async function writeFlo(path: string, flow: FlowField): Promise<void> {
  await writeOutput(path, encodeFlo(flow));
}

/**
 * Flow from the integer model's int16 codes (contract 2.4): `codes` is planar [2][height][width] starting at `offset`
 * (u plane then v plane), real value = code * 2^-fracBits pixels of the network input resolution.
 */
export function flowFromFixed(codes: Int16Array, width: number, height: number, fracBits: number, offset = 0): FlowField {
  checkFracBits(fracBits);
  const n = width * height;
  if (offset < 0 || codes.length - offset < 2 * n) {
    throw new Error(`flow codes hold ${codes.length - offset} values after offset ${offset}, need 2x${height}x${width} = ${2 * n}`);
  }
  const flow = createFlow(width, height);
  const s = 2 ** -fracBits;
  scaleCodes(codes.subarray(offset, offset + n), s, flow.u, n);
  scaleCodes(codes.subarray(offset + n, offset + 2 * n), s, flow.v, n);
  return flow;
}

/** The value of one code, 2^-fracBits pixels (contract 2.4); a UserError for fracBits outside 0..15. */
export function fixedStep(fracBits: number): number {
  checkFracBits(fracBits);
  return 2 ** -fracBits;
}

/**
 * dst[i] = src[i] * s for i < n (flow codes to pixels; netinput.ts flowFromFixedToSource). With s = 2^-fracBits the
 * product is exact in float32 (a code has at most 16 significant bits), the value flowFromFixed stores. A loop of its
 * own, so V8 optimizes it whole instead of on stack replacement (≈ 2x), unrolled by 8 over zero-based views: ≈ 2x
 * again (0.41 against 0.82 ms for the two 384x512 planes, bench host).
 */
export function scaleCodes(src: Int16Array, s: number, dst: Float32Array, n: number): void {
  if (src.length < n || dst.length < n) throw new RangeError(`scaleCodes: ${n} values from ${src.length} into ${dst.length}`);
  let i = 0;
  for (const m = n - 7; i < m; i += 8) {
    dst[i] = src[i] * s;
    dst[i + 1] = src[i + 1] * s;
    dst[i + 2] = src[i + 2] * s;
    dst[i + 3] = src[i + 3] * s;
    dst[i + 4] = src[i + 4] * s;
    dst[i + 5] = src[i + 5] * s;
    dst[i + 6] = src[i + 6] * s;
    dst[i + 7] = src[i + 7] * s;
  }
  for (; i < n; i++) dst[i] = src[i] * s;
}

/**
 * The inverse: round half up to the 2^-fracBits grid and clamp to int16 (for building expected engine outputs).
 * Unknown pixels have no code, so they are rejected.
 */
export function flowToFixed(flow: FlowField, fracBits: number): Int16Array {
  checkFracBits(fracBits);
  const n = flow.width * flow.height;
  const out = new Int16Array(2 * n);
  const s = 2 ** fracBits;
  const planes = [flow.u, flow.v];
  for (let c = 0; c < 2; c++) {
    const p = planes[c];
    for (let i = 0; i < n; i++) {
      const x = p[i];
      if (!(Math.abs(x) <= UNKNOWN_FLOW_THRESH)) {
        throw new UserError(
          `flow pixel (${i % flow.width}, ${Math.floor(i / flow.width)}) is unknown and has no fixed-point code`,
          'fill or mask unknown pixels before converting to the int16 format',
        );
      }
      const q = Math.floor(x * s + 0.5);
      out[c * n + i] = q < -32768 ? -32768 : q > 32767 ? 32767 : q;
    }
  }
  return out;
}

function checkFracBits(f: number): void {
  if (!Number.isInteger(f) || f < 0 || f > 15) throw new UserError(`flow_frac_bits ${f} out of range`, 'expected an integer 0..15');
}
