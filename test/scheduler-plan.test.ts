import t from 'tap';
import { flownetsQ } from '../src/model/arch.js';
import { BOARDS } from '../src/driver/boards.js';
import { configFromBoard, configFromCaps, testConfig } from '../src/scheduler/config.js';
import { planNetwork, encodeCommands, patchIo } from '../src/scheduler/plan.js';
import { costReport } from '../src/scheduler/cost.js';
import { decodeCommand } from '../src/scheduler/cycles.js';
import { checkCommand, newGeo, ST_OK } from '../src/scheduler/geometry.js';
import { planReport } from '../src/cli/commands/plan.js';
import { UserError } from '../src/errors.js';

t.test('full network on every board: valid commands, buffers never overlap while live (planning time: bench/plan.ts)', async (t) => {
  for (const b of ['pynq-z2', 'ultra96v2', 'zcu104'] as const) {
    const cfg = configFromBoard(BOARDS[b]);
    const plan = planNetwork(flownetsQ(), 384, 512, cfg);
    const g = newGeo();
    t.ok(plan.cmds.every((c) => checkCommand(c, cfg, 0, plan.layout.staticBytes + 1e9, g) === ST_OK), `${b}: engine accepts all`);
    const arena = plan.buffers.filter((x) => x.region === 'static');
    for (const a of arena) {
      for (const o of arena) {
        if (a.id >= o.id) continue;
        const liveTogether = a.firstStep <= o.lastStep && o.firstStep <= a.lastStep;
        const overlap = a.offset < o.offset + o.bytes && o.offset < a.offset + a.bytes;
        if (liveTogether && overlap) t.fail(`${a.name} and ${o.name} overlap`);
      }
    }
    const total = arena.reduce((s, x) => s + x.bytes, 0);
    t.ok(plan.layout.arenaBytes < total, `${b}: liveness reuse ${plan.layout.arenaBytes} < ${total}`);
    const r = costReport(plan);
    t.ok(r.total.efficiency > 0 && r.total.efficiency <= 1, 'efficiency in (0, 1]');
    t.ok(r.layers.every((l) => l.est_ms >= l.roofline_ms * 0.999), 'no layer beats its roofline');
    t.equal(r.total.macs, 20269498368);
  }
});

t.test('patch table binds only frame input and flow output', async (t) => {
  const plan = planNetwork(flownetsQ({ width: 0.125 }), 64, 128, testConfig({ tm: 4, tn: 4, ibuf: 300, obuf: 64, sbuf: 200 }));
  const list = encodeCommands(plan, 4096);
  patchIo(list, plan.patches, 1 << 20, 2 << 20);
  t.ok(plan.patches.some((p) => p.region === 'input') && plan.patches.some((p) => p.region === 'output'));
  const conv1 = plan.steps[0];
  for (let i = conv1.cmdBegin; i < conv1.cmdEnd; i++) t.equal(decodeCommand(list, i * 128).inAddr, 1 << 20);
  const last = decodeCommand(list, (plan.cmds.length - 1) * 128);
  t.equal(last.outAddr, 2 << 20);
  t.equal(decodeCommand(list, 0).wAddr, 4096 + plan.cmds[0].wAddr);
});

t.test('configuration from capability registers; impossible buffers give a UserError', async (t) => {
  const cfg = configFromCaps({ peRows: 8, peCols: 8, ibuf: 4096, obuf: 1024, sbuf: 2048, feat: 0x06aa01fc, clockMHz: 100 }, 1.2);
  t.equal(cfg.bitsMin, 2);
  t.equal(cfg.bitsMax, 8);
  t.same([cfg.wrBytes, cfg.upPar], [1, 1], 'byte-wide store, 1 px/cycle interpolation');
  // cap_feat [13:12] log2 FF_WR_BYTES, [15:14] log2 FF_UP_PAR (a ZynqMP build: 8 and 4).
  const wide = configFromCaps({ peRows: 32, peCols: 8, ibuf: 8192, obuf: 2048, sbuf: 4096, feat: 0x06aa01fc | (3 << 12) | (2 << 14), clockMHz: 200 }, 3.2);
  t.same([wide.wrBytes, wide.upPar, wide.bitsMin, wide.bitsMax], [8, 4, 2, 8]);
  t.throws(() => planNetwork(flownetsQ({ width: 0.0625 }), 64, 64, testConfig({ tm: 2, tn: 2, ibuf: 40, obuf: 4, sbuf: 8 })), UserError);
  t.throws(() => planNetwork(flownetsQ(), 100, 64, cfg), UserError);
});

