// Engine control over an abstract register block and interrupt source: start, wait (IRQ or polling), decode, retry.
import { UserError } from '../errors.js';
import { read64, write64, type RegisterIo } from './mmio.js';
import type { IrqSource } from './uio.js';
import {
  AP_DONE,
  AP_IDLE,
  AP_START,
  AUTO_RESTART,
  ENGINE_MAGIC,
  ENGINE_REGS,
  ENGINE_REGS_SPAN,
  ENGINE_STATUS,
  ISR_DONE,
  type EngineRegMap,
} from './engine-regs.js';

export type { IrqSource } from './uio.js';

export interface EngineRun {
  cmdAddr: bigint;
  cmdCount: number;
  winBase: bigint;
  winSize: bigint;
  /** Base written to both AXI master pointer registers (0 when command addresses are physical). */
  memBase?: bigint;
}

export interface EngineResult {
  status: number;
  statusText: string;
  errIndex: number;
  cmdsDone: number;
  cycles: bigint;
  /** Wall time from ap_start to completion, ms. */
  ms: number;
  /** Attempts used (1 unless a timeout forced a reset and retry). */
  attempts: number;
}

export interface EngineCaps {
  magic: number;
  version: number;
  peRows: number;
  peCols: number;
  ibuf: number;
  obuf: number;
  sbuf: number;
  feat: number;
  clockMHz: number;
}

export interface EngineOptions {
  irq?: IrqSource;
  map?: EngineRegMap;
  /** Per-attempt completion timeout; default 5000 ms. */
  timeoutMs?: number;
  /** Polling interval when there is no IRQ; default 1 ms. */
  pollMs?: number;
  /** Extra attempts after a timeout (each preceded by reset()); default 1. */
  retries?: number;
  /** Pulses the PL reset (e.g. FCLK_RESETn through the SLCR); without it reset() only clears interrupt state. */
  plReset?: () => void | Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

/** Engine failure that the user cannot fix by changing input (a hang, a busy engine). */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly code: 'ETIMEDOUT' | 'EBUSY' | 'EBADMAGIC',
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class EngineDriver {
  readonly #io: RegisterIo;
  readonly #map: EngineRegMap;
  readonly #o: Required<Omit<EngineOptions, 'irq' | 'plReset' | 'map'>> & Pick<EngineOptions, 'irq' | 'plReset'>;

  constructor(io: RegisterIo, o: EngineOptions = {}) {
    this.#map = o.map ?? ENGINE_REGS;
    if (io.size < ENGINE_REGS_SPAN) {
      throw new UserError(`engine register window is ${io.size} bytes, the engine needs ${ENGINE_REGS_SPAN}`, 'check the IP range in the .hwh / UIO map size');
    }
    this.#io = io;
    this.#o = { timeoutMs: 5000, pollMs: 1, retries: 1, sleep: defaultSleep, ...o };
  }

  /** Clears the interrupt status on both ISR flavours: COR clears on the read, TOW on writing the read value back. */
  #clearIsr(): number {
    const v = this.#io.read32(this.#map.ISR);
    if (v !== 0) this.#io.write32(this.#map.ISR, v);
    return v;
  }

  caps(): EngineCaps {
    const r = (k: keyof EngineRegMap): number => this.#io.read32(this.#map[k]);
    const pe = r('cap_pe');
    return {
      magic: r('magic'),
      version: r('version'),
      peRows: pe & 0xffff,
      peCols: pe >>> 16,
      ibuf: r('cap_ibuf'),
      obuf: r('cap_obuf'),
      sbuf: r('cap_sbuf'),
      feat: r('cap_feat'),
      clockMHz: r('cap_clock_mhz'),
    };
  }

  /** Capability registers are outputs: valid after any run, so probe with an empty command list. */
  async probe(): Promise<EngineCaps> {
    await this.run({ cmdAddr: 0n, cmdCount: 0, winBase: 0n, winSize: 0n });
    const c = this.caps();
    if (c.magic !== ENGINE_MAGIC) {
      throw new EngineError(`engine magic 0x${c.magic.toString(16)} is not FFQ1 (0x${ENGINE_MAGIC.toString(16)})`, 'EBADMAGIC');
    }
    return c;
  }

