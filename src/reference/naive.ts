// Slow, literal transcriptions of the contract formulas (BigInt requantization, per-element loops, bilinear weights
// from the source-coordinate formula rather than tap tables, concatenation by copying). An independent oracle for
// tests of the fast reference and of other engines; never use it on real sizes.
import { FRAMES, layerShapes } from '../model/arch.js';
import type { QModel } from '../model/types.js';

export interface NaiveConvArgs {
  input: ArrayLike<number>;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  weights: ArrayLike<number>;
  mult: ArrayLike<number>;
  shift: ArrayLike<number>;
  bias: ArrayLike<number>;
  /** 'relu' clamps to [0, 2^bits − 1], 'linear' to int16. */
  mode: 'relu' | 'linear';
  bits: number;
}

/** Raw int32 accumulators (contract 2.1 `acc`), Cout × Hout × Wout. */
export function naiveAccumulators(a: NaiveConvArgs): { acc: number[]; ho: number; wo: number } {
  const p = (a.k - 1) / 2;
  const ho = Math.floor((a.h + 2 * p - a.k) / a.stride) + 1;
  const wo = Math.floor((a.w + 2 * p - a.k) / a.stride) + 1;
  const acc: number[] = [];
  for (let m = 0; m < a.cout; m++) {
    for (let y = 0; y < ho; y++) {
      for (let x = 0; x < wo; x++) {
        let sum = 0;
        for (let ci = 0; ci < a.cin; ci++) {
          for (let ky = 0; ky < a.k; ky++) {
            for (let kx = 0; kx < a.k; kx++) {
              const iy = y * a.stride + ky - p;
              const ix = x * a.stride + kx - p;
              if (iy < 0 || iy >= a.h || ix < 0 || ix >= a.w) continue;
              sum += a.input[(ci * a.h + iy) * a.w + ix] * a.weights[((m * a.cin + ci) * a.k + ky) * a.k + kx];
            }
          }
        }
        if (sum > 2147483647 || sum < -2147483648) throw new RangeError('accumulator leaves int32');
        acc.push(sum);
      }
    }
  }
  return { acc, ho, wo };
}

/** Contract 2.1/2.2 output, Cout × Hout × Wout, with t and the shift done in BigInt. */
export function naiveConv(a: NaiveConvArgs): { out: number[]; ho: number; wo: number } {
  const { acc, ho, wo } = naiveAccumulators(a);
  const plane = ho * wo;
  const lo = a.mode === 'linear' ? -32768n : 0n;
  const hi = a.mode === 'linear' ? 32767n : (1n << BigInt(a.bits)) - 1n;
  const out = acc.map((v, i) => {
    const m = Math.floor(i / plane);
    const t = BigInt(v) * BigInt(a.mult[m]) + BigInt(a.bias[m]);
    const q = t >> BigInt(a.shift[m]);
    return Number(q < lo ? lo : q > hi ? hi : q);
  });
  return { out, ho, wo };
}

/**
 * Bilinear up-sampling by `factor` (2 or 4), align_corners = false: output i samples (i + ½)/f − ½ = (2i + 1 − f)/(2f),
 * so weights are in units of 1/(2f), 2-D weights multiply and there is one round-half-up at the end.
 */
export function naiveUpsample(factor: 2 | 4, input: ArrayLike<number>, c: number, h: number, w: number): number[] {
  const den = 2 * factor;
  const taps = (i: number, len: number): Array<[number, number]> => {
    const num = 2 * i + 1 - factor;
    const i0 = Math.floor(num / den);
    const frac = num - den * i0;
    const cl = (v: number) => Math.min(len - 1, Math.max(0, v));
    return [[cl(i0), den - frac], [cl(i0 + 1), frac]];
  };
  const norm = BigInt(den * den);
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < factor * h; y++) {
      for (let x = 0; x < factor * w; x++) {
        let sum = 0n;
        for (const [ty, wy] of taps(y, h)) {
          for (const [tx, wx] of taps(x, w)) sum += BigInt(wy * wx) * BigInt(input[(ch * h + ty) * w + tx]);
        }
        // floor((sum + norm/2) / norm); BigInt division truncates, so adjust for negatives.
        const n = sum + norm / 2n;
        let q = n / norm;
        if (n < 0n && q * norm !== n) q -= 1n;
        out.push(Number(q));
      }
    }
  }
  return out;
}

/** The whole network, built from the naive ops with concatenation by copying. Returns flow (2 × h × w) and layers. */
export function naiveForward(model: QModel, frames: Uint8Array, h: number, w: number): { flow: number[]; layers: Map<string, number[]> } {
  const shapes = layerShapes(model.arch, h, w);
  const tensors = new Map<string, number[]>([[FRAMES, Array.from(frames)]]);
  let flowLow: number[] = [];
  let fh = 0;
  let fw = 0;
  shapes.forEach((s, i) => {
    const l = s.layer;
    let x: number[] = [];
    for (const name of l.inputs) x = x.concat(tensors.get(name) as number[]);
    const p = model.params[i];
    const base = { cin: l.cin, cout: l.cout, k: l.k, stride: l.stride, weights: p.weights, mult: p.mult, shift: p.shift,
      bias: p.bias, mode: (l.op === 'flow' ? 'linear' : 'relu') as 'relu' | 'linear', bits: l.bits };
    let y: number[];
    if (l.op === 'upconv' && model.arch.decoder === 'upsample-conv') {
      y = naiveConv({ ...base, input: naiveUpsample(2, x, l.cin, s.inH, s.inW), h: 2 * s.inH, w: 2 * s.inW }).out;
    } else if (l.op === 'upconv') {
      y = naiveUpsample(2, naiveConv({ ...base, input: x, h: s.inH, w: s.inW }).out, l.cout, s.inH, s.inW);
    } else {
      y = naiveConv({ ...base, input: x, h: s.inH, w: s.inW }).out;
    }
    tensors.set(l.name, y);
    if (l.op === 'flow') {
      flowLow = y;
      fh = s.outH;
      fw = s.outW;
    }
  });
  tensors.delete(FRAMES);
  return { flow: naiveUpsample(4, flowLow, 2, fh, fw), layers: tensors };
}
