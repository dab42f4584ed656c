// Per-frame verification (docs/verification.md): recompute output regions of the engine's commands with the
// TypeScript reference, from the step's input as the engine left it in DDR, and compare with what the engine wrote.
// `sample` checks a few random regions per step (bounded cost), `full` checks every output element.
import type { QModel } from '../model/types.js';
import { convInputWindow, convTileWindow, type ConvSpec } from '../reference/conv.js';
import { upsampleRegion } from '../reference/upsample.js';
import { Prng } from '../reference/prng.js';
import { FLAG_LINEAR, FLAG_UP2_IN, OP_CONV, type EngineCommand } from './cycles.js';
import type { Plan, StepPlan } from './plan.js';

export type VerifyMode = 'off' | 'sample' | 'full';
export type MismatchPolicy = 'log' | 'drop' | 'rerun' | 'stop';

/**
 * What `sample` checks per step: `commands` random commands, in each a random region of up to this size; with
 * `regions` (default = the commands drawn), that many regions per step at independent random positions, spread
 * round-robin over the drawn commands (a step of one command still gets `regions` regions).
 */
export interface SampleSpec {
  commands: number;
  regions?: number;
  channels: number;
  rows: number;
  cols: number;
}

/**
 * Default `sample`: 4 regions per step over 2 distinct commands, 1 channel × 1 pixel each (docs/verification.md: a
 * region's cost is its input window — Cin·k² MACs and, for upsample-conv, the up2 of a k×k window per input
 * channel; the channel rotates over the engine's lanes). 4 independent positions per step, not 1–2: a bug confined
 * to one layer type that corrupts ~10 % of its elements (a rounding slip) is then found in 9 of 10 frames instead
 * of 3 (bench/verify-layer-bugs.ts).
 */
export const DEFAULT_SAMPLE: Readonly<SampleSpec> = Object.freeze({ commands: 2, regions: 4, channels: 1, rows: 1, cols: 1 });

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

/**
 * An executor's strided window read (CommandExecutor.readWindow): `planes` × `rows` rows of `rowBytes` at
 * addr + p·planeStride + r·rowStride, packed plane-major into `out`; returns the array holding them.
 */
export type DdrReadWindow = (addr: number, planes: number, planeStride: number, rows: number, rowStride: number,
  rowBytes: number, out?: Uint8Array) => Uint8Array;

/**
 * An executor's zero-copy window pair (CommandExecutor.viewWindow / releaseWindow): read access to a window's rows
 * as a view of its covering span, held until released (before the engine's next run).
 */
export interface DdrViews {
  view: (addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number) => Uint8Array;
  release: (addr: number, span: number) => void;
}

/**
 * What one DDR read call costs, in bytes copied: on a board every read is a cache invalidate + copy + clean of a
 * DMA buffer (EngineDevice.read), so many tiny reads lose to one larger read above this. An estimate, not measured
 * on a board; it only picks between one read per tensor, per channel or per row (all give the same bytes checked).
 */
export const READ_CALL_BYTES = 4096;

let readCallBytes = READ_CALL_BYTES;

/** A byte scratch with a 16-bit view of the same memory (int16 flow is little-endian in DDR, as on the host). */
class Scratch {
  u8 = new Uint8Array(4096);
  i16 = new Int16Array(this.u8.buffer);
  fit(bytes: number): void {
    if (this.u8.length >= bytes) return;
    this.u8 = new Uint8Array(Math.max(bytes + 1, this.u8.length * 2) & ~1);
    this.i16 = new Int16Array(this.u8.buffer);
  }
}

const winScratch = new Scratch();
const gotScratch = new Scratch();
let expectU8 = new Uint8Array(4096);
let expectI16 = new Int16Array(2048);
let order = new Int32Array(256);

/** Where gather() left a window: element (c, y, x) at `u8[base + c·plane + (y − y0)·row + (x − x0)]` (bytes). */
interface Win {
  u8: Uint8Array;
  base: number;
  plane: number;
  row: number;
}

const winOut: Win = { u8: winScratch.u8, base: 0, plane: 0, row: 0 };
/** The span gather() took through DdrViews (to release), or −1. */
let heldAddr = -1;
let heldSpan = 0;

/**
 * Reads rows [y0, y1) × cols [x0, x1) of `chans` planes (`plane`, `row` in elements of `es` bytes) starting at
 * `addr`. Only that window crosses from DDR, in as few reads as pay off (READ_CALL_BYTES): one span over all
 * channels (used in place, strided — no copy), or one read per channel or per row, packed densely into `dst`.
 * With `readWindow` (the executor's strided read): one call that copies only the window, packed into `dst`.
 * Returns `winOut` (strides in bytes), valid until the next call.
 */
