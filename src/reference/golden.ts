// Golden vectors (docs/golden-vectors.md): a seeded generator whose expected outputs come from this reference,
// the text format's writer and parser, and a checker that recomputes a case with the reference.
import { CONTRACT_VERSION } from '../model/arch.js';
import { conv } from './conv.js';
import type { ConvSpec } from './conv.js';
import { naiveAccumulators, naiveUpsample } from './naive.js';
import { Prng } from './prng.js';
import { foldRequant, roundHalfAway } from './random.js';
import { up2, up4 } from './upsample.js';

export const GOLDEN_MAGIC = 'flowfpga-golden';
export const GOLDEN_FORMAT_VERSION = 1;
export const GOLDEN_DEFAULT_SEED = 1;

export type GoldenOp = 'conv' | 'upconv' | 'flow' | 'up2' | 'up4';
export type GoldenType = 'u8' | 'i8' | 'i16' | 'i32' | 'i64';
/** i64 values are held as doubles; the parser rejects any that are not exactly representable (|v| > 2^53 − 1). */
export type GoldenArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float64Array;

export interface GoldenTensor {
  type: GoldenType;
  data: GoldenArray;
}

export interface GoldenCase {
  id: string;
  op: GoldenOp;
  /** Scalar parameters in file order. */
  params: Record<string, number>;
  /** Tensors in file order; the expected result is `out`. */
  tensors: Record<string, GoldenTensor>;
}

export interface GoldenFile {
  formatVersion: number;
  contractVersion: number;
  cases: GoldenCase[];
}

