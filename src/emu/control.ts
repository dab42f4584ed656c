// The virtual board's control file: fault switches, the PL reset line and counters (layout: hw/emu/emu_main.cpp).
import { UserError } from '../errors.js';
import { O_CLOEXEC, O_RDWR } from '../sys/constants.js';
import type { Mapping, Sys } from '../sys/types.js';

export const CONTROL_MAGIC = 0x43454646; // "FFEC"
const W = {
  MAGIC: 0, LAYOUT: 1, FAULTS: 2, LATE_MS: 3, FLIP_MASK: 4, BUS_LO: 5, BUS_HI: 6, BUS_ANY: 7, RESET_REQ: 8, RESET_ACK: 9,
  ISR_MODE: 10, JOBS_STARTED: 11, JOBS_DONE: 12, STATE: 13, PID: 14, IRQ_EVENTS: 15, CORRUPT_MASK: 16,
} as const;
const F_HANG = 1;
const F_LATE = 2;
const F_FLIP = 4;
const F_BUSERR = 8;
const F_RESET = 16;
const F_CORRUPT = 32;

/** Fault switches, as on the `flowfpga emu --fault` command line. */
export interface EmuFaults {
  /** Never raise ap_done (until a PL reset). */
  hang?: boolean;
  /** Raise ap_done this many ms after the engine finished. */
  lateMs?: number;
  /** XOR this mask (1..255) into the first output byte of every completed command. */
  flip?: number;
  /** A corrupted tile: XOR this mask (1..255) into every output element (low byte) of every completed command. */
  corrupt?: number;
  /** Bus error: 'any' = every job with commands fails at command 0; a physical address = the first command whose
   *  declared extents (or the command itself) cover it fails. Either way status RANGE + ap_done. */
  busError?: 'any' | bigint;
  /** Hold the engine in reset: ap_start writes are lost. */
  reset?: boolean;
}

export type EmuState = 'idle' | 'running' | 'withheld' | 'reset';
const STATES: EmuState[] = ['idle', 'running', 'withheld', 'reset'];

const FAULT_HELP = 'faults: hang, late=MS, flip[=MASK], corrupt[=MASK], bus-error[=ADDR], reset';

/** Parses one `--fault` value; UserError with the accepted forms otherwise. */
export function parseFault(spec: string, into: EmuFaults = {}): EmuFaults {
  const eq = spec.indexOf('=');
  const key = eq < 0 ? spec : spec.slice(0, eq);
  const arg = eq < 0 ? undefined : spec.slice(eq + 1);
  const num = (lo: number, hi: number): number => {
    const v = arg !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(arg) ? Number(arg) : NaN;
    if (!(v >= lo && v <= hi)) throw new UserError(`--fault ${spec}: value must be ${lo}..${hi}`, FAULT_HELP);
    return v;
  };
  if ((key === 'hang' || key === 'reset') && arg === undefined) into[key] = true;
  else if (key === 'late') into.lateMs = num(0, 3_600_000);
  else if (key === 'flip') into.flip = arg === undefined ? 1 : num(1, 255);
  else if (key === 'corrupt') into.corrupt = arg === undefined ? 1 : num(1, 255);
  else if (key === 'bus-error') {
    if (arg === undefined) into.busError = 'any';
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(arg)) into.busError = BigInt(arg);
    else throw new UserError(`--fault ${spec}: '${arg}' is not an address`, FAULT_HELP);
  } else throw new UserError(`unknown fault '${spec}'`, FAULT_HELP);
  return into;
}

