// The cost model over a plan: per layer MACs, commands, engine cycles (cycles.ts, the engine's own cycle model),
// DDR bytes moved against the compulsory minimum, and the roofline bound of the board. Documented in
// docs/performance.md ("Scheduler").
import type { Plan, StepPlan } from './plan.js';

export interface LayerCost {
  name: string;
  op: string;
  macs: number;
  commands: number;
  /** Tile (output rows × cols), output channels per command and loop order of the layer's (first) conv step. */
  tile: string;
  co_chunk: number;
  order: string;
  cycles: number;
  /** Engine time: cycles at the engine clock. */
  engine_ms: number;
  ddr_bytes: number;
  /** Weights + requant once, the layer's input and output tensors once. */
  min_ddr_bytes: number;
  ddr_ms: number;
  /** max(engine_ms, ddr_ms): the engine's loads are inside its cycles; DDR can only slow it further. */
  est_ms: number;
  /** max(MACs / peak MAC/s, min_ddr_bytes / bandwidth). */
  roofline_ms: number;
  /** Roofline class of the layer (its compulsory ops/byte against the ridge point). */
  bound: 'compute' | 'bandwidth';
  /** What limits the estimate: the MAC array, the engine's load/store pipeline (cycles beyond the MACs), or DDR. */
  limiter: 'mac' | 'load' | 'ddr';
  /** MACs / (cycles · Tm · Tn). */
  mac_utilization: number;
  efficiency: number;
}

export interface CostTotal {
  macs: number;
  commands: number;
  cycles: number;
  est_ms: number;
  roofline_ms: number;
  efficiency: number;
  ddr_bytes: number;
  min_ddr_bytes: number;
  ddr_ratio: number;
  fps: number;
}

export interface CostReport {
  config: { tm: number; tn: number; ibuf: number; obuf: number; sbuf: number; clock_mhz: number; memory_gbps: number; source: string };
  size: [number, number];
  plan_ms: number;
  layers: LayerCost[];
  total: CostTotal;
}

export function costReport(plan: Plan): CostReport {
  const cfg = plan.cfg;
  const clock = cfg.clockMHz * 1e6;
  const peak = cfg.tm * cfg.tn * clock;
  const bw = cfg.memoryGBps * 1e9;
  const groups = new Map<number, StepPlan[]>();
  for (const s of plan.steps) {
    const g = groups.get(s.layer) ?? [];
    g.push(s);
    groups.set(s.layer, g);
  }
  const layers: LayerCost[] = [];
  const order = [...plan.arch.layers.map((_, i) => i), -1];
  for (const li of order) {
    const steps = groups.get(li);
    if (!steps) continue;
    const shape = li >= 0 ? plan.shapes[li] : undefined;
    const l = shape?.layer;
    let cycles = 0, bytes = 0, commands = 0;
    for (const s of steps) {
      cycles += s.cost.cycles;
      bytes += s.cost.readBytes + s.cost.writeBytes;
      commands += s.cost.commands;
    }
    const first = steps[0];
    const last = steps[steps.length - 1];
    const inBytes = first.input.c * first.input.h * first.input.w * first.input.esize;
    const outBytes = last.output.c * last.output.h * last.output.w * last.output.esize;
    const wBytes = li >= 0 ? plan.weights[li].wBytes + plan.weights[li].qBytes : 0;
    const minBytes = wBytes + inBytes + outBytes;
    const macs = shape?.macs ?? 0;
    const engineMs = (cycles / clock) * 1e3;
    const ddrMs = (bytes / bw) * 1e3;
    const estMs = Math.max(engineMs, ddrMs);
    const rooflineMs = Math.max(macs / peak, minBytes / bw) * 1e3;
    const util = macs / (cycles * cfg.tm * cfg.tn);
    layers.push({
      name: l?.name ?? 'output',
      op: l ? (l.op === 'upconv' ? `upconv(${plan.arch.decoder})` : l.op) : 'up4',
      macs,
      commands,
      tile: `${first.tileH}x${first.tileW}`,
      co_chunk: first.coChunk,
      order: first.kind === 'conv' ? first.order : '-',
      cycles,
      engine_ms: engineMs,
      ddr_bytes: bytes,
      min_ddr_bytes: minBytes,
      ddr_ms: ddrMs,
      est_ms: estMs,
      roofline_ms: rooflineMs,
      bound: macs / peak >= minBytes / bw ? 'compute' : 'bandwidth',
      limiter: ddrMs > engineMs ? 'ddr' : util >= 0.5 ? 'mac' : 'load',
      mac_utilization: util,
      efficiency: rooflineMs / estMs,
    });
  }
  const sum = (f: (l: LayerCost) => number) => layers.reduce((s, l) => s + f(l), 0);
  const est = sum((l) => l.est_ms);
  const roof = sum((l) => l.roofline_ms);
  const total: CostTotal = {
    macs: sum((l) => l.macs),
    commands: sum((l) => l.commands),
    cycles: sum((l) => l.cycles),
    est_ms: est,
    roofline_ms: roof,
    efficiency: roof / est,
    ddr_bytes: sum((l) => l.ddr_bytes),
    min_ddr_bytes: sum((l) => l.min_ddr_bytes),
    ddr_ratio: sum((l) => l.ddr_bytes) / sum((l) => l.min_ddr_bytes),
    fps: 1000 / est,
  };
  return {
    config: { tm: cfg.tm, tn: cfg.tn, ibuf: cfg.ibuf, obuf: cfg.obuf, sbuf: cfg.sbuf, clock_mhz: cfg.clockMHz, memory_gbps: cfg.memoryGBps, source: cfg.source },
    size: [plan.h, plan.w],
    plan_ms: plan.planMs,
    layers,
    total,
  };
}
