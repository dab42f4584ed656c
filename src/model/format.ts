// The .ffq model file (docs/model-format.md): encode, decode and validate. Decoding never trusts the file: every
// problem becomes one ModelFormatError line naming the file, and a model is returned only when all of it checked out.
import { readFileSync } from 'node:fs';
import { crc32 } from '../crc32.js';
import {
  CONCAT_PARTNERS,
  CONTRACT_VERSION,
  FRAMES,
  INPUT_BITS,
  SIZE_MULTIPLE,
  flownetsQ,
  type ArchSpec,
  type Decoder,
  type LayerSpec,
} from './arch.js';
import type { QLayerParams, QModel } from './types.js';
import { UserError } from '../errors.js';

export const MAGIC = 'FFQM';
export const FORMAT_VERSION = 1;
const PRE = 12; // magic + versions + header length

export const LIMITS = {
  multMax: 32767,
  shiftMax: 50,
  biasMax: 2 ** 50,
  accMax: 2 ** 31 - 1,
  flowFracBitsMax: 12,
} as const;

export class ModelFormatError extends UserError {
  constructor(
    readonly source: string,
    readonly kind: 'bad magic' | 'unsupported version' | 'truncated' | 'checksum mismatch' | 'bad header' | 'inconsistent',
    detail: string,
  ) {
    super(`${source}: ${kind}: ${detail}`, 'the file is not a valid flowfpga model; re-export it with train/export.py or `flowfpga models` to list shipped ones');
    this.name = 'ModelFormatError';
  }
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

interface HeaderLayer {
  name: string;
  op: string;
  inputs: string[];
  cin: number;
  cout: number;
  k: number;
  stride: number;
  bits_w: number;
  bits: number;
  w_exp: number;
}

interface Header {
  name: string;
  arch: string;
  width: number;
  decoder: string;
  flow_frac_bits: number;
  native_size: [number, number];
  layers: HeaderLayer[];
  meta?: Record<string, unknown>;
}

function layerBytes(l: LayerSpec): { weights: number; total: number } {
  const weights = l.cout * l.cin * l.k * l.k;
  const afterW = weights + pad8(weights);
  const req = l.cout * (8 + 2 + 1);
  return { weights, total: afterW + req + pad8(req) };
}

/** Serialise a model (used by tests, tools and the TypeScript side of exports). Validates first. */
export function encodeModel(model: QModel): Buffer {
  validateModel(model, '<encode>');
  const a = model.arch;
  const header: Header = {
    name: model.name,
    arch: a.arch,
    width: a.width,
    decoder: a.decoder,
    flow_frac_bits: a.flowFracBits,
    native_size: model.nativeSize,
    layers: a.layers.map((l) => ({
      name: l.name, op: l.op, inputs: l.inputs, cin: l.cin, cout: l.cout, k: l.k, stride: l.stride,
      bits_w: l.bitsW, bits: l.bits, w_exp: l.wExp,
    })),
    meta: model.meta,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const payloadLen = a.layers.reduce((s, l) => s + layerBytes(l).total, 0);
  const start = PRE + json.length + pad8(PRE + json.length);
  const buf = Buffer.alloc(start + payloadLen + 4);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt16LE(FORMAT_VERSION, 4);
  buf.writeUInt16LE(CONTRACT_VERSION, 6);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, PRE);
  let off = start;
  a.layers.forEach((l, i) => {
    const p = model.params[i];
    const { weights } = layerBytes(l);
    Buffer.from(p.weights.buffer, p.weights.byteOffset, weights).copy(buf, off);
    off += weights + pad8(weights);
    for (let c = 0; c < l.cout; c++) buf.writeBigInt64LE(BigInt(p.bias[c]), off + 8 * c);
    off += 8 * l.cout;
    for (let c = 0; c < l.cout; c++) buf.writeInt16LE(p.mult[c], off + 2 * c);
    off += 2 * l.cout;
    for (let c = 0; c < l.cout; c++) buf.writeUInt8(p.shift[c], off + c);
    off += l.cout;
    off += pad8(11 * l.cout);
  });
  buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 4)) >>> 0, buf.length - 4);
  return buf;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function parseHeader(bytes: Buffer, source: string): Header {
  let h: unknown;
  try {
    h = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ModelFormatError(source, 'bad header', `header is not valid JSON (${(e as Error).message})`);
  }
  const bad = (what: string) => new ModelFormatError(source, 'bad header', what);
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw bad('header is not a JSON object');
  const o = h as Record<string, unknown>;
  if (typeof o.name !== 'string') throw bad('"name" must be a string');
  if (typeof o.arch !== 'string') throw bad('"arch" must be a string');
  if (typeof o.width !== 'number') throw bad('"width" must be a number');
  if (typeof o.decoder !== 'string') throw bad('"decoder" must be a string');
  if (!isInt(o.flow_frac_bits)) throw bad('"flow_frac_bits" must be an integer');
  if (!Array.isArray(o.native_size) || o.native_size.length !== 2 || !o.native_size.every(isInt)) {
    throw bad('"native_size" must be [H, W] integers');
  }
  if (!Array.isArray(o.layers) || o.layers.length === 0) throw bad('"layers" must be a non-empty array');
  o.layers.forEach((l: unknown, i: number) => {
    if (typeof l !== 'object' || l === null) throw bad(`layers[${i}] is not an object`);
    const r = l as Record<string, unknown>;
    if (typeof r.name !== 'string' || typeof r.op !== 'string') throw bad(`layers[${i}] needs string "name" and "op"`);
    if (!Array.isArray(r.inputs) || !r.inputs.every((x) => typeof x === 'string')) throw bad(`layer ${r.name}: "inputs" must be strings`);
    for (const f of ['cin', 'cout', 'k', 'stride', 'bits_w', 'bits', 'w_exp']) {
      if (!isInt(r[f])) throw bad(`layer ${r.name}: "${f}" must be an integer`);
    }
  });
  if (o.meta !== undefined && (typeof o.meta !== 'object' || o.meta === null || Array.isArray(o.meta))) {
    throw bad('"meta" must be an object');
  }
  return o as unknown as Header;
}

