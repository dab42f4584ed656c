// Board descriptions: the single source for part resources, PS wiring (engine address, IRQ, UIO name), memory
// bandwidth and the engine build configuration per board. The scheduler's cost model and the driver read this;
// hw/bd/boards/<board>.tcl repeats the hardware-facing values and test/bd-*.test.ts checks that both agree.
// Sources of the part and DDR figures: ../shared/reference/facts.md §1.4, §7.1, §7.2; derivations: docs/hardware.md.

import { UserError } from '../errors.js';

export type BoardName = 'pynq-z2' | 'ultra96v2' | 'zcu104' | 'emu';
export type PsType = 'ps7' | 'ps8' | 'emu';
export type DspKind = 'DSP48E1' | 'DSP48E2';

/** Programmable-logic resources of a part (facts.md §7.1). */
export interface PartResources {
  lut: number;
  /** LUTs usable as distributed RAM (SLICEM), "LUT as Memory" available in Vivado utilization reports. */
  lutram: number;
  ff: number;
  bram36: number;
  uram: number;
  dsp: number;
  dspKind: DspKind;
}

/** Engine build configuration: the HLS compile-time macros of hw/hls/flowfpga_engine.h for this board. */
export interface EngineConfig {
  /** FF_TM: output channels in parallel. */
  tm: number;
  /** FF_TN: input channels in parallel. */
  tn: number;
  /** FF_IBUF: input tile window, pixels per channel (incl. halo); ping-pong. */
  ibufPixels: number;
  /** FF_OBUF: output tile, pixels per channel (int32 accumulators); ping-pong. */
  obufPixels: number;
  /** FF_SBUF: upsampling source staging, pixels of one channel; ping-pong. */
  sbufPixels: number;
  /** FF_CLOCK_MHZ: the PL clock the engine is built and timed for. */
  clockMHz: number;
  /** FF_BUS_BYTES: read port bytes per beat (8; 16 = a 128-bit port, ZynqMP HP ports only). */
  busBytes: number;
  /** FF_WR_BYTES: write port bytes per beat (1, 2, 4, 8); requantize lanes and UPSAMPLE output per cycle. */
  wrBytes: number;
  /** FF_UP_PAR: pixels per cycle of the fused up2 interpolation into the input buffer (1, 2, 4, 8). */
  upPar: number;
  /** Activation / weight bit widths the engine accepts (capability FF_CAP_BITS_MASK). */
  bitsMin: number;
  bitsMax: number;
  /**
   * FF_PACK2: MAC products per DSP slice. 2 = output lanes (2p, 2p+1) share one multiply of the activation by a
   * packed weight pair (x·(w_hi·2^16 + w_lo), 25×9 bits: DSP48E1 and DSP48E2 alike; docs/hardware.md §3.2);
   * 1 = one product per DSP (the unpacked build, for comparison).
   */
  macsPerDsp: 1 | 2;
  /** FF_ACC_URAM: accumulators in UltraRAM (one URAM288 per PE row) instead of block RAM; parts with URAM only. */
  accUram: boolean;
}

