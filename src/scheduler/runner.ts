// Frame execution over a CommandExecutor: the plan's static region (command lists, weights, requant blocks,
// activation arena) is written once; two input/output slots, each with its own command list bound by the patch
// table, let frame N+1's input be converted and written while the engine works on frame N.
import { UserError } from '../errors.js';
import type { QModel } from '../model/types.js';
import { Prng } from '../reference/prng.js';
import { CMD_BYTES, FLAG_ACCFULL, FLAG_KPACK, FLAG_PIXLANES, type EngineCommand } from './cycles.js';
import type { CommandExecutor, RunResult } from './executor.js';
import { STATUS_NAMES } from './geometry.js';
import { bufferAddr, encodeCommands, patchIo, type Plan, type RegionBases, type StepPlan } from './plan.js';
import { packWeights } from './pack.js';
import {
  DEFAULT_SAMPLE, checkStep, type CheckStats, type DdrViews, type LaneCursor, type Mismatch, type MismatchPolicy, type SampleSpec, type VerifyMode,
} from './verify.js';

/** The static DDR image of a model for a plan: weights int8 packed per FF_TN input block (pack.ts) and B int64 / M int16 / S uint8. */
export function weightImage(plan: Plan, model: QModel): Uint8Array {
  if (model.params.length !== plan.arch.layers.length) {
    throw new UserError(`model '${model.name}' does not match the plan's architecture`, 'plan with the same model');
  }
  const img = new Uint8Array(plan.layout.weightsBytes);
  const dv = new DataView(img.buffer);
  const base = plan.layout.weightsOffset;
  plan.weights.forEach((wb, li) => {
    const p = model.params[li];
    if (p.weights.length !== wb.wBytes) throw new UserError(`model '${model.name}': layer ${plan.arch.layers[li].name} has the wrong shape`, 'plan with the same model');
    const L = plan.arch.layers[li];
    packWeights(p.weights, L.cout, L.cin, L.k * L.k, plan.cfg.tn, img, wb.wOffset - base);
    const cout = p.mult.length;
    const q = wb.qOffset - base;
    for (let c = 0; c < cout; c++) {
      dv.setBigInt64(q + 8 * c, BigInt(p.bias[c]), true);
      dv.setInt16(q + 8 * cout + 2 * c, p.mult[c], true);
      img[q + 10 * cout + c] = p.shift[c];
    }
  });
  return img;
}

export class EngineRunError extends Error {
  constructor(message: string, readonly result: RunResult) {
    super(message);
    this.name = 'EngineRunError';
  }
}

export class VerifyError extends Error {
  constructor(message: string, readonly mismatches: Mismatch[]) {
    super(message);
    this.name = 'VerifyError';
  }
}

export interface RunnerOptions {
  verify?: VerifyMode;
  policy?: MismatchPolicy;
  sample?: SampleSpec;
  seed?: number;
  /** Re-runs allowed per frame under policy 'rerun' (default 1). */
  maxReruns?: number;
  /**
   * What one executor read call costs, in bytes copied (default verify.ts READ_CALL_BYTES = 4096): the verifier
   * reads its windows per tensor, channel or row accordingly. Raise it where a read syncs caches through sysfs
   * (u-dma-buf: ~8 file writes per read), lower it for coherent buffers. Only for executors without viewWindow /
   * readWindow (with them, every window is one strided call: in place, or copying just the window).
   */
  readCallBytes?: number;
  /** Called for every mismatch (policy 'log' and before any other action). */
  onMismatch?: (m: Mismatch, frame: number) => void;
}

export interface FrameResult {
  index: number;
  /** int16 flow 2 × h × w (a copy), F = flowFracBits. */
  flow: Int16Array;
  cycles: number;
  mismatches: Mismatch[];
  /** True when the frame failed verification and the policy says not to use it. */
  dropped: boolean;
  reruns: number;
  verify: CheckStats & { ms: number };
}

interface Slot {
  input: number;
  output: number;
  cmds: number;
}

export class FrameRunner {
  readonly verify: VerifyMode;
  readonly policy: MismatchPolicy;
  readonly sample: SampleSpec;
  private readonly rng: Prng;
  /** `sample` rotates the checked channel over the engine's output lanes, across frames (verify.ts LaneCursor). */
  private readonly lanes: LaneCursor;
  private staticBase = 0;
  private slots: Slot[] = [];
  private frameNo = 0;
  totals = { frames: 0, dropped: 0, reruns: 0, mismatches: 0, cycles: 0 };

