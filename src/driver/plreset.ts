// PS-driven PL reset: pulses the reset that drives the block design's proc_sys_reset (ext_reset_in =
// FCLK_RESET0_N on Zynq-7000, pl_resetn0 on ZynqMP; hw/bd/lib/flowfpga_bd.tcl), which resets the engine
// (peripheral_aresetn → ap_rst_n) and both AXI interconnects. Register access goes through an injected MmioOpener,
// like the PL clocks (clocks.ts); on a board that is /dev/mem (openDevMem), in tests a recording fake.
//
// Sources (docs/driver.md):
// - Zynq-7000 SLCR (UG585 App. B): SLCR_LOCK +0x004 (key 0x767B), SLCR_UNLOCK +0x008 (key 0xDF0D), SLCR_LOCKSTA
//   +0x00C (bit 0 = locked), FPGA_RST_CTRL +0x240 with FPGA0..3_OUT_RST in bits 0..3, 1 = reset asserted
//   (FCLK_RESETn low). Offsets as in JohnnyB1290/jblib-zynq-jbdrivers Includes/SLCR.hpp.
// - ZynqMP: pl_resetn0 is EMIO GPIO 95 = GPIO bank 5 bit 31 (Vivado-generated psu_init.c,
//   psu_ps_pl_reset_config_data(): MASK_DATA_5_MSW 0xFF0A002C, DIRM_5 0xFF0A0344, OEN_5 0xFF0A0348, DATA_5
//   0xFF0A0054). Bank offsets from Linux drivers/gpio/gpio-zynq.c: DATA_LSW(b) = 8b, DATA_MSW(b) = 4 + 8b,
//   DATA(b) = 0x40 + 4b, DIRM(b) = 0x204 + 0x40b, OUTEN(b) = 0x208 + 0x40b. Bit 31 lives in the upper half, so the
//   maskable write goes to MASK_DATA_5_MSW (+0x02C), not _LSW (+0x028): upper 16 bits = mask (1 = keep),
//   lower 16 = data, which changes only our pin and never races the kernel's own GPIO writes to the bank.
import { UserError } from '../errors.js';
import type { MmioOpener } from './clocks.js';
import type { PsFamily } from './hwh.js';
import type { RegisterIo } from './mmio.js';

export const ZYNQ_PL_RESET = {
  base: 0xf8000000n,
  size: 0x1000,
  LOCK: 0x004,
  UNLOCK: 0x008,
  LOCKSTA: 0x00c,
  FPGA_RST_CTRL: 0x240,
  LOCK_KEY: 0x767b,
  UNLOCK_KEY: 0xdf0d,
  /** FPGA0_OUT_RST → FCLK_RESET0_N. */
  BIT: 0x1,
} as const;

export const ZYNQMP_PL_RESET = {
  base: 0xff0a0000n,
  size: 0x1000,
  MASK_DATA_5_MSW: 0x02c,
  DATA_5: 0x054,
  DIRM_5: 0x344,
  OEN_5: 0x348,
  /** EMIO 95 = bank 5 bit 31 → pl_resetn0. */
  BIT: 0x80000000,
  /** MASK_DATA_5_MSW values: every mask bit set except bit 15 (pin 31), data bit 15 = level. */
  DRIVE_LOW: 0x7fff0000,
  DRIVE_HIGH: 0x7fff8000,
} as const;