const OPS: GoldenOp[] = ['conv', 'upconv', 'flow', 'up2', 'up4'];
const CONV_PARAMS = ['cin', 'h', 'w', 'cout', 'k', 'stride', 'bits_in', 'bits_w', 'bits_out', 'mode', 'out_c_total', 'out_c_offset'];
const PARAMS: Record<GoldenOp, string[]> = {
  conv: CONV_PARAMS,
  upconv: CONV_PARAMS,
  flow: CONV_PARAMS,
  up2: ['c', 'h', 'w', 'bits'],
  up4: ['c', 'h', 'w'],
};
const RANGES: Record<GoldenType, [number, number]> = {
  u8: [0, 255],
  i8: [-128, 127],
  i16: [-32768, 32767],
  i32: [-2147483648, 2147483647],
  i64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function allocate(type: GoldenType, n: number): GoldenArray {
  switch (type) {
    case 'u8': return new Uint8Array(n);
    case 'i8': return new Int8Array(n);
    case 'i16': return new Int16Array(n);
    case 'i32': return new Int32Array(n);
    case 'i64': return new Float64Array(n);
  }
}

/** Expected tensor names, types and element counts of a case, from its parameters. */
export function goldenLayout(op: GoldenOp, p: Record<string, number>): Array<[string, GoldenType, number]> {
  if (op === 'up2') return [['input', 'u8', p.c * p.h * p.w], ['out', 'u8', 4 * p.c * p.h * p.w]];
  if (op === 'up4') return [['input', 'i16', p.c * p.h * p.w], ['out', 'i16', 16 * p.c * p.h * p.w]];
  const [ho, wo] = goldenConvOutSize(op, p);
  const outType: GoldenType = p.mode === 1 ? 'i16' : 'u8';
  return [
    ['input', 'u8', p.cin * p.h * p.w],
    ['weights', 'i8', p.cout * p.cin * p.k * p.k],
    ['mult', 'i16', p.cout],
    ['shift', 'u8', p.cout],
    ['bias', 'i64', p.cout],
    ['out_init', outType, p.out_c_total * ho * wo],
    ['out', outType, p.out_c_total * ho * wo],
  ];
}

function goldenConvOutSize(op: GoldenOp, p: Record<string, number>): [number, number] {
  const h = op === 'upconv' ? 2 * p.h : p.h;
  const w = op === 'upconv' ? 2 * p.w : p.w;
  const pad = (p.k - 1) >> 1;
  return [Math.floor((h + 2 * pad - p.k) / p.stride) + 1, Math.floor((w + 2 * pad - p.k) / p.stride) + 1];
}

// ---------------------------------------------------------------------------------------------------------- format

/** Writes a golden file: header, optional comment lines, then the cases. Deterministic byte for byte. */
export function formatGolden(file: GoldenFile, comments: string[] = []): string {
  const parts: string[] = [`${GOLDEN_MAGIC} ${file.formatVersion} ${file.contractVersion}\n`];
  for (const c of comments) parts.push(`# ${c}\n`);
  for (const c of file.cases) {
    parts.push(`case ${c.id} ${c.op}\n`);
    for (const [k, v] of Object.entries(c.params)) parts.push(`${k} ${v}\n`);
    for (const [name, t] of Object.entries(c.tensors)) {
      parts.push(`tensor ${name} ${t.type} ${t.data.length} ${Array.prototype.join.call(t.data, ' ')}\n`);
    }
    parts.push('end\n');
  }
  return parts.join('');
}

/** Parses and validates a golden file (syntax, versions, parameter sets, tensor types/counts/ranges). */
export function parseGolden(text: string, source = 'golden file'): GoldenFile {
  const lines = text.split('\n');
  let ln = 0;
  const fail = (msg: string): never => {
    throw new Error(`${source}:${ln}: ${msg}`);
  };
  const next = (): string[] | undefined => {
    while (ln < lines.length) {
      const line = lines[ln++].trim();
      if (line === '' || line.startsWith('#')) continue;
      return line.split(/\s+/);
    }
    return undefined;
  };
  const int = (tok: string | undefined, what: string): number => {
    if (tok === undefined || !/^-?\d+$/.test(tok)) fail(`${what}: '${tok ?? ''}' is not an integer`);
    const v = Number(tok);
    if (!Number.isSafeInteger(v)) fail(`${what}: ${tok} is not exactly representable`);
    return v;
  };
  const head = next();
  if (!head || head[0] !== GOLDEN_MAGIC || head.length !== 3) fail(`not a golden file (expected '${GOLDEN_MAGIC} <format> <contract>')`);
  const formatVersion = int(head![1], 'format version');
  const contractVersion = int(head![2], 'contract version');
  if (formatVersion !== GOLDEN_FORMAT_VERSION) fail(`unsupported format version ${formatVersion}`);
  if (contractVersion !== CONTRACT_VERSION) fail(`contract version ${contractVersion}, this build implements ${CONTRACT_VERSION}`);
  const cases: GoldenCase[] = [];
  const ids = new Set<string>();
  for (let toks = next(); toks; toks = next()) {
    if (toks[0] !== 'case' || toks.length !== 3) fail(`expected 'case <id> <op>', got '${toks.join(' ')}'`);
    const [, id, opTok] = toks;
    if (ids.has(id)) fail(`duplicate case id ${id}`);
    ids.add(id);
    if (!OPS.includes(opTok as GoldenOp)) fail(`unknown op '${opTok}'`);
    const op = opTok as GoldenOp;
    const params: Record<string, number> = {};
    const tensors: Record<string, GoldenTensor> = {};
    for (;;) {
      const t = next();
      if (!t) fail(`case ${id}: missing 'end'`);
      const tk = t!;
      if (tk[0] === 'end') break;
      if (tk[0] === 'tensor') {
        const [, name, type] = tk;
        if (!(type in RANGES)) fail(`tensor ${name}: unknown type '${type}'`);
        const count = int(tk[3], `tensor ${name} count`);
        if (tk.length !== 4 + count) fail(`tensor ${name}: ${tk.length - 4} values, count says ${count}`);
        if (name in tensors) fail(`duplicate tensor ${name}`);
        const [lo, hi] = RANGES[type as GoldenType];
        const data = allocate(type as GoldenType, count);
        for (let i = 0; i < count; i++) {
          const v = int(tk[4 + i], `tensor ${name}[${i}]`);
          if (v < lo || v > hi) fail(`tensor ${name}[${i}] = ${v} outside ${type}`);
          data[i] = v;
        }
        tensors[name] = { type: type as GoldenType, data };
      } else {
        if (tk.length !== 2) fail(`expected '<param> <integer>', got '${tk.join(' ')}'`);
        if (tk[0] in params) fail(`duplicate parameter ${tk[0]}`);
        params[tk[0]] = int(tk[1], `parameter ${tk[0]}`);
      }
    }
    const want = PARAMS[op];
    const have = Object.keys(params);
    if (have.join(' ') !== want.join(' ')) fail(`case ${id}: parameters '${have.join(' ')}', expected '${want.join(' ')}'`);
    const layout = goldenLayout(op, params);
    const names = Object.keys(tensors);
    if (names.join(' ') !== layout.map((l) => l[0]).join(' ')) {
      fail(`case ${id}: tensors '${names.join(' ')}', expected '${layout.map((l) => l[0]).join(' ')}'`);
    }
    for (const [name, type, count] of layout) {
      const t = tensors[name];
      if (t.type !== type || t.data.length !== count) fail(`case ${id}: tensor ${name} must be ${type} × ${count}`);
    }
    cases.push({ id, op, params, tensors });
  }
  return { formatVersion, contractVersion, cases };
}

// ------------------------------------------------------------------------------------------------------- reference

/** The reference's result for a case, computed from its inputs (the `out` tensor is ignored). */
export function goldenExpected(c: GoldenCase): GoldenArray {
  const p = c.params;
  const input = c.tensors.input.data;
  if (c.op === 'up2') return up2(input as Uint8Array, p.c, p.h, p.w);
  if (c.op === 'up4') return up4(input as Int16Array, p.c, p.h, p.w);
  const spec: ConvSpec = {
    cin: p.cin, cout: p.cout, k: p.k, stride: p.stride,
    mode: p.mode === 1 ? 'linear' : 'relu', bits: p.bits_out, upsampleInput: c.op === 'upconv',
  };
  const t = c.tensors;
  const out = t.out_init.data.slice() as Uint8Array | Int16Array;
  conv(spec, { weights: t.weights.data as Int8Array, mult: t.mult.data as Int16Array, shift: t.shift.data as Uint8Array,
    bias: t.bias.data as Float64Array }, input as Uint8Array, p.h, p.w, out,
  { channelsTotal: p.out_c_total, channelOffset: p.out_c_offset });
  return out;
}

/** Recomputes a case with the reference and compares with its `out`. */
export function checkGoldenCase(c: GoldenCase): { ok: boolean; mismatches: number; first?: string } {
  const want = c.tensors.out.data;
  const got = goldenExpected(c);
  let mismatches = 0;
  let first: string | undefined;
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== got[i]) {
      if (mismatches++ === 0) first = `out[${i}]: file ${want[i]}, reference ${got[i]}`;
    }
  }
  return { ok: mismatches === 0, mismatches, first };
}