  /** Writes the arguments and sets ap_start (keeping auto_restart as the generated driver does). */
  start(run: EngineRun): void {
    const io = this.#io;
    const m = this.#map;
    const ctrl = io.read32(m.AP_CTRL);
    if (!(ctrl & AP_IDLE) || ctrl & AP_START) throw new EngineError(`engine busy (AP_CTRL 0x${ctrl.toString(16)})`, 'EBUSY');
    const base = run.memBase ?? 0n;
    write64(io, m.mem, base);
    write64(io, m.mem_wr, base);
    write64(io, m.cmd_addr, run.cmdAddr);
    io.write32(m.cmd_count, run.cmdCount);
    write64(io, m.win_base, run.winBase);
    write64(io, m.win_size, run.winSize);
    this.#clearIsr();
    if (this.#o.irq) {
      io.write32(m.IER, ISR_DONE);
      io.write32(m.GIE, 1);
      this.#o.irq.arm();
    } else {
      io.write32(m.GIE, 0);
    }
    io.write32(m.AP_CTRL, (ctrl & AUTO_RESTART) | AP_START);
  }

  /** Waits for ap_done; false on timeout. Reading AP_CTRL consumes the COR done bit, so one read decides. */
  async waitDone(timeoutMs = this.#o.timeoutMs): Promise<boolean> {
    const io = this.#io;
    const m = this.#map;
    const deadline = performance.now() + timeoutMs;
    if (this.#o.irq) {
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        const n = await this.#o.irq.wait(Math.ceil(left));
        if (n === null) return false;
        const isr = this.#clearIsr();
        const ctrl = io.read32(m.AP_CTRL);
        if (isr & ISR_DONE || ctrl & AP_DONE) return true;
        // Shared or spurious interrupt: re-arm and keep waiting.
        this.#o.irq.arm();
      }
    }
    for (;;) {
      const ctrl = io.read32(m.AP_CTRL);
      if (ctrl & AP_DONE) return true;
      if (performance.now() >= deadline) return false;
      await this.#o.sleep(this.#o.pollMs);
    }
  }

  result(ms: number, attempts: number): EngineResult {
    const io = this.#io;
    const m = this.#map;
    const status = io.read32(m.status);
    return {
      status,
      statusText: ENGINE_STATUS[status] ?? `unknown status ${status}`,
      errIndex: io.read32(m.err_index),
      cmdsDone: io.read32(m.cmds_done),
      cycles: read64(io, m.cycles),
      ms,
      attempts,
    };
  }

  /** Brings the engine back to idle: interrupts off, ISR cleared, optional PL reset, then idle within the timeout. */
  async reset(timeoutMs = 100): Promise<void> {
    const io = this.#io;
    const m = this.#map;
    io.write32(m.GIE, 0);
    io.write32(m.IER, 0);
    this.#clearIsr();
    if (this.#o.plReset) await this.#o.plReset();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ctrl = io.read32(m.AP_CTRL);
      if (ctrl & AP_IDLE && !(ctrl & AP_START)) return;
      if (performance.now() >= deadline) {
        throw new EngineError(`engine did not return to idle after reset (AP_CTRL 0x${ctrl.toString(16)})`, 'ETIMEDOUT');
      }
      await this.#o.sleep(this.#o.pollMs);
    }
  }

  /** start + wait + decode, with reset and bounded retry on timeout. Non-zero status is returned, not thrown. */
  async run(run: EngineRun): Promise<EngineResult> {
    const attempts = 1 + this.#o.retries;
    for (let a = 1; ; a++) {
      const t0 = performance.now();
      this.start(run);
      if (await this.waitDone()) return this.result(performance.now() - t0, a);
      if (a >= attempts) {
        const ctrl = this.#io.read32(this.#map.AP_CTRL);
        throw new EngineError(
          `engine did not finish within ${this.#o.timeoutMs} ms (${a} attempt${a > 1 ? 's' : ''}; AP_CTRL 0x${ctrl.toString(16)}, ${this.#io.read32(this.#map.cmds_done)} commands done)`,
          'ETIMEDOUT',
        );
      }
      await this.reset();
    }
  }
}
