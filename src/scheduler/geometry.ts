// Command geometry and checks exactly as hw/hls/flowfpga_engine.cpp `check()` derives them (docs/engine.md
// "Checks"), and the DDR bytes a command moves under the engine's burst model. The planner uses these to size tiles
// and to assert every command it emits; the TypeScript interpreter uses the same checks, so both reject what the
// engine rejects, with the same status code.
import {
  CMD_BYTES, DEFAULT_ENGINE_CONFIG, FLAG_ACCFULL, FLAG_KPACK, FLAG_LINEAR, FLAG_PIXLANES, FLAG_UP2_IN, FLAG_WPACK, OP_CONV, OP_UPSAMPLE, accCapacity, laneCount,
  type EngineCommand,
} from './cycles.js';

export const ST_OK = 0;
export const ST_OPCODE = 1;
export const ST_BITS = 2;
export const ST_PARAM = 3;
export const ST_GEOMETRY = 4;
export const ST_TILE = 5;
export const ST_RANGE = 6;
export const ST_ALIGN = 7;
export const STATUS_NAMES = ['OK', 'OPCODE', 'BITS', 'PARAM', 'GEOMETRY', 'TILE', 'RANGE', 'ALIGN'] as const;

export interface Buffers {
  /** FF_TN: the input-block width of the packed weight layout (FLAG_WPACK). */
  tn: number;
  ibuf: number;
  obuf: number;
  sbuf: number;
  /** FLAG_PIXLANES: FF_TM, FF_BUS_BYTES and whether the engine has the mode (defaults: the default build). */
  tm?: number;
  busBytes?: number;
  pixLanes?: boolean;
  kPack?: boolean;
  /** FLAG_ACCFULL implemented (cap_feat[0]; default: the default build). */
  accFull?: boolean;
}

export interface Geo {
  up: number;
  esize: number;
  /** Full input window (virtual coordinates incl. padding): origin and size. */
  iy0: number;
  ix0: number;
  ih: number;
  iw: number;
  /** In-tensor part of the window. */
  vyLo: number;
  vyHi: number;
  vxLo: number;
  vxHi: number;
  /** Source rectangle of an upsampling step (stored tensor coordinates). */
  syLo: number;
  syHi: number;
  sxLo: number;
  sxHi: number;
  /** FLAG_PIXLANES pixels per step (1 without), accumulator words per tile row and per lane. */
  E: number;
  wq: number;
  pa: number;
}

const clampi = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
/** First source tap of output coordinate v of an f-times upsampling: ⌊(2v + 1 − f) / 2f⌋. */
export const upTap = (v: number, f: number): number => Math.floor((2 * v + 1 - f) / (2 * f));

function inWindow(addr: number, len: number, wb: number, ws: number): boolean {
  return addr >= wb && addr - wb <= ws && len <= ws - (addr - wb);
}