export interface BoardSpec {
  name: BoardName;
  title: string;
  /** Vivado part; for emu the part whose figures the virtual board models. */
  part: string;
  virtual: boolean;
  ps: PsType;
  /** PS master the engine's s_axi_control hangs off, and the PS slave its m_axi ports use. */
  psMaster: string;
  psSlave: string;
  /** Bits of the HP slave port (Zynq-7000 HP: 64; ZynqMP HP: 128). */
  hpDataBits: number;
  engine: {
    /** Physical base address of the engine's AXI-Lite register block (s_axi_control). */
    baseAddress: number;
    /** Size of the mapped register window (assign_bd_address -range). */
    range: number;
  };
  irq: {
    /** PS interrupt input the engine's `interrupt` pin drives, with bit index. */
    psPin: string;
    /** GIC interrupt ID (facts.md §1.4: IRQ_F2P[0] → 61; pl_ps_irq0[0] → 121). */
    gic: number;
    /** Device-tree SPI number = GIC ID − 32 (`interrupts = <0 spi 4>`). */
    spi: number;
  };
  /** /sys/class/uio/uioX/name of the engine node (the device-tree node name, uio_pdrv_genirq). */
  uioName: string;
  plClockMHz: number;
  ddr: {
    kind: string;
    /** Theoretical peak of the PS DDR interface. */
    peakGBps: number;
    /** DDR controller efficiency assumed by the cost model (UG585 ch. 22: "approximately 75%"). */
    efficiency: number;
    effectiveGBps: number;
  };
  /** One HP port at the PL clock: dataBits/8 × f per direction (read and write channels are separate). */
  hpGBpsPerDirection: number;
  /** Bandwidth the cost model uses: min(effective DDR, one HP port per direction). */
  memoryGBps: number;
  resources: PartResources;
  config: EngineConfig;
  /** MACs per cycle of the engine as built (one Tm×Tn array; the same at every bit width it accepts: LUT-multiplier
   * lanes for ≤ 6-bit do not pay on these parts, docs/hardware.md §3.2). */
  macsPerCycle: { bits8: number; bits6: number };
  /** Upper bound for the part (facts.md §7.5 model): DSP × packing + 0.6·LUT / LUT-per-MAC. */
  partPeakMacsPerCycle: { bits8: number; bits6: number };
}

// ---- part figures (facts.md §7.1; LUTRAM from Vivado utilization reports, not in facts.md) -------------------

const XC7Z020: PartResources = { lut: 53_200, lutram: 17_400, ff: 106_400, bram36: 140, uram: 0, dsp: 220, dspKind: 'DSP48E1' };
const XCZU3EG: PartResources = { lut: 70_560, lutram: 28_800, ff: 141_120, bram36: 216, uram: 0, dsp: 360, dspKind: 'DSP48E2' };
const XCZU7EV: PartResources = { lut: 230_400, lutram: 101_760, ff: 460_800, bram36: 312, uram: 96, dsp: 1_728, dspKind: 'DSP48E2' };

// ---- analytic resource model -------------------------------------------------------------------------------

/** Utilization ceilings a configuration must stay under (routing and timing margin at the target clock). */
export const UTILIZATION_LIMITS = { lut: 0.7, lutram: 0.6, bram36: 0.9, uram: 0.9, dsp: 0.9 } as const;

/** LUTs per packed lane pair: the high product's correction hi = p[33:16] + p[15] (an 18-bit incrementer); the packed
 * weight w_hi·2^16 + w_lo is the DSP pre-adder's A + D, and lo = p[15:0] is wiring. */
export const LUT_PER_PAIR = 18;
/** URAM288 depth at 72 bits (UG573): one block holds a PE row's int32 accumulators up to 4096 words (2·FF_OBUF). */
export const URAM_DEPTH = 4096;
/** DSPs outside the MAC array: address products (iy·iw, 64-bit row addresses), the 32×16 requantize product. */
export const DSP_OVERHEAD = 24;
/** Each requantize lane beyond the first (FF_WR_BYTES > 1): a 32×16 product on two DSPs. */
export const DSP_PER_RQ_LANE = 2;
/** LUTs per extra requantize lane (64-bit add, variable shift, clamp) and per extra interpolation lane (2×2 taps). */
export const LUT_PER_RQ_LANE = 400;
export const LUT_PER_UP_LANE = 150;
/** LUTs outside the MAC array: command decode/checks, two m_axi and one s_axilite adapter, two smartconnects, reset. */
export const LUT_OVERHEAD = 16_000;
/** The engine partitions each ibuf channel cyclically by the read bus width (FF_BUS_BYTES; 8 on the 64-bit bus). */
export const IBUF_CYCLIC = 8;
const MAX_TAPS = 49; // FF_MAX_K²