/** Checks every rule of docs/model-format.md that is not about bytes: architecture, bits, bounds, value ranges. */
export function validateModel(model: QModel, source: string): void {
  const fail = (d: string) => new ModelFormatError(source, 'inconsistent', d);
  const a = model.arch;
  if (a.arch !== 'flownets-q') throw fail(`unknown architecture '${a.arch}' (expected flownets-q)`);
  if (a.decoder !== 'upsample-conv' && a.decoder !== 'conv-upsample') throw fail(`unknown decoder order '${a.decoder}'`);
  if (!(a.width > 0 && a.width <= 4)) throw fail(`width multiplier ${a.width} out of range (0, 4]`);
  if (!isInt(a.flowFracBits) || a.flowFracBits < 0 || a.flowFracBits > LIMITS.flowFracBitsMax) {
    throw fail(`flow_frac_bits ${a.flowFracBits} out of range 0..${LIMITS.flowFracBitsMax}`);
  }
  const [nh, nw] = model.nativeSize;
  if (!(nh > 0 && nw > 0 && nh % SIZE_MULTIPLE === 0 && nw % SIZE_MULTIPLE === 0)) {
    throw fail(`native_size ${nh}x${nw} is not a multiple of ${SIZE_MULTIPLE}`);
  }
  const expected = flownetsQ({ width: a.width, decoder: a.decoder });
  if (expected.layers.length !== a.layers.length) {
    throw fail(`${a.layers.length} layers, but flownets-q width ${a.width} has ${expected.layers.length}`);
  }
  if (model.params.length !== a.layers.length) throw fail(`${model.params.length} parameter blocks for ${a.layers.length} layers`);
  const bits = new Map<string, number>([[FRAMES, INPUT_BITS]]);
  a.layers.forEach((l, i) => {
    const e = expected.layers[i];
    for (const f of ['name', 'op', 'cin', 'cout', 'k', 'stride'] as const) {
      if (l[f] !== e[f]) throw fail(`layer ${i} (${l.name}): ${f} is ${l[f]}, architecture says ${e[f]}`);
    }
    if (l.inputs.join(',') !== e.inputs.join(',')) throw fail(`layer ${l.name}: inputs [${l.inputs}] should be [${e.inputs}]`);
    for (const [f, v] of [['bits_w', l.bitsW], ['bits', l.bits]] as const) {
      if (!isInt(v) || v < 2 || v > 8) throw fail(`layer ${l.name}: ${f} ${v} out of range 2..8`);
    }
    const bitsIn = bits.get(l.inputs[0]) as number;
    const K = l.cin * l.k * l.k;
    const accBound = K * (2 ** bitsIn - 1) * 2 ** (l.bitsW - 1);
    if (accBound > LIMITS.accMax) {
      throw fail(`layer ${l.name}: accumulator bound ${K}*(2^${bitsIn}-1)*2^${l.bitsW - 1} = ${accBound} exceeds 2^31-1`);
    }
    const p = model.params[i];
    if (p.weights.length !== l.cout * K) throw fail(`layer ${l.name}: ${p.weights.length} weights, expected ${l.cout * K}`);
    for (const [f, arr] of [['mult', p.mult], ['shift', p.shift], ['bias', p.bias]] as const) {
      if (arr.length !== l.cout) throw fail(`layer ${l.name}: ${arr.length} ${f} values, expected ${l.cout}`);
    }
    const wlo = -(2 ** (l.bitsW - 1));
    const whi = 2 ** (l.bitsW - 1) - 1;
    for (let j = 0; j < p.weights.length; j++) {
      const v = p.weights[j];
      if (v < wlo || v > whi) throw fail(`layer ${l.name}: weight ${j} = ${v} outside ${l.bitsW}-bit range ${wlo}..${whi}`);
    }
    for (let c = 0; c < l.cout; c++) {
      if (Math.abs(p.mult[c]) > LIMITS.multMax) throw fail(`layer ${l.name}: multiplier ${p.mult[c]} of channel ${c} outside ±32767`);
      if (p.shift[c] > LIMITS.shiftMax) throw fail(`layer ${l.name}: shift ${p.shift[c]} of channel ${c} exceeds 50`);
      if (!Number.isInteger(p.bias[c]) || Math.abs(p.bias[c]) > LIMITS.biasMax) {
        throw fail(`layer ${l.name}: offset ${p.bias[c]} of channel ${c} outside ±2^50`);
      }
    }
    bits.set(l.name, l.bits);
  });
  for (const [x, y] of CONCAT_PARTNERS) {
    if (bits.get(x) !== bits.get(y)) throw fail(`concatenated layers ${x} (${bits.get(x)} bits) and ${y} (${bits.get(y)} bits) must have equal bits`);
  }
}