/** The command-line form of a fault set (what `flowfpga-emu --fault` takes). */
export function faultArgs(f: EmuFaults): string[] {
  const out: string[] = [];
  if (f.hang) out.push('hang');
  if (f.lateMs !== undefined) out.push(`late=${f.lateMs}`);
  if (f.flip !== undefined) out.push(`flip=${f.flip}`);
  if (f.corrupt !== undefined) out.push(`corrupt=${f.corrupt}`);
  if (f.busError !== undefined) out.push(f.busError === 'any' ? 'bus-error' : `bus-error=0x${f.busError.toString(16)}`);
  if (f.reset) out.push('reset');
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class EmuControl {
  readonly #map: Mapping;
  readonly #w: Int32Array;

  constructor(sys: Sys, readonly path: string) {
    const fd = sys.open(path, O_RDWR | O_CLOEXEC);
    try {
      this.#map = sys.mmap(fd, sys.pageSize, 0, { path });
    } finally {
      sys.close(fd);
    }
    this.#w = new Int32Array(this.#map.buffer(), 0, 64);
    if (this.#get(W.MAGIC) !== CONTROL_MAGIC) {
      this.#map.close();
      throw new UserError(`${path} is not a virtual board control file`, 'start the board with flowfpga emu and pass its directory');
    }
  }

  #get(i: number): number {
    return Atomics.load(this.#w, i) >>> 0;
  }
  #set(i: number, v: number): void {
    Atomics.store(this.#w, i, v | 0);
  }

  get isrMode(): 'tow' | 'cor' {
    return this.#get(W.ISR_MODE) === 1 ? 'cor' : 'tow';
  }
  get state(): EmuState {
    return STATES[this.#get(W.STATE)] ?? 'idle';
  }
  get jobsStarted(): number {
    return this.#get(W.JOBS_STARTED);
  }
  get jobsDone(): number {
    return this.#get(W.JOBS_DONE);
  }
  get irqEvents(): number {
    return this.#get(W.IRQ_EVENTS);
  }
  get pid(): number {
    return this.#get(W.PID);
  }

  faults(): EmuFaults {
    const f = this.#get(W.FAULTS);
    const out: EmuFaults = {};
    if (f & F_HANG) out.hang = true;
    if (f & F_LATE) out.lateMs = this.#get(W.LATE_MS);
    if (f & F_FLIP) out.flip = this.#get(W.FLIP_MASK);
    if (f & F_CORRUPT) out.corrupt = this.#get(W.CORRUPT_MASK);
    if (f & F_BUSERR) out.busError = this.#get(W.BUS_ANY) ? 'any' : (BigInt(this.#get(W.BUS_HI)) << 32n) | BigInt(this.#get(W.BUS_LO));
    if (f & F_RESET) out.reset = true;
    return out;
  }

  /** Replaces the fault set (takes effect at the next ap_start; `reset` and `hang` also on the running job). */
  setFaults(f: EmuFaults): void {
    let bits = 0;
    if (f.hang) bits |= F_HANG;
    if (f.lateMs !== undefined) {
      bits |= F_LATE;
      this.#set(W.LATE_MS, f.lateMs);
    }
    if (f.flip !== undefined) {
      bits |= F_FLIP;
      this.#set(W.FLIP_MASK, f.flip & 0xff);
    }
    if (f.corrupt !== undefined) {
      bits |= F_CORRUPT;
      this.#set(W.CORRUPT_MASK, f.corrupt & 0xff);
    }
    if (f.busError !== undefined) {
      bits |= F_BUSERR;
      const a = f.busError === 'any' ? 0n : f.busError;
      this.#set(W.BUS_ANY, f.busError === 'any' ? 1 : 0);
      this.#set(W.BUS_LO, Number(a & 0xffffffffn));
      this.#set(W.BUS_HI, Number(a >> 32n));
    }
    if (f.reset) bits |= F_RESET;
    this.#set(W.FAULTS, bits);
  }

  clearFaults(): void {
    this.#set(W.FAULTS, 0);
  }

  /** Pulses the PL reset: registers return to their reset values and a withheld completion is dropped. */
  async plReset(timeoutMs = 1000): Promise<void> {
    const req = (this.#get(W.RESET_REQ) + 1) >>> 0;
    this.#set(W.RESET_REQ, req);
    const deadline = performance.now() + timeoutMs;
    while (this.#get(W.RESET_ACK) !== req) {
      if (performance.now() >= deadline) {
        throw new UserError(`virtual board did not acknowledge the PL reset within ${timeoutMs} ms`, 'the emu process may have died; restart it');
      }
      await sleep(0.2);
    }
  }

  close(): void {
    this.#map.close();
  }
}
