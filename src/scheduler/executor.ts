// CommandExecutor: what frame execution needs from an engine — DDR access and "run this command list".
// TsEngineExecutor interprets the engine's command semantics in process on a Uint8Array "DDR", with the engine's
// checks (same status codes) and its cycle model, computing each tile with the reference's tile entry points.
// The virtual board / real board plug in through DeviceExecutor (an adapter over src/device's EngineDevice).
import { copyWindow } from '../dma/window.js';
import type { QLayerParams } from '../model/types.js';
import { convTile, type ConvSpec } from '../reference/conv.js';
import { upsampleRegion } from '../reference/upsample.js';
import { CMD_BYTES, FLAG_LINEAR, FLAG_UP2_IN, FLAG_WPACK, OP_CONV, commandCycles, decodeCommand } from './cycles.js';
import type { SchedConfig } from './config.js';
import { ST_OK, checkCommand, newGeo } from './geometry.js';
import { unpackWeights } from './pack.js';

export interface RunResult {
  status: number;
  errIndex: number;
  cmdsDone: number;
  cycles: number;
}

export interface CommandExecutor {
  /** The engine build this executor runs (capabilities + cycle constants). */
  readonly config: SchedConfig;
  /** Reserves `bytes` of DDR (aligned to `align`), returns its byte address. */
  alloc(bytes: number, align?: number): number;
  write(addr: number, data: Uint8Array): void;
  /** Bytes at addr (may be a view into DDR: valid until the next run). */
  read(addr: number, len: number): Uint8Array;
  /**
   * Strided window read: `planes` × `rows` rows of `rowBytes` at addr + p·planeStride + r·rowStride, packed densely
   * (plane-major) into `out` (or a new array). On a board a read-only take of just the rows' cache lines (no clean
   * after). Optional: the verifier falls back to read().
   */
  readWindow?(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number,
    out?: Uint8Array): Uint8Array;
  /**
   * Zero-copy window: read access to the same rows (same cache maintenance as readWindow), returned as a view of
   * the window's covering span [addr, addr + span) with the rows at their strides. Valid until releaseWindow(addr,
   * span), which must come before the next run(). Optional (with releaseWindow): the verifier prefers it.
   */
  viewWindow?(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number): Uint8Array;
  releaseWindow?(addr: number, span: number): void;
  /** Runs `count` commands from cmdAddr; the window is everything this executor allocated. */
  run(cmdAddr: number, count: number): Promise<RunResult>;
}

/** A fault to inject into the interpreter's results (tests of the verifier). */
export interface InjectedFault {
  /** Flip bit `bit` of the output byte at DDR address `addr` after command `cmd` (global index within a run list). */
  kind: 'flip';
  afterCmd: number;
  addr: number;
  bit: number;
}

/** Stuck output lane: output channels with (co − co_begin) mod FF_TM = lane read `value` (all commands). */
export interface StuckLane {
  kind: 'stuck-lane';
  lane: number;
  value: number;
}

export class TsEngineExecutor implements CommandExecutor {
  ddr: Uint8Array;
  private top = 0;
  private readonly geo = newGeo();
  /** Contract-layout copy of packed (FLAG_WPACK) weights, reused across commands. */
  private unpacked = new Int8Array(0);
  faults: Array<InjectedFault | StuckLane> = [];
  /** Commands executed so far over all runs (fault trigger index). */
  executed = 0;

  constructor(readonly config: SchedConfig, capacity = 1 << 20) {
    this.ddr = new Uint8Array(capacity);
  }

