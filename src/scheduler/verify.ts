// Per-frame verification (docs/verification.md): recompute output regions of the engine's commands with the
// TypeScript reference, from the step's input as the engine left it in DDR, and compare with what the engine wrote.
// `sample` checks a few random regions per step (bounded cost), `full` checks every output element.
import type { QModel } from '../model/types.js';
import { convTile, type ConvSpec } from '../reference/conv.js';
import { upsampleRegion } from '../reference/upsample.js';
import { Prng } from '../reference/prng.js';
import { FLAG_LINEAR, FLAG_UP2_IN, OP_CONV, type EngineCommand } from './cycles.js';
import type { Plan, StepPlan } from './plan.js';

export type VerifyMode = 'off' | 'sample' | 'full';
export type MismatchPolicy = 'log' | 'drop' | 'rerun' | 'stop';

/** What `sample` checks per step: `commands` random commands, in each a random region of up to this size. */
export interface SampleSpec {
  commands: number;
  channels: number;
  rows: number;
  cols: number;
}

export const DEFAULT_SAMPLE: Readonly<SampleSpec> = Object.freeze({ commands: 2, channels: 1, rows: 1, cols: 4 });

export interface Mismatch {
  step: string;
  /** Index of the command in the plan's list, and its tile. */
  cmd: number;
  tile: { y: number; x: number; h: number; w: number; co0: number; co1: number };
  /** First mismatching element (layer output channel, row, col) and values. */
  at: { c: number; y: number; x: number };
  expected: number;
  got: number;
  /** Mismatching elements in the checked region. */
  count: number;
}

export interface CheckStats {
  regions: number;
  elements: number;
  /** Multiply-accumulates the reference spent (the verifier's cost measure). */
  macs: number;
}

/** DDR reads the verifier needs (an executor's read). */
export type DdrRead = (addr: number, len: number) => Uint8Array;

let scratchU8 = new Uint8Array(4096);
let scratchI16 = new Int16Array(2048);

/** MACs of checking one region of a command (0 for upsampling; their cost is per element, counted separately). */
export function regionMacs(c: EngineCommand, ch: number, px: number): number {
  return c.opcode === OP_CONV ? ch * px * c.inC * c.k * c.k : 0;
}

/**
 * Checks output region [y0, y0+h) × [x0, x0+w) × channels [m0, m1) of command `c` (addresses as bound in DDR:
 * `inAddr`/`outAddr` given explicitly). Returns the mismatch or undefined.
 */
export function checkRegion(
  model: QModel, plan: Plan, step: StepPlan, cmdIndex: number, c: EngineCommand, inAddr: number, outAddr: number,
  read: DdrRead, m0: number, m1: number, y0: number, h: number, x0: number, w: number, stats: CheckStats,
): Mismatch | undefined {
  const linear = (c.flags & FLAG_LINEAR) !== 0;
  const n = (m1 - m0) * h * w;
  const e = linear ? 2 : 1;
  const inPlane = c.inH * c.inW;
  const outPlane = c.outH * c.outW;
  let expect: Uint8Array | Int16Array;
  if (linear) {
    if (scratchI16.length < n) scratchI16 = new Int16Array(Math.max(n, scratchI16.length * 2));
    expect = scratchI16;
  } else {
    if (scratchU8.length < n) scratchU8 = new Uint8Array(Math.max(n, scratchU8.length * 2));
    expect = scratchU8;
  }
  const inEs = c.opcode !== OP_CONV && linear ? 2 : 1;
  const inBytes = read(inAddr, c.inC * inPlane * inEs);
  if (c.opcode === OP_CONV) {
    const spec: ConvSpec = {
      cin: c.inC, cout: c.cout, k: c.k, stride: c.stride, mode: linear ? 'linear' : 'relu', bits: c.bits,
      upsampleInput: (c.flags & FLAG_UP2_IN) !== 0,
    };
    convTile(spec, model.params[step.layer], inBytes, c.inH, c.inW, { y0, y1: y0 + h, x0, x1: x0 + w, m0, m1 }, expect,
      { channelsTotal: m1 - m0, channelOffset: -m0, h, w, originY: y0, originX: x0 });
    stats.macs += regionMacs(c, m1 - m0, h * w);
  } else {
    const src = linear ? new Int16Array(inBytes.buffer, inBytes.byteOffset, c.inC * inPlane) : inBytes;
    upsampleRegion<Uint8Array | Int16Array>(c.k as 2 | 4, m1 - m0,
      { data: src, base: m0 * inPlane, plane: inPlane, row: c.inW, y0: 0, x0: 0, h: c.inH, w: c.inW },
      y0, y0 + h, x0, x0 + w, { data: expect, base: 0, plane: h * w, row: w });
    stats.macs += n; // ~4 multiply-adds per element; counted as one MAC-equivalent
  }
  stats.regions++;
  stats.elements += n;
  // Compare row by row against DDR (one read per row keeps it valid for device DDR too).
  let count = 0;
  let first: Mismatch | undefined;
  for (let m = m0; m < m1; m++) {
    for (let y = 0; y < h; y++) {
      const addr = outAddr + ((c.outCOffset + m) * outPlane + (y0 + y) * c.outW + x0) * e;
      const row = read(addr, w * e);
      const base = ((m - m0) * h + y) * w;
      for (let x = 0; x < w; x++) {
        const got = linear ? (row[2 * x] | (row[2 * x + 1] << 8)) << 16 >> 16 : row[x];
        const want = expect[base + x];
        if (got !== want) {
          count++;
          first ??= {
            step: step.name, cmd: cmdIndex, tile: { y: c.tileY, x: c.tileX, h: c.tileH, w: c.tileW, co0: c.coBegin, co1: c.coEnd },
            at: { c: m, y: y0 + y, x: x0 + x }, expected: want, got, count: 0,
          };
        }
      }
    }
  }
  if (first) first.count = count;
  return first;
}

