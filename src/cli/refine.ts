// Coarse-to-fine refinement: the network first runs at its trained resolution (where the motions it was trained on
// fit), then once more at twice that size on the first frame and the second frame warped by the coarse flow: what
// is left to find is a small residual, inside the trained range, and the larger size brings back the detail the
// coarse pass lost (the network's flow is a quarter of its input size, so a pass at twice the trained size resolves
// edges twice as finely, also for frames smaller than that: they are resized up). The same model can run both
// passes; a shipped model may have a coarse-pass partner trained on heavy-tailed motion (models/<name>-coarse.ffq),
// which then runs the first pass (`--coarse-model`), and a refinement partner trained for the second pass
// (models/<name>-refine.ffq, train/refinedata.py), which runs it (`--refine-model`). A trained partner runs twice
// by default (`--refine-passes`): its second pass, on frames warped by the flow so far, finds what the first left.
// docs/accuracy.md "Refinement" has the numbers.
import type { FlowDevice, InferResult } from '../device/index.js';
import { UserError } from '../errors.js';
import { flowFromFixedToSource, prepareInput, type FitMode, type FlowField, type InputMapping, type RgbImage } from '../flow/index.js';
import { warpImage } from '../flow/warp.js';
import type { QModel } from '../model/types.js';
import { coarsePartner, refinePartner, resolveModel } from '../model/registry.js';
import { parseSize } from './parse.js';

/** `--refine`: auto (when frames are much larger than the network size), off, or an explicit network size. */
export type RefineSpec = 'auto' | 'off' | [number, number];

export function parseRefine(s: string | undefined): RefineSpec {
  if (s === undefined || s === 'auto') return 'auto';
  if (s === 'off') return 'off';
  if (/^\d+x\d+$/.test(s)) return parseSize(s);
  throw new UserError(`bad --refine '${s}'`, 'use auto, off or a network size HxW such as 384x512');
}

/** `--refine-passes`: how many refinement passes a refined pair gets, or auto (refinePassCount). */
export type RefinePasses = 'auto' | number;

/** More passes than this gain nothing (a trained partner's third is worse than its second; docs/accuracy.md). */
export const MAX_REFINE_PASSES = 4;

export function parseRefinePasses(s: string | undefined, spec: RefineSpec): RefinePasses {
  if (s === undefined || s === 'auto') return 'auto';
  if (spec === 'off') throw new UserError('--refine-passes counts the passes of a refined pair, and --refine off refines none', 'drop --refine off, or --refine-passes');
  if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= MAX_REFINE_PASSES) return Number(s);
  throw new UserError(`bad --refine-passes '${s}'`, `use auto or a count from 1 to ${MAX_REFINE_PASSES}`);
}

/**
 * auto: two passes on a trained refinement partner, one on the model itself. Trained for residuals, a partner's
 * second pass finds what its first left (real pairs -8 to -11 %, synthetic sets -1 to -5 %); an untrained model's second
 * pass makes flow worse (docs/accuracy.md "Two passes of the refinement partner").
 */
export function refinePassCount(passes: RefinePasses | undefined, onPartner: boolean): number {
  return passes === undefined || passes === 'auto' ? (onPartner ? 2 : 1) : passes;
}

/** Refuses a combination that cannot work, before any frame is computed. */
export function checkRefine(spec: RefineSpec, fit: FitMode): void {
  if (Array.isArray(spec) && fit === 'crop') {
    throw new UserError('--refine needs the whole frame\'s flow, which --fit crop does not give', 'use --fit resize or pad, or --refine off');
  }
}

/**
 * `--coarse-model`: the model of a refined pair's first pass. auto (default): the model's shipped partner
 * (coarsePartner) if it has one; same: the model itself; else a shipped name or .ffq file. Undefined = the model.
 */
export function parseCoarse(arg: string | undefined, model: QModel, spec: RefineSpec): QModel | undefined {
  if (arg === undefined || arg === 'auto') return spec === 'off' ? undefined : coarsePartner(model);
  if (arg === 'same') return undefined;
  if (spec === 'off') throw new UserError('--coarse-model runs the first pass of a refined pair, and --refine off refines none', 'drop --refine off, or --coarse-model');
  const c = resolveModel(arg);
  return c.name === model.name ? undefined : c;
}

/**
 * `--refine-model`: the model of a refined pair's second pass. auto (default): the model's shipped refinement
 * partner (refinePartner) if it has one; same: the model itself; else a shipped name or .ffq file. Undefined = the
 * model.
 */