/** Validates a command like the engine (same order of checks); fills `g` when it returns ST_OK. */
export function checkCommand(c: EngineCommand, buf: Buffers, winBase: number, winSize: number, g: Geo): number {
  if (c.opcode !== OP_CONV && c.opcode !== OP_UPSAMPLE) return ST_OPCODE;
  const linear = (c.flags & FLAG_LINEAR) !== 0;
  if (linear ? c.bits !== 16 : c.bits < 2 || c.bits > 8) return ST_BITS;
  const lanesOk = buf.pixLanes ?? DEFAULT_ENGINE_CONFIG.pixLanes;
  const kpackOk = buf.kPack ?? DEFAULT_ENGINE_CONFIG.kPack;
  const accOk = buf.accFull ?? DEFAULT_ENGINE_CONFIG.accFull;
  if (c.flags & ~(FLAG_UP2_IN | FLAG_LINEAR | FLAG_WPACK | (lanesOk ? FLAG_PIXLANES : 0) | (kpackOk ? FLAG_KPACK : 0) | (accOk ? FLAG_ACCFULL : 0))) return ST_PARAM;
  g.esize = linear ? 2 : 1;
  const conv = c.opcode === OP_CONV;
  if (conv) {
    if (c.k !== 1 && c.k !== 3 && c.k !== 5 && c.k !== 7) return ST_PARAM;
    if (c.stride !== 1 && c.stride !== 2) return ST_PARAM;
    if (linear && c.flags & FLAG_UP2_IN) return ST_PARAM;
  } else {
    if (c.k !== 2 && c.k !== 4) return ST_PARAM;
    if (c.stride !== 1 || c.flags & (FLAG_UP2_IN | FLAG_WPACK | FLAG_KPACK | FLAG_PIXLANES | FLAG_ACCFULL)) return ST_PARAM;
  }
  if (!c.inC || !c.inH || !c.inW || !c.cout || !c.tileH || !c.tileW) return ST_GEOMETRY;
  if (c.coBegin >= c.coEnd || c.coEnd > c.cout) return ST_GEOMETRY;
  if (c.outCOffset + c.cout > c.outCTotal) return ST_GEOMETRY;
  if (c.tileY + c.tileH > c.outH || c.tileX + c.tileW > c.outW) return ST_GEOMETRY;
  const k = c.k, s = c.stride, p = (k - 1) >> 1;
  if (conv) {
    g.up = c.flags & FLAG_UP2_IN ? 2 : 1;
    const hv = c.inH * g.up, wv = c.inW * g.up;
    if (c.outH !== Math.floor((hv + 2 * p - k) / s) + 1 || c.outW !== Math.floor((wv + 2 * p - k) / s) + 1) return ST_GEOMETRY;
    g.iy0 = c.tileY * s - p;
    g.ix0 = c.tileX * s - p;
    g.ih = (c.tileH - 1) * s + k;
    g.iw = (c.tileW - 1) * s + k;
    g.vyLo = Math.max(g.iy0, 0);
    g.vxLo = Math.max(g.ix0, 0);
    g.vyHi = Math.min(g.iy0 + g.ih - 1, hv - 1);
    g.vxHi = Math.min(g.ix0 + g.iw - 1, wv - 1);
  } else {
    if (c.cout !== c.inC || c.outH !== c.inH * c.k || c.outW !== c.inW * c.k) return ST_GEOMETRY;
    g.up = c.k;
    g.iy0 = c.tileY;
    g.ix0 = c.tileX;
    g.ih = c.tileH;
    g.iw = c.tileW;
    g.vyLo = c.tileY;
    g.vyHi = c.tileY + c.tileH - 1;
    g.vxLo = c.tileX;
    g.vxHi = c.tileX + c.tileW - 1;
  }
  if (g.up > 1) {
    g.syLo = clampi(upTap(g.vyLo, g.up), 0, c.inH - 1);
    g.syHi = clampi(upTap(g.vyHi, g.up) + 1, 0, c.inH - 1);
    g.sxLo = clampi(upTap(g.vxLo, g.up), 0, c.inW - 1);
    g.sxHi = clampi(upTap(g.vxHi, g.up) + 1, 0, c.inW - 1);
  } else {
    g.syLo = g.vyLo;
    g.syHi = g.vyHi;
    g.sxLo = g.vxLo;
    g.sxHi = g.vxHi;
  }
  const tm = buf.tm ?? DEFAULT_ENGINE_CONFIG.tm;
  g.E = 1;
  if (c.flags & FLAG_PIXLANES) {
    const n = c.coEnd - c.coBegin;
    if (c.stride !== 1 || Math.floor(tm / (n + (n & 1))) < 2) return ST_PARAM;
    g.E = laneCount(c.flags, c.coEnd - c.coBegin, tm, buf.busBytes ?? DEFAULT_ENGINE_CONFIG.busBytes);
  }
  if (c.flags & FLAG_KPACK && (c.inC > buf.tn || c.flags & FLAG_UP2_IN)) return ST_PARAM;
  g.wq = Math.ceil(c.tileW / g.E);
  g.pa = c.tileH * g.wq;
  if (conv) {
    if (g.pa > accCapacity(c.flags, buf.obuf)) return ST_TILE;
    if (g.ih * g.iw > buf.ibuf) return ST_TILE;
  }
  const inEs = !conv && linear ? 2 : 1;
  if (g.up > 1 && (g.syHi - g.syLo + 1) * (g.sxHi - g.sxLo + 1) * inEs > buf.sbuf) return ST_TILE;
  if ((c.inAddr | c.outAddr) % 8 !== 0 || c.inAddr % 8 !== 0 || c.outAddr % 8 !== 0) return ST_ALIGN;
  if (conv && (c.wAddr % 8 !== 0 || c.qAddr % 8 !== 0)) return ST_ALIGN;
  if (!inWindow(c.inAddr, c.inLen, winBase, winSize) || !inWindow(c.outAddr, c.outLen, winBase, winSize)) return ST_RANGE;
  const inEnd = (((c.inC - 1) * c.inH + g.syHi) * c.inW + g.sxHi + 1) * inEs;
  const outEnd = (((c.outCOffset + c.coEnd - 1) * c.outH + c.tileY + c.tileH - 1) * c.outW + c.tileX + c.tileW) * g.esize;
  if (inEnd > c.inLen || outEnd > c.outLen) return ST_RANGE;
  if (conv) {
    if (!inWindow(c.wAddr, c.wLen, winBase, winSize) || !inWindow(c.qAddr, c.qLen, winBase, winSize)) return ST_RANGE;
    if (c.flags & FLAG_WPACK) {
      const ci0 = Math.floor((c.inC - 1) / buf.tn) * buf.tn;
      if ((c.cout * ci0 + c.coEnd * (c.inC - ci0)) * k * k > c.wLen) return ST_RANGE;
    } else if (c.coEnd * c.inC * k * k > c.wLen) {
      return ST_RANGE;
    }
    if (c.cout * 10 + c.coEnd > c.qLen) return ST_RANGE;
  }
  return ST_OK;
}