// ------------------------------------------------------------------------------------------------------- generator

interface ConvCaseSpec {
  id: string;
  op: 'conv' | 'upconv' | 'flow';
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  bitsIn: number;
  bitsW: number;
  /** relu output bits; ignored for flow (written as 16). */
  bitsOut: number;
  outCTotal?: number;
  outCOffset?: number;
  input?: 'random' | 'max';
  /** 'minmax': even output channels all most-negative, odd all most-positive weights. */
  weights?: 'random' | 'minmax';
  /** Fixed per-channel shifts (calibrated M and B around them); otherwise contract-4 folding picks the shift. */
  shifts?: number[];
  /** Explicit requantization per channel, bypassing calibration. */
  requant?: Array<[number, number, number]>;
  /** Flow head: half-width of the targeted int16 output range (> 32767 exercises the clamp). */
  flowRange?: number;
}

const TWO50 = 2 ** 50;

function sentinel(type: 'u8' | 'i16', n: number): Uint8Array | Int16Array {
  if (type === 'u8') {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; i++) a[i] = (i * 151 + 7) & 255;
    return a;
  }
  const a = new Int16Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 40503 + 7) & 65535) - 32768;
  return a;
}

function makeConvCase(rng: Prng, s: ConvCaseSpec): GoldenCase {
  const mode = s.op === 'flow' ? 1 : 0;
  const total = s.outCTotal ?? s.cout;
  const offset = s.outCOffset ?? 0;
  const input = new Uint8Array(s.cin * s.h * s.w);
  const imax = 2 ** s.bitsIn - 1;
  if (s.input === 'max') input.fill(imax);
  else rng.fillInt(input, 0, imax);
  const K = s.cin * s.k * s.k;
  const wmax = 2 ** (s.bitsW - 1);
  const weights = new Int8Array(s.cout * K);
  if (s.weights === 'minmax') {
    for (let m = 0; m < s.cout; m++) weights.fill(m % 2 === 0 ? -wmax : wmax - 1, m * K, (m + 1) * K);
  } else {
    rng.fillInt(weights, -wmax, wmax - 1);
  }
  const mult = new Int16Array(s.cout);
  const shift = new Uint8Array(s.cout);
  const bias = new Float64Array(s.cout);
  if (s.requant) {
    s.requant.forEach(([m, sh, b], c) => {
      mult[c] = m;
      shift[c] = sh;
      bias[c] = b;
    });
  } else {
    const convIn = s.op === 'upconv' ? naiveUpsample(2, input, s.cin, s.h, s.w) : input;
    const { acc, ho, wo } = naiveAccumulators({
      input: convIn, cin: s.cin, h: s.op === 'upconv' ? 2 * s.h : s.h, w: s.op === 'upconv' ? 2 * s.w : s.w,
      cout: s.cout, k: s.k, stride: s.stride, weights, mult, shift, bias, mode: 'relu', bits: 8,
    });
    const plane = ho * wo;
    const [tLo, tHi] = mode === 1
      ? [-(s.flowRange ?? 3000), s.flowRange ?? 3000]
      : [-0.15 * (2 ** s.bitsOut - 1), 1.15 * (2 ** s.bitsOut - 1)];
    for (let c = 0; c < s.cout; c++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = c * plane; i < (c + 1) * plane; i++) {
        lo = Math.min(lo, acc[i]);
        hi = Math.max(hi, acc[i]);
      }
      const sign = rng.next() < 0.35 ? -1 : 1;
      const r = (tHi - tLo) / Math.max(1, hi - lo);
      const mid = (tLo + tHi) / 2 + (rng.next() - 0.5) * 0.2 * (tHi - tLo);
      const accMid = sign > 0 ? (lo + hi) / 2 : -(lo + hi) / 2;
      if (s.shifts) {
        const sh = s.shifts[c];
        const m = sign * Math.min(32767, Math.max(1, roundHalfAway(r * 2 ** sh)));
        mult[c] = m;
        shift[c] = sh;
        bias[c] = Math.min(TWO50, Math.max(-TWO50, roundHalfAway(mid * 2 ** sh - m * sign * accMid)));
      } else {
        const f = foldRequant(sign * r, mid - r * accMid);
        mult[c] = f.mult;
        shift[c] = f.shift;
        bias[c] = f.bias;
      }
    }
  }
  const c: GoldenCase = {
    id: s.id,
    op: s.op,
    params: {
      cin: s.cin, h: s.h, w: s.w, cout: s.cout, k: s.k, stride: s.stride, bits_in: s.bitsIn, bits_w: s.bitsW,
      bits_out: mode === 1 ? 16 : s.bitsOut, mode, out_c_total: total, out_c_offset: offset,
    },
    tensors: {},
  };
  const [ho, wo] = goldenConvOutSize(s.op, c.params);
  const outType = mode === 1 ? 'i16' : 'u8';
  c.tensors = {
    input: { type: 'u8', data: input },
    weights: { type: 'i8', data: weights },
    mult: { type: 'i16', data: mult },
    shift: { type: 'u8', data: shift },
    bias: { type: 'i64', data: bias },
    out_init: { type: outType, data: sentinel(outType, total * ho * wo) },
  };
  c.tensors.out = { type: outType, data: goldenExpected(c) };
  return c;
}

