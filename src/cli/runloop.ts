// The run loop: frame pairs from a feed (a FrameSource sequence — camera, video, folder — or a dataset of pairs)
// → network input (fitPlanes, one pass per frame) → device → flow at the frames' resolution → observers.
//
// Observer hook (what `--serve`, systemd notify, the status line and the file writer plug into):
//   runLoop(device, model, feed, { observers: [{ onStart, onFrame, onEnd }] })
// Observers are called in list order and awaited; an observer that throws stops the run with that error.
// `onFrame(e)` gets one FrameEvent per computed pair: `e.first.rgb()` / `e.second.rgb()` give the frames' pixels
// (valid only during the call: the frame is released afterwards — copy what you keep), `e.flow` the flow in pixels
// at the frames' resolution (undefined when the pair was dropped; valid only during the call too: its planes receive
// the next pair's flow, which spares 1.5 MB of fresh memory per 384x512 pair — copy what you keep), `e.timings` per
// stage in ms, `e.verify` the verification state. The file writer is the first observer and appends what it wrote to `e.files`.
import type { FlowDevice, InferResult } from '../device/index.js';
import {
  FlowErrorAccumulator,
  flowFromFixedToSource,
  planInput,
  sourceFlowSize,
  type ErrorSummary,
  type FitMode,
  type FlowField,
  type InputMapping,
  type PairDataset,
  type PairErrors,
} from '../flow/index.js';
import { imageFrame } from '../flow/fit.js';
import type { FrameSource, SourceFrame } from '../flow/source.js';
import type { QModel } from '../model/types.js';
import { forward } from '../reference/forward.js';
import { addResidual, mergeInfers, refinePass, secondPass, type RefinePasses, type RefineSpec } from './refine.js';

/** One pair of frames to compute; `gt`/`valid` where the input has ground truth. */
export interface PairInput {
  id: string;
  first: SourceFrame;
  second: SourceFrame;
  gt?: FlowField;
  valid?: Uint8Array;
}

/** Where pairs come from. */
export interface PairFeed {
  readonly description: string;
  /** Pairs this feed will yield when known in advance (after limits); undefined for a live camera. */
  readonly pairs?: number;
  /** The ids of all pairs when known in advance (output names are checked against the inputs before running). */
  readonly ids?: readonly string[];
  next(): Promise<PairInput | null>;
  /** The loop is done with a pair (its outputs are written): frames no longer needed are released. */
  done(p: PairInput): void;
  close(): Promise<void>;
}

/**
 * Consecutive frames of a source as pairs (i, i+1). A frame is held until both pairs using it are written: pair i's
 * done() releases frame i, frame i+1 stays for pair i+1. `maxFrames` limits frames taken (N frames → N−1 pairs).
 */
export function sequenceFeed(src: FrameSource, o: { maxFrames?: number; maxPairs?: number; idOf?: (index: number) => string } = {}): PairFeed {
  const idOf = o.idOf ?? ((i: number) => String(i).padStart(6, '0'));
  const frameCap = Math.min(o.maxFrames ?? Infinity, (o.maxPairs ?? Infinity) + 1);
  const available = src.length !== undefined ? Math.min(src.length, frameCap) : frameCap;
  const pairs = Number.isFinite(available) ? Math.max(0, available - 1) : undefined;
  let prev: SourceFrame | null = null;
  let taken = 0;
  let closed = false;
  const ids = pairs !== undefined && src.length !== undefined ? Array.from({ length: pairs }, (_, i) => idOf(i)) : undefined;
  return {
    description: src.description,
    pairs,
    ids,
    async next() {
      if (closed) return null;
      if (!prev) {
        if (taken >= frameCap) return null;
        prev = await src.next();
        if (!prev) return null;
        taken++;
      }
      if (taken >= frameCap) return null;
      const cur = await src.next();
      if (!cur) return null;
      taken++;
      const p: PairInput = { id: idOf(prev.index), first: prev, second: cur };
      prev = cur;
      return p;
    },
    done(p) {
      p.first.release();
    },
    async close() {
      closed = true;
      prev?.release();
      prev = null;
      await src.close();
    },
  };
}

/** A dataset of pairs (FlyingChairs, Sintel, --pair) with ground truth where it exists. */
export function datasetFeed(data: PairDataset, limit?: number): PairFeed {
  const n = Math.min(data.length, limit ?? Infinity);
  let i = 0;
  return {
    description: data.name,
    pairs: n,
    ids: data.entries.slice(0, n).map((e) => e.id),
    async next() {
      if (i >= n) return null;
      const p = await data.load(i);
      const k = i++;
      return { id: p.id, first: imageFrame(p.img1, 2 * k), second: imageFrame(p.img2, 2 * k + 1), gt: p.flow, valid: p.valid };
    },
    done(p) {
      p.first.release();
      p.second.release();
    },
    async close() {
      i = n;
    },
  };
}

