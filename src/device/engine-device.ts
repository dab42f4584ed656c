// EngineDevice: the engine + DMA buffer pool + interrupt of one target — a real board (UIO + u-dma-buf) or the
// virtual board (the same UIO discovery and mapping over its files, its DDR file as the pool) — behind one API
// with the same behaviour and error texts. The scheduler builds command lists in buffers from alloc() and calls run().
import path from 'node:path';
import { UserError } from '../errors.js';
import { DmaAllocator, type AllocOptions, type DmaBuffer, type DmaStats } from '../dma/allocator.js';
import { ShmBackend } from '../dma/shm.js';
import { UdmabufBackend, type UdmabufOptions } from '../dma/udmabuf.js';
import type { DmaBackend } from '../dma/types.js';
import { readDmaWindow, takeDmaWindow, windowReadState, type WindowSyncStats } from '../dma/window.js';
import { getBoard, type BoardName } from '../driver/boards.js';
import { EngineDriver, EngineError, type EngineCaps, type IrqSource } from '../driver/engine.js';
import { AP_IDLE, AP_START, ENGINE_REGS, ENGINE_STATUS } from '../driver/engine-regs.js';
import type { MmioOpener } from '../driver/clocks.js';
import type { RegisterIo } from '../driver/mmio.js';
import { plResetHook } from '../driver/plreset.js';
import { lockFile } from '../driver/lock.js';
import { findUio, openDevMem, UioDevice, type UioPaths } from '../driver/uio.js';
import { EmuRegisterBus } from '../emu/bus.js';
import { EmuControl, type EmuFaults } from '../emu/control.js';
import { EmuIrq } from '../emu/irq.js';
import { readEmuInfo, startEmu, type EmuInfo, type EmuProcess } from '../emu/process.js';
import { CONTRACT_VERSION } from '../model/arch.js';
import { libcSys } from '../sys/libc.js';
import type { Sys } from '../sys/types.js';

/** Short names of the engine status codes (docs/registers.md), index = code. */
export const STATUS_NAMES = ['ok', 'opcode', 'bits', 'param', 'geometry', 'tile', 'range', 'align'] as const;

import { SYNC_CALL_BYTES } from '../dma/window.js';
export { SYNC_CALL_BYTES, planWindowSync, rangeBytes, windowLineRanges, windowSyncPerPlane, type WindowSync } from '../dma/window.js';

export interface EngineDeviceOptions {
  /** 'emu' (start a virtual board, or attach to `emuDir`) or a board name. */
  board: BoardName;
  sys?: Sys;
  /** Use the interrupt (default) or poll ap_done. */
  irq?: boolean;
  /** Default per-job timeout (ms), default 5000. */
  timeoutMs?: number;
  /** Extra attempts after a timeout, each after a reset (default 1). */
  retries?: number;
  /** Board: where to look for the UIO device (tests). */
  uio?: UioPaths;
  /** Board: which u-dma-buf, cached or not. */
  udmabuf?: UdmabufOptions;
  /** Board: physical register access for the PL reset (default /dev/mem through `sys`, which needs root). */
  mmio?: MmioOpener;
  /** Board: pulse the PS-driven PL reset on reset() (default true); false = reset() only clears interrupt state. */
  plReset?: boolean;
  /** Emu: attach to a board started by `flowfpga emu` (its directory; default $FLOWFPGA_EMU_DIR) instead of starting one. */
  emuDir?: string;
  /** Emu: options for a board started here. */
  ddrMb?: number;
  isr?: 'tow' | 'cor';
  faults?: EmuFaults;
}

export interface RunOptions {
  timeoutMs?: number;
  retries?: number;
}

export interface JobResult {
  status: number;
  /** 'ok', 'range', … (STATUS_NAMES). */
  statusName: string;
  statusText: string;
  errIndex: number;
  cmdsDone: number;
  cycles: bigint;
  /** ap_start to completion seen by the host, µs. */
  wallUs: number;
  attempts: number;
}