function sizeTag(h: number, w: number): string {
  return `${h}x${w}`;
}

function convCases(rng: Prng): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const bits = () => rng.int(2, 8);
  // Every k × stride on even, odd, non-square and 1×1 inputs, random bits and channel placement.
  const sizes: Array<[number, number]> = [[1, 1], [2, 2], [5, 7], [8, 6], [1, 7], [7, 1]];
  for (const k of [1, 3, 5, 7]) {
    for (const stride of [1, 2]) {
      for (const [h, w] of sizes) {
        const cout = rng.int(1, 4);
        const extra = rng.next() < 0.5 ? 0 : rng.int(1, 3);
        cases.push(makeConvCase(rng, {
          id: `k${k}_s${stride}_${sizeTag(h, w)}_${cases.length}`, op: 'conv', cin: rng.int(1, 4), h, w, cout, k, stride,
          bitsIn: bits(), bitsW: bits(), bitsOut: bits(), outCTotal: cout + extra, outCOffset: rng.int(0, extra),
        }));
      }
    }
  }
  // Every bit width in every role: equal widths, then rotated combinations.
  for (let b = 2; b <= 8; b++) {
    cases.push(makeConvCase(rng, { id: `bits_${b}_${b}_${b}`, op: 'conv', cin: 3, h: 4, w: 5, cout: 3, k: 3, stride: 1,
      bitsIn: b, bitsW: b, bitsOut: b }));
    const bw = 10 - b;
    const bo = ((b + 2) % 7) + 2;
    cases.push(makeConvCase(rng, { id: `bits_${b}_${bw}_${bo}`, op: 'conv', cin: 2, h: 5, w: 3, cout: 2, k: 3, stride: 2,
      bitsIn: b, bitsW: bw, bitsOut: bo }));
  }
  // All-max inputs against extreme weights: the centre pixel reaches ±K·(2^n_in − 1)·2^(nw−1), the layer's own bound.
  for (const [bi, bw] of [[8, 8], [2, 2], [8, 2], [2, 8], [5, 3]]) {
    cases.push(makeConvCase(rng, { id: `extreme_${bi}_${bw}`, op: 'conv', cin: 4, h: 3, w: 3, cout: 2, k: 3, stride: 1,
      bitsIn: bi, bitsW: bw, bitsOut: 8, input: 'max', weights: 'minmax' }));
  }
  // The contract's accumulator limit itself: K = 1342·7² = 65758, 8-bit codes and weights, so the centre pixel's
  // acc is −65758·255·128 = −2,146,341,120 (channel 0) and 65758·255·127 (channel 1); with |M| = 32767 and
  // B = 2^50, t reaches ~2^50 + 2^46, the largest the contract allows.
  cases.push(makeConvCase(rng, { id: 'acc_bound', op: 'conv', cin: 1342, h: 7, w: 7, cout: 2, k: 7, stride: 1,
    bitsIn: 8, bitsW: 8, bitsOut: 8, input: 'max', weights: 'minmax',
    requant: [[-32767, 43, TWO50], [32767, 43, TWO50 - 2 ** 45]] }));
  // Every shift 0..50, one per output channel, with multipliers and offsets calibrated around it.
  const all = Array.from({ length: 51 }, (_, i) => i);
  cases.push(makeConvCase(rng, { id: 'shifts_0_50', op: 'conv', cin: 2, h: 3, w: 4, cout: 51, k: 3, stride: 1,
    bitsIn: 8, bitsW: 8, bitsOut: 8, shifts: all }));
  cases.push(makeConvCase(rng, { id: 'shifts_0_50_low_bits', op: 'conv', cin: 3, h: 2, w: 3, cout: 51, k: 1, stride: 1,
    bitsIn: 4, bitsW: 3, bitsOut: 5, shifts: all }));
  // Channel placement edges: first and last channels of a bigger concatenation buffer.
  cases.push(makeConvCase(rng, { id: 'offset_first', op: 'conv', cin: 3, h: 4, w: 4, cout: 2, k: 3, stride: 1,
    bitsIn: 6, bitsW: 6, bitsOut: 6, outCTotal: 5, outCOffset: 0 }));
  cases.push(makeConvCase(rng, { id: 'offset_last', op: 'conv', cin: 3, h: 4, w: 4, cout: 2, k: 3, stride: 2,
    bitsIn: 6, bitsW: 6, bitsOut: 6, outCTotal: 5, outCOffset: 3 }));
  return cases;
}