  alloc(bytes: number, align = 64): number {
    const at = Math.ceil(this.top / align) * align;
    const end = at + bytes;
    if (end > this.ddr.length) {
      let cap = this.ddr.length;
      while (cap < end) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.ddr);
      this.ddr = grown;
    }
    this.top = end;
    return at;
  }

  write(addr: number, data: Uint8Array): void {
    this.ddr.set(data, addr);
  }

  read(addr: number, len: number): Uint8Array {
    return this.ddr.subarray(addr, addr + len);
  }

  readWindow(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number,
    out?: Uint8Array): Uint8Array {
    return packWindow(this.ddr, addr, planes, planeStride, rows, rowStride, rowBytes, out);
  }

  viewWindow(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number): Uint8Array {
    const span = planes * rows * rowBytes === 0 ? 0 : (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes;
    if (addr < 0 || addr + span > this.ddr.length) throw new RangeError(`viewWindow: [0x${addr.toString(16)}, 0x${(addr + span).toString(16)}) outside ${this.ddr.length} bytes`);
    return this.ddr.subarray(addr, addr + span);
  }

  releaseWindow(): void {}

  async run(cmdAddr: number, count: number): Promise<RunResult> {
    return this.runSync(cmdAddr, count);
  }

  runSync(cmdAddr: number, count: number): RunResult {
    let cycles = 0;
    const winSize = this.top;
    for (let i = 0; i < count; i++) {
      const ca = cmdAddr + i * CMD_BYTES;
      if (cmdAddr % this.config.busBytes) return { status: 7, errIndex: i, cmdsDone: i, cycles };
      if (ca + CMD_BYTES > winSize) return { status: 6, errIndex: i, cmdsDone: i, cycles };
      const c = decodeCommand(this.ddr, ca);
      cycles += this.config.rdOvh + 16 + this.config.checkCyc;
      const st = checkCommand(c, this.config, 0, winSize, this.geo);
      if (st !== ST_OK) return { status: st, errIndex: i, cmdsDone: i, cycles };
      this.execute(c);
      cycles += commandCycles(c, this.config) - (this.config.rdOvh + 16 + this.config.checkCyc);
      for (const f of this.faults) {
        if (f.kind === 'flip' && f.afterCmd === this.executed) this.ddr[f.addr] ^= 1 << f.bit;
      }
      this.executed++;
    }
    return { status: 0, errIndex: 0, cmdsDone: count, cycles };
  }

  private weightsOf(c: ReturnType<typeof decodeCommand>, kk: number): Int8Array {
    const n = c.cout * c.inC * kk;
    const raw = new Int8Array(this.ddr.buffer, this.ddr.byteOffset + c.wAddr, n);
    if (!(c.flags & FLAG_WPACK)) return raw;
    if (this.unpacked.length < n) this.unpacked = new Int8Array(n);
    const w = this.unpacked.subarray(0, n);
    unpackWeights(raw, c.cout, c.inC, kk, this.config.tn, w);
    return w;
  }

  private execute(c: ReturnType<typeof decodeCommand>): void {
    const ddr = this.ddr;
    const linear = (c.flags & FLAG_LINEAR) !== 0;
    const outPlane = c.outH * c.outW;
    if (c.opcode === OP_CONV) {
      const kk = c.k * c.k;
      // Requant block: int64 B[cout], int16 M[cout], uint8 S[cout] (little-endian, 8-byte aligned).
      const dv = new DataView(ddr.buffer, ddr.byteOffset + c.qAddr, 11 * c.cout);
      const bias = new Float64Array(c.cout);
      const mult = new Int16Array(c.cout);
      for (let m = c.coBegin; m < c.coEnd; m++) {
        bias[m] = Number(dv.getBigInt64(8 * m, true));
        mult[m] = dv.getInt16(8 * c.cout + 2 * m, true);
      }
      const params: QLayerParams = {
        weights: this.weightsOf(c, kk),
        mult,
        shift: ddr.subarray(c.qAddr + 10 * c.cout, c.qAddr + 11 * c.cout),
        bias,
      };
      const spec: ConvSpec = {
        cin: c.inC, cout: c.cout, k: c.k, stride: c.stride, mode: linear ? 'linear' : 'relu', bits: c.bits,
        upsampleInput: (c.flags & FLAG_UP2_IN) !== 0,
      };
      const input = ddr.subarray(c.inAddr, c.inAddr + c.inC * c.inH * c.inW);
      const outN = c.outCTotal * outPlane;
      const out = linear ? new Int16Array(ddr.buffer, ddr.byteOffset + c.outAddr, outN) : ddr.subarray(c.outAddr, c.outAddr + outN);
      convTile(spec, params, input, c.inH, c.inW,
        { y0: c.tileY, y1: c.tileY + c.tileH, x0: c.tileX, x1: c.tileX + c.tileW, m0: c.coBegin, m1: c.coEnd },
        out, { channelsTotal: c.outCTotal, channelOffset: c.outCOffset });
      this.applyStuck(c, out, outPlane);
      return;
    }
    const f = c.k as 2 | 4;
    const n = c.coEnd - c.coBegin;
    const inPlane = c.inH * c.inW;
    const src = linear ? new Int16Array(ddr.buffer, ddr.byteOffset + c.inAddr, c.inC * inPlane) : ddr.subarray(c.inAddr, c.inAddr + c.inC * inPlane);
    const dst = linear ? new Int16Array(ddr.buffer, ddr.byteOffset + c.outAddr, c.outCTotal * outPlane) : ddr.subarray(c.outAddr, c.outAddr + c.outCTotal * outPlane);
    upsampleRegion<Uint8Array | Int16Array>(f, n,
      { data: src, base: c.coBegin * inPlane, plane: inPlane, row: c.inW, y0: 0, x0: 0, h: c.inH, w: c.inW },
      c.tileY, c.tileY + c.tileH, c.tileX, c.tileX + c.tileW,
      { data: dst, base: (c.outCOffset + c.coBegin) * outPlane + c.tileY * c.outW + c.tileX, plane: outPlane, row: c.outW });
  }

  private applyStuck(c: ReturnType<typeof decodeCommand>, out: Uint8Array | Int16Array, plane: number): void {
    for (const f of this.faults) {
      if (f.kind !== 'stuck-lane') continue;
      for (let m = c.coBegin + f.lane; m < c.coEnd; m += this.config.tm) {
        const base = (c.outCOffset + m) * plane;
        for (let y = c.tileY; y < c.tileY + c.tileH; y++) out.fill(f.value, base + y * c.outW + c.tileX, base + y * c.outW + c.tileX + c.tileW);
      }
    }
  }
}

