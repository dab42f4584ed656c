// `flowfpga bench reference`: MAC/s of the reference conv kernel on FlowNetS-Q layer shapes, against the same loops
// in plain C++ (bench/reference_conv.cpp, g++ -O2, compiled at run time). Both sides generate identical data from
// mulberry32 and must produce identical output checksums, which shows they run the same algorithm.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flownetsQ, layerShapes } from '../model/arch.js';
import { UserError } from '../errors.js';
import { conv, convOutSize } from './conv.js';
import type { ConvSpec } from './conv.js';
import { Prng } from './prng.js';

export interface BenchLayer {
  name: string;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  mode: 0 | 1;
  macs: number;
}

export interface BenchLayerResult extends BenchLayer {
  ts_macs_per_s: number;
  cpp_macs_per_s: number;
  ratio: number;
  ts_reps: number;
  cpp_reps: number;
  checksum: number;
}

export interface BenchResult {
  /** Aggregate over all layers: total MACs / total time. */
  ts_macs_per_s: number;
  cpp_macs_per_s: number;
  /** ts / cpp. */
  ratio: number;
  config: { width: number; h: number; w: number; min_seconds: number };
  machine: { cpus: number; cpu_model: string; node: string; compiler: string };
  layers: BenchLayerResult[];
}

const BITS = 8;
/** Alternating C++/TS rounds per layer (see runReferenceBench). */
const ROUNDS = 3;
const REPRESENTATIVE = ['conv1', 'conv2', 'conv3_1', 'conv4', 'conv5_1', 'conv6_1', 'deconv3', 'predict_flow2'];

/** The benchmarked convs: FlowNetS-Q layers (upconvs at their conv size, i.e. after the up2) at width × h × w. */
export function benchLayers(width: number, h: number, w: number): BenchLayer[] {
  const shapes = layerShapes(flownetsQ({ width }), h, w);
  return shapes
    .filter((s) => REPRESENTATIVE.includes(s.layer.name))
    .map((s) => ({
      name: s.layer.name, cin: s.layer.cin, h: s.convH, w: s.convW, cout: s.layer.cout, k: s.layer.k,
      stride: s.layer.stride, mode: s.layer.op === 'flow' ? 1 : 0, macs: s.macs,
    }));
}

function seedOf(i: number): number {
  return (0x51ed270b + i * 7919) >>> 0;
}

/** Identical to makeData() in bench/reference_conv.cpp. */
function makeData(l: BenchLayer, seed: number) {
  const rng = new Prng(seed);
  const K = l.cin * l.k * l.k;
  const input = new Uint8Array(l.cin * l.h * l.w);
  for (let i = 0; i < input.length; i++) input[i] = rng.u32() >>> (32 - BITS);
  const weights = new Int8Array(l.cout * K);
  for (let i = 0; i < weights.length; i++) weights[i] = (rng.u32() >>> (32 - BITS)) - (1 << (BITS - 1));
  const mult = new Int16Array(l.cout);
  const shift = new Uint8Array(l.cout);
  const bias = new Float64Array(l.cout);
  const s = 21 + ((31 - Math.clz32(K)) >> 1);
  for (let c = 0; c < l.cout; c++) {
    mult[c] = 16384 + (rng.u32() >>> 18);
    shift[c] = s;
    bias[c] = 2 ** (s - 1) + (l.mode ? 0 : (1 << (BITS - 1)) * 2 ** s);
  }
  return { input, params: { weights, mult, shift, bias } };
}

function checksum(out: Uint8Array | Int16Array): number {
  let h = 2166136261;
  for (let i = 0; i < out.length; i++) h = Math.imul(h ^ (out[i] & 0xffff), 16777619) >>> 0;
  return h;
}

interface Timing {
  reps: number;
  /** Fastest repetition: the figure least disturbed by other load on the machine. */
  best: number;
  checksum: number;
}

function runTs(l: BenchLayer, seed: number, minSeconds: number): Timing {
  const { input, params } = makeData(l, seed);
  const spec: ConvSpec = { cin: l.cin, cout: l.cout, k: l.k, stride: l.stride, mode: l.mode ? 'linear' : 'relu', bits: BITS };
  const [ho, wo] = convOutSize(spec, l.h, l.w);
  const out = l.mode ? new Int16Array(l.cout * ho * wo) : new Uint8Array(l.cout * ho * wo);
  // Warm-up until the JIT has optimized the kernel for this shape (a few runs, at least 50 ms).
  const w0 = process.hrtime.bigint();
  for (let i = 0; i < 3 || Number(process.hrtime.bigint() - w0) < 5e7; i++) conv(spec, params, input, l.h, l.w, out);
  const t0 = process.hrtime.bigint();
  let reps = 0;
  let best = Infinity;
  for (;;) {
    const r0 = process.hrtime.bigint();
    conv(spec, params, input, l.h, l.w, out);
    const r1 = process.hrtime.bigint();
    best = Math.min(best, Number(r1 - r0) / 1e9);
    reps++;
    if (Number(r1 - t0) / 1e9 >= minSeconds) break;
  }
  return { reps, best, checksum: checksum(out) };
}