function upconvCases(rng: Prng): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const sizes: Array<[number, number]> = [[1, 1], [1, 2], [2, 1], [3, 3], [4, 5], [6, 4], [2, 7]];
  for (const [h, w] of sizes) {
    for (let rep = 0; rep < 2; rep++) {
      const cout = rng.int(1, 4);
      const extra = rep === 0 ? 0 : rng.int(1, 3);
      cases.push(makeConvCase(rng, {
        id: `up_${sizeTag(h, w)}_${cases.length}`, op: 'upconv', cin: rng.int(1, 5), h, w, cout, k: 3, stride: 1,
        bitsIn: rng.int(2, 8), bitsW: rng.int(2, 8), bitsOut: rng.int(2, 8), outCTotal: cout + extra,
        outCOffset: rng.int(0, extra),
      }));
    }
  }
  for (let b = 2; b <= 8; b++) {
    cases.push(makeConvCase(rng, { id: `up_bits_${b}`, op: 'upconv', cin: 2, h: 3, w: 2, cout: 2, k: 3, stride: 1,
      bitsIn: b, bitsW: 10 - b, bitsOut: b }));
  }
  cases.push(makeConvCase(rng, { id: 'up_extreme', op: 'upconv', cin: 3, h: 2, w: 3, cout: 2, k: 3, stride: 1,
    bitsIn: 8, bitsW: 8, bitsOut: 8, input: 'max', weights: 'minmax', outCTotal: 4, outCOffset: 1 }));
  return cases;
}