/** FINN-R multiplier cost of one LUT MAC lane for w×a bits, without its adder-tree share (facts.md §7.2). */
export function lutPerMultiplier(w: number, a: number): number {
  const s = w + a;
  return 1.1 * (2 * Math.ceil(s / 6) - 1) * s;
}

/** FINN-R LUTs per MAC lane incl. its adder-tree share: ≈123 (8b), 66 (6b), 44 (4b) (facts.md §7.2). */
export function lutPerMac(w: number, a: number): number {
  return lutPerMultiplier(w, a) + 1.1 * 2 * (w + a);
}

/**
 * Block RAM of one memory (width × depth bits), in BRAM18 units: the cheapest BRAM18 or BRAM36 aspect ratio
 * (simple dual port, so 36/72-bit widths are available). Byte-wide data uses the ×9 modes' 8 data bits.
 */
export function bram18For(widthBits: number, depth: number): number {
  if (widthBits <= 0 || depth <= 0) return 0;
  const b18: Array<[number, number]> = [[1, 16384], [2, 8192], [4, 4096], [9, 2048], [18, 1024], [36, 512]];
  const b36: Array<[number, number]> = [[1, 32768], [2, 16384], [4, 8192], [9, 4096], [18, 2048], [36, 1024], [72, 512]];
  const fit = (w: number) => (widthBits % 8 === 0 && w % 9 === 0 ? (w / 9) * 8 : w);
  let best = Infinity;
  for (const [w, d] of b18) best = Math.min(best, Math.ceil(widthBits / fit(w)) * Math.ceil(depth / d));
  for (const [w, d] of b36) best = Math.min(best, 2 * Math.ceil(widthBits / fit(w)) * Math.ceil(depth / d));
  return best;
}

/** Distributed RAM LUTs for a 1-write 1-read memory: RAM64X1D / RAM128X1D / RAM256X1D per bit. */
export function lutramFor(widthBits: number, depth: number): number {
  return widthBits * 2 * Math.ceil(depth / 64);
}

export interface ResourceEstimate {
  dsp: number;
  bram36: number;
  uram: number;
  lut: number;
  lutram: number;
  /** The parts of the estimate, for docs and reports. */
  detail: {
    dspMac: number;
    /** Lane pairs sharing a DSP (FF_PACK2). */
    pairs: number;
    dspOverhead: number;
    dspRequant: number;
    bramIbuf: number;
    bramAcc: number;
    bramSbuf: number;
    lutAdderTrees: number;
    lutUnpack: number;
    lutWbuf: number;
    lutIbufMux: number;
    lutWide: number;
    lutOverhead: number;
  };
}

/**
 * Analytic estimate for hw/hls/flowfpga_engine.cpp as written (its ARRAY_PARTITION / BIND_OP / BIND_STORAGE pragmas):
 * MACs: with FF_PACK2 ⌈TM/2⌉·TN DSPs (lane pairs along TM; an odd TM leaves one row unpaired), else TM·TN;
 * ibuf[2][TN][IBUF] → TN×FF_BUS_BYTES byte-wide banks of depth 2·IBUF/FF_BUS_BYTES; acc[2][TM][OBUF] → TM int32
 * banks of depth 2·OBUF (BRAM, or one URAM288 each with FF_ACC_URAM); wbuf[2][TM][TN][49] → TM·TN LUTRAM banks of
 * 98 bytes; sbuf[2][SBUF] → FF_SBUF_BANKS banks. The csynth report is the check.
 */
