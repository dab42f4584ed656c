import t from 'tap';
import { flownetsQ } from '../src/model/arch.js';
import { randomFrames, randomModel } from '../src/reference/index.js';
import { testConfig } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { TsEngineExecutor } from '../src/scheduler/executor.js';
import { FrameRunner, VerifyError } from '../src/scheduler/runner.js';
import { sampleMacsPerFrame } from '../src/scheduler/verify.js';

const cfg = testConfig({ tm: 3, tn: 5, ibuf: 200, obuf: 48, sbuf: 96 });
const arch = flownetsQ({ width: 0.0625 });
const model = randomModel(arch, 7);
const H = 64, W = 64;
const plan = planNetwork(arch, H, W, cfg);
const frames = randomFrames(H, W, 11);

/** DDR address of output element (c, y, x) of command i, for a runner's slot 0 (static region at its base). */
function outElemAddr(runner: FrameRunner, i: number, c: number, y: number, x: number): number {
  const cmd = plan.cmds[i];
  const base = (runner as unknown as { staticBase: number }).staticBase;
  const e = cmd.flags & 2 ? 2 : 1;
  return base + cmd.outAddr + ((cmd.outCOffset + c) * cmd.outH * cmd.outW + y * cmd.outW + x) * e;
}

t.test('full mode detects a single bit flip in any layer and locates it', async (t) => {
  for (const step of plan.steps.filter((s) => s.name !== 'output')) {
    const exec = new TsEngineExecutor(cfg);
    const runner = new FrameRunner(plan, model, exec, { verify: 'full', policy: 'log' });
    const i = step.cmdEnd - 1; // the last (bottom-right border) tile of the step
    const c = plan.cmds[i];
    const y = c.tileY + c.tileH - 1, x = c.tileX + c.tileW - 1, ch = c.coEnd - 1;
    exec.faults.push({ kind: 'flip', afterCmd: i, addr: outElemAddr(runner, i, ch, y, x), bit: 1 });
    const r = await runner.runFrame(frames);
    const m = r.mismatches.find((mm) => mm.cmd === i);
    t.ok(m, `${step.name}: flip detected`);
    t.same(m?.at, { c: ch, y, x }, `${step.name}: located`);
    t.equal(r.dropped, false, 'policy log keeps the frame');
  }
});

t.test('sample mode: detection rate of a corrupted tile matches min(s,T)/T per frame', async (t) => {
  // Step with several commands; corrupt the whole output of one of them (every element flipped).
  const step = plan.steps.find((s) => s.cmdEnd - s.cmdBegin >= 6 && s.kind === 'conv')!;
  const T = step.cmdEnd - step.cmdBegin;
  const target = step.cmdBegin + 2;
  const exec = new TsEngineExecutor(cfg);
  const sample = { commands: 2, channels: 2, rows: 2, cols: 2 };
  const runner = new FrameRunner(plan, model, exec, { verify: 'sample', policy: 'log', sample, seed: 3 });
  const c = plan.cmds[target];
  const frames2 = 60;
  let hits = 0;
  for (let f = 0; f < frames2; f++) {
    const slotOff = f & 1; // both slots share the static region: the fault addresses are the same
    void slotOff;
    exec.faults = [];
    for (let m = c.coBegin; m < c.coEnd; m++) {
      for (let y = c.tileY; y < c.tileY + c.tileH; y++) {
        for (let x = c.tileX; x < c.tileX + c.tileW; x++) {
          exec.faults.push({ kind: 'flip', afterCmd: exec.executed + target, addr: outElemAddr(runner, target, m, y, x), bit: 0 });
        }
      }
    }
    const r = await runner.runFrame(frames);
    if (r.mismatches.some((mm) => mm.cmd === target)) hits++;
  }
  const p = sample.commands / T;
  const sd = Math.sqrt((p * (1 - p)) / frames2);
  t.ok(Math.abs(hits / frames2 - p) < 4 * sd + 0.02, `rate ${hits}/${frames2} vs ${p.toFixed(3)}`);
});