function flowCases(rng: Prng): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const sizes: Array<[number, number]> = [[1, 1], [2, 3], [4, 4], [5, 2], [3, 7], [6, 6]];
  // 26 cases × 2 channels walk the shifts 0..50; ranges from well inside to far past int16.
  for (let i = 0; i < 26; i++) {
    const [h, w] = sizes[i % sizes.length];
    cases.push(makeConvCase(rng, {
      id: `flow_${sizeTag(h, w)}_s${2 * i}_${i}`, op: 'flow', cin: rng.int(1, 6), h, w, cout: 2, k: 3, stride: 1,
      bitsIn: 2 + (i % 7), bitsW: 2 + ((i * 3) % 7), bitsOut: 16, shifts: [2 * i, Math.min(50, 2 * i + 1)],
      flowRange: [300, 5000, 45000][i % 3],
    }));
  }
  // Far ends of t with S = 50: q is −1 or −2 from B = −2^50, 0 or 1 from +2^50.
  cases.push(makeConvCase(rng, { id: 'flow_extreme_s50', op: 'flow', cin: 8, h: 3, w: 3, cout: 2, k: 3, stride: 1,
    bitsIn: 8, bitsW: 8, bitsOut: 16, input: 'max', weights: 'minmax', requant: [[32767, 50, -TWO50], [32767, 50, TWO50]] }));
  // Saturation both ways with S = 0.
  cases.push(makeConvCase(rng, { id: 'flow_extreme_s0', op: 'flow', cin: 8, h: 3, w: 3, cout: 2, k: 3, stride: 1,
    bitsIn: 8, bitsW: 8, bitsOut: 16, input: 'max', weights: 'minmax', requant: [[-3, 0, 5], [-1, 0, -7]] }));
  return cases;
}

