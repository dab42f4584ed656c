import t from 'tap';
import { flownetsQ, type Decoder } from '../src/model/arch.js';
import { forward, randomFrames, randomModel } from '../src/reference/index.js';
import { testConfig, type SchedConfig } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { TsEngineExecutor } from '../src/scheduler/executor.js';
import { FrameRunner } from '../src/scheduler/runner.js';

// Engine builds: roomy, tiny odd buffers and PE shape (many tiles, partial blocks), and one between.
const CONFIGS: Record<string, SchedConfig> = {
  roomy: testConfig({ tm: 8, tn: 8, ibuf: 4096, obuf: 1024, sbuf: 2048 }),
  tiny: testConfig({ tm: 3, tn: 5, ibuf: 200, obuf: 48, sbuf: 96 }),
  odd: testConfig({ tm: 5, tn: 7, ibuf: 600, obuf: 130, sbuf: 300 }),
};

const CASES: Array<{ h: number; w: number; width: number; decoder: Decoder; cfg: string; bits?: number; seed: number }> = [
  { h: 64, w: 64, width: 0.0625, decoder: 'upsample-conv', cfg: 'tiny', seed: 1 },
  { h: 64, w: 64, width: 0.0625, decoder: 'conv-upsample', cfg: 'tiny', seed: 2 },
  { h: 64, w: 128, width: 0.0625, decoder: 'upsample-conv', cfg: 'odd', bits: 5, seed: 3 },
  { h: 64, w: 128, width: 0.0625, decoder: 'conv-upsample', cfg: 'roomy', bits: 6, seed: 4 },
  { h: 128, w: 192, width: 0.03125, decoder: 'upsample-conv', cfg: 'odd', seed: 5 },
  { h: 128, w: 192, width: 0.03125, decoder: 'conv-upsample', cfg: 'tiny', seed: 6 },
];

for (const cs of CASES) {
  t.test(`${cs.h}x${cs.w} w${cs.width} ${cs.decoder} ${cs.cfg}`, async (t) => {
    const arch = flownetsQ({ width: cs.width, decoder: cs.decoder, bits: cs.bits });
    const model = randomModel(arch, cs.seed);
    const cfg = CONFIGS[cs.cfg];
    const plan = planNetwork(arch, cs.h, cs.w, cfg);
    const exec = new TsEngineExecutor(cfg);
    const runner = new FrameRunner(plan, model, exec, { verify: 'full', policy: 'stop' });
    for (let f = 0; f < 2; f++) {
      const frames = randomFrames(cs.h, cs.w, cs.seed * 10 + f);
      const want = forward(model, frames, cs.h, cs.w, { keepLayers: true });
      const got = await runner.runFrame(frames);
      t.equal(got.mismatches.length, 0, 'full verification clean');
      t.same(Buffer.from(got.flow.buffer).equals(Buffer.from(want.flow.buffer)), true, `frame ${f} flow bit-exact`);
      t.ok(got.cycles > 0);
    }
    // Tiles at every border: the plan has several row and column tiles in some step.
    if (cs.cfg === 'tiny') t.ok(plan.steps.some((s) => s.tileH < s.output.h && s.tileW < s.output.w), 'multi-tile steps');
  });
}

t.test('runFrameSteps hands every step its whole output: the last step of each layer equals the reference layer', async (t) => {
  for (const decoder of ['upsample-conv', 'conv-upsample'] as const) {
    const arch = flownetsQ({ width: 0.0625, decoder, bits: 6 });
    const model = randomModel(arch, 21);
    const cfg = CONFIGS.odd!;
    const plan = planNetwork(arch, 64, 64, cfg);
    const runner = new FrameRunner(plan, model, new TsEngineExecutor(cfg));
    const frames = randomFrames(64, 64, 22);
    const ref = forward(model, frames, 64, 64, { keepLayers: true });
    const got = new Map<string, Uint8Array>();
    let steps = 0;
    let total = 0;
    const r = await runner.runFrameSteps(frames, (st, out, cycles) => {
      steps++;
      total += cycles;
      t.equal(out.length, st.output.c * st.output.h * st.output.w * st.output.esize, `${st.name} size`);
      got.set(st.layer < 0 ? 'output' : arch.layers[st.layer]!.name, out.slice()); // conv-upsample: the up2 step comes last
    });
    t.equal(steps, plan.steps.length);
    t.equal(r.cycles, total);
    for (const l of ref.layers!) {
      const want = new Uint8Array(l.data.buffer, l.data.byteOffset, l.data.byteLength);
      t.same(got.get(l.name), want, `${decoder} ${l.name}`);
    }
  }
});
