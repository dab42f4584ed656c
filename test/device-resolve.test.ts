// --board resolution and the reference FlowDevice.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTarget, envBoard } from '../src/device/resolve.js';
import { openFlowDevice, RefFlowDevice } from '../src/device/flow-device.js';
import { flownetsQ } from '../src/model/arch.js';
import { forward } from '../src/reference/forward.js';
import { randomFrames, randomModel } from '../src/reference/random.js';
import { UserError } from '../src/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-resolve-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const noUio = { sysfsRoot: path.join(dir, 'none') };

t.test('auto: FLOWFPGA_BOARD, then a UIO engine, else emu with one notice line', async (t) => {
  const notes: string[] = [];
  const notice = (l: string) => notes.push(l);
  t.same(resolveTarget('auto', { env: {}, uio: noUio, notice }), { kind: 'emu', board: 'emu', title: 'virtual board (models Ultra96-V2)' });
  t.equal(notes.length, 1);
  t.match(notes[0], /^flowfpga: no FPGA board found \(no flowfpga_engine under .*none, FLOWFPGA_BOARD unset\); using the virtual board \(--board emu\)$/);
  t.match(resolveTarget('auto', { env: { FLOWFPGA_BOARD: 'zcu104' }, uio: noUio, notice }), { kind: 'board', board: 'zcu104' });
  const sysfs = path.join(dir, 'uio');
  fs.mkdirSync(path.join(sysfs, 'uio2'), { recursive: true });
  fs.writeFileSync(path.join(sysfs, 'uio2', 'name'), 'flowfpga_engine\n');
  t.match(resolveTarget('auto', { env: {}, uio: { sysfsRoot: sysfs }, notice }), { kind: 'board' });
  t.equal(notes.length, 1, 'no notice when a board is found');
  t.throws(() => envBoard({ FLOWFPGA_BOARD: 'emu' }), { name: 'UserError', message: "FLOWFPGA_BOARD='emu' is not a board" });
  t.throws(() => envBoard({ FLOWFPGA_BOARD: 'kv260' }), UserError);
});

t.test('explicit targets', async (t) => {
  t.same(resolveTarget('ref'), { kind: 'ref' });
  t.match(resolveTarget('emu'), { kind: 'emu', board: 'emu' });
  t.match(resolveTarget('pynq-z2'), { kind: 'board', board: 'pynq-z2', title: 'TUL PYNQ-Z2' });
  t.throws(() => resolveTarget('pynq'), { name: 'UserError', message: "unknown board 'pynq'" });
});

t.test('ref FlowDevice = forward(), full-resolution int16 flow', async (t) => {
  const dev = await openFlowDevice({ board: 'ref' });
  t.ok(dev instanceof RefFlowDevice);
  const model = randomModel(flownetsQ({ width: 0.125 }), 3);
  await dev.load(model, 64, 64);
  const frames = randomFrames(64, 64, 5);
  const r = await dev.infer(frames);
  t.equal(r.flow.length, 2 * 64 * 64);
  t.equal(r.fracBits, model.arch.flowFracBits);
  t.same(r.flow, forward(model, frames, 64, 64).flow);
  t.ok(r.timings.totalMs > 0);
  await dev.close();
  await t.rejects(dev.infer(frames), /infer\(\) before load\(\)/);
});

t.test('engine targets need the scheduler', async (t) => {
  await t.rejects(openFlowDevice({ board: 'emu' }), { name: 'UserError', message: '--board emu: engine inference is not available in this build' });
});
