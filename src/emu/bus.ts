// The AXI-Lite slave side of the virtual board's register block, as seen from the CPU. The register file is a
// shared-memory file mapped exactly like /dev/uioN map0; what a plain memory word cannot do by itself — side
// effects of a bus *read* (ap_done, ap_ready, ISR in COR mode and every <name>_ap_vld clear on read), read-only
// bits, toggle-on-write — this accessor performs with atomic read-modify-write on the shared word, so the
// platform model (hw/emu/emu_main.cpp), which sets those bits with atomics too, never loses an update.
import { checkAccess, checkWindow, type RegisterIo } from '../driver/mmio.js';
import type { Mapping } from '../sys/types.js';

const AP_CTRL = 0x00;
const GIE = 0x04;
const IER = 0x08;
const ISR = 0x0c;
const AP_START = 1 << 0;
const AP_DONE = 1 << 1;
const AP_READY = 1 << 3;
const AUTO_RESTART = 1 << 7;
const AP_INTERRUPT = 1 << 9;
/** Registers the engine ends at (docs/registers.md: range 0x100). Beyond it the window reads 0 and ignores writes. */
const RANGE = 0x100;
/** Input argument data words (docs/registers.md): plain R/W. */
const ARG_WORDS = new Set([0x10, 0x14, 0x1c, 0x20, 0x28, 0x2c, 0x34, 0x3c, 0x40, 0x48, 0x4c]);
/** Output scalar data words (read-only) and their ap_vld control words (clear on read). */
const OUT_WORDS = new Set([0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x8c, 0x94, 0x9c, 0xa4, 0xac, 0xb0]);
const VLD_WORDS = new Set([0x58, 0x60, 0x68, 0x70, 0x78, 0x80, 0x88, 0x90, 0x98, 0xa0, 0xa8, 0xb4]);

export type IsrMode = 'tow' | 'cor';

export class EmuRegisterBus implements RegisterIo {
  readonly size: number;
  readonly #mapping: Mapping;
  readonly #word0: number;
  #w: Int32Array | undefined;

  constructor(
    mapping: Mapping,
    /** ISR flavour of the emulated Vitis version (the board's control file says which). */
    readonly isrMode: IsrMode,
    offset = 0,
    size = mapping.length - offset,
    readonly label = 'registers',
  ) {
    checkWindow(mapping, offset, size, label);
    this.#mapping = mapping;
    this.size = size;
    this.#word0 = offset >>> 2;
  }

  #words(): Int32Array {
    if (this.#w === undefined || this.#mapping.closed) this.#w = new Int32Array(this.#mapping.buffer());
    return this.#w;
  }

  // Same checks and texts as RegisterWindow (src/driver/mmio.ts): the driver sees identical errors on both.
  #check(offset: number, op: string): void {
    checkAccess(offset, this.size, this.label, op);
  }

  read32(offset: number): number {
    this.#check(offset, 'read');
    if (offset >= RANGE) return 0;
    const w = this.#words();
    const i = this.#word0 + (offset >>> 2);
    if (offset === AP_CTRL) {
      // ap_done and ap_ready are clear-on-read; b9 mirrors the interrupt pin (GIE & |ISR).
      const v = Atomics.and(w, i, ~(AP_DONE | AP_READY)) & ~AP_INTERRUPT;
      return (v | (this.#pin(w) ? AP_INTERRUPT : 0)) >>> 0;
    }
    if (offset === ISR && this.isrMode === 'cor') return Atomics.exchange(w, i, 0) >>> 0;
    if (VLD_WORDS.has(offset)) return Atomics.and(w, i, ~1) >>> 0;
    return Atomics.load(w, i) >>> 0;
  }

  write32(offset: number, value: number): void {
    this.#check(offset, 'write');
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
      throw new RangeError(`${this.label}: write of ${value} at 0x${offset.toString(16)} is not a 32-bit value`);
    }
    if (offset >= RANGE) return;
    const v = value | 0;
    const w = this.#words();
    const i = this.#word0 + (offset >>> 2);
    switch (offset) {
      case AP_CTRL: {
        // Only ap_start (set-only: a 0 does not stop a run) and auto_restart are writable.
        for (let old = Atomics.load(w, i); ; ) {
          const nv = (old & ~AUTO_RESTART) | (v & AUTO_RESTART) | (v & AP_START);
          const seen = Atomics.compareExchange(w, i, old, nv);
          if (seen === old) return;
          old = seen;
        }
      }
      case GIE:
        Atomics.store(w, i, v & 1);
        return;
      case IER:
        Atomics.store(w, i, v & 3);
        return;
      case ISR:
        if (this.isrMode === 'tow') Atomics.xor(w, i, v & 3);
        return;
      default:
        if (ARG_WORDS.has(offset)) Atomics.store(w, i, v);
      // Output scalars, ap_vld words and unused addresses ignore writes.
    }
  }

  #pin(w: Int32Array): boolean {
    return (Atomics.load(w, this.#word0 + (GIE >>> 2)) & 1) !== 0 && (Atomics.load(w, this.#word0 + (ISR >>> 2)) & 3) !== 0;
  }
}

export const EMU_OUTPUT_WORDS: ReadonlySet<number> = OUT_WORDS;
