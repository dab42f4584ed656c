// The engine's cycle model (docs/engine.md "Cycle model") as a pure function of one command word and the engine
// build's constants. hw/hls/flowfpga_engine.cpp counts the same terms from the trip counts its loops execute;
// test/engine-cycles.test.ts checks the two against each other. Also the 128-byte command codec.

export const CMD_BYTES = 128;
export const OP_CONV = 1;
export const OP_UPSAMPLE = 2;
export const FLAG_UP2_IN = 1;
export const FLAG_LINEAR = 2;
/** CONV: weights packed per FF_TN input block, [ci_block][cout][tn][k][k] (packWeights in pack.ts). */
export const FLAG_WPACK = 4;
/**
 * CONV, stride 1, co_end − co_begin = n ≤ FF_TM / 2: the idle PE rows compute neighbouring pixels. E = min(⌊FF_TM / n⌋,
 * FF_BUS_BYTES) pixels per step, lane e·n + c computes channel c at pixel x0 + e (docs/engine.md "Pixel lanes").
 */
export const FLAG_PIXLANES = 16;
/**
 * CONV, in_c ≤ FF_TN, no UP2_IN: D = ⌊FF_TN / in_c⌋ shifted copies of the input window fill the idle PE columns, so
 * one tap step covers D kernel columns: k·⌈k/D⌉ tap steps instead of k² (docs/engine.md "Kernel-column packing").
 */
export const FLAG_KPACK = 8;
/**
 * CONV: both accumulator halves form one group buffer of 2·FF_OBUF words per lane (tile limit P ≤ 2·FF_OBUF); a
 * group's store then overlaps only the next group's first loads, not its MACs (docs/engine.md "Full accumulator").
 */
export const FLAG_ACCFULL = 32;

/** Accumulator words per lane one group of a CONV may use: FF_OBUF, or 2·FF_OBUF with FLAG_ACCFULL. */
export function accCapacity(flags: number, obuf: number): number {
  return flags & FLAG_ACCFULL ? 2 * obuf : obuf;
}

/** MAC tap steps of a CONV: k², or k·⌈k/D⌉ with FLAG_KPACK. */
export function tapSteps(flags: number, k: number, inC: number, tn: number): number {
  return flags & FLAG_KPACK ? k * Math.ceil(k / Math.floor(tn / inC)) : k * k;
}

/** Pixels per MAC step of a FLAG_PIXLANES command with n output channels (1 without the flag). */
export function laneCount(flags: number, n: number, tm: number, busBytes: number): number {
  // Lane groups sit an even number of lanes apart (n rounded up to even) so a packed DSP pair reads one pixel.
  return flags & FLAG_PIXLANES ? Math.min(Math.floor(tm / (n + (n & 1))), busBytes) : 1;
}

export interface EngineConfig {
  /** PE array: output channels (FF_TM) x input channels (FF_TN) per cycle. */
  tm: number;
  tn: number;
  /** FF_MAC_DEPTH: MAC pipeline depth and minimum pixel-loop trip count. */
  macDepth: number;
  /** FF_RD_OVH / FF_WR_OVH: cycles per AXI read / write burst besides its beats. */
  rdOvh: number;
  wrOvh: number;
  /** FF_RQ_DEPTH, FF_UP_DEPTH: requantize and interpolation pipeline depths. */
  rqDepth: number;
  upDepth: number;
  /** FF_CHECK_CYC: decode and range checks per command. */
  checkCyc: number;
  /** FF_OBUF: accumulator pixels per channel and half; a CONV groups FF_OBUF / (tile pixels) output blocks. */
  obuf: number;
  /** FF_BUS_BYTES: read port bytes per beat (8, or 16 for a 128-bit port). */
  busBytes: number;
  /** FF_WR_BYTES: write port bytes per beat (1, 2, 4, 8); stores move this many bytes per cycle. */
  wrBytes: number;
  /** FF_UP_PAR: pixels per cycle of the fused up2 interpolation into the input buffer (1, 2, 4, 8). */
  upPar: number;
  /** Capability cap_feat[11] (lane packing): the engine implements FLAG_PIXLANES and FLAG_KPACK. */
  pixLanes: boolean;
  kPack: boolean;
  /** Capability cap_feat[0]: the engine implements FLAG_ACCFULL. */
  accFull: boolean;
}