t.test('stuck output lane is caught by sample mode in one frame', async (t) => {
  const exec = new TsEngineExecutor(cfg);
  exec.faults.push({ kind: 'stuck-lane', lane: 1, value: 0 });
  const runner = new FrameRunner(plan, model, exec, { verify: 'sample', policy: 'drop', seed: 5 });
  const r = await runner.runFrame(frames);
  t.ok(r.mismatches.length > 0, `${r.mismatches.length} regions mismatched`);
  t.equal(r.dropped, true, 'policy drop marks the frame');
});

t.test('every stuck output lane is caught by the default sample in the first frame, on that lane only', async (t) => {
  for (let lane = 0; lane < cfg.tm; lane++) {
    const exec = new TsEngineExecutor(cfg);
    exec.faults.push({ kind: 'stuck-lane', lane, value: 255 });
    const runner = new FrameRunner(plan, model, exec, { verify: 'sample', policy: 'log', seed: 100 + lane });
    const r = await runner.runFrame(frames);
    t.ok(r.mismatches.length > 0, `lane ${lane}: ${r.mismatches.length} regions mismatched`);
    t.ok(r.mismatches.every((m) => (m.at.c - m.tile.co0) % cfg.tm === lane), `lane ${lane}: every mismatch is on the lane`);
  }
});

t.test('policies: stop throws with the location; rerun recovers from a transient flip', async (t) => {
  const i = plan.steps[3].cmdBegin;
  {
    const exec = new TsEngineExecutor(cfg);
    const runner = new FrameRunner(plan, model, exec, { verify: 'full', policy: 'stop' });
    exec.faults.push({ kind: 'flip', afterCmd: i, addr: outElemAddr(runner, i, plan.cmds[i].coBegin, plan.cmds[i].tileY, plan.cmds[i].tileX), bit: 7 });
    await t.rejects(runner.runFrame(frames), VerifyError);
  }
  {
    const exec = new TsEngineExecutor(cfg);
    const runner = new FrameRunner(plan, model, exec, { verify: 'full', policy: 'rerun' });
    exec.faults.push({ kind: 'flip', afterCmd: i, addr: outElemAddr(runner, i, plan.cmds[i].coBegin, plan.cmds[i].tileY, plan.cmds[i].tileX), bit: 7 });
    const r = await runner.runFrame(frames);
    t.equal(r.reruns, 1);
    t.equal(r.dropped, false, 'clean after the re-run');
    const clean = await new FrameRunner(plan, model, new TsEngineExecutor(cfg), { verify: 'off' }).runFrame(frames);
    t.same(Buffer.from(r.flow.buffer).equals(Buffer.from(clean.flow.buffer)), true, 're-run output is the clean output');
  }
});

t.test('sample cost is bounded and counted', async (t) => {
  const exec = new TsEngineExecutor(cfg);
  const runner = new FrameRunner(plan, model, exec, { verify: 'sample' });
  const r = await runner.runFrame(frames);
  t.ok(r.verify.macs > 0 && r.verify.macs <= sampleMacsPerFrame(plan, runner.sample), `${r.verify.macs} <= bound`);
});

t.test('streaming overlaps input preparation and delivers frames in order', async (t) => {
  const exec = new TsEngineExecutor(cfg);
  const runner = new FrameRunner(plan, model, exec, { verify: 'off' });
  const single = await new FrameRunner(plan, model, new TsEngineExecutor(cfg), { verify: 'off' }).runFrame(randomFrames(H, W, 2));
  let n = 0;
  const got: number[] = [];
  await runner.runStream(() => (n < 4 ? randomFrames(H, W, n++) : undefined), (r) => {
    got.push(r.index);
    if (r.index === 2) t.same(Buffer.from(r.flow.buffer).equals(Buffer.from(single.flow.buffer)), true, 'frame 2 matches');
  });
  t.same(got, [0, 1, 2, 3]);
});