function gather(read: DdrRead, readWindow: DdrReadWindow | undefined, views: DdrViews | undefined, addr: number, chans: number,
  plane: number, row: number, y0: number, y1: number, x0: number, x1: number, es: number, dst: Scratch): Win {
  const wh = y1 - y0;
  const rowBytes = (x1 - x0) * es;
  const pb = plane * es;
  const rb = row * es;
  heldAddr = -1;
  if (views) {
    // Zero-copy: the rows at their strides in the executor's own memory (no packing); released by the caller.
    const start = addr + y0 * rb + x0 * es;
    const w = winOut;
    w.u8 = views.view(start, chans, pb, wh, rb, rowBytes);
    w.base = 0;
    w.plane = pb;
    w.row = rb;
    heldAddr = start;
    heldSpan = w.u8.length;
    return w;
  }
  if (readWindow) {
    dst.fit(chans * wh * rowBytes);
    const w = winOut;
    w.u8 = readWindow(addr + y0 * rb + x0 * es, chans, pb, wh, rb, rowBytes, dst.u8);
    w.base = 0;
    w.plane = wh * rowBytes;
    w.row = rowBytes;
    return w;
  }
  const span = (wh - 1) * rb + rowBytes;
  const whole = (chans - 1) * pb + span;
  const costWhole = readCallBytes + whole;
  const costChan = chans * (readCallBytes + span);
  const costRow = chans * wh * (readCallBytes + rowBytes);
  const start = addr + y0 * rb + x0 * es;
  const w = winOut;
  if (costWhole <= costChan && costWhole <= costRow) {
    const buf = read(start, whole);
    w.u8 = buf;
    w.base = 0;
    w.plane = pb;
    w.row = rb;
    return w;
  }
  dst.fit(chans * wh * rowBytes);
  const out = dst.u8;
  w.u8 = out;
  w.base = 0;
  w.plane = wh * rowBytes;
  w.row = rowBytes;
  let d = 0;
  if (costRow < costChan) {
    for (let c = 0; c < chans; c++) {
      for (let y = 0; y < wh; y++, d += rowBytes) out.set(read(start + c * pb + y * rb, rowBytes), d);
    }
    return w;
  }
  for (let c = 0; c < chans; c++) {
    const buf = read(start + c * pb, span);
    for (let y = 0, o = 0; y < wh; y++, o += rb, d += rowBytes) {
      // Short rows: a plain loop beats creating a subarray view per row.
      if (rowBytes <= 32) for (let i = 0; i < rowBytes; i++) out[d + i] = buf[o + i];
      else out.set(buf.subarray(o, o + rowBytes), d);
    }
  }
  return w;
}

/** An Int16Array over a gathered window's bytes (in place when aligned, else copied to `dst`). */
function asI16(w: Win, bytes: number, dst: Scratch): Int16Array {
  if ((w.u8.byteOffset & 1) === 0 && w.u8 !== dst.u8) return new Int16Array(w.u8.buffer, w.u8.byteOffset, bytes >> 1);
  if (w.u8 === dst.u8) return dst.i16;
  dst.fit(bytes);
  dst.u8.set(w.u8.subarray(0, bytes));
  return dst.i16;
}

/** MACs of checking one region of a command (0 for upsampling; their cost is per element, counted separately). */
export function regionMacs(c: EngineCommand, ch: number, px: number): number {
  return c.opcode === OP_CONV ? ch * px * c.inC * c.k * c.k : 0;
}

/**
 * Checks output region [y0, y0+h) × [x0, x0+w) × channels [m0, m1) of command `c` (addresses as bound in DDR:
 * `inAddr`/`outAddr` given explicitly). Reads back only the input window the region depends on and the region
 * itself (in place through `views` when given, else packed through `readWindow`, else `read`). Returns the
 * mismatch or undefined.
 */