t.test('pixel lanes (cap_feat[11]): used for the flow head only when the engine has them', async (t) => {
  const { FLAG_PIXLANES } = await import('../src/scheduler/cycles.js');
  const caps = { peRows: 64, peCols: 16, ibuf: 8192, obuf: 1024, sbuf: 4096, clockMHz: 250 };
  const feat = 0x06aa01fc | (1 << 9) | (3 << 12) | (3 << 14);
  const off = configFromCaps({ ...caps, feat }, 4), on = configFromCaps({ ...caps, feat: feat | (1 << 11) }, 4);
  t.same([off.pixLanes, on.pixLanes], [false, true]);
  const head = (cfg: typeof on) => {
    const plan = planNetwork(flownetsQ(), 384, 512, cfg);
    const st = plan.steps.find((x) => x.name === 'predict_flow2')!;
    const cmds = plan.cmds.slice(st.cmdBegin, st.cmdEnd);
    t.equal(plan.cmds.filter((c) => c.flags & FLAG_PIXLANES).length, cfg.pixLanes ? cmds.length : 0, 'only the head, only if supported');
    return st;
  };
  const a = head(off), b = head(on);
  // Kernel-column packing: conv1 (Cin 6 on FF_TN 16: D = 2, k 7 in 7·4 instead of 49 tap steps), nothing else.
  const { FLAG_KPACK } = await import('../src/scheduler/cycles.js');
  const kp = (cfg: typeof on) => {
    const plan = planNetwork(flownetsQ(), 384, 512, cfg);
    const st = plan.steps.find((x) => x.name === 'conv1')!;
    t.equal(plan.cmds.filter((c) => c.flags & FLAG_KPACK).length, cfg.kPack ? st.cmdEnd - st.cmdBegin : 0, 'KPACK only on conv1');
    return st.cost.cycles;
  };
  const [kOff, kOn] = [kp(off), kp(on)];
  t.ok(kOn < kOff * 0.75, `conv1 ${kOn} < 0.75 x ${kOff} cycles`);
  t.ok(b.cost.cycles < a.cost.cycles / 2, `flow head ${b.cost.cycles} < ${a.cost.cycles} / 2 cycles`);
  t.ok(b.tileH * b.tileW > 1024, `lane tiles exceed FF_OBUF pixels: ${b.tileH}x${b.tileW}`);
  // An engine without the mode rejects the flag (PARAM), like the engine itself.
  const c = plan0(on);
  t.ok(c.flags & FLAG_PIXLANES, 'small plan: head uses lanes');
  const g = newGeo();
  t.equal(checkCommand({ ...c, flags: c.flags | FLAG_PIXLANES }, on, 0, 1e12, g), ST_OK);
  t.equal(checkCommand({ ...c, flags: c.flags | FLAG_PIXLANES }, off, 0, 1e12, g), 3);
});

function plan0(cfg: ReturnType<typeof testConfig>) {
  const plan = planNetwork(flownetsQ({ width: 0.25 }), 64, 64, cfg);
  const st = plan.steps.find((x) => x.name === 'predict_flow2')!;
  return plan.cmds[st.cmdBegin]!;
}

t.test('plan CLI report shape', async (t) => {
  const r = planReport({ board: 'ultra96v2', size: '128x128' });
  t.ok(Array.isArray(r.layers) && r.layers.length === 16);
  for (const k of ['est_ms', 'roofline_ms', 'efficiency', 'ddr_bytes', 'min_ddr_bytes'] as const) t.type(r.total[k], 'number');
  t.throws(() => planReport({ board: 'nope' }), UserError);
  t.throws(() => planReport({ board: 'zcu104', bits: '9' }), UserError);
});