export function estimateResources(c: EngineConfig): ResourceEstimate {
  const lanes = c.tm * c.tn;
  const pairs = c.macsPerDsp === 2 ? Math.floor(c.tm / 2) * c.tn : 0;
  const dspMac = lanes - pairs;
  const ibufBanks = c.tn * c.busBytes;
  const bramIbuf18 = ibufBanks * bram18For(8, Math.ceil((2 * c.ibufPixels) / c.busBytes));
  const bramAcc18 = c.accUram ? 0 : c.tm * bram18For(32, 2 * c.obufPixels);
  const uram = c.accUram ? c.tm * Math.ceil((2 * c.obufPixels) / URAM_DEPTH) : 0;
  // sbuf[2][SBUF] cyclic over FF_SBUF_BANKS (flowfpga_engine.h): 2×2 taps of the widest interpolation per cycle.
  const wide = Math.max(c.wrBytes, c.upPar);
  const sbufBanks = wide > 1 ? 2 * wide : 1;
  const bramSbuf18 = sbufBanks * bram18For(8, Math.ceil((2 * c.sbufPixels) / sbufBanks));
  const lutWide = LUT_PER_RQ_LANE * (c.wrBytes - 1) + LUT_PER_UP_LANE * (Math.max(c.upPar, c.wrBytes) - 1);
  const lutWbuf = lanes * lutramFor(8, 2 * MAX_TAPS);
  // Adder tree of TN products (8b×8b → W+A = 16 bits, FINN's width) plus the 32-bit accumulate, per output lane.
  const lutAdderTrees = Math.round(1.1 * c.tm * (16 * (2 * c.tn - 1) + 32));
  const lutUnpack = pairs * LUT_PER_PAIR;
  const lutIbufMux = c.tn * 8 * 2 * (c.busBytes / 8); // 8:1 (16:1) byte mux per channel (2 (4) LUT6 per bit)
  const lut = LUT_OVERHEAD + lutAdderTrees + lutUnpack + lutWbuf + lutIbufMux + lutWide;
  const dspRq = DSP_PER_RQ_LANE * (c.wrBytes - 1);
  return {
    dsp: dspMac + DSP_OVERHEAD + dspRq,
    bram36: Math.ceil((bramIbuf18 + bramAcc18 + bramSbuf18) / 2),
    uram,
    lut,
    lutram: lutWbuf,
    detail: {
      dspMac,
      pairs,
      dspOverhead: DSP_OVERHEAD,
      dspRequant: dspRq,
      bramIbuf: bramIbuf18 / 2,
      bramAcc: bramAcc18 / 2,
      bramSbuf: bramSbuf18 / 2,
      lutAdderTrees,
      lutUnpack,
      lutWbuf,
      lutIbufMux,
      lutWide,
      lutOverhead: LUT_OVERHEAD,
    },
  };
}

/**
 * LUTs one extra MAC lane on LUT multipliers (BIND_OP impl=fabric) would cost for w×a bits: the FINN-R multiplier,
 * its share of the adder tree and its LUTRAM weight bank. What §3.2 weighs against a packed DSP lane (adder tree,
 * weight bank and half an unpack: ≈ 70 LUTs at TN 8..16), whose multiplier costs no LUTs.
 */
export function lutLaneCost(w: number, a: number): number {
  return Math.round(lutPerMac(w, a) + lutramFor(8, 2 * MAX_TAPS));
}

export interface FitCheck {
  fits: boolean;
  /** Used / available per resource. */
  utilization: { lut: number; lutram: number; bram36: number; uram: number; dsp: number };
  /** One line per resource over its UTILIZATION_LIMITS ceiling. */
  problems: string[];
}

export function checkFit(est: ResourceEstimate, part: PartResources): FitCheck {
  const util = {
    lut: est.lut / part.lut,
    lutram: est.lutram / part.lutram,
    bram36: est.bram36 / part.bram36,
    uram: part.uram ? est.uram / part.uram : est.uram ? Infinity : 0,
    dsp: est.dsp / part.dsp,
  };
  const problems: string[] = [];
  for (const k of Object.keys(util) as Array<keyof typeof util>) {
    if (util[k] > UTILIZATION_LIMITS[k]) {
      problems.push(`${k}: ${est[k]} of ${part[k]} (${(util[k] * 100).toFixed(0)}% > ${UTILIZATION_LIMITS[k] * 100}%)`);
    }
  }
  return { fits: problems.length === 0, utilization: util, problems };
}

