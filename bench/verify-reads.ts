// bench/verify-reads.ts: what `--verify sample` reads back from DDR per frame, full-width FlowNetS-Q at 384x512 on
// each board's plan — calls, bytes copied, bytes put through a cache sync, ms here — through the executor's
// contiguous read() (per tensor / channel / row by the read-cost model) versus its strided readWindow() (syncs
// chosen as EngineDevice.readWindow does: one over the covering range or one per plane).
// Run: TS_NODE_TRANSPILE_ONLY=1 node --loader @isaacs/ts-node-temp-fork-for-pr-2009/esm bench/verify-reads.ts
import { flownetsQ } from '../src/model/arch.js';
import { BOARDS } from '../src/driver/boards.js';
import { configFromBoard } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { costReport } from '../src/scheduler/cost.js';
import { SYNC_CALL_BYTES, windowSyncPerPlane } from '../src/device/engine-device.js';
import { packWindow } from '../src/scheduler/executor.js';
import { DEFAULT_SAMPLE, checkStep, type CheckStats, type DdrReadWindow } from '../src/scheduler/verify.js';
import { randomModel } from '../src/reference/random.js';
import { Prng } from '../src/reference/prng.js';

const arch = flownetsQ();
const model = randomModel(arch, 1);
const ms = +(process.env.BENCH_MS ?? 1500);
// EngineDevice.syncCallBytes to model (default SYNC_CALL_BYTES).
const syncCall = +(process.env.SYNC_CALL_BYTES ?? SYNC_CALL_BYTES);
for (const b of ['pynq-z2', 'ultra96v2', 'zcu104'] as const) {
  const plan = planNetwork(arch, 384, 512, configFromBoard(BOARDS[b]));
  const est = costReport(plan).total.est_ms;
  // One DDR image of random codes (values do not change the cost): static region, input and output regions all
  // based at 0, as the plan's command addresses are. read() hands out views (free here; on a board it is a sync +
  // copy of `len` bytes: counted).
  const L = plan.layout;
  const ddr = new Prng(5).fillInt(new Uint8Array(Math.max(L.staticBytes, L.inputBytes, L.outputBytes)), 0, 255);
  const c = { calls: 0, copied: 0, syncs: 0, synced: 0 };
  const read = (a: number, n: number): Uint8Array => {
    c.calls++;
    c.copied += n;
    c.syncs++;
    c.synced += n;
    return ddr.subarray(a, a + n);
  };
  const readWindow: DdrReadWindow = (a, planes, ps, rows, rs, rb, out) => {
    const planeSpan = (rows - 1) * rs + rb;
    c.calls++;
    c.copied += planes * rows * rb;
    if (windowSyncPerPlane(planes, ps, planeSpan, syncCall)) {
      c.syncs += planes;
      c.synced += planes * planeSpan;
    } else {
      c.syncs++;
      c.synced += (planes - 1) * ps + planeSpan;
    }
    return packWindow(ddr, a, planes, ps, rows, rs, rb, out);
  };
  const run = (win: boolean): { calls: number; copied: number; syncs: number; synced: number; msHere: number } => {
    const stats: CheckStats = { regions: 0, elements: 0, macs: 0 };
    const frame = (rng: Prng): void => {
      for (const step of plan.steps) {
        checkStep({ model, plan, step, mode: 'sample', sample: DEFAULT_SAMPLE, rng, read, readWindow: win ? readWindow : undefined,
          inAddr: (i) => plan.cmds[i].inAddr, outAddr: (i) => plan.cmds[i].outAddr, stats, lanes: { next: 0 } });
      }
    };
    // Counts: mean over 20 frames (regions are random); time: best frame over `ms`.
    c.calls = c.copied = c.syncs = c.synced = 0;
    const rng = new Prng(9);
    for (let f = 0; f < 20; f++) frame(rng);
    const counts = { calls: c.calls / 20, copied: c.copied / 20, syncs: c.syncs / 20, synced: c.synced / 20 };
    let best = Infinity;
    const t0 = performance.now();
    for (let f = 0; performance.now() - t0 < ms || f < 3; f++) {
      const t = performance.now();
      frame(rng);
      best = Math.min(best, performance.now() - t);
    }
    return { ...counts, msHere: best };
  };
  // Interleaved, twice each: this machine is shared.
  const r = [run(false), run(true), run(false), run(true)];
  const pick = (i: number) => ({ ...r[i], msHere: Math.min(r[i].msHere, r[i + 2].msHere) });
  const fmt = (x: ReturnType<typeof pick>) => ({ calls: Math.round(x.calls), copied_kb: +(x.copied / 1024).toFixed(1), syncs: Math.round(x.syncs),
    synced_mb: +(x.synced / 1048576).toFixed(2), ms_here: +x.msHere.toFixed(3) });
  console.log(JSON.stringify({ board: b, est_ms: +est.toFixed(1), read: fmt(pick(0)), readWindow: fmt(pick(1)) }));
}