export type MismatchPolicy = 'log' | 'drop' | 'rerun' | 'stop';

/**
 * ok: verified, no mismatch · off: not verified (the reference, or --verify off) · mismatch: mismatches found, frame
 * kept (policy log) · dropped: not written, not counted · recomputed: the engine kept failing, the flow is the
 * reference's.
 */
export type VerifyState = 'ok' | 'off' | 'mismatch' | 'dropped' | 'recomputed';

export interface FrameTimings {
  /** Fitting both frames into the network input. */
  fitMs: number;
  /** device.infer(): engine jobs plus per-frame verification (`verifyMs` of it). */
  inferMs: number;
  /** Summed wall time of the engine jobs (engine targets; 0 for the reference). */
  engineMs: number;
  /** Host time inside infer() outside engine jobs: verification, command patching, copies (the reference: all). */
  hostMs: number;
  /** What the device reports as its verification time (the runner counts the whole verified pass). */
  verifyMs: number;
  /** Reference recompute of a pair the engine kept failing (policy rerun). */
  recomputeMs: number;
  /** The refinement passes (warp, fit, device, residual; refine.ts), 0 without them; their device time is also in
   *  inferMs/engineMs/hostMs/verifyMs. */
  refineMs: number;
  /** Fixed-point flow → flow in pixels at the frames' resolution, plus metrics. */
  flowMs: number;
  /** Waiting for the source (decode, camera). */
  sourceMs: number;
  /** Pair start to the observers' call. */
  totalMs: number;
  /** Pairs per second, smoothed over the last pairs. */
  fps: number;
}

export interface FrameEvent {
  /** 0-based position among computed pairs (dropped ones included). */
  index: number;
  id: string;
  /** The frames; rgb() valid only during onFrame. */
  first: SourceFrame;
  second: SourceFrame;
  netSize: [number, number];
  mapping: InputMapping;
  /** Flow in pixels at the frames' resolution; undefined when dropped. */
  flow?: FlowField;
  /** Ground-truth errors (inputs with ground truth, not for dropped pairs). */
  errors?: PairErrors;
  timings: FrameTimings;
  verify: { mode: 'off' | 'sample' | 'full'; state: VerifyState; mismatches: number; reruns: number; regions: number };
  infer: InferResult;
  /** The refinement passes' network size, count and device results (refine.ts mergeInfers), when they ran;
   *  coarseModel / refineModel name the first / refinement passes' model when it was not the run's model
   *  (--coarse-model, --refine-model). */
  refine?: { netSize: [number, number]; passes: number; infer: InferResult; coarseModel?: string; refineModel?: string };
  /** Output files written for this pair (filled by the writer observer). */
  files: string[];
}

export interface RunStart {
  device: string;
  model: string;
  source: string;
  /** Pairs to compute when known in advance. */
  pairs?: number;
  netSize: [number, number];
}

export interface RunSummary {
  /** Pairs computed (including dropped ones). */
  computed: number;
  /** Pairs whose flow was delivered (written and counted): computed − dropped. */
  pairs: number;
  dropped: number;
  /** Pairs recomputed on the reference after the engine kept failing verification. */
  recomputed: number;
  /** Pairs with verification mismatches (whatever the policy did with them), and the mismatch count. */
  mismatchPairs: number;
  mismatches: number;
  errors?: ErrorSummary;
  meanInferMs: number;
  wallMs: number;
  /** Set when a signal stopped the run early. */
  stoppedBy?: string;
}

export interface RunObserver {
  onStart?(s: RunStart): void | Promise<void>;
  onFrame?(e: FrameEvent): void | Promise<void>;
  onEnd?(s: RunSummary): void | Promise<void>;
}

export interface RunLoopOptions {
  fit: FitMode;
  /** Network size [H, W] (flowjob.ts networkSize). */
  size: [number, number];
  /** Coarse-to-fine second pass (refine.ts); default off. */
  refine?: RefineSpec;
  /** The first pass's model on pairs that get the second pass (refine.ts parseCoarse); default the model. */
  coarse?: QModel;
  /** The second pass's model at its trained size (refine.ts parseSecond); default the model. */
  second?: QModel;
  /** Refinement passes per refined pair (refine.ts refinePassCount); default auto. */
  passes?: RefinePasses;
  /** What the device was told to do on a verification mismatch; 'rerun' falls back to the reference here. */
  policy: MismatchPolicy;
  observers?: RunObserver[];
  /** Aborting stops the loop after the pair in flight (its outputs complete); a pending source wait ends at once. */
  signal?: AbortSignal;
}