export function checkRegion(
  model: QModel, plan: Plan, step: StepPlan, cmdIndex: number, c: EngineCommand, inAddr: number, outAddr: number,
  read: DdrRead, m0: number, m1: number, y0: number, h: number, x0: number, w: number, stats: CheckStats,
  readWindow?: DdrReadWindow, views?: DdrViews,
): Mismatch | undefined {
  const linear = (c.flags & FLAG_LINEAR) !== 0;
  const nm = m1 - m0;
  const n = nm * h * w;
  const e = linear ? 2 : 1;
  const inPlane = c.inH * c.inW;
  const outPlane = c.outH * c.outW;
  let expect: Uint8Array | Int16Array;
  if (linear) {
    if (expectI16.length < n) expectI16 = new Int16Array(Math.max(n, expectI16.length * 2));
    expect = expectI16;
  } else {
    if (expectU8.length < n) expectU8 = new Uint8Array(Math.max(n, expectU8.length * 2));
    expect = expectU8;
  }
  const tile = { y0, y1: y0 + h, x0, x1: x0 + w, m0, m1 };
  if (c.opcode === OP_CONV) {
    const spec: ConvSpec = {
      cin: c.inC, cout: c.cout, k: c.k, stride: c.stride, mode: linear ? 'linear' : 'relu', bits: c.bits,
      upsampleInput: (c.flags & FLAG_UP2_IN) !== 0,
    };
    const need = convInputWindow(spec, c.inH, c.inW, tile);
    const win = gather(read, readWindow, views, inAddr, c.inC, inPlane, c.inW, need.y0, need.y1, need.x0, need.x1, 1, winScratch);
    try {
      convTileWindow(spec, model.params[step.layer],
        { data: win.u8, base: win.base, plane: win.plane, row: win.row, y0: need.y0, x0: need.x0 }, c.inH, c.inW,
        tile, expect, { channelsTotal: nm, channelOffset: -m0, h, w, originY: y0, originX: x0 });
    } finally {
      if (heldAddr >= 0) views!.release(heldAddr, heldSpan);
    }
    stats.macs += regionMacs(c, nm, h * w);
  } else {
    // Source rows/cols of up-f output rows y0..y0+h−1: ⌊i/f⌋ − 1 .. ⌊i/f⌋ + 1 by phase, clamped (contract 2.3/2.4).
    const f = c.k;
    const sy0 = Math.max(0, Math.floor(y0 / f) - 1), sy1 = Math.min(c.inH, Math.floor((y0 + h - 1) / f) + 2);
    const sx0 = Math.max(0, Math.floor(x0 / f) - 1), sx1 = Math.min(c.inW, Math.floor((x0 + w - 1) / f) + 2);
    const sw = sx1 - sx0;
    const win = gather(read, readWindow, views, inAddr + m0 * inPlane * e, nm, inPlane, c.inW, sy0, sy1, sx0, sx1, e, winScratch);
    const bytes = win.base + (nm - 1) * win.plane + (sy1 - sy0 - 1) * win.row + sw * e;
    try {
      // Same object shapes as the reference's own callers keep upsampleRegion's property loads monomorphic.
      if (linear) {
        upsampleRegion(f as 2 | 4, nm, { data: asI16(win, bytes, winScratch), base: win.base >> 1, plane: win.plane >> 1, row: win.row >> 1, y0: sy0, x0: sx0, h: c.inH, w: c.inW },
          y0, y0 + h, x0, x0 + w, { data: expect as Int16Array, base: 0, plane: h * w, row: w });
      } else {
        upsampleRegion(f as 2 | 4, nm, { data: win.u8, base: win.base, plane: win.plane, row: win.row, y0: sy0, x0: sx0, h: c.inH, w: c.inW },
          y0, y0 + h, x0, x0 + w, { data: expect as Uint8Array, base: 0, plane: h * w, row: w });
      }
    } finally {
      if (heldAddr >= 0) views!.release(heldAddr, heldSpan);
    }
    stats.macs += n; // ~4 multiply-adds per element; counted as one MAC-equivalent
  }
  stats.regions++;
  stats.elements += n;
  const gw = gather(read, readWindow, views, outAddr + (c.outCOffset + m0) * outPlane * e, nm, outPlane, c.outW, y0, y0 + h, x0, x0 + w, e, gotScratch);
  let count = 0;
  let fm = -1, fy = 0, fx = 0, fe = 0, fg = 0;
  try {
    const gotBytes = gw.base + (nm - 1) * gw.plane + (h - 1) * gw.row + w * e;
    const got = linear ? asI16(gw, gotBytes, gotScratch) : gw.u8;
    const gp = linear ? gw.plane >> 1 : gw.plane;
    const gr = linear ? gw.row >> 1 : gw.row;
    const gb = linear ? gw.base >> 1 : gw.base;
    for (let m = 0, i = 0; m < nm; m++) {
      for (let y = 0; y < h; y++) {
        const g = gb + m * gp + y * gr;
        for (let x = 0; x < w; x++, i++) {
          if (got[g + x] !== expect[i]) {
            if (fm < 0) {
              fm = m; fy = y; fx = x; fe = expect[i]; fg = got[g + x];
            }
            count++;
          }
        }
      }
    }
  } finally {
    if (heldAddr >= 0) views!.release(heldAddr, heldSpan);
  }
  if (fm < 0) return undefined;
  return {
    step: step.name, cmd: cmdIndex, tile: { y: c.tileY, x: c.tileX, h: c.tileH, w: c.tileW, co0: c.coBegin, co1: c.coEnd },
    at: { c: m0 + fm, y: y0 + fy, x: x0 + fx }, expected: fe, got: fg, count,
  };
}