  constructor(readonly plan: Plan, readonly model: QModel, readonly exec: CommandExecutor, opts: RunnerOptions = {}) {
    this.verify = opts.verify ?? 'sample';
    this.policy = opts.policy ?? 'log';
    this.sample = opts.sample ?? DEFAULT_SAMPLE;
    this.rng = new Prng(opts.seed ?? 0x5eedf00d);
    this.lanes = { next: this.rng.int(0, plan.cfg.tm - 1) };
    this.opts = opts;
    const e = exec.config, c = plan.cfg;
    // Optional engine modes the list uses must exist on this engine (else the first such command fails: PARAM).
    let used = 0;
    for (const x of plan.cmds) used |= x.flags;
    if (e.tm !== c.tm || e.tn !== c.tn || e.ibuf !== c.ibuf || e.obuf !== c.obuf || e.sbuf !== c.sbuf ||
      (used & FLAG_PIXLANES && !e.pixLanes) || (used & FLAG_KPACK && !e.kPack) || (used & FLAG_ACCFULL && !e.accFull)) {
      throw new UserError('the plan was made for another engine build', 'plan again from the engine capability registers');
    }
    this.setup();
  }

  private readonly opts: RunnerOptions;

  /** Writes the static region and both slots' command lists (once). */
  private setup(): void {
    const { plan, exec } = this;
    this.staticBase = exec.alloc(plan.layout.staticBytes, 64);
    const list = encodeCommands(plan, this.staticBase);
    exec.write(this.staticBase + plan.layout.weightsOffset, weightImage(plan, this.model));
    for (let s = 0; s < 2; s++) {
      const input = exec.alloc(plan.layout.inputBytes, 64);
      const output = exec.alloc(plan.layout.outputBytes, 64);
      // Slot 0 uses the list in the static region; slot 1 its own copy with other I/O bindings.
      const cmds = s === 0 ? this.staticBase : exec.alloc(plan.layout.cmdBytes, 64);
      const bound = list.slice();
      patchIo(bound, plan.patches, input, output);
      exec.write(cmds, bound);
      this.slots.push({ input, output, cmds });
    }
  }

  private addrFor(slot: Slot, field: 'inAddr' | 'outAddr'): (i: number) => number {
    const patched = new Map<number, number>();
    for (const p of this.plan.patches) if (p.field === field) patched.set(p.cmd, (p.region === 'input' ? slot.input : slot.output) + p.offset);
    return (i) => patched.get(i) ?? this.staticBase + (this.plan.cmds[i] as EngineCommand)[field];
  }

  /** Converts/copies a frame pair (6 × h × w codes) into a slot: the part that overlaps the engine's work. */
  private prepare(slot: Slot, frames: Uint8Array): void {
    const need = 6 * this.plan.h * this.plan.w;
    if (frames.length !== need) {
      throw new UserError(`frames hold ${frames.length} codes, the plan expects ${need} (6x${this.plan.h}x${this.plan.w})`, 'resize the input to the planned size');
    }
    this.exec.write(slot.input, frames);
  }

  /** One pass of the command list, step by step when verifying (the check of step s runs beside step s+1). */
  private async execute(slot: Slot, stats: CheckStats): Promise<{ cycles: number; mismatches: Mismatch[] }> {
    const { plan, exec } = this;
    const mismatches: Mismatch[] = [];
    let cycles = 0;
    const fail = (r: RunResult, base: number): never => {
      const i = base + r.errIndex;
      const step = plan.steps.find((s) => s.cmdBegin <= i && i < s.cmdEnd);
      throw new EngineRunError(`engine stopped with ${STATUS_NAMES[r.status] ?? r.status} at command ${i} (${step?.name ?? '?'})`, r);
    };
    if (this.verify === 'off') {
      const r = await exec.run(slot.cmds, plan.cmds.length);
      if (r.status !== 0) fail(r, 0);
      return { cycles: r.cycles, mismatches };
    }
    const inAddr = this.addrFor(slot, 'inAddr');
    const outAddr = this.addrFor(slot, 'outAddr');
    // One strided call per window where the executor has it (one cache sync each on a board); else read().
    const readWindow = exec.readWindow
      ? (a: number, p: number, ps: number, r: number, rs: number, rb: number, o?: Uint8Array) => exec.readWindow!(a, p, ps, r, rs, rb, o)
      : undefined;
    // Zero-copy windows where the executor has them: each is released right after its use, before the next run.
    const views: DdrViews | undefined = exec.viewWindow && exec.releaseWindow
      ? { view: (a, p, ps, r, rs, rb) => exec.viewWindow!(a, p, ps, r, rs, rb), release: (a, span) => exec.releaseWindow!(a, span) }
      : undefined;
    const check = (si: number): void => {
      mismatches.push(...checkStep({
        model: this.model, plan, step: plan.steps[si], mode: this.verify as 'sample' | 'full', sample: this.sample,
        rng: this.rng, read: (a, n) => exec.read(a, n), readWindow, views, inAddr, outAddr, stats, lanes: this.lanes,
        readCallBytes: this.opts.readCallBytes,
      }));
    };
    for (let si = 0; si < plan.steps.length; si++) {
      const st = plan.steps[si];
      const running = exec.run(slot.cmds + st.cmdBegin * CMD_BYTES, st.cmdEnd - st.cmdBegin);
      // The plan keeps step si−1's input and output alive through step si (PlanOptions.keepInputs).
      if (si > 0) check(si - 1);
      const r = await running;
      if (r.status !== 0) fail(r, st.cmdBegin);
      cycles += r.cycles;
    }
    check(plan.steps.length - 1);
    return { cycles, mismatches };
  }