/**
 * MAC products per DSP slice for w×a-bit operands with WP486-style packing, as facts.md §7.5 models the part bound
 * (DSP48E1: one at 8-bit, for WP486's 18-bit field). The engine's own packing is tighter (16-bit fields with unsigned
 * activations) and gets two 8-bit products from a DSP48E1 too: EngineConfig.macsPerDsp, docs/hardware.md §3.2.
 */
export function dspPacking(kind: DspKind, bits: number): number {
  if (kind === 'DSP48E2') return bits <= 4 ? 4 : 2;
  return bits <= 6 ? 2 : 1;
}

/** facts.md §7.5 part bound: every DSP packed plus 60 % of the LUTs as LUT MAC lanes. */
export function partPeakMacsPerCycle(part: PartResources, bits: number): number {
  return part.dsp * dspPacking(part.dspKind, bits) + Math.floor((0.6 * part.lut) / lutPerMac(bits, bits));
}

// ---- the boards --------------------------------------------------------------------------------------------

const UIO_NAME = 'flowfpga_engine';
const DDR_EFFICIENCY = 0.75;

function board(b: Omit<BoardSpec, 'macsPerCycle' | 'partPeakMacsPerCycle' | 'ddr' | 'hpGBpsPerDirection' | 'memoryGBps'> & {
  ddrKind: string;
  ddrPeakGBps: number;
}): BoardSpec {
  const { ddrKind, ddrPeakGBps, ...rest } = b;
  const effectiveGBps = round3(ddrPeakGBps * DDR_EFFICIENCY);
  const hp = round3((b.hpDataBits / 8) * b.plClockMHz * 1e-3);
  const lanes = b.config.tm * b.config.tn;
  return {
    ...rest,
    ddr: { kind: ddrKind, peakGBps: ddrPeakGBps, efficiency: DDR_EFFICIENCY, effectiveGBps },
    hpGBpsPerDirection: hp,
    memoryGBps: Math.min(effectiveGBps, hp),
    macsPerCycle: { bits8: lanes, bits6: lanes },
    partPeakMacsPerCycle: { bits8: partPeakMacsPerCycle(b.resources, 8), bits6: partPeakMacsPerCycle(b.resources, 6) },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const PS7_IRQ = { psPin: 'IRQ_F2P[0]', gic: 61, spi: 29 };
const PS8_IRQ = { psPin: 'pl_ps_irq0[0]', gic: 121, spi: 89 };

const ULTRA96V2 = board({
  name: 'ultra96v2',
  title: 'Avnet Ultra96-V2',
  part: 'xczu3eg-sbva484-1-e',
  virtual: false,
  ps: 'ps8',
  psMaster: 'M_AXI_HPM0_FPD',
  psSlave: 'S_AXI_HP0_FPD',
  hpDataBits: 128,
  engine: { baseAddress: 0xa000_0000, range: 0x1_0000 },
  irq: PS8_IRQ,
  uioName: UIO_NAME,
  plClockMHz: 200,
  ddrKind: 'LPDDR4 32-bit, LPDDR4_1066',
  ddrPeakGBps: 4.26,
  resources: XCZU3EG,
  config: {
    tm: 64, tn: 6, ibufPixels: 8192, obufPixels: 1280, sbufPixels: 4096, clockMHz: 200, busBytes: 8, wrBytes: 4, upPar: 4,
    bitsMin: 2, bitsMax: 8, macsPerDsp: 2, accUram: false,
  },
});

export const BOARDS: Readonly<Record<BoardName, BoardSpec>> = {
  'pynq-z2': board({
    name: 'pynq-z2',
    title: 'TUL PYNQ-Z2',
    part: 'xc7z020clg400-1',
    virtual: false,
    ps: 'ps7',
    psMaster: 'M_AXI_GP0',
    psSlave: 'S_AXI_HP0',
    hpDataBits: 64,
    engine: { baseAddress: 0x43c0_0000, range: 0x1_0000 },
    irq: PS7_IRQ,
    uioName: UIO_NAME,
    plClockMHz: 125,
    ddrKind: 'DDR3 16-bit, 1066 Mb/s',
    ddrPeakGBps: 2.133,
    resources: XC7Z020,
    config: {
      tm: 32, tn: 8, ibufPixels: 8192, obufPixels: 1280, sbufPixels: 4096, clockMHz: 125, busBytes: 8, wrBytes: 2, upPar: 2,
      bitsMin: 2, bitsMax: 8, macsPerDsp: 2, accUram: false,
    },
  }),
  ultra96v2: ULTRA96V2,
  zcu104: board({
    name: 'zcu104',
    title: 'Xilinx ZCU104',
    part: 'xczu7ev-ffvc1156-2-e',
    virtual: false,
    ps: 'ps8',
    psMaster: 'M_AXI_HPM0_FPD',
    psSlave: 'S_AXI_HP0_FPD',
    hpDataBits: 128,
    engine: { baseAddress: 0xa000_0000, range: 0x1_0000 },
    irq: PS8_IRQ,
    uioName: UIO_NAME,
    plClockMHz: 250,
    ddrKind: 'DDR4 64-bit, 2400 MT/s',
    ddrPeakGBps: 19.2,
    resources: XCZU7EV,
    config: {
      tm: 64, tn: 16, ibufPixels: 16384, obufPixels: 2048, sbufPixels: 4096, clockMHz: 250, busBytes: 16, wrBytes: 8, upPar: 8,
      bitsMin: 2, bitsMax: 8, macsPerDsp: 2, accUram: true,
    },
  }),
  // The virtual board models an Ultra96-V2 so that plans made on it predict a real mid-range board.
  emu: { ...ULTRA96V2, name: 'emu', title: 'virtual board (models Ultra96-V2)', virtual: true, ps: 'emu' },
};

export const BOARD_NAMES: readonly BoardName[] = Object.freeze(Object.keys(BOARDS) as BoardName[]);
/** Boards with a Vivado block design (hw/bd/boards/<name>.tcl). */
export const HARDWARE_BOARDS: readonly BoardName[] = BOARD_NAMES.filter((n) => !BOARDS[n].virtual);

export function isBoardName(name: string): name is BoardName {
  return Object.prototype.hasOwnProperty.call(BOARDS, name);
}

/** Look a board up by name; an unknown name is a UserError listing the valid ones. */
export function getBoard(name: string): BoardSpec {
  if (isBoardName(name)) return BOARDS[name];
  throw new UserError(`unknown board '${name}'`, `valid boards: ${BOARD_NAMES.join(', ')}`);
}

/** Peak engine throughput in MAC/s at the board's PL clock. */
export function peakMacsPerSecond(b: BoardSpec, bits = 8): number {
  return (bits <= 6 ? b.macsPerCycle.bits6 : b.macsPerCycle.bits8) * b.plClockMHz * 1e6;
}

/** Roofline ridge point in ops/byte (1 MAC = 2 ops) against the cost model's memory bandwidth. */
export function ridgeOpsPerByte(b: BoardSpec, bits = 8): number {
  return (2 * peakMacsPerSecond(b, bits)) / (b.memoryGBps * 1e9);
}

/** HLS -D macros that build this board's engine (hw/hls/flowfpga_engine.h). */
export function hlsDefines(b: BoardSpec): Record<string, number> {
  const c = b.config;
  return {
    FF_TM: c.tm, FF_TN: c.tn, FF_IBUF: c.ibufPixels, FF_OBUF: c.obufPixels, FF_SBUF: c.sbufPixels,
    FF_BUS_BYTES: c.busBytes, FF_WR_BYTES: c.wrBytes, FF_UP_PAR: c.upPar, FF_PACK2: c.macsPerDsp === 2 ? 1 : 0,
    FF_ACC_URAM: c.accUram ? 1 : 0, FF_CLOCK_MHZ: c.clockMHz,
  };
}