t.test('packed weight layout: per FF_TN input block, round trip, identical when Cin <= FF_TN', async (t) => {
  const { packWeights, unpackWeights } = await import('../src/scheduler/pack.js');
  const cout = 5, cin = 11, kk = 9, tn = 4;
  const w = new Int8Array(cout * cin * kk);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 37) % 251) - 125;
  const packed = new Int8Array(w.length);
  packWeights(w, cout, cin, kk, tn, packed);
  // Block j = 2 (channels 8..10, tn 3) of output channel 3 starts at (cout·8 + 3·3)·kk and holds w[3][8..10][·].
  const at = (cout * 8 + 3 * 3) * kk;
  t.same(Array.from(packed.subarray(at, at + 3 * kk)), Array.from(w.subarray((3 * cin + 8) * kk, (3 * cin + 11) * kk)));
  const back = new Int8Array(w.length);
  unpackWeights(packed, cout, cin, kk, tn, back);
  t.same(back, w);
  const same = new Int8Array(w.length);
  packWeights(w, cout, cin, kk, 16, same);
  t.same(same, w, 'one input block: the contract layout');
});

t.test('full accumulator (cap_feat[0]): DDR traffic <= 1.5x the minimum on every board, only when the engine has it', async (t) => {
  const { FLAG_ACCFULL } = await import('../src/scheduler/cycles.js');
  const caps = { peRows: 16, peCols: 10, ibuf: 8192, obuf: 2560, sbuf: 4096, clockMHz: 125 };
  const feat = 0x06aa01fc | (2 << 12) | (2 << 14) | (1 << 11);
  t.same([configFromCaps({ ...caps, feat }, 1).accFull, configFromCaps({ ...caps, feat: feat | 1 }, 1).accFull], [false, true]);
  t.same(configFromCaps({ ...caps, feat: feat | 1 }, 1).bitsMin, 2, 'bit 0 is not a bit width');
  for (const b of ['pynq-z2', 'ultra96v2', 'zcu104'] as const) {
    const on = configFromBoard(BOARDS[b]), off = { ...on, accFull: false };
    t.ok(on.accFull, `${b}: the board build has ACCFULL`);
    const ratio = (cfg: typeof on): [number, number] => {
      const plan = planNetwork(flownetsQ(), 384, 512, cfg);
      const n = plan.cmds.filter((c) => c.flags & FLAG_ACCFULL).length;
      if (!cfg.accFull) t.equal(n, 0, `${b}: no ACCFULL commands without the capability`);
      const tot = costReport(plan).total;
      return [tot.ddr_bytes / tot.min_ddr_bytes, n];
    };
    const [rOn, nOn] = ratio(on), [rOff] = ratio(off);
    t.ok(nOn > 0, `${b}: ${nOn} ACCFULL commands`);
    t.ok(rOn <= 1.5, `${b}: DDR ${rOn.toFixed(3)}x the compulsory minimum (without ACCFULL ${rOff.toFixed(3)}x)`);
    t.ok(rOn < rOff);
  }
  // A list with ACCFULL commands is refused up front by a runner whose engine lacks the mode (not at its first command).
  const { FrameRunner } = await import('../src/scheduler/runner.js');
  const { TsEngineExecutor } = await import('../src/scheduler/executor.js');
  const { randomModel } = await import('../src/reference/index.js');
  const small = testConfig({ tm: 3, tn: 5, ibuf: 200, obuf: 48, sbuf: 96 });
  const arch = flownetsQ({ width: 0.0625, decoder: 'conv-upsample' });
  const plan = planNetwork(arch, 64, 64, small);
  t.ok(plan.cmds.some((c) => c.flags & FLAG_ACCFULL), 'small build: ACCFULL used');
  const model = randomModel(arch, 3);
  t.throws(() => new FrameRunner(plan, model, new TsEngineExecutor({ ...small, accFull: false }), { verify: 'off' }), UserError);
  t.doesNotThrow(() => new FrameRunner(plan, model, new TsEngineExecutor(small), { verify: 'off' }));
});
