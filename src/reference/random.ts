// Random but well-behaved integer models: weights uniform over their code range, requantization chosen from the
// expected accumulator statistics so each layer's outputs spread over its code range (neither all 0 nor all max).
import { CONTRACT_VERSION, FRAMES, INPUT_BITS } from '../model/arch.js';
import type { ArchSpec } from '../model/arch.js';
import type { QLayerParams, QModel } from '../model/types.js';
import { accumulatorBound } from './conv.js';
import { Prng } from './prng.js';

const TWO50 = 2 ** 50;

/** Round half away from zero (contract 3's `round`). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Contract section 4: the requantization (M, S, B) for a real multiplier r and offset o, so that
 * `(acc·M + B) >> S = ⌊acc·r + o + ½⌋` up to the rounding of r to 15 significant bits.
 */
export function foldRequant(r: number, o: number): { mult: number; shift: number; bias: number } {
  for (let s = 50; s >= 1; s--) {
    const m = roundHalfAway(r * 2 ** s);
    const b = roundHalfAway(o * 2 ** s);
    if (Math.abs(m) <= 32767 && Math.abs(b) + 2 ** (s - 1) <= TWO50) return { mult: m, shift: s, bias: b + 2 ** (s - 1) };
  }
  throw new RangeError(`no shift in 1..50 represents multiplier ${r} and offset ${o}`);
}

interface Stats {
  mean: number;
  /** Second moment E[x²]. */
  m2: number;
}

/**
 * A random valid QModel for `arch` (any width, decoder and bits), deterministic in `seed`. Assumes inputs that look
 * like independent uniform codes (e.g. random frames); real images give other but still non-degenerate statistics.
 */
export function randomModel(arch: ArchSpec, seed: number): QModel {
  const rng = new Prng(seed ^ 0x5eed1234);
  const stats = new Map<string, Stats>();
  const frameMax = 2 ** INPUT_BITS - 1;
  stats.set(FRAMES, { mean: frameMax / 2, m2: (frameMax * (frameMax + 2)) / 3 });
  const channels = new Map<string, number>([[FRAMES, 6]]);
  const bitsOf = new Map<string, number>([[FRAMES, INPUT_BITS]]);
  const params: QLayerParams[] = [];
  for (const l of arch.layers) {
    const bitsIn = bitsOf.get(l.inputs[0]) as number;
    if (accumulatorBound(l.cin, l.k, bitsIn, l.bitsW) > 2147483647) {
      throw new RangeError(`layer ${l.name} breaks the accumulator bound at ${bitsIn}-bit inputs and ${l.bitsW}-bit weights`);
    }
    // Input statistics of the (concatenated) input, per code.
    let mean = 0;
    let m2 = 0;
    for (const name of l.inputs) {
      const c = channels.get(name) as number;
      const s = stats.get(name) as Stats;
      mean += (c * s.mean) / l.cin;
      m2 += (c * s.m2) / l.cin;
    }
    let variance = Math.max(m2 - mean * mean, 1e-6);
    // up2 before the conv averages neighbours: per axis weights (1, 3)/4 keep (1 + 9)/16 of the variance.
    if (l.op === 'upconv' && arch.decoder === 'upsample-conv') variance *= (10 / 16) ** 2;
    const K = l.cin * l.k * l.k;
    const wmax = 2 ** (l.bitsW - 1);
    const weights = new Int8Array(l.cout * K);
    rng.fillInt(weights, -wmax, wmax - 1);
    const mult = new Int16Array(l.cout);
    const shift = new Uint8Array(l.cout);
    const bias = new Float64Array(l.cout);
    const outMax = l.op === 'flow' ? 0 : 2 ** l.bits - 1;
    for (let c = 0; c < l.cout; c++) {
      let sw = 0;
      let sw2 = 0;
      for (let i = c * K; i < (c + 1) * K; i++) {
        sw += weights[i];
        sw2 += weights[i] * weights[i];
      }
      const accMean = mean * sw;
      const accStd = Math.sqrt(Math.max(variance * sw2, 1));
      // Targets: relu layers centre at ~40% of the range with a std of a quarter of it (some clipping at both ends);
      // the flow head gives a few pixels of flow either way.
      const jitter = 0.75 + 0.5 * rng.next();
      const targetMean = l.op === 'flow' ? (rng.next() - 0.5) * 2 ** arch.flowFracBits : 0.4 * outMax;
      const targetStd = (l.op === 'flow' ? 3 * 2 ** arch.flowFracBits : 0.25 * outMax) * jitter;
      const r = targetStd / accStd;
      const f = foldRequant(r, targetMean - r * accMean - 0.5);
      mult[c] = f.mult;
      shift[c] = f.shift;
      bias[c] = f.bias;
    }
    params.push({ weights, mult, shift, bias });
    const outStats: Stats = l.op === 'flow'
      ? { mean: 0, m2: 1 }
      : { mean: 0.4 * outMax, m2: (0.4 * outMax) ** 2 + (0.25 * outMax) ** 2 };
    stats.set(l.name, outStats);
    channels.set(l.name, l.cout);
    bitsOf.set(l.name, l.bits);
  }
  const w = arch.width;
  return {
    name: `random-w${w}-${arch.decoder}-seed${seed}`,
    arch,
    nativeSize: [64, 64],
    params,
    meta: { random: true, seed, contract: CONTRACT_VERSION },
  };
}

/** Random 6 × h × w frames (independent uniform codes), deterministic in `seed`. */
export function randomFrames(h: number, w: number, seed: number): Uint8Array {
  return new Prng(seed ^ 0xf4a3e5).fillInt(new Uint8Array(6 * h * w), 0, 255);
}
