// The regression cases (`--cases`): golden vector files, whole-network runs of shipped models at their trained size,
// and a random-model sweep over bits 2..8, widths, decoders and sizes. Each case is one test in the report.
import { UserError } from '../errors.js';
import type { GoldenCase } from '../reference/golden.js';
import { Prng } from '../reference/prng.js';
import type { SweepSpec } from './protocol.js';

export type RegressCase =
  | { kind: 'golden'; name: string; op: string }
  | { kind: 'model'; name: string; model: string; seed: number }
  | { kind: 'random'; name: string; spec: SweepSpec; seed: number };

export const GOLDEN_OPS = ['conv', 'upconv', 'flow', 'up2', 'up4'] as const;
export const DEFAULT_CASES = 'golden,models';
/** Sweep models by default: seven, so every bit width 2..8 appears as activation and as weight bits. */
export const DEFAULT_SWEEP = 7;
/** Seed of the generated frames of shipped-model runs (any fixed value: both sides derive the frames from it). */
export const MODEL_FRAME_SEED = 20261203;
const SWEEP_SEED = 0x5eeb;

export const CASES_HELP = 'a comma list of: golden, golden:OP (conv|upconv|flow|up2|up4), models, model:NAME, sweep, sweep:N';

/** The sweep's i-th model: bits rotate through 2..8 (weights on another phase), width, decoder and size from a PRNG. */
export function sweepSpec(i: number, seed = SWEEP_SEED): SweepSpec {
  const rng = new Prng((seed + Math.imul(i, 0x9e3779b1)) >>> 0);
  const sizes: Array<[number, number]> = [[64, 64], [64, 128], [128, 64], [128, 128]];
  const [h, w] = rng.pick(sizes);
  return {
    seed: rng.u32(),
    width: rng.pick([0.125, 0.25]),
    bitsA: 2 + (i % 7),
    bitsW: 2 + ((i * 3 + 4) % 7),
    decoder: rng.pick(['upsample-conv', 'conv-upsample'] as const),
    h, w,
  };
}

/** Parses `--cases`; `shipped` are the host's shipped model names. */
export function parseCases(spec: string, shipped: string[]): RegressCase[] {
  const out: RegressCase[] = [];
  const seen = new Set<string>();
  const add = (c: RegressCase): void => {
    if (seen.has(c.name)) return;
    seen.add(c.name);
    out.push(c);
  };
  const model = (name: string): RegressCase => ({ kind: 'model', name: `model ${name}`, model: name, seed: MODEL_FRAME_SEED });
  for (const raw of spec.split(',')) {
    const tok = raw.trim();
    if (!tok) continue;
    const [head, arg, extra] = tok.split(':');
    if (extra !== undefined) throw new UserError(`--cases: cannot read '${tok}'`, CASES_HELP);
    if (head === 'golden' && arg === undefined) for (const op of GOLDEN_OPS) add({ kind: 'golden', name: `golden ${op}`, op });
    else if (head === 'golden') {
      if (!(GOLDEN_OPS as readonly string[]).includes(arg)) throw new UserError(`--cases: unknown golden file '${arg}'`, CASES_HELP);
      add({ kind: 'golden', name: `golden ${arg}`, op: arg });
    } else if (head === 'models' && arg === undefined) {
      if (!shipped.length) throw new UserError('--cases models: no shipped models on this host', 'install flowfpga with its models/ folder');
      for (const n of shipped) add(model(n));
    } else if (head === 'model' && arg !== undefined) {
      if (!shipped.includes(arg)) throw new UserError(`--cases: unknown model '${arg}'`, `shipped models: ${shipped.join(', ')}`);
      add(model(arg));
    } else if (head === 'sweep') {
      const n = arg === undefined ? DEFAULT_SWEEP : Number(arg);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UserError(`--cases: sweep count '${arg}' must be 1..1000`, CASES_HELP);
      for (let i = 0; i < n; i++) {
        const s = sweepSpec(i);
        add({ kind: 'random', name: `sweep ${i} w${s.bitsW}a${s.bitsA} x${s.width} ${s.decoder} ${s.h}x${s.w}`, spec: s, seed: s.seed ^ 0xf7a3 });
      }
    } else throw new UserError(`--cases: unknown case '${tok}'`, CASES_HELP);
  }
  if (!out.length) throw new UserError('--cases selects nothing', CASES_HELP);
  return out;
}

/** Output tensor shape of a golden case: [channels, rows, cols]. */
export function goldenShape(gc: GoldenCase): [number, number, number] {
  const p = gc.params;
  if (gc.op === 'up2') return [p.c, 2 * p.h, 2 * p.w];
  if (gc.op === 'up4') return [p.c, 4 * p.h, 4 * p.w];
  const h = gc.op === 'upconv' ? 2 * p.h : p.h;
  const w = gc.op === 'upconv' ? 2 * p.w : p.w;
  const pad = (p.k - 1) >> 1;
  return [p.out_c_total, Math.floor((h + 2 * pad - p.k) / p.stride) + 1, Math.floor((w + 2 * pad - p.k) / p.stride) + 1];
}