export function newGeo(): Geo {
  return { up: 1, esize: 1, iy0: 0, ix0: 0, ih: 0, iw: 0, vyLo: 0, vyHi: 0, vxLo: 0, vxHi: 0, syLo: 0, syHi: 0, sxLo: 0, sxHi: 0, E: 1, wq: 0, pa: 0 };
}

/** Bytes one AXI read burst of n bytes at address a moves on a bus of `bus` bytes (whole beats). */
function beatBytes(a: number, n: number, bus: number): number {
  return (Math.floor((a + n - 1) / bus) - Math.floor(a / bus) + 1) * bus;
}

export interface CommandTraffic {
  /** Bytes read over the read port (whole beats, incl. the 128-byte command). */
  read: number;
  /** Bytes written (the write port is byte-wide). */
  write: number;
}

/**
 * DDR bytes a valid command moves, following the load/store structure of the engine (docs/engine.md "Datapath"):
 * the input window of every input block is read once per group of output blocks (a group is
 * min(nco, ⌊capacity / accumulator words⌋) blocks of FF_TM channels; capacity FF_OBUF, 2·FF_OBUF with FLAG_ACCFULL), weights once per (output block, input block), requant
 * params once per output block. `e` is the engine build (FF_TM, FF_OBUF).
 */
export function commandTraffic(c: EngineCommand, g: Geo, e: { tm: number; tn: number; obuf: number; busBytes: number }, out: CommandTraffic): CommandTraffic {
  let read = CMD_BYTES;
  const conv = c.opcode === OP_CONV;
  const pix = !conv && c.flags & FLAG_LINEAR ? 2 : 1;
  // One channel's source rows (the in-tensor window, or an upsampling step's source rectangle).
  let chanBytes = 0;
  const sw = (g.sxHi - g.sxLo + 1) * pix;
  for (let y = g.syLo; y <= g.syHi; y++) chanBytes += beatBytes(c.inAddr + (y * c.inW + g.sxLo) * pix, sw, e.busBytes);
  // Alignment of each plane differs only by in_h·in_w, negligible for the byte count: use plane 0's figure.
  if (!conv) {
    read += chanBytes * (c.coEnd - c.coBegin);
    out.read = read;
    out.write = (c.coEnd - c.coBegin) * c.tileH * c.tileW * pix;
    return out;
  }
  const kk = c.k * c.k;
  const nco = Math.ceil((c.coEnd - c.coBegin) / e.tm);
  const groups = Math.ceil(nco / Math.min(nco, Math.floor(accCapacity(c.flags, e.obuf) / g.pa)));  // g.pa: words per lane
  read += chanBytes * c.inC * groups;
  // Weights: in_c·k² bytes per output channel, plus the beat ends of each burst: one burst per row and input block
  // (contract layout; ≈ one 8-byte end per row), or one per (output block, input block) when packed.
  const nrow = c.coEnd - c.coBegin;
  read += nrow * c.inC * kk + (c.flags & FLAG_WPACK ? nco * Math.ceil(c.inC / e.tn) : nrow) * e.busBytes;
  read += nco * (3 * 8) + 11 * nrow;
  out.read = read;
  out.write = nrow * c.tileH * c.tileW * g.esize;
  return out;
}