/** Host-side time split of the last successful job (µs), for the overhead benchmark. */
export interface JobTiming {
  /** Sync check, argument registers, ISR clear, IRQ arm, ap_start. */
  startUs: number;
  /** Waiting for completion (engine + board latency + wake-up). */
  waitUs: number;
  /** Reading status/err_index/cmds_done/cycles. */
  resultUs: number;
}

export interface EngineDeviceInfo {
  kind: 'emu' | 'board';
  board: BoardName;
  /** The register device (/dev/uioN, or the virtual board's file). */
  device: string;
  irq: boolean;
  dma: string;
  /** The pool = the engine's memory window. */
  poolPhys: bigint;
  poolSize: number;
  /** Virtual board only. */
  emu?: EmuInfo;
}

const now = (): number => performance.now();

export class EngineDevice {
  readonly #uio: UioDevice;
  readonly #io: RegisterIo;
  readonly #irq: IrqSource | undefined;
  readonly #closeIrq: (() => void) | undefined;
  readonly #driver: EngineDriver;
  readonly #pool: DmaAllocator;
  readonly #buffers = new Set<DmaBuffer>();
  readonly #emuProc: EmuProcess | undefined;
  readonly #unlock: (() => void) | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  #caps: EngineCaps | undefined;
  #closed = false;
  #jobs = 0;
  #jobUs = 0;
  lastTiming: JobTiming = { startUs: 0, waitUs: 0, resultUs: 0 };

