// PL clock setup from .hwh divisors through SLCR (Zynq-7000) or CRL_APB (ZynqMP) registers (facts.md §1.3).
import { UserError } from '../errors.js';
import type { HwhDesign, PsFamily } from './hwh.js';
import type { RegisterIo } from './mmio.js';

/** Opens a register window at a physical address (through /dev/mem on a board, a model on the virtual board). */
export type MmioOpener = (phys: bigint, size: number, label: string) => RegisterIo & { close?(): void };

interface Layout {
  base: bigint;
  size: number;
  ctrl(n: number): number;
  div0Shift: number;
  div1Shift: number;
  divMask: number;
  refMHz: number;
}

export const ZYNQ_SLCR: Layout = {
  base: 0xf8000000n,
  size: 0x1000,
  ctrl: (n) => 0x170 + 0x10 * n,
  div0Shift: 8,
  div1Shift: 20,
  divMask: 0x3f,
  refMHz: 50,
};
const SLCR_LOCK = 0x004;
const SLCR_UNLOCK = 0x008;
/** Bit 0 = locked (UG585 App. B). */
const SLCR_LOCKSTA = 0x00c;
const SLCR_LOCK_KEY = 0x767b;
const SLCR_UNLOCK_KEY = 0xdf0d;

export const ZYNQMP_CRL: Layout = {
  base: 0xff5e0000n,
  size: 0x1000,
  ctrl: (n) => 0xc0 + 4 * n,
  div0Shift: 8,
  div1Shift: 16,
  divMask: 0x3f,
  refMHz: 33.333,
};

export function layoutFor(family: PsFamily): Layout {
  return family === 'zynq' ? ZYNQ_SLCR : ZYNQMP_CRL;
}

/** Register value with DIVISOR0/1 replaced and every other bit (source select, enables) kept. */
export function withDivisors(family: PsFamily, old: number, div0: number, div1: number): number {
  const l = layoutFor(family);
  for (const d of [div0, div1]) {
    if (!Number.isInteger(d) || d < 1 || d > l.divMask) throw new RangeError(`PL clock divisor ${d} outside 1..${l.divMask}`);
  }
  const clear = ~((l.divMask << l.div0Shift) | (l.divMask << l.div1Shift));
  return ((old & clear) | (div0 << l.div0Shift) | (div1 << l.div1Shift)) >>> 0;
}

export function readDivisors(family: PsFamily, value: number): { div0: number; div1: number } {
  const l = layoutFor(family);
  return { div0: (value >>> l.div0Shift) & l.divMask, div1: (value >>> l.div1Shift) & l.divMask };
}

/** Zynq-7000 FPGAn_CLK_CTRL SRCSEL[5:4] → PLL register offset in SLCR (0x IO, 10 ARM, 11 DDR). */
function zynqPllOffset(ctrl: number): number {
  const sel = (ctrl >>> 4) & 3;
  return sel === 2 ? 0x100 : sel === 3 ? 0x104 : 0x108;
}

/** Current frequency of PL clock n in MHz, from the PLL feedback divider and the PL divisors. */
export function readPlClockMHz(family: PsFamily, io: RegisterIo, n: number): number {
  const l = layoutFor(family);
  const ctrl = io.read32(l.ctrl(n));
  const { div0, div1 } = readDivisors(family, ctrl);
  if (div0 === 0 || div1 === 0) return 0;
  if (family === 'zynq') {
    const fdiv = (io.read32(zynqPllOffset(ctrl)) >>> 12) & 0x7f;
    return (l.refMHz * fdiv) / (div0 * div1);
  }
  const sel = ctrl & 7;
  // SRCSEL 0 IOPLL (CRL +0x20), 2 RPLL (CRL +0x30); 3 is DPLL in CRF_APB, outside this window.
  if (sel !== 0 && sel !== 2) throw new UserError(`PL${n} is clocked from SRCSEL ${sel}, which this runtime cannot read back`, 'use IOPLL or RPLL for PL clocks');
  const pll = io.read32(sel === 0 ? 0x20 : 0x30);
  const fbdiv = (pll >>> 8) & 0x7f;
  return (l.refMHz * fbdiv) / ((pll & 0x10000 ? 2 : 1) * div0 * div1);
}

/** All 6-bit × 6-bit divisor pairs searched for the one closest to target (PYNQ set_pl_clk). */
export function closestDivisors(srcMHz: number, targetMHz: number): { div0: number; div1: number; mhz: number } {
  let best = { div0: 1, div1: 1, mhz: srcMHz };
  for (let d0 = 1; d0 <= 63; d0++) {
    for (let d1 = 1; d1 <= 63; d1++) {
      const f = srcMHz / (d0 * d1);
      if (Math.abs(f - targetMHz) < Math.abs(best.mhz - targetMHz)) best = { div0: d0, div1: d1, mhz: f };
    }
  }
  return best;
}

export interface ClockSetting {
  index: number;
  div0: number;
  div1: number;
  before: number;
  after: number;
}

/**
 * Writes the .hwh divisors of every enabled PL clock (what Vivado configured the design for). Zynq-7000 SLCR
 * writes need the unlock key; the lock is put back to what SLCR_LOCKSTA said before — Linux unlocks the SLCR at
 * boot and keeps writing it (clocks, resets), so re-locking an unlocked SLCR would break the kernel's own writes.
 */
export function applyPlClocks(design: HwhDesign, open: MmioOpener): ClockSetting[] {
  const l = layoutFor(design.family);
  const enabled = design.clocks.filter((c) => c.enabled);
  if (enabled.length === 0) return [];
  const io = open(l.base, l.size, design.family === 'zynq' ? 'SLCR' : 'CRL_APB');
  const out: ClockSetting[] = [];
  try {
    const wasLocked = design.family === 'zynq' && (io.read32(SLCR_LOCKSTA) & 1) === 1;
    if (wasLocked) io.write32(SLCR_UNLOCK, SLCR_UNLOCK_KEY);
    try {
      for (const c of enabled) {
        const before = io.read32(l.ctrl(c.index));
        const after = withDivisors(design.family, before, c.div0, c.div1);
        if (after !== before) io.write32(l.ctrl(c.index), after);
        out.push({ index: c.index, div0: c.div0, div1: c.div1, before, after });
      }
    } finally {
      if (wasLocked) io.write32(SLCR_LOCK, SLCR_LOCK_KEY);
    }
  } finally {
    io.close?.();
  }
  return out;
}