export function parseSecond(arg: string | undefined, model: QModel, spec: RefineSpec): QModel | undefined {
  if (arg === undefined || arg === 'auto') return spec === 'off' ? undefined : refinePartner(model);
  if (arg === 'same') return undefined;
  if (spec === 'off') throw new UserError('--refine-model runs the second pass of a refined pair, and --refine off refines none', 'drop --refine off, or --refine-model');
  const r = resolveModel(arg);
  return r.name === model.name ? undefined : r;
}

/** `--refine`, `--coarse-model`, `--refine-model` and `--refine-passes` of run and eval, parsed and checked before
 *  any frame is computed. */
export interface RefineSetup {
  spec: RefineSpec;
  passes: RefinePasses;
  /** First-pass model of refined pairs when not the model itself. */
  coarse?: QModel;
  /** Second-pass model when not the model itself (a refinement partner). */
  second?: QModel;
}

export function refineSetup(refineArg: string | undefined, coarseArg: string | undefined, model: QModel, fit: FitMode,
  secondArg?: string, passesArg?: string): RefineSetup {
  const spec = parseRefine(refineArg);
  checkRefine(spec, fit);
  return { spec, passes: parseRefinePasses(passesArg, spec), coarse: parseCoarse(coarseArg, model, spec), second: parseSecond(secondArg, model, spec) };
}

/**
 * The refinement pass's network size after a coarse pass at net = [h, w], or undefined when there is none. auto
 * (resize fitting only): twice the coarse size, whatever the frames' size: at 256x192 frames and a 192x256 network
 * that pass, on frames resized up, is 11-23 % better than one at the frames' size on every held-out set
 * (docs/accuracy.md "The second pass at twice the trained size").
 */
export function refineSize(spec: RefineSpec, net: [number, number], fit: FitMode): [number, number] | undefined {
  if (spec === 'off') return undefined;
  if (Array.isArray(spec)) {
    checkRefine(spec, fit);
    return spec;
  }
  return fit === 'resize' ? [2 * net[0], 2 * net[1]] : undefined;
}

/** A pair's refinement: its network size, model and number of passes, or undefined when the pair gets one pass. */
export interface SecondPass {
  size: [number, number];
  model: QModel;
  passes: number;
}

/**
 * A pair's refinement: refineSize's, on the refinement model where there is one (it was trained for that pass;
 * docs/accuracy.md "A trained second pass"): every second pass, or with meta.refine_scope "trained-size" those at
 * its trained size; else on the model itself. `passes` of them (refinePassCount).
 */
export function secondPass(spec: RefineSpec, net: [number, number], fit: FitMode, model: QModel, second?: QModel,
  passes?: RefinePasses): SecondPass | undefined {
  const size = refineSize(spec, net, fit);
  if (!size) return undefined;
  const on = second && runsSecondAt(second, size) ? second : model;
  return { size, model: on, passes: refinePassCount(passes, on !== model) };
}

/** Whether refinement model `second` runs a second pass at `size` (refinesEvery, or its trained size). */
function runsSecondAt(second: QModel, size: [number, number]): boolean {
  return refinesEvery(second) || (second.nativeSize[0] === size[0] && second.nativeSize[1] === size[1]);
}

/** meta.refine_scope "trained-size": a refinement model that runs second passes at its trained size only (where
 *  it was measured worse than the model itself at other sizes); otherwise it runs every second pass. */
function refinesEvery(second: QModel): boolean {
  return second.meta.refine_scope !== 'trained-size';
}

/** The announcing line for the refinement setting, said once before the first pair. */
export function refineLine(spec: RefineSpec, net: [number, number], fit: FitMode, coarse?: string, second?: QModel,
  passes?: RefinePasses): string {
  if (spec === 'off') return 'refinement off (--refine): one pass at the network size';
  const size = refineSize(spec, net, fit);
  if (!size) return 'refinement off: --refine auto needs --fit resize';
  const n = refinePassCount(passes, !!second && runsSecondAt(second, size));
  const how = Array.isArray(spec) ? '(--refine' : `(--refine auto: twice the network size; --refine HxW: another size, off: one pass`;
  const count = n > 1 && (passes === undefined || passes === 'auto') ? '; --refine-passes 1: one, faster' : '';
  const hints = `${sameHint(coarse)}${second && spec === 'auto' ? '; --refine-model same: the model itself' : ''}${count})`;
  const what = n > 1 ? `${n} refinement passes` : 'a second pass';
  const on = n > 1 ? 'each on the frames warped by the flow so far' : 'on the frames warped by the first';
  return `refinement: every pair gets ${what} at ${size[0]}x${size[1]}${onSecond(second, size)}${n > 1 ? ',' : ''} ${on}${firstPass(coarse)} ${how}${hints}`;
}