  private constructor(
    readonly info: EngineDeviceInfo,
    parts: {
      uio: UioDevice;
      io: RegisterIo;
      irq?: IrqSource;
      closeIrq?: () => void;
      pool: DmaAllocator;
      plReset?: () => Promise<void>;
      emuProc?: EmuProcess;
      timeoutMs: number;
      retries: number;
      /** Virtual board: releases the board's lock file. */
      unlock?: () => void;
    },
    /** Virtual board only: fault switches, PL reset, counters. */
    readonly control?: EmuControl,
  ) {
    this.#uio = parts.uio;
    this.#io = parts.io;
    this.#irq = parts.irq;
    this.#closeIrq = parts.closeIrq;
    this.#pool = parts.pool;
    this.#win.syncCallBytes = parts.pool.backend.syncCallBytes ?? SYNC_CALL_BYTES;
    this.#emuProc = parts.emuProc;
    this.#unlock = parts.unlock;
    this.#timeoutMs = parts.timeoutMs;
    this.#retries = parts.retries;
    this.#driver = new EngineDriver(parts.io, {
      irq: parts.irq,
      timeoutMs: parts.timeoutMs,
      retries: parts.retries,
      plReset: parts.plReset,
      pollMs: 0.05,
    });
  }

  /** Opens the target, probes the engine (magic/version) and returns a ready device. */
  static async open(o: EngineDeviceOptions): Promise<EngineDevice> {
    const sys = o.sys ?? libcSys();
    const timeoutMs = o.timeoutMs ?? 5000;
    const retries = o.retries ?? 1;
    const board = getBoard(o.board);
    const useIrq = o.irq ?? true;
    const undo: Array<() => void | Promise<void>> = [];
    const unwind = async (): Promise<void> => {
      for (const f of undo.reverse()) {
        try {
          await f();
        } catch {
          /* keep the original error */
        }
      }
    };
    try {
      if (board.virtual) {
        let proc: EmuProcess | undefined;
        let emu: EmuInfo;
        const attach = o.emuDir ?? (process.env.FLOWFPGA_EMU_DIR || undefined);
        if (attach !== undefined) {
          emu = readEmuInfo(attach);
        } else {
          proc = await startEmu({ ddrMb: o.ddrMb, isr: o.isr, faults: o.faults });
          undo.push(() => proc!.stop());
          emu = proc.info;
        }
        // Locked before anything touches the engine: the open probe resets a busy engine, which would end another
        // process's job.
        const lockFd = lockFile(sys, path.join(emu.dir, 'lock'), `virtual board ${emu.dir}`);
        undo.push(() => sys.close(lockFd));
        const paths = { sysfsRoot: emu.sysfsRoot, devRoot: emu.devRoot };
        const uio = new UioDevice(findUio(board.uioName, paths), sys);
        undo.push(() => uio.close());
        const control = new EmuControl(sys, emu.control);
        undo.push(() => control.close());
        const m = uio.info.maps[0];
        if (!m) throw new UserError(`${uio.info.device} has no map0`, 'restart the virtual board');
        const io = new EmuRegisterBus(uio.map(0), control.isrMode, m.offset, m.size, `${uio.info.name} registers`);
        let irq: EmuIrq | undefined;
        if (useIrq) {
          irq = new EmuIrq(sys, emu.irq, uio.info.device);
          undo.push(() => irq!.close());
        }
        const pool = new DmaAllocator(new ShmBackend(sys, { path: emu.ddr, physBase: BigInt(emu.ddrBase), size: emu.ddrSize }));
        const info: EngineDeviceInfo = {
          kind: 'emu', board: board.name, device: uio.info.device, irq: useIrq, dma: 'shm',
          poolPhys: BigInt(emu.ddrBase), poolSize: emu.ddrSize, emu,
        };
        const dev = new EngineDevice(info, {
          uio, io, irq, closeIrq: irq ? () => irq!.close() : undefined, pool,
          plReset: () => control.plReset(), emuProc: proc, timeoutMs, retries, unlock: () => sys.close(lockFd),
        }, control);
        undo.length = 0;
        await dev.#openProbe();
        return dev;
      }
      const uio = new UioDevice(findUio(board.uioName, o.uio), sys);
      undo.push(() => uio.close());
      uio.lock(); // before the probe (see above); released when the fd closes
      const io = uio.registers(0);
      const backend: DmaBackend = new UdmabufBackend(sys, o.udmabuf);
      const ub = backend as UdmabufBackend;
      const pool = new DmaAllocator(backend);
      const info: EngineDeviceInfo = {
        kind: 'board', board: board.name, device: uio.info.device, irq: useIrq, dma: backend.name,
        poolPhys: ub.info.phys, poolSize: ub.info.size,
      };
      // A hung engine is only recoverable by the PS-driven PL reset (src/driver/plreset.ts); /dev/mem is opened
      // per pulse, so that users without root still run everything except recovery.
      const mmio: MmioOpener = o.mmio ?? ((phys, size, label) => openDevMem(sys, phys, size, `PL reset (${label})`));
      const plReset = o.plReset === false ? undefined : plResetHook(board.ps === 'ps7' ? 'zynq' : 'zynqmp', mmio);
      // UioDevice is the IRQ source on a board (same fd as the registers); it closes with the device.
      const dev = new EngineDevice(info, { uio, io, irq: useIrq ? uio : undefined, pool, plReset, timeoutMs, retries });
      undo.length = 0;
      await dev.#openProbe();
      return dev;
    } catch (e) {
      await unwind();
      throw e;
    }
  }

  async #openProbe(): Promise<void> {
    try {
      // A previous user may have left it busy or an interrupt pending: start from a known state.
      const ctrl = this.#io.read32(ENGINE_REGS.AP_CTRL);
      if (!(ctrl & AP_IDLE) || ctrl & AP_START) await this.#driver.reset();
      await this.probe();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('engine device used after close');
  }

  get caps(): EngineCaps {
    if (!this.#caps) throw new Error('engine device not probed');
    return this.#caps;
  }

  /** Empty run (cmd_count = 0): reads magic, version and capabilities; checks magic and the contract version. */
  async probe(o: RunOptions = {}): Promise<EngineCaps> {
    this.#check();
    const r = await this.run(0n, 0, o);
    if (r.status !== 0) throw new EngineError(`engine probe returned status ${r.status} (${r.statusText})`, 'EBADMAGIC');
    const c = this.#driver.caps();
    if (c.magic !== 0x31514646) {
      throw new EngineError(`engine magic 0x${c.magic.toString(16)} is not FFQ1 (0x31514646)`, 'EBADMAGIC');
    }
    if (c.version >>> 16 !== CONTRACT_VERSION) {
      throw new UserError(`engine implements integer contract version ${c.version >>> 16}, this runtime implements ${CONTRACT_VERSION}`, 'load a bitstream built from this release (make -C hw bitstream BOARD=<board>, then flowfpga load), or update the runtime');
    }
    this.#caps = c;
    return c;
  }

  /** A physically contiguous buffer inside the engine's window, owned by the CPU until write()/toDevice(). */
  alloc(bytes: number, o: AllocOptions = {}): DmaBuffer {
    this.#check();
    const b = this.#pool.alloc(bytes, { align: 64, ...o });
    this.#buffers.add(b);
    return b;
  }

  free(buf: DmaBuffer): void {
    this.#buffers.delete(buf);
    if (!buf.freed) buf.free();
  }

  /** Copies `data` into the buffer at `offset` and hands that range to the device (cache clean). */
  write(buf: DmaBuffer, data: ArrayBufferView, offset = 0): void {
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (buf.owner !== 'cpu') buf.toCpu(offset, src.length);
    buf.view.set(src, offset);
    buf.toDevice(offset, src.length);
  }

  /**
   * Takes [offset, offset+length) back from the device read-only (cache invalidate), copies it out, returns it to
   * the device (no clean: nothing was written).
   */
  read(buf: DmaBuffer, offset = 0, length = buf.size - offset, out?: Uint8Array): Uint8Array {
    const dst = out ?? new Uint8Array(length);
    if (dst.length < length) throw new RangeError(`read: output of ${dst.length} bytes for ${length}`);
    buf.toCpu(offset, length, 'read');
    dst.set(buf.readView.subarray(offset, offset + length));
    buf.toDevice(offset, length);
    return dst;
  }

  /**
   * What one cache-sync call costs, in bytes of cache maintenance (lines invalidated over a range): picks how
   * readWindow takes a window where the backend cannot walk windows natively (planWindowSync). Default: the
   * backend's own estimate (DmaBackend.syncCallBytes) or SYNC_CALL_BYTES; not measured on a board
   * (docs/verification.md). Irrelevant for coherent buffers and for the native window walk.
   */
  get syncCallBytes(): number {
    return this.#win.syncCallBytes;
  }
  set syncCallBytes(v: number) {
    this.#win.syncCallBytes = v;
  }
  readonly #win = windowReadState();
  /** Cache maintenance of readWindow so far: windows, calls into the backend, bytes of lines (0 when coherent). */
  get syncStats(): WindowSyncStats {
    return this.#win.stats;
  }

  /**
   * Strided read of a window: `planes` × `rows` rows of `rowBytes` at offset + p·planeStride + r·rowStride, packed
   * plane-major into `out`. A read-only take: invalidates only what planWindowSync picks — the lines of the
   * window's rows in one call where the backend takes a list, else per plane or the covering range — copies the
   * rows, and hands the buffer back without a clean (the CPU wrote nothing).
   */
  readWindow(buf: DmaBuffer, offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
    rowBytes: number, out?: Uint8Array): Uint8Array {
    return readDmaWindow(this.#pool.backend, buf, offset, planes, planeStride, rows, rowStride, rowBytes, out, this.#win);
  }

  /**
   * Zero-copy form of readWindow: takes the window's rows for reading (same maintenance) and returns a view of its
   * covering span [offset, offset + span), rows at their strides. Valid until releaseWindow(buf, offset, span);
   * run() refuses to start while a window is held. Several windows may be held at once (each takes its lines).
   */
  viewWindow(buf: DmaBuffer, offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
    rowBytes: number): Uint8Array {
    return takeDmaWindow(this.#pool.backend, buf, offset, planes, planeStride, rows, rowStride, rowBytes, this.#win);
  }

  /** Hands a window taken by viewWindow back to the device (no clean after a read-only take). */
  releaseWindow(buf: DmaBuffer, offset: number, span: number): void {
    if (buf.owner === 'cpu') buf.toDevice(offset, span);
  }

  /**
   * Runs `count` commands at physical `cmdAddr` with the window = the whole pool. Non-zero engine status is
   * returned; a timeout throws EngineError ETIMEDOUT after `retries` resets and retries, and leaves the engine
   * reset so that the next job can run.
   */
  async run(cmdAddr: bigint, count: number, o: RunOptions = {}): Promise<JobResult> {
    this.#check();
    if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) throw new RangeError(`run: command count ${count}`);
    for (const b of this.#buffers) {
      if (b.freed) this.#buffers.delete(b);
      else if (b.owner === 'cpu') {
        throw new Error(`DMA buffer '${b.label}' is owned by the CPU at run(); write() it or call toDevice() so the engine sees its bytes`);
      }
    }
    const timeoutMs = o.timeoutMs ?? this.#timeoutMs;
    const attempts = 1 + (o.retries ?? this.#retries);
    const d = this.#driver;
    const job = count === 0
      ? { cmdAddr: 0n, cmdCount: 0, winBase: 0n, winSize: 0n }
      : { cmdAddr, cmdCount: count, winBase: this.info.poolPhys, winSize: BigInt(this.info.poolSize) };
    for (let a = 1; ; a++) {
      const t0 = now();
      d.start(job);
      const t1 = now();
      const ok = await d.waitDone(timeoutMs);
      const t2 = now();
      if (ok) {
        const r = d.result(t2 - t0, a);
        const t3 = now();
        this.lastTiming = { startUs: (t1 - t0) * 1000, waitUs: (t2 - t1) * 1000, resultUs: (t3 - t2) * 1000 };
        this.#jobs++;
        this.#jobUs += (t2 - t0) * 1000;
        return {
          status: r.status, statusName: STATUS_NAMES[r.status] ?? `status${r.status}`, statusText: ENGINE_STATUS[r.status] ?? r.statusText,
          errIndex: r.errIndex, cmdsDone: r.cmdsDone, cycles: r.cycles, wallUs: (t2 - t0) * 1000, attempts: a,
        };
      }
      const ctrl = this.#io.read32(ENGINE_REGS.AP_CTRL);
      const done = this.#io.read32(ENGINE_REGS.cmds_done);
      await d.reset();
      if (a >= attempts) {
        throw new EngineError(
          `engine did not finish within ${timeoutMs} ms (${a} attempt${a > 1 ? 's' : ''}; AP_CTRL 0x${ctrl.toString(16)}, ${done} commands done)`,
          'ETIMEDOUT',
        );
      }
    }
  }

  /** Interrupts off, ISR cleared, PL reset where the target has one, engine idle (or EngineError). */
  async reset(): Promise<void> {
    this.#check();
    await this.#driver.reset();
  }

  /** Completed jobs and their summed host-side wall time (ap_start to completion, µs). */
  stats(): { jobs: number; jobUs: number; dma: DmaStats; liveBuffers: number } {
    for (const b of this.#buffers) if (b.freed) this.#buffers.delete(b);
    return { jobs: this.#jobs, jobUs: this.#jobUs, dma: this.#pool.stats(), liveBuffers: this.#buffers.size };
  }

  /** Frees the pool (reporting leaks), unmaps, closes fds, and stops a virtual board started by open(). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffers.clear();
    try {
      this.#pool.close();
    } finally {
      this.#closeIrq?.();
      this.#uio.close();
      this.control?.close();
      this.#unlock?.();
      if (this.#emuProc) await this.#emuProc.stop();
    }
  }
}
