// The planner: FlowNetS-Q (an ArchSpec; weights are only needed for the DDR image) at H × W on one engine build →
// activation buffers in DDR (reused by liveness, concatenation by channel offsets), weights + requant blocks laid
// out as the engine reads them, per-step tile sizes and loop order chosen by the cost model, and the command list.
// Compiled once per (model, size, engine config); per frame only the input / output addresses change (`patches`).
import { FRAMES, INPUT_CHANNELS, layerShapes, type ArchSpec, type LayerShape } from '../model/arch.js';
import { UserError } from '../errors.js';
import {
  CMD_BYTES, FLAG_ACCFULL, FLAG_KPACK, FLAG_LINEAR, FLAG_PIXLANES, FLAG_UP2_IN, FLAG_WPACK, OP_CONV, OP_UPSAMPLE, accCapacity, commandCycles, encodeCommand, laneCount, tapSteps,
  type EngineCommand,
} from './cycles.js';
import type { SchedConfig } from './config.js';
import { ST_OK, STATUS_NAMES, checkCommand, commandTraffic, newGeo, type CommandTraffic, type Geo } from './geometry.js';

/** DDR alignment of every buffer: a cache line, so flushes/invalidates of one buffer never touch another. */
export const BUF_ALIGN = 64;
export type Region = 'static' | 'input' | 'output';
export type LoopOrder = 'weight-stationary' | 'input-stationary';

/** One DDR buffer: the frames, the flow output, or an arena tensor (shared by concatenated producers). */
export interface BufferPlan {
  id: number;
  name: string;
  region: Region;
  /** Byte offset within its region (arena buffers: within the static region, set after layout). */
  offset: number;
  bytes: number;
  /** Steps that write / last read it (liveness; inclusive). */
  firstStep: number;
  lastStep: number;
}

/** A tensor as a step reads or writes it: channels [chOffset, chOffset + c) of a buffer of chTotal × h × w. */
export interface TensorRef {
  buffer: number;
  chOffset: number;
  chTotal: number;
  c: number;
  h: number;
  w: number;
  /** Bytes per element: 1 (codes) or 2 (int16 flow). */
  esize: number;
}

export interface StepCost {
  commands: number;
  cycles: number;
  readBytes: number;
  writeBytes: number;
}

/** One engine operation over a whole tensor: a CONV (optionally with fused up2) or an UPSAMPLE. */
export interface StepPlan {
  index: number;
  kind: 'conv' | 'upsample';
  /** Arch layer index; -1 for the final up4 ('output'). */
  layer: number;
  name: string;
  input: TensorRef;
  output: TensorRef;
  tileH: number;
  tileW: number;
  /** Output channels per command. */
  coChunk: number;
  order: LoopOrder;
  cmdBegin: number;
  cmdEnd: number;
  cost: StepCost;
  /** Candidates the cost model compared (tile h×w, chunk, order → modelled seconds). */
  considered: number;
}

export interface WeightBlock {
  layer: number;
  /** Offsets in the static region. */
  wOffset: number;
  wBytes: number;
  qOffset: number;
  qBytes: number;
}

export interface Patch {
  /** Command index and field to rewrite with (region base + offset). */
  cmd: number;
  field: 'inAddr' | 'outAddr';
  region: 'input' | 'output';
  offset: number;
}

export interface Plan {
  arch: ArchSpec;
  h: number;
  w: number;
  cfg: SchedConfig;
  shapes: LayerShape[];
  buffers: BufferPlan[];
  steps: StepPlan[];
  weights: WeightBlock[];
  /** Commands with addresses relative to their region bases (static region base 0, input 0, output 0). */
  cmds: EngineCommand[];
  /** Which (command, field) pairs point into the input / output regions. Every other address is static. */
  patches: Patch[];
  layout: {
    cmdOffset: number;
    cmdBytes: number;
    weightsOffset: number;
    weightsBytes: number;
    arenaOffset: number;
    arenaBytes: number;
    staticBytes: number;
    inputBytes: number;
    outputBytes: number;
  };
  /** Milliseconds spent planning. */
  planMs: number;
}

