// The loop shared by `run` and `eval`: pairs from a dataset → network input → device → flow at source resolution,
// with per-pair errors when ground truth exists. One device load per distinct network size.
import type { FlowDevice, InferResult } from '../device/index.js';
import {
  FlowErrorAccumulator,
  flowFromFixedToSource,
  prepareInput,
  type ErrorSummary,
  type FitMode,
  type FlowField,
  type FlowPair,
  type PairDataset,
  type PairErrors,
} from '../flow/index.js';
import type { QModel } from '../model/types.js';
import { mergeInfers, refinePass, secondPass, type RefinePasses, type RefineSpec } from './refine.js';

export interface PairOutcome {
  index: number;
  pair: FlowPair;
  /** Flow at the pair's own resolution, in pixels. */
  flow: FlowField;
  errors?: PairErrors;
  netSize: [number, number];
  infer: InferResult;
  /** The refinement passes' network size, count and device results (refine.ts mergeInfers), when they ran;
   *  coarseModel / refineModel name the first / refinement passes' model when it was not the job's model
   *  (--coarse-model, --refine-model). */
  refine?: { netSize: [number, number]; passes: number; infer: InferResult; coarseModel?: string; refineModel?: string };
}

export interface FlowJobOptions {
  fit: FitMode;
  /** Network size [H, W]; default: the model's trained resolution (`networkSize`). */
  size?: [number, number];
  /** Coarse-to-fine second pass (refine.ts); default off. */
  refine?: RefineSpec;
  /** The first pass's model on pairs that get the second pass (refine.ts parseCoarse); default the model. */
  coarse?: QModel;
  /** The second pass's model at its trained size (refine.ts parseSecond); default the model. */
  second?: QModel;
  /** Refinement passes per refined pair (refine.ts refinePassCount); default auto. */
  passes?: RefinePasses;
  limit?: number;
  onPair?: (o: PairOutcome) => Promise<void> | void;
}

export interface FlowJobSummary {
  pairs: number;
  /** Pairs that got the refinement passes, and how many each (undefined when none did). */
  refined: number;
  refinePasses?: number;
  errors?: ErrorSummary;
  /** Mean device time per pair (both passes when refining), ms. */
  meanInferMs: number;
  wallMs: number;
}

export async function runFlowJob(device: FlowDevice, model: QModel, data: PairDataset, o: FlowJobOptions): Promise<FlowJobSummary> {
  const acc = new FlowErrorAccumulator();
  let withGt = 0;
  let inferMs = 0;
  let refined = 0;
  const t0 = performance.now();
  const n = Math.min(data.length, o.limit ?? Infinity);
  const size = o.size ?? model.nativeSize;
  // The second pass does not depend on the frames: the same for every pair.
  const rs = secondPass(o.refine ?? 'off', [size[0], size[1]], o.fit, model, o.second, o.passes);
  const first = rs && o.coarse ? o.coarse : model; // refined pairs: the coarse-pass model first, when there is one
  for (let i = 0; i < n; i++) {
    const pair = await data.load(i);
    const input = prepareInput(pair.img1, pair.img2, { mode: o.fit, height: size[0], width: size[1] });
    await device.load(first, input.height, input.width); // a resident plan: selected, not planned again
    const r = await device.infer(input.data);
    inferMs += r.timings.totalMs;
    let flow = flowFromFixedToSource(r.flow, r.w, r.h, r.fracBits, input.mapping);
    let refine: PairOutcome['refine'];
    if (rs) {
      const infers: InferResult[] = [];
      for (let k = 0; k < rs.passes; k++) {
        const f = await refinePass(device, rs.model, pair.img1, pair.img2, flow, rs.size, o.fit);
        flow = f.flow;
        infers.push(f.infer);
      }
      const infer = mergeInfers(infers);
      refine = { netSize: rs.size, passes: rs.passes, infer, coarseModel: first === model ? undefined : first.name, refineModel: rs.model === model ? undefined : rs.model.name };
      inferMs += infer.timings.totalMs;
      refined++;
    }
    let errors: PairErrors | undefined;
    if (pair.flow) {
      errors = acc.add(flow, pair.flow, pair.valid);
      withGt++;
    }
    await o.onPair?.({ index: i, pair, flow, errors, netSize: [input.height, input.width], infer: r, refine });
  }
  return {
    pairs: n,
    refined,
    refinePasses: refined ? rs?.passes : undefined,
    errors: withGt > 0 ? acc.summary() : undefined,
    meanInferMs: n ? inferMs / n : 0,
    wallMs: performance.now() - t0,
  };
}

/**
 * The network size a job runs at: `--size` when given, else the model's trained resolution — flow from a network run
 * at twice its trained size on frames with motions to match is about twice as wrong. The line says which it is.
 */
export function networkSize(model: QModel, sizeOpt: [number, number] | undefined): { size: [number, number]; line: string } {
  if (sizeOpt) return { size: sizeOpt, line: `network size ${sizeOpt[0]}x${sizeOpt[1]} (--size)` };
  const [h, w] = model.nativeSize;
  return { size: [h, w], line: `network size ${h}x${w}: the model's trained resolution (--size HxW overrides)` };
}