  private async finish(slot: Slot, index: number): Promise<FrameResult> {
    const stats: CheckStats & { ms: number } = { regions: 0, elements: 0, macs: 0, ms: 0 };
    let reruns = 0;
    const t0 = performance.now();
    let { cycles, mismatches } = await this.execute(slot, stats);
    const all: Mismatch[] = [...mismatches];
    const maxReruns = this.opts.maxReruns ?? 1;
    while (mismatches.length && this.policy === 'rerun' && reruns < maxReruns) {
      reruns++;
      ({ cycles, mismatches } = await this.execute(slot, stats));
      all.push(...mismatches);
    }
    stats.ms = performance.now() - t0;
    for (const m of all) this.opts.onMismatch?.(m, index);
    if (mismatches.length && this.policy === 'stop') {
      const m = mismatches[0];
      throw new VerifyError(`frame ${index}: engine output differs from the reference in ${m.step} command ${m.cmd} ` +
        `at c${m.at.c} y${m.at.y} x${m.at.x} (expected ${m.expected}, got ${m.got}; ${m.count} elements in the region)`, all);
    }
    const dropped = mismatches.length > 0 && this.policy !== 'log';
    const flowBytes = this.exec.read(slot.output, 2 * 2 * this.plan.h * this.plan.w);
    const flow = new Int16Array(2 * this.plan.h * this.plan.w);
    new Uint8Array(flow.buffer).set(flowBytes);
    this.totals.frames++;
    this.totals.dropped += dropped ? 1 : 0;
    this.totals.reruns += reruns;
    this.totals.mismatches += all.length;
    this.totals.cycles += cycles;
    return { index, flow, cycles, mismatches: all, dropped, reruns, verify: stats };
  }

  /** Runs one frame pair to completion. */
  async runFrame(frames: Uint8Array): Promise<FrameResult> {
    const slot = this.slots[this.frameNo & 1];
    this.prepare(slot, frames);
    return this.finish(slot, this.frameNo++);
  }

  /**
   * Runs one frame step by step (no verification) and hands each step's whole output tensor to `onStep` right after
   * the step, before a later step can reuse its arena buffer: the regression agent digests every layer this way.
   * `out` holds the step's channels only (CHW, esize bytes per element) and is valid during the call.
   */
  async runFrameSteps(frames: Uint8Array, onStep: (step: StepPlan, out: Uint8Array, cycles: number) => void): Promise<{ cycles: number }> {
    const { plan, exec } = this;
    const slot = this.slots[this.frameNo++ & 1];
    this.prepare(slot, frames);
    const base: RegionBases = { static: this.staticBase, input: slot.input, output: slot.output };
    let cycles = 0;
    for (const st of plan.steps) {
      const r = await exec.run(slot.cmds + st.cmdBegin * CMD_BYTES, st.cmdEnd - st.cmdBegin);
      if (r.status !== 0) {
        throw new EngineRunError(`engine stopped with ${STATUS_NAMES[r.status] ?? r.status} at command ${st.cmdBegin + r.errIndex} (${st.name})`, r);
      }
      cycles += r.cycles;
      const o = st.output;
      const plane = o.h * o.w * o.esize;
      onStep(st, exec.read(bufferAddr(plan, o.buffer, base) + o.chOffset * plane, o.c * plane), r.cycles);
    }
    return { cycles };
  }

  /**
   * Streams frames: while the engine runs frame N, frame N+1 is produced (`next()`, e.g. decode + netinput
   * conversion) and written to the other slot. Results are delivered in order.
   */
  async runStream(next: () => Uint8Array | undefined | Promise<Uint8Array | undefined>, onResult: (r: FrameResult) => void | Promise<void>): Promise<void> {
    let frames = await next();
    if (!frames) return;
    let slot = this.slots[this.frameNo & 1];
    this.prepare(slot, frames);
    for (;;) {
      const pending = this.finish(slot, this.frameNo++);
      const nextSlot = this.slots[this.frameNo & 1];
      // Overlap: produce and write the next input while the engine works (its promise resolves on completion).
      const produced = (async () => {
        const f = await next();
        if (f) this.prepare(nextSlot, f);
        return f;
      })();
      const [result, f] = await Promise.all([pending, produced]);
      await onResult(result);
      if (!f) return;
      frames = f;
      slot = nextSlot;
    }
  }
}