function up2Cases(rng: Prng): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const sizes: Array<[number, number]> = [[1, 1], [1, 3], [2, 2], [3, 5], [7, 4], [8, 8]];
  const kinds = ['random', 'max', 'checker', 'ramp'] as const;
  let b = 2;
  for (const [h, w] of sizes) {
    for (const kind of kinds) {
      const c = rng.int(1, 3);
      const max = 2 ** b - 1;
      const input = new Uint8Array(c * h * w);
      if (kind === 'random') rng.fillInt(input, 0, max);
      else if (kind === 'max') input.fill(max);
      else if (kind === 'checker') for (let i = 0; i < input.length; i++) input[i] = ((i % w) + Math.floor(i / w)) % 2 ? max : 0;
      else for (let i = 0; i < input.length; i++) input[i] = i % (max + 1);
      const gc: GoldenCase = { id: `up2_${sizeTag(h, w)}_${kind}_b${b}`, op: 'up2', params: { c, h, w, bits: b },
        tensors: { input: { type: 'u8', data: input } } };
      gc.tensors.out = { type: 'u8', data: goldenExpected(gc) };
      cases.push(gc);
      b = b === 8 ? 2 : b + 1;
    }
  }
  return cases;
}

function up4Cases(rng: Prng): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const sizes: Array<[number, number]> = [[1, 1], [1, 2], [3, 3], [4, 5], [6, 2]];
  const kinds = ['random', 'extreme', 'small', 'const'] as const;
  for (const [h, w] of sizes) {
    for (const kind of kinds) {
      const c = rng.int(1, 2);
      const input = new Int16Array(c * h * w);
      if (kind === 'random') rng.fillInt(input, -32768, 32767);
      else if (kind === 'extreme') for (let i = 0; i < input.length; i++) input[i] = ((i % w) + Math.floor(i / w)) % 2 ? 32767 : -32768;
      else if (kind === 'small') rng.fillInt(input, -3, 3); // rounding of negative values (floor, half up)
      else input.fill(-rng.int(1, 1000));
      const gc: GoldenCase = { id: `up4_${sizeTag(h, w)}_${kind}`, op: 'up4', params: { c, h, w },
        tensors: { input: { type: 'i16', data: input } } };
      gc.tensors.out = { type: 'i16', data: goldenExpected(gc) };
      cases.push(gc);
    }
  }
  return cases;
}

export interface GoldenOutput {
  /** File name, e.g. 'conv.gv'. */
  file: string;
  text: string;
  cases: number;
}

/** All golden files for `seed`, byte-identical on every run and platform. */
export function generateGolden(seed = GOLDEN_DEFAULT_SEED): GoldenOutput[] {
  const groups: Array<[string, (rng: Prng) => GoldenCase[]]> = [
    ['conv.gv', convCases], ['upconv.gv', upconvCases], ['flow.gv', flowCases], ['up2.gv', up2Cases], ['up4.gv', up4Cases],
  ];
  return groups.map(([file, gen], i) => {
    // Each file has its own stream so adding cases to one file leaves the others unchanged.
    const cases = gen(new Prng((Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0));
    const text = formatGolden({ formatVersion: GOLDEN_FORMAT_VERSION, contractVersion: CONTRACT_VERSION, cases }, [
      `generated by 'flowfpga golden --seed ${seed}' from the TypeScript reference; do not edit (docs/golden-vectors.md)`,
    ]);
    return { file, text, cases: cases.length };
  });
}
