// AXI-Lite register map of the flowfpga_engine HLS top (hw/hls/flowfpga_engine.cpp, bundle "control").
// DERIVED from the Vitis HLS layout rules (facts.md §2.1) and the top's argument order, because
// hw/hls/registers.json / docs/registers.md did not exist when this was written; test/driver-engine.test.ts
// checks this table against hw/hls/registers.json as soon as that file appears, and on hardware
// engineRegMapFromHwh() takes the offsets from the .hwh instead.
import type { HwhRegister } from './hwh.js';

export interface EngineRegMap {
  AP_CTRL: number;
  GIE: number;
  IER: number;
  ISR: number;
  /** 64-bit pointer args: lo word at the offset, hi at +4. */
  mem: number;
  mem_wr: number;
  cmd_addr: number;
  cmd_count: number;
  win_base: number;
  win_size: number;
  /** Output scalars: data word at the offset (an ap_vld control word follows). */
  magic: number;
  version: number;
  cap_pe: number;
  cap_ibuf: number;
  cap_obuf: number;
  cap_sbuf: number;
  cap_feat: number;
  cap_clock_mhz: number;
  status: number;
  err_index: number;
  cmds_done: number;
  /** 64-bit output: lo, hi at +4. */
  cycles: number;
}

export const ENGINE_REGS: Readonly<EngineRegMap> = Object.freeze({
  AP_CTRL: 0x00,
  GIE: 0x04,
  IER: 0x08,
  ISR: 0x0c,
  mem: 0x10,
  mem_wr: 0x1c,
  cmd_addr: 0x28,
  cmd_count: 0x34,
  win_base: 0x3c,
  win_size: 0x48,
  magic: 0x54,
  version: 0x5c,
  cap_pe: 0x64,
  cap_ibuf: 0x6c,
  cap_obuf: 0x74,
  cap_sbuf: 0x7c,
  cap_feat: 0x84,
  cap_clock_mhz: 0x8c,
  status: 0x94,
  err_index: 0x9c,
  cmds_done: 0xa4,
  cycles: 0xac,
});

/** Bytes of register space the map needs (the window must be at least this big). */
export const ENGINE_REGS_SPAN = 0xb8;

export const AP_START = 1 << 0;
export const AP_DONE = 1 << 1;
export const AP_IDLE = 1 << 2;
export const AP_READY = 1 << 3;
export const AUTO_RESTART = 1 << 7;
export const ISR_DONE = 1 << 0;

/** FF_MAGIC "FFQ1" little-endian (hw/hls/flowfpga_engine.h). */
export const ENGINE_MAGIC = 0x31514646;

export const ENGINE_STATUS: readonly string[] = [
  'ok',
  'unknown opcode',
  'unsupported activation bits',
  'unsupported kernel, stride, upsampling factor or flag combination',
  'inconsistent geometry (tile outside the output, empty or out-of-range channel block)',
  'tile larger than an on-chip buffer',
  'access outside a declared extent or the memory window',
  'command list or buffer address not 8-byte aligned',
];

/**
 * Offsets from the .hwh register list (Vitis names: CTRL, GIER, IP_IER, IP_ISR, <arg>_1/<arg>_2 for 64-bit
 * words, <arg> or <arg>_1 for data). Missing names keep the derived default.
 */
export function engineRegMapFromHwh(regs: HwhRegister[], base: EngineRegMap = ENGINE_REGS): EngineRegMap {
  const by = new Map(regs.map((r) => [r.name.toLowerCase(), r.offset]));
  const alias: Partial<Record<keyof EngineRegMap, string[]>> = {
    AP_CTRL: ['ctrl', 'ap_ctrl'],
    GIE: ['gier', 'gie'],
    IER: ['ip_ier', 'ier'],
    ISR: ['ip_isr', 'isr'],
  };
  const out = { ...base };
  for (const k of Object.keys(base) as (keyof EngineRegMap)[]) {
    const names = alias[k] ?? [k.toLowerCase(), `${k.toLowerCase()}_1`, `${k.toLowerCase()}_data`, `${k.toLowerCase()}_data_0`];
    for (const n of names) {
      const off = by.get(n);
      if (off !== undefined) {
        out[k] = off;
        break;
      }
    }
  }
  return out;
}
