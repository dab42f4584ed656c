// SampleSpec.regions (issue 13 item 9): a step gets `regions` sampled regions at independent positions even when it
// has fewer commands; the MAC bound counts them; a single wrong element is found at the rate regions predict.
import t from 'tap';
import { flownetsQ } from '../src/model/arch.js';
import { randomFrames, randomModel } from '../src/reference/index.js';
import { testConfig } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { TsEngineExecutor } from '../src/scheduler/executor.js';
import { FrameRunner } from '../src/scheduler/runner.js';
import { DEFAULT_SAMPLE, sampleMacsPerFrame } from '../src/scheduler/verify.js';

const cfg = testConfig({ tm: 3, tn: 5, ibuf: 200, obuf: 48, sbuf: 96 });
const arch = flownetsQ({ width: 0.0625 });
const model = randomModel(arch, 7);
const plan = planNetwork(arch, 64, 64, cfg);
const frames = randomFrames(64, 64, 11);

t.test('regions per step, whatever the command count', async (t) => {
  const count = (regions?: number) => plan.steps.reduce((n, s) => {
    const k = Math.min(2, s.cmdEnd - s.cmdBegin);
    return n + Math.max(k, regions ?? k);
  }, 0);
  for (const regions of [undefined, 1, 5]) {
    const sample = { commands: 2, regions, channels: 1, rows: 1, cols: 1 };
    const runner = new FrameRunner(plan, model, new TsEngineExecutor(cfg), { verify: 'sample', policy: 'log', sample, seed: 5 });
    const r = await runner.runFrame(frames);
    t.equal(r.verify.regions, count(regions), `regions ${regions}: ${r.verify.regions} checked`);
    t.equal(r.mismatches.length, 0, 'a correct engine passes');
    t.ok(r.verify.macs <= sampleMacsPerFrame(plan, sample), 'MACs within the bound');
  }
  t.ok(sampleMacsPerFrame(plan, { ...DEFAULT_SAMPLE }) > 0);
});

t.test('a wrong element in a one-command step: detection grows with regions', async (t) => {
  const step = plan.steps.find((s) => s.cmdEnd - s.cmdBegin === 1 && s.kind === 'conv')!;
  const i = step.cmdBegin;
  const c = plan.cmds[i];
  const elems = (c.coEnd - c.coBegin) * c.tileH * c.tileW;
  // Every 4th element of the command's output wrong: δ = 1/4 per checked element.
  const hitRate = async (regions: number): Promise<number> => {
    const exec = new TsEngineExecutor(cfg);
    const runner = new FrameRunner(plan, model, exec, { verify: 'sample', policy: 'log', sample: { commands: 2, regions, channels: 1, rows: 1, cols: 1 }, seed: 9 });
    const base = (runner as unknown as { staticBase: number }).staticBase;
    let hits = 0;
    const F = 40;
    for (let f = 0; f < F; f++) {
      exec.faults = [];
      for (let e = 0; e < elems; e += 4) {
        const m = c.coBegin + Math.floor(e / (c.tileH * c.tileW));
        const y = c.tileY + Math.floor((e % (c.tileH * c.tileW)) / c.tileW);
        const x = c.tileX + (e % c.tileW);
        const esz = c.flags & 2 ? 2 : 1;
        exec.faults.push({ kind: 'flip', afterCmd: exec.executed + i, addr: base + c.outAddr + ((c.outCOffset + m) * c.outH * c.outW + y * c.outW + x) * esz, bit: 0 });
      }
      const r = await runner.runFrame(frames);
      if (r.mismatches.some((mm) => mm.step === step.name)) hits++;
    }
    return hits / F;
  };
  const one = await hitRate(1);
  const eight = await hitRate(8);
  t.ok(one > 0.05 && one < 0.55, `1 region: ${one} (expected ~0.25)`);
  t.ok(eight > 0.75, `8 regions: ${eight} (expected 1 - 0.75^8 = 0.90)`);
});