/**
 * What DeviceExecutor needs from src/device's EngineDevice: a DMA pool the engine's window covers, the executor's DDR
 * access (readWindow optional: DeviceExecutor falls back to one read per row), and a run of a command list in it.
 * Addresses are engine (physical) byte addresses.
 */
export type EngineDeviceLike = Omit<CommandExecutor, 'run'> & {
  /** CommandExecutor.run on the device (window = the device's DMA pool). */
  runCommands(cmdAddr: number, count: number): Promise<RunResult>;
};

/** Executor (b): the virtual or real board behind an EngineDevice. */
export class DeviceExecutor implements CommandExecutor {
  /** Present where the device has both (zero-copy windows); else the verifier uses readWindow. */
  readonly viewWindow?: (addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number) => Uint8Array;
  readonly releaseWindow?: (addr: number, span: number) => void;
  constructor(private readonly dev: EngineDeviceLike) {
    if (dev.viewWindow && dev.releaseWindow) {
      this.viewWindow = (a, p, ps, r, rs, rb) => dev.viewWindow!(a, p, ps, r, rs, rb);
      this.releaseWindow = (a, span) => dev.releaseWindow!(a, span);
    }
  }
  get config(): SchedConfig {
    return this.dev.config;
  }
  alloc(bytes: number, align = 64): number {
    return this.dev.alloc(bytes, align);
  }
  write(addr: number, data: Uint8Array): void {
    this.dev.write(addr, data);
  }
  read(addr: number, len: number): Uint8Array {
    return this.dev.read(addr, len);
  }
  readWindow(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number,
    out?: Uint8Array): Uint8Array {
    if (this.dev.readWindow) return this.dev.readWindow(addr, planes, planeStride, rows, rowStride, rowBytes, out);
    const n = planes * rows * rowBytes;
    const dst = out ?? new Uint8Array(n);
    if (dst.length < n) throw new RangeError(`readWindow: output of ${dst.length} bytes for ${n}`);
    for (let p = 0, d = 0; p < planes; p++) {
      for (let r = 0; r < rows; r++, d += rowBytes) dst.set(this.dev.read(addr + p * planeStride + r * rowStride, rowBytes), d);
    }
    return dst;
  }
  run(cmdAddr: number, count: number): Promise<RunResult> {
    return this.dev.runCommands(cmdAddr, count);
  }
}

/**
 * Copies the strided window (`planes` × `rows` rows of `rowBytes`, see CommandExecutor.readWindow) of `src` starting
 * at byte `addr` into `out`, packed plane-major. Returns `out` (or a new array).
 */
export function packWindow(src: Uint8Array, addr: number, planes: number, planeStride: number, rows: number,
  rowStride: number, rowBytes: number, out?: Uint8Array): Uint8Array {
  const n = planes * rows * rowBytes;
  const dst = out ?? new Uint8Array(n);
  if (dst.length < n) throw new RangeError(`readWindow: output of ${dst.length} bytes for ${n}`);
  if (n === 0) return dst;
  const last = addr + (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes;
  if (addr < 0 || last > src.length) throw new RangeError(`readWindow: [0x${addr.toString(16)}, 0x${last.toString(16)}) outside ${src.length} bytes`);
  copyWindow(src, addr, planes, planeStride, rows, rowStride, rowBytes, dst);
  return dst;
}