export interface PlanOptions {
  /**
   * Keep every arena tensor alive this many steps past its last reader, so a verifier can re-read a step's input
   * while the engine already runs the next steps (default 1; 0 packs tightest).
   */
  keepInputs?: number;
  /** Force a loop order / tile for every step (tests). */
  forceOrder?: LoopOrder;
  /** Upper bound on tile height / width (tests: forces many tiles and borders). */
  maxTileH?: number;
  maxTileW?: number;
  /** Force this many output channels per command (rounded to the step's cout). */
  coChunk?: number;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
/**
 * What the planner minimises per step: the modelled time (engine and DDR overlap, so the larger one), plus a
 * DDR_WEIGHT share of the DDR time, so that between tilings of nearly equal time the one moving fewer bytes wins
 * (DDR bandwidth is shared with the CPU, and traffic costs power).
 */
const DDR_WEIGHT = 2;
const objective = (engineS: number, ddrS: number): number => Math.max(engineS, ddrS) + DDR_WEIGHT * ddrS;
/** Tilings per step costed exactly (commandCycles over every command) after ranking by approxCycles. */
const EXACT_CANDIDATES = 3;

interface StepDraft {
  kind: 'conv' | 'upsample';
  layer: number;
  name: string;
  input: TensorRef;
  output: TensorRef;
  /** CONV: the arch layer's conv; UPSAMPLE: factor. */
  k: number;
  stride: number;
  flags: number;
  bits: number;
  cout: number;
  cin: number;
}

/** Plans `arch` at h × w for the engine build `cfg`. Throws UserError when a layer cannot be tiled onto it. */
export function planNetwork(arch: ArchSpec, h: number, w: number, cfg: SchedConfig, opts: PlanOptions = {}): Plan {
  const t0 = performance.now();
  let shapes: LayerShape[];
  try {
    shapes = layerShapes(arch, h, w);
  } catch (e) {
    throw new UserError((e as Error).message, 'use a size whose height and width are multiples of 64, e.g. 384x512');
  }
  for (const s of shapes) {
    const l = s.layer;
    if (l.op !== 'flow' && (l.bits < cfg.bitsMin || l.bits > cfg.bitsMax)) {
      throw new UserError(`layer ${l.name} uses ${l.bits}-bit activations; this engine supports ${cfg.bitsMin}..${cfg.bitsMax}`,
        'choose --bits within the engine capability');
    }
    if (s.inH > 0xffff || s.inW > 0xffff || s.outH > 0xffff || s.outW > 0xffff || l.cin > 0xffff) {
      throw new UserError(`layer ${l.name} exceeds the 16-bit command fields`, 'use a smaller input size');
    }
  }
  // ---- buffers -------------------------------------------------------------------------------------------------
  const buffers: BufferPlan[] = [];
  const newBuf = (name: string, region: Region, bytes: number): number => {
    buffers.push({ id: buffers.length, name, region, offset: 0, bytes, firstStep: Infinity, lastStep: -1 });
    return buffers.length - 1;
  };
  const home = new Map<string, TensorRef>();
  home.set(FRAMES, { buffer: newBuf(FRAMES, 'input', INPUT_CHANNELS * h * w), chOffset: 0, chTotal: INPUT_CHANNELS, c: INPUT_CHANNELS, h, w, esize: 1 });
  const cout = new Map<string, number>([[FRAMES, INPUT_CHANNELS]]);
  for (const l of arch.layers) cout.set(l.name, l.cout);
  // Concatenation buffers: every producer writes its channels at an offset of the consumer's input buffer.
  for (const s of shapes) {
    if (s.layer.inputs.length < 2) continue;
    const id = newBuf(`cat(${s.layer.inputs.join(',')})`, 'static', s.layer.cin * s.inH * s.inW);
    let off = 0;
    for (const name of s.layer.inputs) {
      if (home.has(name)) throw new UserError(`tensor '${name}' is concatenated twice`, 'unsupported graph');
      const c = cout.get(name) as number;
      home.set(name, { buffer: id, chOffset: off, chTotal: s.layer.cin, c, h: s.inH, w: s.inW, esize: 1 });
      off += c;
    }
  }
  const drafts: StepDraft[] = [];
  shapes.forEach((s, li) => {
    const l = s.layer;
    const first = home.get(l.inputs[0]) as TensorRef;
    const input: TensorRef = l.inputs.length === 1
      ? first
      : { buffer: first.buffer, chOffset: 0, chTotal: l.cin, c: l.cin, h: s.inH, w: s.inW, esize: 1 };
    let out = home.get(l.name);
    const esize = l.op === 'flow' ? 2 : 1;
    if (!out) {
      out = { buffer: newBuf(l.name, 'static', l.cout * s.outH * s.outW * esize), chOffset: 0, chTotal: l.cout, c: l.cout, h: s.outH, w: s.outW, esize };
      home.set(l.name, out);
    }
    if (out.h !== s.outH || out.w !== s.outW) throw new Error(`internal: ${l.name} output size mismatch`);
    const conv: StepDraft = {
      kind: 'conv', layer: li, name: l.name, input, output: out, k: l.k, stride: l.stride,
      // Weights are stored packed (runner.weightImage): one burst per (output block, input block).
      flags: FLAG_WPACK | (l.op === 'flow' ? FLAG_LINEAR : l.op === 'upconv' && arch.decoder === 'upsample-conv' ? FLAG_UP2_IN : 0),
      bits: l.op === 'flow' ? 16 : l.bits, cout: l.cout, cin: l.cin,
    };
    if (l.op === 'upconv' && arch.decoder === 'conv-upsample') {
      const mid: TensorRef = { buffer: newBuf(`${l.name}.conv`, 'static', l.cout * s.inH * s.inW), chOffset: 0, chTotal: l.cout, c: l.cout, h: s.inH, w: s.inW, esize: 1 };
      drafts.push({ ...conv, output: mid, name: `${l.name}.conv` });
      drafts.push({ kind: 'upsample', layer: li, name: `${l.name}.up2`, input: mid, output: out, k: 2, stride: 1, flags: 0, bits: l.bits, cout: l.cout, cin: l.cout });
    } else {
      drafts.push(conv);
    }
  });
  const flowRef = home.get(arch.layers.find((l) => l.op === 'flow')?.name ?? '') as TensorRef;
  if (!flowRef) throw new UserError('architecture has no flow head', 'unsupported graph');
  const outRef: TensorRef = { buffer: newBuf('flow', 'output', 2 * h * w * 2), chOffset: 0, chTotal: 2, c: 2, h, w, esize: 2 };
  drafts.push({ kind: 'upsample', layer: -1, name: 'output', input: flowRef, output: outRef, k: 4, stride: 1, flags: FLAG_LINEAR, bits: 16, cout: 2, cin: 2 });

  // ---- liveness and arena --------------------------------------------------------------------------------------
  const keep = opts.keepInputs ?? 1;
  drafts.forEach((d, i) => {
    const wb = buffers[d.output.buffer];
    wb.firstStep = Math.min(wb.firstStep, i);
    wb.lastStep = Math.max(wb.lastStep, i + keep);
    const rb = buffers[d.input.buffer];
    rb.lastStep = Math.max(rb.lastStep, i + keep);
  });
  const arena = buffers.filter((b) => b.region === 'static').sort((a, b) => b.bytes - a.bytes || a.id - b.id);
  const placed: BufferPlan[] = [];
  let arenaBytes = 0;
  for (const b of arena) {
    // First fit among the gaps left by buffers whose lifetimes overlap this one.
    const live = placed.filter((p) => p.firstStep <= b.lastStep && b.firstStep <= p.lastStep).sort((x, y) => x.offset - y.offset);
    let at = 0;
    for (const p of live) {
      if (at + b.bytes <= p.offset) break;
      at = Math.max(at, alignUp(p.offset + p.bytes, BUF_ALIGN));
    }
    b.offset = at;
    placed.push(b);
    arenaBytes = Math.max(arenaBytes, alignUp(at + b.bytes, BUF_ALIGN));
  }

  // ---- weights ------------------------------------------------------------------------------------------------
  const weights: WeightBlock[] = [];
  let wcur = 0;
  arch.layers.forEach((l, li) => {
    const wBytes = l.cout * l.cin * l.k * l.k;
    const wOffset = wcur;
    const qOffset = alignUp(wOffset + wBytes, BUF_ALIGN);
    const qBytes = 11 * l.cout;
    wcur = alignUp(qOffset + qBytes, BUF_ALIGN);
    weights.push({ layer: li, wOffset, wBytes, qOffset, qBytes });
  });
  const weightsBytes = wcur;
  // Provisional static layout [weights | arena]; the command list is put in front once its length is known.
  // Shifting by a multiple of 64 keeps every burst's alignment, so the cycle costs computed below stay exact.
  const arenaBase0 = weightsBytes;
  const addrOf = (ref: TensorRef): number => {
    const b = buffers[ref.buffer];
    const base = b.region === 'static' ? arenaBase0 + b.offset : 0;
    return base + ref.chOffset * ref.h * ref.w * ref.esize;
  };
  const lenOf = (ref: TensorRef, from: 'chOffset' | 'buffer'): number => {
    const b = buffers[ref.buffer];
    return from === 'buffer' ? b.bytes : b.bytes - ref.chOffset * ref.h * ref.w * ref.esize;
  };

  // ---- tiling per step ------------------------------------------------------------------------------------------
  const steps: StepPlan[] = [];
  const cmds: EngineCommand[] = [];
  const patches: Patch[] = [];
  const geo = newGeo();
  const traffic: CommandTraffic = { read: 0, write: 0 };
  const secPerCycle = 1 / (cfg.clockMHz * 1e6);
  const bytesPerSec = cfg.memoryGBps * 1e9;
  drafts.forEach((d, si) => {
    const isConv = d.kind === 'conv';
    const wb = isConv ? weights[d.layer] : undefined;
    const [oh, ow] = [d.output.h, d.output.w];
    const base: EngineCommand = {
      opcode: isConv ? OP_CONV : OP_UPSAMPLE, flags: d.flags, bits: d.bits, k: d.k, stride: d.stride,
      inC: d.cin, inH: d.input.h, inW: d.input.w, outH: oh, outW: ow,
      outCTotal: d.output.chTotal, outCOffset: d.output.chOffset, cout: d.cout, coBegin: 0, coEnd: d.cout,
      tileY: 0, tileX: 0, tileH: 0, tileW: 0,
      inAddr: addrOf(d.input), wAddr: wb ? wb.wOffset : 0, qAddr: wb ? wb.qOffset : 0,
      outAddr: addrOf({ ...d.output, chOffset: 0 }),
      inLen: lenOf(d.input, 'chOffset'), wLen: wb ? wb.wBytes : 0, qLen: wb ? wb.qBytes : 0,
      outLen: lenOf(d.output, 'buffer'), tag: 0,
    };
    // Stride-1 convs with few output channels per command (the flow head) use the idle PE rows for neighbouring pixels.
    const lanesFor = (n: number): boolean => isConv && cfg.pixLanes && d.stride === 1 && 2 * (n + (n & 1)) <= cfg.tm;
    // Convs with at most FF_TN / 2 input channels (conv1) use the idle PE columns for further kernel columns.
    const kpack = isConv && cfg.kPack && !(d.flags & FLAG_UP2_IN) && 2 * d.cin <= cfg.tn ? FLAG_KPACK : 0;
    const build = (th: number, tw: number, chunk: number, order: LoopOrder, acc: number): EngineCommand[] | number => {
      const list: EngineCommand[] = [];
      const ny = Math.ceil(oh / th), nx = Math.ceil(ow / tw), nc = Math.ceil(d.cout / chunk);
      const emit = (ty: number, tx: number, cc: number): number => {
        const coBegin = cc * chunk, coEnd = Math.min(d.cout, (cc + 1) * chunk);
        const c: EngineCommand = {
          ...base, flags: base.flags | kpack | acc | (lanesFor(coEnd - coBegin) ? FLAG_PIXLANES : 0), tileY: ty * th, tileX: tx * tw, tileH: Math.min(th, oh - ty * th), tileW: Math.min(tw, ow - tx * tw),
          coBegin, coEnd, tag: si * 65536 + Math.min(list.length, 65535),
        };
        const st = checkCommand(c, cfg, 0, Number.MAX_SAFE_INTEGER, geo);
        if (st !== ST_OK) return st;
        list.push(c);
        return ST_OK;
      };
      for (let a = 0; a < (order === 'weight-stationary' ? nc : ny * nx); a++) {
        for (let b = 0; b < (order === 'weight-stationary' ? ny * nx : nc); b++) {
          const sp = order === 'weight-stationary' ? b : a, cc = order === 'weight-stationary' ? a : b;
          const st = emit(Math.floor(sp / nx), sp % nx, cc);
          if (st !== ST_OK) return st;
        }
      }
      return list;
    };
    // Commands that differ only in tile position cost the same when every row of every plane starts at the same
    // address mod 8 (row and plane sizes multiples of 8): memoize on the window's shape and alignment then.
    // Alignment that matters: read beats (FF_BUS_BYTES) and write beats (FF_WR_BYTES) of every row.
    const M = Math.max(8, cfg.busBytes, cfg.wrBytes);
    const aligned = d.input.w % M === 0 && (d.input.h * d.input.w) % M === 0 && d.output.w % M === 0;
    const memo = new Map<string, number>();
    const cyclesOf = (c: EngineCommand): number => {
      if (!aligned) return commandCycles(c, cfg);
      const key = `${c.flags},${c.tileH},${c.tileW},${c.coBegin},${c.coEnd},${geo.vyHi - geo.vyLo},${geo.vxHi - geo.vxLo},` +
        `${geo.syHi - geo.syLo},${geo.sxHi - geo.sxLo},${geo.sxLo % M},${geo.vxLo % M},${c.tileX % M},${geo.vyLo === 0 ? geo.iy0 : 1}`;
      let v = memo.get(key);
      if (v === undefined) {
        v = commandCycles(c, cfg);
        memo.set(key, v);
      }
      return v;
    };
    const costOf = (list: EngineCommand[]): StepCost & { seconds: number } => {
      let cycles = 0, rd = 0, wr = 0;
      for (const c of list) {
        checkCommand(c, cfg, 0, Number.MAX_SAFE_INTEGER, geo);
        cycles += cyclesOf(c);
        commandTraffic(c, geo, cfg, traffic);
        rd += traffic.read;
        wr += traffic.write;
      }
      return { commands: list.length, cycles, readBytes: rd, writeBytes: wr, seconds: objective(cycles * secPerCycle, (rd + wr) / bytesPerSec) };
    };
    // approxCycles depends on the command only through these (k, in_c, stride are the step's): most commands of a
    // candidate are interior tiles of one shape, and deep layers loop over many blocks per command.
    const approxMemo = new Map<string, number>();
    const approxSeconds = (list: EngineCommand[]): number => {
      let cycles = 0, bytes = 0;
      for (const c of list) {
        checkCommand(c, cfg, 0, Number.MAX_SAFE_INTEGER, geo);
        const key = `${c.flags},${c.tileH},${c.tileW},${c.coEnd - c.coBegin},${geo.vyHi - geo.vyLo},${geo.vxHi - geo.vxLo},` +
          `${geo.syHi - geo.syLo},${geo.sxHi - geo.sxLo}`;
        let a = approxMemo.get(key);
        if (a === undefined) {
          a = approxCycles(c, cfg, geo);
          approxMemo.set(key, a);
        }
        cycles += a;
        commandTraffic(c, geo, cfg, traffic);
        bytes += traffic.read + traffic.write;
      }
      return objective(cycles * secPerCycle, bytes / bytesPerSec);
    };
    // Candidate tile widths: the whole row, then even splits; heights the largest the buffers allow, balanced.
    const maxW = Math.min(ow, opts.maxTileW ?? ow);
    const widths = new Set<number>();
    for (let j = 1; j <= 16; j++) {
      const tw = Math.ceil(maxW / j);
      widths.add(tw);
      if (tw <= 4) break;
    }
    const chunks = new Set<number>();
    if (opts.coChunk) chunks.add(Math.min(d.cout, opts.coChunk));
    else {
      chunks.add(d.cout);
      const half = alignUp(Math.ceil(d.cout / 2), cfg.tm);
      if (isConv && half < d.cout) chunks.add(half);
    }
    const orders: LoopOrder[] = opts.forceOrder ? [opts.forceOrder] : ['input-stationary', 'weight-stationary'];
    interface Cand { list: EngineCommand[]; th: number; tw: number; chunk: number; order: LoopOrder; acc: number; approx: number }
    const cands: Cand[] = [];
    let considered = 0;
    let lastFailure = '';
    // Accumulator words per row: ceil(tw / E) with pixel lanes (E for the smallest lane count over the chunks).
    let E = Infinity;
    for (const ch of chunks) E = Math.min(E, lanesFor(ch) ? laneCount(FLAG_PIXLANES, ch, cfg.tm, cfg.busBytes) : 1);
    const ncoMax = Math.ceil(d.cout / cfg.tm);
    // Accumulator modes: ping-pong halves (a group's store hidden behind the next group's MACs) and, where the engine
    // has it, FLAG_ACCFULL (both halves per group: larger tiles or more output blocks per input read, less DDR).
    const accModes = isConv && cfg.accFull ? [0, FLAG_ACCFULL] : [0];
    const tried = new Set<string>();
    for (const acc of accModes) {
      const cap = accCapacity(acc, cfg.obuf);
      for (const tw0 of widths) {
        const tw = Math.min(tw0, ow);
        let thMax = Math.min(oh, opts.maxTileH ?? oh);
        if (isConv) {
          thMax = Math.min(thMax, Math.floor(cap / Math.ceil(tw / E)));
          const iw = (tw - 1) * d.stride + d.k;
          thMax = Math.min(thMax, Math.floor((Math.floor(cfg.ibuf / iw) - d.k) / d.stride) + 1);
        }
        if (thMax < 1) continue;
        // Start heights: the largest tile, and tiles small enough that G output blocks share the accumulators
        // (the engine then reads each input block once per G blocks: less DDR traffic, more halo and weight reads).
        const starts = new Set<number>([thMax]);
        if (isConv) {
          for (let G = 2; G < 2 * ncoMax; G *= 2) {
            const th = Math.min(thMax, Math.floor(cap / (Math.min(G, ncoMax) * tw)));
            if (th >= 1) starts.add(th);
          }
        }
        for (const th0 of starts) {
          // Balanced rows; shrink until every command (incl. the up2 staging limit) passes the engine's checks.
          for (let th = Math.ceil(oh / Math.ceil(oh / th0)); th >= 1; th = th > 1 ? Math.min(th - 1, Math.ceil(oh / (Math.ceil(oh / th) + 1))) : 0) {
            // A tile whose commands are one group in a half anyway gains nothing from the flag (same cycles and
            // bytes); smaller tiles neither.
            const P = th * Math.ceil(tw / E);
            if (acc && P <= cfg.obuf && ncoMax <= Math.floor(cfg.obuf / P)) break;
            const key = `${th}x${tw}/${acc}`;
            if (tried.has(key)) break;  // reached from another start height: already a candidate (or failing)
            tried.add(key);
            let done = false;
            for (const chunk of chunks) {
              // Both orders emit the same commands (only their sequence differs): build and rank them once; the
              // winner is rebuilt in its own order below.
              const list = build(th, tw, chunk, orders[0], acc);
              if (typeof list === 'number') {
                lastFailure = STATUS_NAMES[list];
                if (!done) break;
                continue;
              }
              done = true;
              const approx = approxSeconds(list);
              for (const order of orders) {
                considered++;
                cands.push({ list, th, tw, chunk, order, acc, approx });
              }
            }
            if (done) break;
          }
        }
      }
    }
    // Rank by the closed-form estimate, then cost the best few exactly with the engine's cycle model.
    cands.sort((a, b) => a.approx - b.approx);
    const heuristic = (o: LoopOrder): boolean =>
      // Tie-break (equal modelled cost): weight-heavy steps walk tiles with all channels (input-stationary).
      o === ((wb?.wBytes ?? 0) > d.input.c * d.input.h * d.input.w ? 'input-stationary' : 'weight-stationary');
    let best: (Cand & { cost: StepCost & { seconds: number } }) | undefined;
    const exactCost = new Map<string, StepCost & { seconds: number }>();
    const seen = new Set<string>();
    for (const cand of cands) {
      const key = `${cand.th}x${cand.tw}/${cand.chunk}/${cand.acc}`;
      if (!exactCost.has(key) && seen.size >= EXACT_CANDIDATES) continue;
      seen.add(key);
      let cost = exactCost.get(key);
      if (!cost) {
        cost = costOf(cand.list);
        exactCost.set(key, cost);
      }
      if (!best || cost.seconds < best.cost.seconds * (1 - 1e-9) ||
        (cost.seconds <= best.cost.seconds * (1 + 1e-9) &&
          (cand.list.length < best.list.length || (cand.list.length === best.list.length && heuristic(cand.order) && !heuristic(best.order))))) {
        best = { ...cand, cost };
      }
    }
    if (!best) {
      throw new UserError(`step ${d.name} cannot be tiled onto this engine (${lastFailure || 'buffers too small'}: ` +
        `FF_IBUF=${cfg.ibuf} FF_OBUF=${cfg.obuf} FF_SBUF=${cfg.sbuf})`, 'use an engine build with larger buffers');
    }
    if (best.order !== orders[0]) best.list = build(best.th, best.tw, best.chunk, best.order, best.acc) as EngineCommand[];
    const cmdBegin = cmds.length;
    for (const c of best.list) {
      const i = cmds.length;
      cmds.push(c);
      if (buffers[d.input.buffer].region === 'input') patches.push({ cmd: i, field: 'inAddr', region: 'input', offset: c.inAddr });
      if (buffers[d.output.buffer].region === 'output') patches.push({ cmd: i, field: 'outAddr', region: 'output', offset: c.outAddr });
    }
    const { seconds: _s, ...cost } = best.cost;
    steps.push({
      index: si, kind: d.kind, layer: d.layer, name: d.name, input: d.input, output: d.output,
      tileH: best.th, tileW: best.tw, coChunk: best.chunk, order: best.order, cmdBegin, cmdEnd: cmds.length, cost, considered,
    });
  });
  if (cmds.length > 0xffffffff) throw new UserError('command list too long', 'use a smaller input size');

  // ---- final static layout: [commands | weights | arena] ----------------------------------------------------------
  const cmdBytes = alignUp(cmds.length * CMD_BYTES, BUF_ALIGN);
  const shift = cmdBytes;
  const patched = new Set(patches.map((p) => `${p.cmd}:${p.field}`));
  cmds.forEach((c, i) => {
    if (!patched.has(`${i}:inAddr`)) c.inAddr += shift;
    if (!patched.has(`${i}:outAddr`)) c.outAddr += shift;
    if (c.opcode === OP_CONV) {
      c.wAddr += shift;
      c.qAddr += shift;
    }
  });
  for (const wb of weights) {
    wb.wOffset += shift;
    wb.qOffset += shift;
  }
  for (const b of buffers) if (b.region === 'static') b.offset += shift + weightsBytes;
  const inputBytes = buffers.filter((b) => b.region === 'input').reduce((s, b) => s + b.bytes, 0);
  const outputBytes = buffers.filter((b) => b.region === 'output').reduce((s, b) => s + b.bytes, 0);
  return {
    arch, h, w, cfg, shapes, buffers, steps, weights, cmds, patches,
    layout: {
      cmdOffset: 0, cmdBytes, weightsOffset: cmdBytes, weightsBytes, arenaOffset: cmdBytes + weightsBytes, arenaBytes,
      staticBytes: cmdBytes + weightsBytes + arenaBytes, inputBytes: alignUp(inputBytes, BUF_ALIGN), outputBytes: alignUp(outputBytes, BUF_ALIGN),
    },
    planMs: performance.now() - t0,
  };
}

/** Byte address of a buffer once the regions are placed. */
export function bufferAddr(plan: Plan, id: number, bases: RegionBases): number {
  const b = plan.buffers[id];
  return bases[b.region] + b.offset;
}

export interface RegionBases {
  static: number;
  input: number;
  output: number;
}

const FIELD_OFF = { inAddr: 0x28, outAddr: 0x40 } as const;

/**
 * Encodes the command list for a static region at `staticBase` (done once). Input/output fields hold their
 * region offsets until `patchIo` binds them; that is the only per-frame change.
 */
export function encodeCommands(plan: Plan, staticBase: number): Uint8Array {
  const buf = new Uint8Array(plan.layout.cmdBytes);
  const patched = new Set(plan.patches.map((p) => `${p.cmd}:${p.field}`));
  plan.cmds.forEach((c, i) => {
    const r = { ...c };
    if (!patched.has(`${i}:inAddr`)) r.inAddr += staticBase;
    if (!patched.has(`${i}:outAddr`)) r.outAddr += staticBase;
    if (c.opcode === OP_CONV) {
      r.wAddr += staticBase;
      r.qAddr += staticBase;
    }
    encodeCommand(r, buf, i * CMD_BYTES);
  });
  return buf;
}

/** Binds the frame's input and output addresses into an encoded list (a handful of 8-byte writes). */
export function patchIo(list: Uint8Array, patches: readonly Patch[], inputBase: number, outputBase: number): void {
  const dv = new DataView(list.buffer, list.byteOffset, list.byteLength);
  for (const p of patches) {
    dv.setBigUint64(p.cmd * CMD_BYTES + FIELD_OFF[p.field], BigInt((p.region === 'input' ? inputBase : outputBase) + p.offset), true);
  }
}

/**
 * Closed-form version of the engine cycle model (docs/engine.md) for ranking tile candidates: the same stage
 * structure, with every row burst costed at its average beat count instead of its exact alignment. The planner
 * reports exact cycles (cycles.ts `commandCycles`) for the tiling it picks; this only orders the candidates.
 */
export function approxCycles(c: EngineCommand, cfg: SchedConfig, g: Geo): number {
  const R = cfg.rdOvh;
  const B = cfg.busBytes;
  const burst = (n: number): number => R + n / B + 1;
  const fetch = R + CMD_BYTES / B + cfg.checkCyc;
  const vh = g.vyHi - g.vyLo + 1, vw = g.vxHi - g.vxLo + 1;
  const sh = g.syHi - g.syLo + 1, sw = g.sxHi - g.sxLo + 1;
  if (c.opcode === OP_UPSAMPLE) {
    const pix = c.flags & FLAG_LINEAR ? 2 : 1;
    const L = sh * burst(sw * pix);
    const X = cfg.upDepth + c.tileH * (cfg.wrOvh + Math.ceil(c.tileW * pix / cfg.wrBytes) + (cfg.wrBytes > 1 ? 1 : 0));
    return fetch + L + (c.coEnd - c.coBegin - 1) * Math.max(L, X) + X;
  }
  const e = c.flags & FLAG_LINEAR ? 2 : 1;
  const kk = c.k * c.k;
  const P = g.pa;  // accumulator words per lane (tile pixels, or ceil(tileW / E) per row with pixel lanes)
  const X = tapSteps(c.flags, c.k, c.inC, cfg.tn) * Math.max(P, cfg.macDepth) + cfg.macDepth;
  const chan = g.up > 1 ? sh * burst(sw) + vh * Math.ceil(vw / cfg.upPar) + cfg.upDepth : vh * burst(vw);
  const nci = Math.ceil(c.inC / cfg.tn);
  const tnLast = c.inC - (nci - 1) * cfg.tn;
  const n = c.coEnd - c.coBegin;
  const nco = Math.ceil(n / cfg.tm);
  const full = (c.flags & FLAG_ACCFULL) !== 0;
  const G = Math.min(nco, Math.floor(accCapacity(c.flags, cfg.obuf) / P));
  const inFull = cfg.tn * chan, inLast = tnLast * chan;
  let total = fetch, prevSt = 0;
  for (let b0 = 0; b0 < nco; b0 += G) {
    const nb = Math.min(G, nco - b0);
    // Steps (j, i): input block j loaded with the group's first output block, weights every step.
    let T = 0, st = 0, first = true, L0 = 0;
    for (let i = 0; i < nb; i++) {
      const tm = Math.min(cfg.tm, n - (b0 + i) * cfg.tm);
      st += 3 * R + (11 * tm) / B + 3 + cfg.rqDepth + tm * c.tileH * (cfg.wrOvh + Math.ceil(c.tileW * e / cfg.wrBytes) + (cfg.wrBytes > 1 ? 1 : 0));
    }
    for (let j = 0; j < nci; j++) {
      const tn = j === nci - 1 ? tnLast : cfg.tn;
      for (let i = 0; i < nb; i++) {
        const tm = Math.min(cfg.tm, n - (b0 + i) * cfg.tm);
        const wl = c.flags & FLAG_WPACK ? burst(tm * tn * kk) : tm * burst(tn * kk);
        const L = (i === 0 ? (j === nci - 1 ? inLast : inFull) : 0) + wl;
        if (first) L0 = L;
        T += first ? L : Math.max(L, X);
        first = false;
      }
    }
    // Ping-pong: the previous group's store runs beside this group's work; ACCFULL: beside its first loads only.
    total += full ? T + X - L0 + Math.max(L0, prevSt) : Math.max(T + X, prevSt);
    prevSt = st;
  }
  return total + prevSt;
}
