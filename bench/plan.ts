// bench/plan.ts: planning time of full-width FlowNetS-Q at 384x512 per board (must be < 1 s), and the cost of
// `--verify sample` per frame against the estimated frame time on the board's ARM core.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --loader @isaacs/ts-node-temp-fork-for-pr-2009/esm bench/plan.ts
import { flownetsQ } from '../src/model/arch.js';
import { BOARDS } from '../src/driver/boards.js';
import { configFromBoard } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { costReport } from '../src/scheduler/cost.js';
import { DEFAULT_SAMPLE, checkStep, sampleMacsPerFrame, type CheckStats } from '../src/scheduler/verify.js';
import { randomModel } from '../src/reference/random.js';
import { Prng } from '../src/reference/prng.js';

/**
 * x86 core here / ARM core, for this integer JS workload: CoreMark measured here (22,008 it/s single thread) against
 * published CoreMark/MHz for Cortex-A9 (7.13) at 650 MHz and Cortex-A53 (5.92) at 1.2 GHz gives 4.75 and 3.1;
 * doubled for V8's weaker ARM JIT (an unmeasured assumption). Replace by `flowfpga bench reference` on the board.
 */
const ARM_SLOWDOWN: Record<string, { core: string; factor: number }> = {
  'pynq-z2': { core: 'Cortex-A9 @650 MHz', factor: 9.5 },
  ultra96v2: { core: 'Cortex-A53 @1.2 GHz', factor: 6.2 },
  zcu104: { core: 'Cortex-A53 @1.2 GHz', factor: 6.2 },
};

const arch = flownetsQ();
const model = randomModel(arch, 1);
for (const b of ['pynq-z2', 'ultra96v2', 'zcu104'] as const) {
  const cfg = configFromBoard(BOARDS[b]);
  const times: number[] = [];
  let plan = planNetwork(arch, 384, 512, cfg);
  times.push(plan.planMs);
  for (let i = 0; i < 5; i++) {
    plan = planNetwork(arch, 384, 512, cfg);
    times.push(plan.planMs);
  }
  const r = costReport(plan);
  // Measure the sample check's speed here on a DDR image of random codes (values do not change its cost).
  const bufs = new Map<number, Uint8Array>();
  const read = (a: number, n: number): Uint8Array => {
    let buf = bufs.get(a);
    if (!buf || buf.length < n) {
      buf = new Prng(a).fillInt(new Uint8Array(n), 0, 255);
      bufs.set(a, buf);
    }
    return buf.subarray(0, n);
  };
  const stats: CheckStats = { regions: 0, elements: 0, macs: 0 };
  const rng = new Prng(9);
  const t0 = performance.now();
  let frames = 0;
  while (performance.now() - t0 < 2000 || frames < 3) {
    for (const step of plan.steps) {
      checkStep({ model, plan, step, mode: 'sample', sample: DEFAULT_SAMPLE, rng, read, inAddr: (i) => plan.cmds[i].inAddr, outAddr: (i) => plan.cmds[i].outAddr, stats });
    }
    frames++;
  }
  const msHere = (performance.now() - t0) / frames;
  const arm = ARM_SLOWDOWN[b];
  const msArm = msHere * arm.factor;
  console.log(JSON.stringify({
    board: b,
    plan_ms: { cold: +times[0].toFixed(1), warm_median: +times.slice(1).sort((x, y) => x - y)[2].toFixed(1) },
    est_ms: +r.total.est_ms.toFixed(1), roofline_ms: +r.total.roofline_ms.toFixed(1), efficiency: +r.total.efficiency.toFixed(3),
    ddr_ratio: +r.total.ddr_ratio.toFixed(2),
    sample: { ...DEFAULT_SAMPLE, macs_per_frame: sampleMacsPerFrame(plan, DEFAULT_SAMPLE), ms_here: +msHere.toFixed(2),
      arm: arm.core, arm_factor: arm.factor, ms_arm: +msArm.toFixed(1), pct_of_frame: +((100 * msArm) / r.total.est_ms).toFixed(2) },
  }));
}