export interface PlResetOptions {
  /** How long the reset stays asserted, ms (proc_sys_reset needs 4 slowest_sync_clk cycles; default 1). */
  holdMs?: number;
  /** Wait after release before the engine is touched, ms (peripheral_aresetn follows ~16 cycles later; default 1). */
  settleMs?: number;
  /** Bound on each register read-back wait, ms (default 100). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  io: RegisterIo,
  off: number,
  done: (v: number) => boolean,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
  what: string,
  hint: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = io.read32(off) >>> 0;
    if (done(v)) return;
    if (performance.now() >= deadline) {
      throw new UserError(`PL reset: ${what} within ${timeoutMs} ms (register +0x${off.toString(16)} reads 0x${v.toString(16)})`, hint);
    }
    await sleep(0.2);
  }
}

async function zynqPulse(io: RegisterIo, o: Required<PlResetOptions>): Promise<void> {
  const r = ZYNQ_PL_RESET;
  // Linux unlocks the SLCR at boot and writes it later (clocks, resets): relock only what was locked before.
  const wasLocked = (io.read32(r.LOCKSTA) & 1) === 1;
  io.write32(r.UNLOCK, r.UNLOCK_KEY);
  const hint = 'the SLCR ignored the write (still locked, or secure-only); check that no TrustZone monitor guards it';
  try {
    let asserted = false;
    try {
      io.write32(r.FPGA_RST_CTRL, (io.read32(r.FPGA_RST_CTRL) | r.BIT) >>> 0);
      asserted = true;
      await waitFor(io, r.FPGA_RST_CTRL, (v) => (v & r.BIT) !== 0, o.timeoutMs, o.sleep, 'FPGA0_OUT_RST did not assert', hint);
      await o.sleep(o.holdMs);
    } finally {
      // Never leave the PL in reset, whatever failed above.
      if (asserted) io.write32(r.FPGA_RST_CTRL, (io.read32(r.FPGA_RST_CTRL) & ~r.BIT) >>> 0);
    }
    await waitFor(io, r.FPGA_RST_CTRL, (v) => (v & r.BIT) === 0, o.timeoutMs, o.sleep, 'FPGA0_OUT_RST did not release', hint);
  } finally {
    if (wasLocked) io.write32(r.LOCK, r.LOCK_KEY);
  }
}

async function zynqmpPulse(io: RegisterIo, o: Required<PlResetOptions>): Promise<void> {
  const r = ZYNQMP_PL_RESET;
  // FSBL's psu_init normally leaves pin 95 an enabled output; set it up only if something changed that.
  const dirm = io.read32(r.DIRM_5) >>> 0;
  if (!(dirm & r.BIT)) io.write32(r.DIRM_5, (dirm | r.BIT) >>> 0);
  const oen = io.read32(r.OEN_5) >>> 0;
  if (!(oen & r.BIT)) io.write32(r.OEN_5, (oen | r.BIT) >>> 0);
  const hint = 'the GPIO controller ignored the write; check that the PS GPIO (0xFF0A0000) is powered and not firewalled (XPPU)';
  try {
    io.write32(r.MASK_DATA_5_MSW, r.DRIVE_LOW);
    await waitFor(io, r.DATA_5, (v) => (v & r.BIT) === 0, o.timeoutMs, o.sleep, 'pl_resetn0 did not go low', hint);
    await o.sleep(o.holdMs);
  } finally {
    io.write32(r.MASK_DATA_5_MSW, r.DRIVE_HIGH);
  }
  await waitFor(io, r.DATA_5, (v) => (v & r.BIT) !== 0, o.timeoutMs, o.sleep, 'pl_resetn0 did not go high', hint);
}

/** One assert/hold/release pulse of the PL reset of `family` through a freshly opened register window. */
export async function pulsePlReset(family: PsFamily, open: MmioOpener, o: PlResetOptions = {}): Promise<void> {
  const opts: Required<PlResetOptions> = { holdMs: 1, settleMs: 1, timeoutMs: 100, sleep: defaultSleep, ...o };
  const r = family === 'zynq' ? ZYNQ_PL_RESET : ZYNQMP_PL_RESET;
  const io = open(r.base, r.size, family === 'zynq' ? 'SLCR' : 'GPIO (pl_resetn0)');
  try {
    if (family === 'zynq') await zynqPulse(io, opts);
    else await zynqmpPulse(io, opts);
  } finally {
    io.close?.();
  }
  await opts.sleep(opts.settleMs);
}

/** The `plReset` hook for EngineDriver on a real board. Opens the registers per pulse (resets are rare). */
export function plResetHook(family: PsFamily, open: MmioOpener, o: PlResetOptions = {}): () => Promise<void> {
  return () => pulsePlReset(family, open, o);
}
