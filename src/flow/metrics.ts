// Flow accuracy metrics (facts.md §6): EPE, flownet2's L1 and KITTI Fl-all, over valid pixels only.
import { UserError } from '../errors.js';
import { UNKNOWN_FLOW_THRESH, type FlowField } from './flo.js';

/** KITTI outlier rule: EPE > 3 px and EPE > 5 % of |gt|. */
export const FL_ABS_PX = 3;
export const FL_REL = 0.05;

/** Per-pair result. All means are over the valid pixels of this pair. */
export interface PairErrors {
  /** Mean endpoint error, px: mean of sqrt(du² + dv²). */
  epe: number;
  /** flownet2 L1: mean of |du| and |dv| over both channels, i.e. sum(|du| + |dv|) / (2·valid). */
  l1: number;
  /** KITTI Fl-all, percent of valid pixels that are outliers. */
  fl: number;
  /** Valid pixels (ground truth known and mask set). */
  valid: number;
  outliers: number;
  /** Sums behind the means, for pooling over pairs. */
  sumEpe: number;
  sumL1: number;
}

function checkSizes(pred: FlowField, gt: FlowField): void {
  if (pred.width !== gt.width || pred.height !== gt.height) {
    throw new UserError(
      `predicted flow is ${pred.width}x${pred.height} but ground truth is ${gt.width}x${gt.height}`,
      'scale the prediction back to the ground-truth resolution (flowToSource) or crop the ground truth (cropFlow)',
    );
  }
}

/**
 * Compare a prediction with ground truth. A pixel counts when the ground truth is known (not NaN, |u|,|v| <= 1e9)
 * and, if given, mask[i] != 0. A non-finite prediction at a valid pixel counts as infinite error (so EPE becomes
 * Infinity, visibly) rather than being skipped.
 */
export function flowErrors(pred: FlowField, gt: FlowField, mask?: Uint8Array): PairErrors {
  checkSizes(pred, gt);
  const n = gt.width * gt.height;
  if (mask && mask.length !== n) {
    throw new UserError(`mask has ${mask.length} pixels, flow has ${gt.width}x${gt.height} = ${n}`, 'mask and flow must have the same size');
  }
  const pu = pred.u;
  const pv = pred.v;
  const gu = gt.u;
  const gv = gt.v;
  let valid = 0;
  let outliers = 0;
  let sumEpe = 0;
  let sumL1 = 0;
  for (let i = 0; i < n; i++) {
    const u = gu[i];
    const v = gv[i];
    if (!(Math.abs(u) <= UNKNOWN_FLOW_THRESH && Math.abs(v) <= UNKNOWN_FLOW_THRESH)) continue;
    if (mask && mask[i] === 0) continue;
    let du = pu[i] - u;
    let dv = pv[i] - v;
    if (du !== du) du = Infinity;
    if (dv !== dv) dv = Infinity;
    const e = Math.sqrt(du * du + dv * dv);
    valid++;
    sumEpe += e;
    sumL1 += Math.abs(du) + Math.abs(dv);
    // e > 0.05·|gt| instead of e/|gt| > 0.05: same set, no division by a zero-length ground truth.
    if (e > FL_ABS_PX && e > FL_REL * Math.sqrt(u * u + v * v)) outliers++;
  }
  return {
    epe: valid ? sumEpe / valid : NaN,
    l1: valid ? sumL1 / (2 * valid) : NaN,
    fl: valid ? (100 * outliers) / valid : NaN,
    valid,
    outliers,
    sumEpe,
    sumL1,
  };
}

export interface ErrorSummary {
  pairs: number;
  /** Pairs that had no valid pixel (left out of the per-pair means). */
  emptyPairs: number;
  /** Valid pixels over all pairs. */
  pixels: number;
  /** Mean over pairs of each pair's mean EPE: the number FlowNet (AEE) and RAFT report for Sintel/Chairs. */
  epe: number;
  /** Mean over all valid pixels of all pairs (large or mostly valid frames weigh more). */
  epePixel: number;
  /** Per-pair mean L1 averaged over pairs (flownet2 validation). */
  l1: number;
  l1Pixel: number;
  /** Fl-all pooled over all valid pixels of all pairs, percent (KITTI devkit and RAFT convention). */
  fl: number;
  /** Per-pair Fl averaged over pairs. */
  flPair: number;
}

/**
 * Aggregate over many pairs. Both conventions are kept: per-pair means averaged over pairs (`epe`, `l1`, `flPair`)
 * and pooled over all pixels (`epePixel`, `l1Pixel`, `fl`). Report `epe` as AEE and `fl` as Fl-all.
 */
export class FlowErrorAccumulator {
  private pairs = 0;
  private emptyPairs = 0;
  private pixels = 0;
  private outliers = 0;
  private sumEpe = 0;
  private sumL1 = 0;
  private sumPairEpe = 0;
  private sumPairL1 = 0;
  private sumPairFl = 0;

  /** Add one pair; returns its own errors. */
  add(pred: FlowField, gt: FlowField, mask?: Uint8Array): PairErrors {
    const e = flowErrors(pred, gt, mask);
    this.addErrors(e);
    return e;
  }

  addErrors(e: PairErrors): void {
    this.pairs++;
    if (e.valid === 0) {
      this.emptyPairs++;
      return;
    }
    this.pixels += e.valid;
    this.outliers += e.outliers;
    this.sumEpe += e.sumEpe;
    this.sumL1 += e.sumL1;
    this.sumPairEpe += e.epe;
    this.sumPairL1 += e.l1;
    this.sumPairFl += e.fl;
  }

  summary(): ErrorSummary {
    const counted = this.pairs - this.emptyPairs;
    const px = this.pixels;
    return {
      pairs: this.pairs,
      emptyPairs: this.emptyPairs,
      pixels: px,
      epe: counted ? this.sumPairEpe / counted : NaN,
      epePixel: px ? this.sumEpe / px : NaN,
      l1: counted ? this.sumPairL1 / counted : NaN,
      l1Pixel: px ? this.sumL1 / (2 * px) : NaN,
      fl: px ? (100 * this.outliers) / px : NaN,
      flPair: counted ? this.sumPairFl / counted : NaN,
    };
  }
}
