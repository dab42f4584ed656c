// The scheduler's view of one engine build: the cycle-model constants of cycles.ts plus the on-chip buffer sizes,
// clock and memory bandwidth. Built from a board description (planning ahead) or from the engine's capability
// registers (at run time, where a bitstream may differ from the board's default build).
import { UserError } from '../errors.js';
import type { BoardSpec } from '../driver/boards.js';
import type { EngineCaps } from '../driver/engine.js';
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from './cycles.js';

export interface SchedConfig extends EngineConfig {
  /** FF_IBUF: input window pixels per channel (incl. halo and padding). */
  ibuf: number;
  /** FF_OBUF: output tile pixels per channel. */
  obuf: number;
  /** FF_SBUF: upsampling source staging, bytes of one channel's source rectangle. */
  sbuf: number;
  clockMHz: number;
  /** Sustained DDR bandwidth the cost model uses, GB/s (board: min(75 % of peak DDR, one HP port)). */
  memoryGBps: number;
  /** Activation bits the engine accepts. */
  bitsMin: number;
  bitsMax: number;
  /** Where the numbers came from, for reports. */
  source: string;
}

/**
 * The board's engine build. The cycle-model constants (FF_MAC_DEPTH, FF_RD_OVH, …) are not part of boards.ts or of
 * the capability registers; the defaults of hw/hls/flowfpga_engine.h apply to every part.
 */
export function configFromBoard(b: BoardSpec): SchedConfig {
  const c = b.config;
  return {
    ...DEFAULT_ENGINE_CONFIG,
    tm: c.tm,
    tn: c.tn,
    ibuf: c.ibufPixels,
    obuf: c.obufPixels,
    sbuf: c.sbufPixels,
    clockMHz: c.clockMHz,
    busBytes: c.busBytes,
    wrBytes: c.wrBytes,
    upPar: c.upPar,
    memoryGBps: b.memoryGBps,
    bitsMin: c.bitsMin,
    bitsMax: c.bitsMax,
    source: `board ${b.name}`,
  };
}

/** cap_feat[11]: lane packing, the engine implements FLAG_PIXLANES and FLAG_KPACK (docs/registers.md). */
export const FEAT_PIXLANES = 1 << 11;
/** cap_feat[0]: the engine implements FLAG_ACCFULL (bit 0 of the bits mask is free: there are no 0-bit codes). */
export const FEAT_ACCFULL = 1 << 0;

/** The capability words planning needs: the driver's EngineCaps without identity (docs/registers.md). */
export type CapsLike = Pick<EngineCaps, 'peRows' | 'peCols' | 'ibuf' | 'obuf' | 'sbuf' | 'feat' | 'clockMHz'>;

/** From the capability registers of a probed engine; bandwidth comes from the board (the engine cannot know it). */
export function configFromCaps(caps: CapsLike, memoryGBps: number): SchedConfig {
  // cap_feat: [0] FLAG_ACCFULL, [8:2] bits mask, [10:9] log2 FF_BUS_BYTES − 3, [11] FLAG_PIXLANES + FLAG_KPACK, [13:12] log2 FF_WR_BYTES, [15:14] log2 FF_UP_PAR (docs/registers.md).
  const bitsMask = caps.feat & 0x1ff;
  let lo = 0, hi = 0;
  for (let n = 2; n <= 8; n++) {
    if (bitsMask & (1 << n)) {
      if (!lo) lo = n;
      hi = n;
    }
  }
  if (!caps.peRows || !caps.peCols || !caps.ibuf || !caps.obuf || !caps.sbuf || !lo) {
    throw new UserError('engine capability registers are empty or malformed', 'probe the engine (cmd_count = 0) before planning');
  }
  return {
    ...DEFAULT_ENGINE_CONFIG,
    tm: caps.peRows,
    tn: caps.peCols,
    ibuf: caps.ibuf,
    obuf: caps.obuf,
    sbuf: caps.sbuf,
    clockMHz: caps.clockMHz,
    busBytes: 8 << ((caps.feat >>> 9) & 3),
    wrBytes: 1 << ((caps.feat >>> 12) & 3),
    upPar: 1 << ((caps.feat >>> 14) & 3),
    pixLanes: (caps.feat & FEAT_PIXLANES) !== 0,
    kPack: (caps.feat & FEAT_PIXLANES) !== 0,
    accFull: (caps.feat & FEAT_ACCFULL) !== 0,
    memoryGBps,
    bitsMin: lo,
    bitsMax: hi,
    source: 'capability registers',
  };
}

/** A config for tests: any buffer sizes / PE shape over the default cycle constants. */
export function testConfig(p: Partial<SchedConfig> & Pick<SchedConfig, 'tm' | 'tn' | 'ibuf' | 'obuf' | 'sbuf'>): SchedConfig {
  return {
    ...DEFAULT_ENGINE_CONFIG, clockMHz: 100, memoryGBps: 1, bitsMin: 2, bitsMax: 8, source: 'test', ...p,
  };
}

/** Key identifying a compiled plan (model identity is added by the caller). */
export function configKey(c: SchedConfig): string {
  return [c.tm, c.tn, c.ibuf, c.obuf, c.sbuf, c.macDepth, c.rdOvh, c.wrOvh, c.rqDepth, c.upDepth, c.checkCyc, c.busBytes, c.wrBytes, c.upPar, c.pixLanes ? 1 : 0, c.kPack ? 1 : 0, c.accFull ? 1 : 0].join(',');
}