/**
 * Rotates the checked output channel over the engine's Tm output lanes (lane of channel co = (co − co_begin) mod Tm):
 * consecutive sampled regions cover consecutive lanes, so a stuck lane is hit within ⌈Tm / (c·regions per frame)⌉
 * frames instead of by chance. Kept across frames by the runner.
 */
export interface LaneCursor {
  next: number;
}

export interface StepCheckArgs {
  model: QModel;
  plan: Plan;
  step: StepPlan;
  mode: 'sample' | 'full';
  sample: SampleSpec;
  rng: Prng;
  read: DdrRead;
  /** The executor's strided window read, if it has one: one call per window instead of the read-cost choice. */
  readWindow?: DdrReadWindow;
  /** The executor's zero-copy windows, if it has them (preferred over readWindow: no packing copy). */
  views?: DdrViews;
  /** Bound address of command i's input / output (the frame's slot for patched commands). */
  inAddr: (i: number) => number;
  outAddr: (i: number) => number;
  stats: CheckStats;
  /** Lane rotation for `sample` (see LaneCursor); without it the channel offset is uniform. */
  lanes?: LaneCursor;
  /** Cost of one DDR read call in bytes copied (default READ_CALL_BYTES); picks the read granularity. */
  readCallBytes?: number;
}

/** Verifies one step; returns its mismatches (at most one per checked region). */
export function checkStep(a: StepCheckArgs): Mismatch[] {
  const out: Mismatch[] = [];
  const { step, plan } = a;
  readCallBytes = a.readCallBytes ?? READ_CALL_BYTES;
  const n = step.cmdEnd - step.cmdBegin;
  const pick = (lo: number, hi: number): number => lo + Math.floor(a.rng.next() * (hi - lo + 1));
  if (a.mode === 'full') {
    for (let i = step.cmdBegin; i < step.cmdEnd; i++) {
      const c = plan.cmds[i];
      // Region by region of at most 64 channels keeps the scratch small.
      for (let m = c.coBegin; m < c.coEnd; m += 64) {
        const mm = checkRegion(a.model, plan, step, i, c, a.inAddr(i), a.outAddr(i), a.read, m, Math.min(c.coEnd, m + 64),
          c.tileY, c.tileH, c.tileX, c.tileW, a.stats, a.readWindow, a.views);
        if (mm) out.push(mm);
      }
    }
    return out;
  }
  // Distinct commands, chosen uniformly (partial Fisher–Yates over the index range).
  const k = Math.min(a.sample.commands, n);
  if (order.length < n) order = new Int32Array(Math.max(n, order.length * 2));
  for (let j = 0; j < n; j++) order[j] = step.cmdBegin + j;
  const tm = plan.cfg.tm;
  for (let j = 0; j < k; j++) {
    const r = pick(j, n - 1);
    const i = order[r];
    order[r] = order[j];
    order[j] = i;
  }
  const regions = Math.max(k, a.sample.regions ?? k);
  for (let j = 0; j < regions; j++) {
    const i = order[j % k];
    const c = plan.cmds[i];
    const C = c.coEnd - c.coBegin;
    const vc = Math.min(a.sample.channels, C);
    const vh = Math.min(a.sample.rows, c.tileH);
    const vw = Math.min(a.sample.cols, c.tileW);
    let m0: number;
    const lane = a.lanes ? a.lanes.next % tm : C;
    if (lane < C) {
      // A channel on the cursor's lane (uniform among the block's Tm-strides), region placed to contain it.
      const ch = c.coBegin + lane + tm * pick(0, Math.floor((C - 1 - lane) / tm));
      m0 = Math.min(ch, c.coEnd - vc);
      a.lanes!.next = (lane + vc) % tm;
    } else {
      m0 = pick(c.coBegin, c.coEnd - vc);
    }
    const y0 = pick(c.tileY, c.tileY + c.tileH - vh);
    const x0 = pick(c.tileX, c.tileX + c.tileW - vw);
    const mm = checkRegion(a.model, plan, step, i, c, a.inAddr(i), a.outAddr(i), a.read, m0, m0 + vc, y0, vh, x0, vw, a.stats, a.readWindow, a.views);
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
    const k = Math.min(s.commands, n);
    total += Math.max(k, s.regions ?? k) * (c.opcode === OP_CONV ? per * c.inC * c.k * c.k : per);
  }
  return total;
}