/** The defaults of hw/hls/flowfpga_engine.h (the xc7z020 build). */
export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  tm: 8,
  tn: 8,
  macDepth: 8,
  rdOvh: 12,
  wrOvh: 4,
  rqDepth: 6,
  upDepth: 5,
  checkCyc: 8,
  obuf: 1024,
  busBytes: 8,
  wrBytes: 1,
  upPar: 1,
  pixLanes: true,
  kPack: true,
  accFull: true,
});

/** One command word, field for field (struct ff_cmd in hw/hls/flowfpga_engine.h). Addresses are byte numbers. */
export interface EngineCommand {
  opcode: number;
  flags: number;
  bits: number;
  k: number;
  stride: number;
  inC: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  outCTotal: number;
  outCOffset: number;
  cout: number;
  coBegin: number;
  coEnd: number;
  tileY: number;
  tileX: number;
  tileH: number;
  tileW: number;
  inAddr: number;
  wAddr: number;
  qAddr: number;
  outAddr: number;
  inLen: number;
  wLen: number;
  qLen: number;
  outLen: number;
  tag: number;
}

type Field = [keyof EngineCommand, number, 1 | 2 | 4 | 8];
/** [field, byte offset, size]: the layout in docs/engine.md and hw/hls/registers.json. */
export const COMMAND_FIELDS: readonly Field[] = [
  ['opcode', 0x00, 1], ['flags', 0x01, 1], ['bits', 0x02, 1], ['k', 0x03, 1], ['stride', 0x04, 1],
  ['inC', 0x08, 2], ['inH', 0x0a, 2], ['inW', 0x0c, 2], ['outH', 0x0e, 2], ['outW', 0x10, 2],
  ['outCTotal', 0x12, 2], ['outCOffset', 0x14, 2], ['cout', 0x16, 2], ['coBegin', 0x18, 2], ['coEnd', 0x1a, 2],
  ['tileY', 0x1c, 2], ['tileX', 0x1e, 2], ['tileH', 0x20, 2], ['tileW', 0x22, 2],
  ['inAddr', 0x28, 8], ['wAddr', 0x30, 8], ['qAddr', 0x38, 8], ['outAddr', 0x40, 8],
  ['inLen', 0x48, 4], ['wLen', 0x4c, 4], ['qLen', 0x50, 4], ['outLen', 0x54, 4], ['tag', 0x58, 4],
];

export function decodeCommand(buf: Uint8Array, offset = 0): EngineCommand {
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, CMD_BYTES);
  const out = {} as Record<keyof EngineCommand, number>;
  for (const [name, off, size] of COMMAND_FIELDS) {
    out[name] =
      size === 1 ? dv.getUint8(off)
      : size === 2 ? dv.getUint16(off, true)
      : size === 4 ? dv.getUint32(off, true)
      : Number(dv.getBigUint64(off, true));
  }
  return out;
}

/** Writes a command word (reserved bytes zero). Addresses must be safe integers. */
export function encodeCommand(cmd: EngineCommand, buf: Uint8Array, offset = 0): void {
  buf.fill(0, offset, offset + CMD_BYTES);
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, CMD_BYTES);
  for (const [name, off, size] of COMMAND_FIELDS) {
    const v = cmd[name];
    if (size === 1) dv.setUint8(off, v);
    else if (size === 2) dv.setUint16(off, v, true);
    else if (size === 4) dv.setUint32(off, v, true);
    else dv.setBigUint64(off, BigInt(v), true);
  }
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
/** Source tap j0 of output coordinate v of an f-times bilinear upsampling (contract 2.3/2.4). */
const tap0 = (v: number, f: number): number => Math.floor((2 * v + 1 - f) / (2 * f));

