// Composition of the device layer and the scheduler: a FlowDevice that runs whole frames on an EngineDevice (virtual
// board or real board) through the planned command list, with per-frame verification. Lives in cli because it is
// the one place that may import both (device and scheduler are peers).
import { getBoard } from '../driver/boards.js';
import type { EngineDevice, EngineFlowFactory, FlowDevice, FlowDeviceCaps, InferResult } from '../device/index.js';
import type { DmaBuffer } from '../dma/index.js';
import type { QModel } from '../model/types.js';
import {
  DeviceExecutor,
  FrameRunner,
  configFromCaps,
  planNetwork,
  type EngineDeviceLike,
  type Mismatch,
  type MismatchPolicy,
  type RunResult,
  type SampleSpec,
  type SchedConfig,
  type VerifyMode,
} from '../scheduler/index.js';

/** Flat byte addresses (the engine's physical addresses) over separately allocated DMA buffers. */
/** Bytes from a window's first byte to its last: planes x rows of rowBytes at the given strides. */
const windowSpan = (planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number): number =>
  planes * rows * rowBytes === 0 ? 0 : (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes;

export class EngineAddressSpace implements EngineDeviceLike {
  readonly config: SchedConfig;
  #bufs: Array<{ base: number; end: number; buf: DmaBuffer }> = [];

  constructor(readonly engine: EngineDevice, memoryGBps: number, readonly timeoutMs?: number) {
    this.config = configFromCaps(engine.caps, memoryGBps);
  }

  alloc(bytes: number, align: number): number {
    const buf = this.engine.alloc(bytes, { align: Math.max(align, 64), label: `plan-${this.#bufs.length}` });
    // Hand the fresh buffer to the device at once: run() refuses CPU-owned buffers, and write() re-takes ranges.
    buf.toDevice(0, buf.size);
    const base = Number(buf.phys);
    this.#bufs.push({ base, end: base + bytes, buf });
    return base;
  }

  #find(addr: number, len: number): { buf: DmaBuffer; off: number } {
    for (const b of this.#bufs) if (addr >= b.base && addr + len <= b.end) return { buf: b.buf, off: addr - b.base };
    throw new RangeError(`address 0x${addr.toString(16)}+${len} is not inside one allocated engine buffer`);
  }

  write(addr: number, data: Uint8Array): void {
    const { buf, off } = this.#find(addr, data.length);
    this.engine.write(buf, data, off);
  }

  read(addr: number, len: number): Uint8Array {
    const { buf, off } = this.#find(addr, len);
    return this.engine.read(buf, off, len);
  }

  readWindow(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number,
    out?: Uint8Array): Uint8Array {
    const { buf, off } = this.#find(addr, windowSpan(planes, planeStride, rows, rowStride, rowBytes));
    return this.engine.readWindow(buf, off, planes, planeStride, rows, rowStride, rowBytes, out);
  }

  // Zero-copy window for the verifier: a read-only take of the rows' cache lines until releaseWindow.
  viewWindow(addr: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number): Uint8Array {
    const { buf, off } = this.#find(addr, windowSpan(planes, planeStride, rows, rowStride, rowBytes));
    return this.engine.viewWindow(buf, off, planes, planeStride, rows, rowStride, rowBytes);
  }

  releaseWindow(addr: number, span: number): void {
    const { buf, off } = this.#find(addr, span);
    this.engine.releaseWindow(buf, off, span);
  }

  async runCommands(cmdAddr: number, count: number): Promise<RunResult> {
    const r = await this.engine.run(BigInt(cmdAddr), count, { timeoutMs: this.timeoutMs });
    return { status: r.status, errIndex: r.errIndex, cmdsDone: r.cmdsDone, cycles: Number(r.cycles) };
  }

  freeAll(): void {
    for (const b of this.#bufs) this.engine.free(b.buf);
    this.#bufs = [];
  }
}

export interface EngineFlowOptions {
  verify: VerifyMode;
  policy: MismatchPolicy;
  timeoutMs?: number;
  onMismatch?: (m: Mismatch, frame: number) => void;
  /** `sample` regions (default verify.ts DEFAULT_SAMPLE). */
  sample?: SampleSpec;
}

/** A planned (model, size): its engine buffers and the runner over them. */
interface LoadedPlan {
  model: QModel;
  space: EngineAddressSpace;
  runner: FrameRunner;
}

/** Plans kept resident: the coarse and the refinement size of `--refine` (src/cli/refine.ts) alternate every pair. */
export const RESIDENT_PLANS = 2;

/**
 * FlowDevice over an EngineDevice: plan once per (model, size), then every infer() is one frame through the engine.
 * The last RESIDENT_PLANS plans stay in device memory, so load() of one of them only selects it.
 */
export class EngineFlowDevice implements FlowDevice {
  /** Most recently used last. */
  #plans: LoadedPlan[] = [];
  #runner: FrameRunner | undefined;
  #fracBits = 0;

  constructor(readonly engine: EngineDevice, readonly caps: FlowDeviceCaps, readonly opts: EngineFlowOptions) {}

  async load(model: QModel, h: number, w: number): Promise<void> {
    const i = this.#plans.findIndex((p) => p.model === model && p.runner.plan.h === h && p.runner.plan.w === w);
    let plan: LoadedPlan;
    if (i >= 0) {
      plan = this.#plans.splice(i, 1)[0];
    } else {
      while (this.#plans.length >= RESIDENT_PLANS) this.#plans.shift()!.space.freeAll();
      const board = getBoard(this.caps.board ?? 'emu');
      const space = new EngineAddressSpace(this.engine, board.memoryGBps, this.opts.timeoutMs);
      try {
        const runner = new FrameRunner(planNetwork(model.arch, h, w, space.config), model, new DeviceExecutor(space), {
          verify: this.opts.verify, policy: this.opts.policy, onMismatch: this.opts.onMismatch, sample: this.opts.sample,
        });
        plan = { model, space, runner };
      } catch (e) {
        space.freeAll();
        throw e;
      }
    }
    this.#plans.push(plan);
    this.#runner = plan.runner;
    this.#fracBits = model.arch.flowFracBits;
  }

  async infer(frames: Uint8Array): Promise<InferResult> {
    const runner = this.#runner;
    if (!runner) throw new Error('infer() before load()');
    const t0 = performance.now();
    const st0 = this.engine.stats();
    const r = await runner.runFrame(frames);
    const totalMs = performance.now() - t0;
    const st1 = this.engine.stats();
    return {
      flow: r.flow, h: runner.plan.h, w: runner.plan.w, fracBits: this.#fracBits,
      timings: { totalMs, jobs: st1.jobs - st0.jobs, engineMs: (st1.jobUs - st0.jobUs) / 1000, hostMs: totalMs - (st1.jobUs - st0.jobUs) / 1000, cycles: BigInt(r.cycles) },
      verify: { mode: runner.verify, regions: r.verify.regions, macs: r.verify.macs, ms: r.verify.ms, mismatches: r.mismatches.length, dropped: r.dropped, reruns: r.reruns },
    };
  }

  async close(): Promise<void> {
    for (const p of this.#plans) p.space.freeAll();
    this.#plans = [];
    this.#runner = undefined;
    await this.engine.close();
  }
}

export function engineFlowFactory(opts: EngineFlowOptions): EngineFlowFactory {
  return (engine, caps) => new EngineFlowDevice(engine, caps, opts);
}