function runCpp(exe: string, l: BenchLayer, seed: number, minSeconds: number): Timing {
  const line = `${l.name} ${l.cin} ${l.h} ${l.w} ${l.cout} ${l.k} ${l.stride} ${BITS} ${BITS} ${BITS} ${l.mode} ${seed} ${minSeconds}\n`;
  const r = spawnSync(exe, [], { input: line, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`C++ bench failed on ${l.name} (status ${r.status}): ${r.stderr}`);
  const [name, reps, , best, sum] = r.stdout.trim().split(' ');
  if (name !== l.name) throw new Error(`C++ bench printed '${r.stdout.trim()}' for ${l.name}`);
  return { reps: Number(reps), best: Number(best), checksum: Number(sum) };
}

/** bench/reference_conv.cpp, found relative to this module (src/reference or dist/reference). */
export function cppSourcePath(): string {
  return fileURLToPath(new URL('../../bench/reference_conv.cpp', import.meta.url));
}

function compileCpp(dir: string, compiler: string): string {
  const src = cppSourcePath();
  if (!existsSync(src)) throw new UserError(`C++ benchmark source missing: ${src}`, 'reinstall flowfpga or restore bench/');
  const exe = join(dir, 'reference_conv');
  const r = spawnSync(compiler, ['-O2', '-std=c++17', '-o', exe, src], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new UserError(`${compiler} not found; the reference bench compiles its C++ twin at run time`,
      'install a C++ compiler (Debian/Ubuntu: sudo apt install g++)');
  }
  if (r.status !== 0) throw new Error(`${compiler} failed on ${src}:\n${r.stderr}`);
  return exe;
}

export interface BenchOptions {
  /** Representative shapes at this width and input size (default 0.25 at 192 × 256: ~15 s in all). */
  width?: number;
  h?: number;
  w?: number;
  /** Minimum timed seconds per layer and implementation (default 0.4). */
  minSeconds?: number;
  /** Compiler command (default g++). */
  compiler?: string;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

/** Runs both benches; throws if the C++ twin's output checksums differ from the TypeScript reference's. */
export function runReferenceBench(opts: BenchOptions = {}): BenchResult {
  const width = opts.width ?? 0.25;
  const h = opts.h ?? 192;
  const w = opts.w ?? 256;
  const minSeconds = opts.minSeconds ?? 0.4;
  const compiler = opts.compiler ?? 'g++';
  const layers = benchLayers(width, h, w);
  const dir = mkdtempSync(join(tmpdir(), 'flowfpga-bench-'));
  try {
    const exe = compileCpp(dir, compiler);
    const version = spawnSync(compiler, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? compiler;
    const results: BenchLayerResult[] = [];
    let tsTime = 0;
    let cppTime = 0;
    let macs = 0;
    // Interleaved per layer and in ROUNDS alternating rounds (C++, TS, C++, TS, ...), each side's figure the best
    // repetition over all its rounds: a burst of other load on the machine hits both sides alike.
    layers.forEach((l, i) => {
      opts.log?.(`${l.name}: C++ (${compiler} -O2) and TypeScript, ${ROUNDS} alternating rounds`);
      const c: Timing = { reps: 0, best: Infinity, checksum: 0 };
      const ts: Timing = { reps: 0, best: Infinity, checksum: 0 };
      for (let r = 0; r < ROUNDS; r++) {
        const cr = runCpp(exe, l, seedOf(i), minSeconds / ROUNDS);
        const tr = runTs(l, seedOf(i), minSeconds / ROUNDS);
        if (cr.checksum !== tr.checksum) {
          throw new Error(`${l.name}: C++ checksum ${cr.checksum} != TypeScript ${tr.checksum}; the two kernels disagree`);
        }
        for (const [acc, x] of [[c, cr], [ts, tr]] as const) {
          acc.reps += x.reps;
          acc.best = Math.min(acc.best, x.best);
          acc.checksum = x.checksum;
        }
      }
      const tsRate = l.macs / ts.best;
      const cppRate = l.macs / c.best;
      tsTime += ts.best;
      cppTime += c.best;
      macs += l.macs;
      results.push({ ...l, ts_macs_per_s: tsRate, cpp_macs_per_s: cppRate, ratio: tsRate / cppRate,
        ts_reps: ts.reps, cpp_reps: c.reps, checksum: ts.checksum });
    });
    const tsAll = macs / tsTime;
    const cppAll = macs / cppTime;
    const cpu = cpus();
    return {
      ts_macs_per_s: tsAll,
      cpp_macs_per_s: cppAll,
      ratio: tsAll / cppAll,
      config: { width, h, w, min_seconds: minSeconds },
      machine: { cpus: cpu.length, cpu_model: cpu[0]?.model ?? 'unknown', node: process.version, compiler: version },
      layers: results,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Human-readable table of a bench result. */
export function formatBench(r: BenchResult): string {
  const g = (x: number) => (x / 1e9).toFixed(3);
  const rows = [
    `reference conv, FlowNetS-Q width ${r.config.width} at ${r.config.h}x${r.config.w}, 8-bit (GMAC/s, single thread)`,
    `${'layer'.padEnd(14)}${'shape'.padEnd(26)}${'MMAC'.padStart(9)}${'TS'.padStart(9)}${'C++'.padStart(9)}${'TS/C++'.padStart(8)}`,
  ];
  for (const l of r.layers) {
    const shape = `${l.cin}x${l.h}x${l.w}->${l.cout} k${l.k}s${l.stride}`;
    rows.push(`${l.name.padEnd(14)}${shape.padEnd(26)}${(l.macs / 1e6).toFixed(1).padStart(9)}${g(l.ts_macs_per_s).padStart(9)}` +
      `${g(l.cpp_macs_per_s).padStart(9)}${l.ratio.toFixed(2).padStart(8)}`);
  }
  rows.push(`${'all'.padEnd(49)}${g(r.ts_macs_per_s).padStart(9)}${g(r.cpp_macs_per_s).padStart(9)}${r.ratio.toFixed(2).padStart(8)}`);
  rows.push(`machine: ${r.machine.cpus} CPUs, ${r.machine.cpu_model}, node ${r.machine.node}, ${r.machine.compiler}`);
  return rows.join('\n');
}