/** Cycles of one valid command (the engine rejects invalid ones after fetch + check). */
export function commandCycles(c: EngineCommand, cfg: EngineConfig = DEFAULT_ENGINE_CONFIG): number {
  const burst = (a: number, n: number): number =>
    cfg.rdOvh + Math.floor((a + n - 1) / cfg.busBytes) - Math.floor(a / cfg.busBytes) + 1;
  const fetch = cfg.rdOvh + CMD_BYTES / cfg.busBytes + cfg.checkCyc;
  // A stored row of n bytes at byte address a: one write burst of the beats it spans on the FF_WR_BYTES port.
  const WB = cfg.wrBytes;
  const row = (a: number, n: number): number => cfg.wrOvh + Math.floor((a + n - 1) / WB) - Math.floor(a / WB) + 1;
  const linear = (c.flags & FLAG_LINEAR) !== 0;
  const esize = linear ? 2 : 1;
  const conv = c.opcode === OP_CONV;
  const up = conv ? ((c.flags & FLAG_UP2_IN) !== 0 ? 2 : 1) : c.k;
  // Valid (inside the tensor) window in the conv's input coordinates, and the source rows an upsampling reads.
  let vyLo: number, vyHi: number, vxLo: number, vxHi: number;
  if (conv) {
    const p = (c.k - 1) >> 1;
    const iy0 = c.tileY * c.stride - p, ix0 = c.tileX * c.stride - p;
    vyLo = Math.max(iy0, 0);
    vxLo = Math.max(ix0, 0);
    vyHi = Math.min(iy0 + (c.tileH - 1) * c.stride + c.k - 1, c.inH * up - 1);
    vxHi = Math.min(ix0 + (c.tileW - 1) * c.stride + c.k - 1, c.inW * up - 1);
  } else {
    vyLo = c.tileY;
    vyHi = c.tileY + c.tileH - 1;
    vxLo = c.tileX;
    vxHi = c.tileX + c.tileW - 1;
  }
  let syLo = vyLo, syHi = vyHi, sxLo = vxLo, sxHi = vxHi;
  if (up > 1) {
    syLo = clamp(tap0(vyLo, up), 0, c.inH - 1);
    syHi = clamp(tap0(vyHi, up) + 1, 0, c.inH - 1);
    sxLo = clamp(tap0(vxLo, up), 0, c.inW - 1);
    sxHi = clamp(tap0(vxHi, up) + 1, 0, c.inW - 1);
  }
  const pix = !conv && linear ? 2 : 1;
  const sourceLoad = (ch: number): number => {
    let cyc = 0;
    for (let y = syLo; y <= syHi; y++) {
      cyc += burst(c.inAddr + ((ch * c.inH + y) * c.inW + sxLo) * pix, (sxHi - sxLo + 1) * pix);
    }
    return cyc;
  };

  if (!conv) {
    let total = 0;
    const store = (ch: number): number => {
      let x = cfg.upDepth;
      for (let y = 0; y < c.tileH; y++) x += row(c.outAddr + (((c.outCOffset + ch) * c.outH + c.tileY + y) * c.outW + c.tileX) * pix, c.tileW * pix);
      return x;
    };
    for (let ch = c.coBegin; ch <= c.coEnd; ch++) {
      const lc = ch < c.coEnd ? sourceLoad(ch) : 0;
      const xc = ch > c.coBegin ? store(ch - 1) : 0;
      total += Math.max(lc, xc);
    }
    return fetch + total;
  }

  const kk = c.k * c.k;
  // Accumulator words per lane: with pixel lanes one word holds E neighbouring pixels of a row.
  const E = laneCount(c.flags, c.coEnd - c.coBegin, cfg.tm, cfg.busBytes);
  const P = c.tileH * Math.ceil(c.tileW / E);
  const mac = tapSteps(c.flags, c.k, c.inC, cfg.tn) * Math.max(P, cfg.macDepth) + cfg.macDepth;
  const nci = Math.ceil(c.inC / cfg.tn);
  const nco = Math.ceil((c.coEnd - c.coBegin) / cfg.tm);
  const vw = vxHi - vxLo + 1, vh = vyHi - vyLo + 1;
  const loadInput = (ci0: number, tn: number): number => {
    let cyc = 0;
    for (let t = 0; t < tn; t++) {
      const ch = ci0 + t;
      if (up === 1) {
        for (let y = vyLo; y <= vyHi; y++) cyc += burst(c.inAddr + (ch * c.inH + y) * c.inW + vxLo, vw);
      } else {
        cyc += sourceLoad(ch) + vh * Math.ceil(vw / cfg.upPar) + cfg.upDepth;
      }
    }
    return cyc;
  };
  const loadWeights = (ci0: number, tn: number, co0: number, tm: number): number => {
    let cyc = 0;
    if (c.flags & FLAG_WPACK) return burst(c.wAddr + (c.cout * ci0 + co0 * tn) * kk, tm * tn * kk);
    for (let m = 0; m < tm; m++) cyc += burst(c.wAddr + ((co0 + m) * c.inC + ci0) * kk, tn * kk);
    return cyc;
  };
  // Output blocks in groups of G sharing one accumulator half (ACCFULL: both); input block j is loaded once per group.
  // A tile larger than the capacity is a TILE error on the engine; costing it would loop forever (G = 0).
  const full = (c.flags & FLAG_ACCFULL) !== 0;
  const cap = accCapacity(c.flags, cfg.obuf);
  if (P > cap) throw new RangeError(`commandCycles: tile of ${P} accumulator words exceeds ${full ? '2·' : ''}FF_OBUF (${cap}); the engine rejects it (TILE)`);
  const G = Math.min(nco, Math.floor(cap / P));
  const ngr = Math.ceil(nco / G);
  const tmOf = (b: number): number => Math.min(cfg.tm, c.coEnd - (c.coBegin + b * cfg.tm));
  const tnOf = (j: number): number => Math.min(cfg.tn, c.inC - j * cfg.tn);
  let total = 0;
  for (let gi = 0; gi <= ngr; gi++) {
    // Step gi: store of group gi − 1 beside the loads + MACs of group gi (ACCFULL: beside its first loads only).
    let work = 0, st = 0;
    if (gi > 0) {
      const b0 = (gi - 1) * G, nb = Math.min(G, nco - b0);
      for (let i = 0; i < nb; i++) {
        const co0 = c.coBegin + (b0 + i) * cfg.tm, tm = tmOf(b0 + i);
        st += burst(c.qAddr + 8 * co0, 8 * tm) + burst(c.qAddr + 8 * c.cout + 2 * co0, 2 * tm) +
          burst(c.qAddr + 10 * c.cout + co0, tm) + cfg.rqDepth;
        for (let m = 0; m < tm; m++) {
          for (let y = 0; y < c.tileH; y++) {
            st += row(c.outAddr + (((c.outCOffset + co0 + m) * c.outH + c.tileY + y) * c.outW + c.tileX) * esize, c.tileW * esize);
          }
        }
      }
    }
    if (gi < ngr) {
      const b0 = gi * G, nb = Math.min(G, nco - b0), n = nci * nb;
      for (let s = 0; s <= n; s++) {
        let lc = 0;
        if (s < n) {
          const j = Math.floor(s / nb), i = s % nb;
          if (i === 0) lc = loadInput(j * cfg.tn, tnOf(j));
          lc += loadWeights(j * cfg.tn, tnOf(j), c.coBegin + (b0 + i) * cfg.tm, tmOf(b0 + i));
        }
        work += Math.max(lc, s > 0 ? mac : full ? st : 0);
      }
    }
    total += full ? (gi < ngr ? work : st) : Math.max(work, st);
  }
  return fetch + total;
}

/** Cycles of a command list: the engine runs commands back to back. */
export function listCycles(cmds: readonly EngineCommand[], cfg: EngineConfig = DEFAULT_ENGINE_CONFIG): number {
  let s = 0;
  for (const c of cmds) s += commandCycles(c, cfg);
  return s;
}