export interface StepCheckArgs {
  model: QModel;
  plan: Plan;
  step: StepPlan;
  mode: 'sample' | 'full';
  sample: SampleSpec;
  rng: Prng;
  read: DdrRead;
  /** Bound address of command i's input / output (the frame's slot for patched commands). */
  inAddr: (i: number) => number;
  outAddr: (i: number) => number;
  stats: CheckStats;
}

/** Verifies one step; returns its mismatches (at most one per checked region). */
export function checkStep(a: StepCheckArgs): Mismatch[] {
  const out: Mismatch[] = [];
  const { step, plan } = a;
  const n = step.cmdEnd - step.cmdBegin;
  const pick = (lo: number, hi: number): number => lo + Math.floor(a.rng.next() * (hi - lo + 1));
  if (a.mode === 'full') {
    for (let i = step.cmdBegin; i < step.cmdEnd; i++) {
      const c = plan.cmds[i];
      // Region by region of at most 64 channels keeps the scratch small.
      for (let m = c.coBegin; m < c.coEnd; m += 64) {
        const mm = checkRegion(a.model, plan, step, i, c, a.inAddr(i), a.outAddr(i), a.read, m, Math.min(c.coEnd, m + 64),
          c.tileY, c.tileH, c.tileX, c.tileW, a.stats);
        if (mm) out.push(mm);
      }
    }
    return out;
  }
  // Distinct commands, chosen uniformly (partial Fisher–Yates over the index range).
  const k = Math.min(a.sample.commands, n);
  const idx = Array.from({ length: n }, (_, i) => step.cmdBegin + i);
  for (let j = 0; j < k; j++) {
    const r = pick(j, n - 1);
    [idx[j], idx[r]] = [idx[r], idx[j]];
    const i = idx[j];
    const c = plan.cmds[i];
    const vc = Math.min(a.sample.channels, c.coEnd - c.coBegin);
    const vh = Math.min(a.sample.rows, c.tileH);
    const vw = Math.min(a.sample.cols, c.tileW);
    const m0 = pick(c.coBegin, c.coEnd - vc);
    const y0 = pick(c.tileY, c.tileY + c.tileH - vh);
    const x0 = pick(c.tileX, c.tileX + c.tileW - vw);
    const mm = checkRegion(a.model, plan, step, i, c, a.inAddr(i), a.outAddr(i), a.read, m0, m0 + vc, y0, vh, x0, vw, a.stats);
    if (mm) out.push(mm);
  }
  return out;
}

/** Reference MACs of one frame's `sample` verification (upper bound: every sampled region at full size). */
export function sampleMacsPerFrame(plan: Plan, s: SampleSpec): number {
  let total = 0;
  for (const step of plan.steps) {
    const c = plan.cmds[step.cmdBegin];
    const n = step.cmdEnd - step.cmdBegin;
    const per = Math.min(s.channels, c.coEnd - c.coBegin) * Math.min(s.rows, c.tileH) * Math.min(s.cols, c.tileW);
    total += Math.min(s.commands, n) * (c.opcode === OP_CONV ? per * c.inC * c.k * c.k : per);
  }
  return total;
}