const firstPass = (coarse: string | undefined): string => (coarse ? `, whose first pass runs ${coarse}` : '');
const onSecond = (second: QModel | undefined, size: [number, number]): string =>
  (second && runsSecondAt(second, size) ? ` on ${second.name} (trained for it)` : '');
const sameHint = (coarse: string | undefined): string => (coarse ? '; --coarse-model same: one model for both' : '');

export interface RefineResult {
  /** coarse + residual, at the frames' size. */
  flow: FlowField;
  /** The residual pass's device result. */
  infer: InferResult;
  /** The fitted input (6 x h x w) the residual pass ran on, for a reference recompute. */
  input: Uint8Array;
  /** How the frames were fitted to the residual pass (to bring a recomputed residual back). */
  mapping: InputMapping;
  netSize: [number, number];
}

/**
 * Second pass: img2 warped by `coarse` (flow at the frames' size), fitted to `size`, through the device; the
 * residual it returns is added to the coarse flow.
 */
export async function refinePass(device: FlowDevice, model: QModel, img1: RgbImage, img2: RgbImage, coarse: FlowField,
  size: [number, number], fit: FitMode): Promise<RefineResult> {
  const input = prepareInput(img1, warpImage(img2, coarse), { mode: fit, height: size[0], width: size[1] });
  await device.load(model, input.height, input.width);
  const infer = await device.infer(input.data);
  return { flow: addResidual(coarse, infer.flow, infer, input.mapping), infer, input: input.data, mapping: input.mapping, netSize: [input.height, input.width] };
}

/** The refinement passes' device results as one (their timings and verification summed; the last pass's flow). */
export function mergeInfers(list: InferResult[]): InferResult {
  const last = list[list.length - 1];
  if (list.length === 1) return last;
  const sum = (f: (r: InferResult) => number | undefined): number | undefined =>
    list.some((r) => f(r) !== undefined) ? list.reduce((a, r) => a + (f(r) ?? 0), 0) : undefined;
  const timings: InferResult['timings'] = { totalMs: sum((r) => r.timings.totalMs)! };
  const jobs = sum((r) => r.timings.jobs);
  const engineMs = sum((r) => r.timings.engineMs);
  const hostMs = sum((r) => r.timings.hostMs);
  if (jobs !== undefined) timings.jobs = jobs;
  if (engineMs !== undefined) timings.engineMs = engineMs;
  if (hostMs !== undefined) timings.hostMs = hostMs;
  if (list.some((r) => r.timings.cycles !== undefined)) timings.cycles = list.reduce((a, r) => a + (r.timings.cycles ?? 0n), 0n);
  const vs = list.map((r) => r.verify).filter((v): v is NonNullable<InferResult['verify']> => !!v);
  const verify = vs.length ? {
    mode: vs[0].mode, regions: vs.reduce((a, v) => a + v.regions, 0), macs: vs.reduce((a, v) => a + v.macs, 0), ms: vs.reduce((a, v) => a + v.ms, 0),
    mismatches: vs.reduce((a, v) => a + v.mismatches, 0), dropped: vs.some((v) => v.dropped), reruns: vs.reduce((a, v) => a + v.reruns, 0),
  } : undefined;
  return { ...last, timings, ...(verify ? { verify } : {}) };
}

/** coarse + the residual pass's int16 flow brought back to the frames' size (float32 sums, as train/refine.py). */
export function addResidual(coarse: FlowField, fixed: Int16Array, r: { w: number; h: number; fracBits: number },
  mapping: InputMapping): FlowField {
  // The residual's planes are fresh and the frames' size (refinement refuses --fit crop): the sum goes into them.
  const res = flowFromFixedToSource(fixed, r.w, r.h, r.fracBits, mapping);
  sumPlanes(coarse.u, res.u, res.u);
  sumPlanes(coarse.v, res.v, res.v);
  return res;
}

function sumPlanes(a: Float32Array, b: Float32Array, d: Float32Array): void {
  for (let i = 0; i < d.length; i++) d[i] = a[i] + b[i];
}
