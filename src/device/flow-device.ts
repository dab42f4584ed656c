// FlowDevice: one interface over {reference, virtual board, real board} for the CLI. The reference runs
// src/reference forward(); engine targets are implemented by the scheduler (src/scheduler) on top of EngineDevice
// and plug in through EngineFlowFactory, so this module has no dependency on the scheduler.
import { UserError } from '../errors.js';
import type { EngineCaps } from '../driver/engine.js';
import type { BoardName } from '../driver/boards.js';
import type { QModel } from '../model/types.js';
import { forward } from '../reference/forward.js';
import { EngineDevice, type EngineDeviceOptions } from './engine-device.js';
import { resolveTarget, type Target } from './resolve.js';

export interface FlowDeviceCaps {
  kind: 'ref' | 'emu' | 'board';
  board?: BoardName;
  /** Engine capability registers (engine targets). */
  engine?: EngineCaps;
  /** One line for logs: "reference (TypeScript)", "virtual board (models Ultra96-V2), 8x8 PEs", … */
  description: string;
}

export interface InferTimings {
  /** Wall time of infer(), ms. */
  totalMs: number;
  /** Engine jobs run, their summed wall time and modelled cycles (engine targets). */
  jobs?: number;
  engineMs?: number;
  cycles?: bigint;
  /** Host work outside engine jobs (tiling, copies), ms. */
  hostMs?: number;
}

/** Per-frame verification outcome (engine targets; the reference needs none). */
export interface VerifySummary {
  mode: 'off' | 'sample' | 'full';
  /** Regions recomputed with the reference, their MACs, and the host time spent, ms. */
  regions: number;
  macs: number;
  ms: number;
  mismatches: number;
  dropped: boolean;
  reruns: number;
}

export interface InferResult {
  /** int16 flow 2 × h × w at full input resolution (u plane, then v), `fracBits` fractional bits. */
  flow: Int16Array;
  h: number;
  w: number;
  fracBits: number;
  timings: InferTimings;
  verify?: VerifySummary;
}

export interface FlowDevice {
  readonly caps: FlowDeviceCaps;
  /**
   * Prepares a model for frames of h × w (weights to device memory, plans) and makes it the one infer() runs; engine
   * devices keep the two most recent (model, size) plans resident, so switching between two sizes costs no re-plan.
   */
  load(model: QModel, h: number, w: number): Promise<void>;
  /** frames: 6 × h × w codes (R1 G1 B1 R2 G2 B2). */
  infer(frames: Uint8Array): Promise<InferResult>;
  close(): Promise<void>;
}

/** What the scheduler provides to run a model on an EngineDevice. */
export type EngineFlowFactory = (engine: EngineDevice, caps: FlowDeviceCaps) => FlowDevice;

export interface OpenFlowOptions extends Omit<EngineDeviceOptions, 'board'> {
  /** 'ref', 'auto', 'emu' or a board name. */
  board: string;
  /** Needed for engine targets (src/scheduler). */
  engineFlow?: EngineFlowFactory;
  /** Where `--board auto` prints its notice (default stderr). */
  notice?: (line: string) => void;
}

/** The TypeScript reference as a device: bit-exact by definition, the baseline for every other target. */
export class RefFlowDevice implements FlowDevice {
  readonly caps: FlowDeviceCaps = { kind: 'ref', description: 'reference (TypeScript integer model)' };
  #model: QModel | undefined;
  #h = 0;
  #w = 0;

  async load(model: QModel, h: number, w: number): Promise<void> {
    this.#model = model;
    this.#h = h;
    this.#w = w;
  }

  async infer(frames: Uint8Array): Promise<InferResult> {
    if (!this.#model) throw new Error('infer() before load()');
    const t0 = performance.now();
    const r = forward(this.#model, frames, this.#h, this.#w);
    const totalMs = performance.now() - t0;
    return { flow: r.flow, h: r.h, w: r.w, fracBits: this.#model.arch.flowFracBits, timings: { totalMs, hostMs: totalMs } };
  }

  async close(): Promise<void> {
    this.#model = undefined;
  }
}

export function engineCapsLine(kind: 'emu' | 'board', title: string, c: EngineCaps): string {
  return `${title}: engine v${c.version & 0xffff} (contract ${c.version >>> 16}), ${c.peRows}x${c.peCols} PEs at ${c.clockMHz} MHz${kind === 'emu' ? ', emulated' : ''}`;
}

/** Opens the FlowDevice for `--board` (ref | auto | emu | <board>). */
export async function openFlowDevice(o: OpenFlowOptions): Promise<FlowDevice> {
  const target: Target = resolveTarget(o.board, { notice: o.notice });
  if (target.kind === 'ref') return new RefFlowDevice();
  if (!o.engineFlow) {
    throw new UserError(`--board ${o.board}: engine inference is not available in this build`, 'use --board ref, or a build that includes the scheduler');
  }
  const engine = await EngineDevice.open({ ...o, board: target.board });
  const caps: FlowDeviceCaps = {
    kind: target.kind, board: target.board, engine: engine.caps,
    description: engineCapsLine(target.kind, target.title, engine.caps),
  };
  try {
    return o.engineFlow(engine, caps);
  } catch (e) {
    await engine.close();
    throw e;
  }
}