/** Runs every pair of `feed` (the feed is closed on return and on error; the device is the caller's). */
export async function runLoop(device: FlowDevice, model: QModel, feed: PairFeed, o: RunLoopOptions): Promise<RunSummary> {
  const observers = o.observers ?? [];
  const acc = new FlowErrorAccumulator();
  const s: RunSummary = { computed: 0, pairs: 0, dropped: 0, recomputed: 0, mismatchPairs: 0, mismatches: 0, meanInferMs: 0, wallMs: 0 };
  let withGt = 0;
  let inferMs = 0;
  let fps = 0;
  let lastDone = 0;
  // The last delivered e.flow: every observer has returned, so its planes take the next pair's flow.
  let spare: FlowField | undefined;
  const t0 = performance.now();
  const [nh, nw] = o.size;
  const input = new Uint8Array(6 * nh * nw);
  let mapping: InputMapping | undefined;
  let lastSecond: SourceFrame | undefined;
  let lastMapping: InputMapping | undefined;
  let loaded: QModel | undefined;
  const aborted = new Promise<null>((res) => {
    if (o.signal?.aborted) res(null);
    o.signal?.addEventListener('abort', () => res(null), { once: true });
  });
  try {
    for (const ob of observers) await ob.onStart?.({ device: device.caps.description, model: model.name, source: feed.description, pairs: feed.pairs, netSize: [nh, nw] });
    // The second pass does not depend on the frames: the same for every pair. A refined pair runs its first pass on
    // the coarse-pass model when there is one.
    const rs = secondPass(o.refine ?? 'off', [nh, nw], o.fit, model, o.second, o.passes);
    const first = rs && o.coarse ? o.coarse : model;
    for (;;) {
      if (o.signal?.aborted) break;
      const tw = performance.now();
      // If the abort wins, the source's pending wait may still reject when the source is closed; race() has
      // subscribed to it, so that is no unhandled rejection (tested).
      const p = await Promise.race([feed.next(), aborted]);
      if (!p) break;
      const tStart = performance.now();
      try {
        if (!mapping || mapping.srcWidth !== p.first.width || mapping.srcHeight !== p.first.height) {
          mapping = planInput(p.first.width, p.first.height, { mode: o.fit, height: nh, width: nw });
        }
        // The first frame of this pair was the second of the previous one, fitted by the same mapping: its planes
        // move within the input (no second pass over the source buffer); otherwise it is fitted from its source.
        const plane3 = 3 * nh * nw;
        if (p.first === lastSecond && mapping === lastMapping) input.copyWithin(0, plane3, 2 * plane3);
        else p.first.fitPlanes(mapping, input, 0);
        p.second.fitPlanes(mapping, input, plane3);
        lastSecond = p.second;
        lastMapping = mapping;
        const tFit = performance.now();
        if (loaded !== first) {
          await device.load(first, nh, nw);
          loaded = first;
        }
        const tLoad = performance.now();
        const r = await device.infer(input);
        const tInfer = performance.now();
        const v = r.verify;
        let state: VerifyState = !v || v.mode === 'off' ? 'off' : v.mismatches ? 'mismatch' : 'ok';
        let fixed = r.flow;
        let recomputeMs = 0;
        if (v?.mismatches) {
          s.mismatchPairs++;
          s.mismatches += v.mismatches;
        }
        if (v?.dropped) {
          if (o.policy === 'rerun') {
            // The engine failed its re-run too: the reference computes the pair (bit-exact by the contract).
            const tr = performance.now();
            fixed = forward(first, input, nh, nw).flow;
            recomputeMs = performance.now() - tr;
            state = 'recomputed';
            s.recomputed++;
          } else {
            state = 'dropped';
          }
        } else if (v?.reruns && !v.dropped && v.mismatches) {
          state = 'recomputed'; // a re-run on the engine passed verification
          s.recomputed++;
        }
        s.computed++;
        let flow: FlowField | undefined;
        let errors: PairErrors | undefined;
        let refine: FrameEvent['refine'];
        let refineMs = 0;
        let v2: InferResult['verify'];
        if (state !== 'dropped') {
          const size = sourceFlowSize(mapping);
          const out = spare && spare.width === size.width && spare.height === size.height ? spare : undefined;
          flow = flowFromFixedToSource(fixed, r.w, r.h, r.fracBits, mapping, { out });
          if (rs) {
            const tr = performance.now();
            let refineRecomputeMs = 0;
            let counted = !!v?.mismatches;
            const infers: InferResult[] = [];
            const img1 = p.first.rgb();
            const img2 = p.second.rgb();
            // Each pass warps by the flow so far; a pass the engine kept failing is recomputed (policy rerun) or
            // drops the pair, as the first pass's are.
            for (let k = 0; k < rs.passes && flow; k++) {
              const f = await refinePass(device, rs.model, img1, img2, flow, rs.size, o.fit);
              infers.push(f.infer);
              const vk = f.infer.verify;
              if (vk?.mismatches) {
                if (!counted) s.mismatchPairs++;
                counted = true;
                s.mismatches += vk.mismatches;
                if (state === 'ok') state = 'mismatch';
              }
              if (vk?.dropped && o.policy !== 'rerun') {
                state = 'dropped';
                flow = undefined;
              } else if (vk?.dropped) {
                const t = performance.now();
                const ref = forward(rs.model, f.input, f.netSize[0], f.netSize[1]);
                flow = addResidual(flow, ref.flow, { w: ref.w, h: ref.h, fracBits: rs.model.arch.flowFracBits }, f.mapping);
                refineRecomputeMs += performance.now() - t;
                if (state !== 'recomputed') s.recomputed++;
                state = 'recomputed';
              } else {
                flow = f.flow;
                if (vk?.reruns && vk.mismatches && state !== 'recomputed') {
                  state = 'recomputed';
                  s.recomputed++;
                }
              }
            }
            const infer = mergeInfers(infers);
            refine = { netSize: rs.size, passes: infers.length, infer, coarseModel: first === model ? undefined : first.name, refineModel: rs.model === model ? undefined : rs.model.name };
            v2 = infer.verify;
            await device.load(first, nh, nw); // select the first pass's plan again (resident: no re-plan)
            // the pass's own reference recompute counts as recompute, not refinement (the coarse one is already in it)
            refineMs = performance.now() - tr - refineRecomputeMs;
            recomputeMs += refineRecomputeMs;
          }
        }
        if (state === 'dropped') {
          s.dropped++;
        } else if (flow) {
          if (p.gt) {
            errors = acc.add(flow, p.gt, p.valid);
            withGt++;
          }
          s.pairs++;
          inferMs += r.timings.totalMs + (refine?.infer.timings.totalMs ?? 0);
        }
        const tFlow = performance.now();
        const verifyMs = v?.ms ?? 0;
        const ri = refine?.infer.timings;
        const total = tFlow - tStart - (tLoad - tFit);
        const gap = lastDone ? tFlow - lastDone : total;
        lastDone = tFlow;
        fps = fps ? 0.8 * fps + 0.2 * (1000 / gap) : 1000 / gap;
        const e: FrameEvent = {
          index: s.computed - 1, id: p.id, first: p.first, second: p.second, netSize: [nh, nw], mapping, flow, errors, infer: r,
          refine,
          timings: {
            fitMs: tFit - tStart, inferMs: tInfer - tLoad + (ri?.totalMs ?? 0), engineMs: (r.timings.engineMs ?? 0) + (ri?.engineMs ?? 0),
            hostMs: (r.timings.hostMs ?? Math.max(0, tInfer - tLoad - (r.timings.engineMs ?? 0))) + (ri ? ri.hostMs ?? ri.totalMs - (ri.engineMs ?? 0) : 0),
            verifyMs: verifyMs + (v2?.ms ?? 0), recomputeMs, refineMs, flowMs: tFlow - tInfer - recomputeMs - refineMs, sourceMs: tStart - tw, totalMs: total, fps,
          },
          verify: {
            mode: v?.mode ?? 'off', state, mismatches: (v?.mismatches ?? 0) + (v2?.mismatches ?? 0), reruns: (v?.reruns ?? 0) + (v2?.reruns ?? 0),
            regions: (v?.regions ?? 0) + (v2?.regions ?? 0),
          },
          files: [],
        };
        for (const ob of observers) await ob.onFrame?.(e);
        if (flow) spare = flow;
      } finally {
        feed.done(p);
      }
    }
  } finally {
    await feed.close();
  }
  if (o.signal?.aborted) s.stoppedBy = String(o.signal.reason ?? 'abort');
  s.errors = withGt > 0 ? acc.summary() : undefined;
  s.meanInferMs = s.pairs ? inferMs / s.pairs : 0;
  s.wallMs = performance.now() - t0;
  for (const ob of observers) await ob.onEnd?.(s);
  return s;
}