/** Decode and validate a model file's bytes. */
export function decodeModel(buf: Uint8Array, source = '<buffer>'): QModel {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 4 || b.toString('latin1', 0, 4) !== MAGIC) {
    throw new ModelFormatError(source, 'bad magic', `expected '${MAGIC}' at offset 0`);
  }
  if (b.length < PRE) throw new ModelFormatError(source, 'truncated', `${b.length} bytes, shorter than the ${PRE}-byte preamble`);
  const fv = b.readUInt16LE(4);
  const cv = b.readUInt16LE(6);
  if (fv !== FORMAT_VERSION) throw new ModelFormatError(source, 'unsupported version', `format version ${fv}, this flowfpga reads ${FORMAT_VERSION}`);
  if (cv !== CONTRACT_VERSION) throw new ModelFormatError(source, 'unsupported version', `contract version ${cv}, this flowfpga implements ${CONTRACT_VERSION}`);
  const hlen = b.readUInt32LE(8);
  if (PRE + hlen + 4 > b.length) throw new ModelFormatError(source, 'truncated', `header of ${hlen} bytes does not fit in ${b.length} bytes`);
  const header = parseHeader(b.subarray(PRE, PRE + hlen), source);
  if (header.decoder !== 'upsample-conv' && header.decoder !== 'conv-upsample') {
    throw new ModelFormatError(source, 'inconsistent', `unknown decoder order '${header.decoder}'`);
  }
  const layers: LayerSpec[] = header.layers.map((l) => ({
    name: l.name, op: l.op as LayerSpec['op'], inputs: l.inputs, cin: l.cin, cout: l.cout, k: l.k, stride: l.stride,
    bitsW: l.bits_w, bits: l.bits, wExp: l.w_exp,
  }));
  // Payload size must be known before reading it: reject absurd shapes here, before any allocation.
  let need = 0;
  for (const l of layers) {
    if (!(l.cout > 0 && l.cin > 0 && l.k > 0 && l.cout * l.cin * l.k * l.k < 2 ** 31)) {
      throw new ModelFormatError(source, 'inconsistent', `layer ${l.name}: impossible shape ${l.cout}x${l.cin}x${l.k}x${l.k}`);
    }
    need += layerBytes(l).total;
  }
  const start = PRE + hlen + pad8(PRE + hlen);
  const have = b.length - 4 - start;
  if (have < need) throw new ModelFormatError(source, 'truncated', `payload has ${Math.max(0, have)} bytes, the header describes ${need}`);
  const stored = b.readUInt32LE(b.length - 4);
  const actual = crc32(b.subarray(0, b.length - 4)) >>> 0;
  if (stored !== actual) {
    throw new ModelFormatError(source, 'checksum mismatch', `stored CRC-32 ${hex(stored)}, computed ${hex(actual)}`);
  }
  if (have > need) throw new ModelFormatError(source, 'inconsistent', `${have - need} extra bytes after the payload`);
  // The format says zero: anything else is damage (or data hidden where no reader looks).
  const zeroPad = (from: number, n: number, what: string): void => {
    for (let i = from; i < from + n; i++) {
      if (b[i] !== 0) throw new ModelFormatError(source, 'inconsistent', `non-zero padding byte 0x${b[i]!.toString(16).padStart(2, '0')} at offset ${i} (${what}); padding must be zero`);
    }
  };
  zeroPad(PRE + hlen, start - (PRE + hlen), 'after the header');
  const params: QLayerParams[] = [];
  let off = start;
  for (const l of layers) {
    const { weights } = layerBytes(l);
    const w = new Int8Array(weights);
    w.set(new Int8Array(b.buffer, b.byteOffset + off, weights));
    zeroPad(off + weights, pad8(weights), `after the weights of ${l.name}`);
    off += weights + pad8(weights);
    const bias = new Float64Array(l.cout);
    const mult = new Int16Array(l.cout);
    const shift = new Uint8Array(l.cout);
    for (let c = 0; c < l.cout; c++) {
      const v = b.readBigInt64LE(off + 8 * c);
      bias[c] = v > BigInt(LIMITS.biasMax) || v < -BigInt(LIMITS.biasMax) ? Number.NaN : Number(v);
    }
    off += 8 * l.cout;
    for (let c = 0; c < l.cout; c++) mult[c] = b.readInt16LE(off + 2 * c);
    off += 2 * l.cout;
    for (let c = 0; c < l.cout; c++) shift[c] = b[off + c];
    zeroPad(off + l.cout, pad8(11 * l.cout), `after the requantization of ${l.name}`);
    off += l.cout + pad8(11 * l.cout);
    params.push({ weights: w, mult, shift, bias });
  }
  const arch: ArchSpec = {
    arch: header.arch as 'flownets-q',
    width: header.width,
    decoder: header.decoder as Decoder,
    flowFracBits: header.flow_frac_bits,
    layers,
  };
  const model: QModel = { name: header.name, arch, nativeSize: header.native_size, params, meta: header.meta ?? {} };
  validateModel(model, source);
  return model;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

export function loadModelFile(path: string): QModel {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read model file ${path}: ${code ?? (e as Error).message}`, 'give a path to a .ffq file or a shipped model name (`flowfpga models`)');
  }
  return decodeModel(bytes, path);
}
