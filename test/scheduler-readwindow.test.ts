// Strided window reads (CommandExecutor.readWindow): the TS interpreter, DeviceExecutor's fallback and delegation,
// EngineDevice.readWindow on the virtual board (cache syncs and buffer ownership), and the verifier through them.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { flownetsQ } from '../src/model/arch.js';
import { randomFrames, randomModel } from '../src/reference/index.js';
import { Prng } from '../src/reference/prng.js';
import { testConfig } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { DeviceExecutor, TsEngineExecutor, packWindow, type CommandExecutor, type EngineDeviceLike } from '../src/scheduler/executor.js';
import { FrameRunner } from '../src/scheduler/runner.js';
import { EngineDevice, windowSyncPerPlane } from '../src/device/engine-device.js';
import { EngineAddressSpace } from '../src/cli/engine-flow.js';

/** The window by definition, element by element. */
function naive(src: Uint8Array, addr: number, planes: number, ps: number, rows: number, rs: number, rb: number): Uint8Array {
  const out = new Uint8Array(planes * rows * rb);
  let d = 0;
  for (let p = 0; p < planes; p++) for (let r = 0; r < rows; r++) for (let i = 0; i < rb; i++) out[d++] = src[addr + p * ps + r * rs + i];
  return out;
}

// (addr, planes, planeStride, rows, rowStride, rowBytes): short rows (byte loop) and long rows (set), one plane,
// one row, planes closer than a plane's rows would reach.
const SHAPES: Array<[number, number, number, number, number, number]> = [
  [13, 5, 300, 3, 40, 7], [64, 3, 1000, 4, 100, 90], [7, 1, 0, 1, 0, 33], [100, 9, 50, 2, 20, 5], [0, 2, 4096, 6, 512, 64],
];

t.test('packWindow / TsEngineExecutor.readWindow copy exactly the window, into out or a new array', async (t) => {
  const exec = new TsEngineExecutor(testConfig(), 1 << 14);
  const a = exec.alloc(10000);
  const img = new Prng(1).fillInt(new Uint8Array(10000), 0, 255);
  exec.write(a, img);
  for (const [addr, p, ps, r, rs, rb] of SHAPES) {
    const want = naive(exec.ddr, a + addr, p, ps, r, rs, rb);
    t.same(exec.readWindow(a + addr, p, ps, r, rs, rb), want, `${p}x${r}x${rb} new array`);
    const out = new Uint8Array(want.length + 5).fill(0xee);
    t.equal(exec.readWindow(a + addr, p, ps, r, rs, rb, out), out, 'returns out');
    t.same(out.subarray(0, want.length), want, `${p}x${r}x${rb} into out`);
    t.equal(out[want.length], 0xee, 'nothing written past the window');
  }
  t.throws(() => exec.readWindow(a, 2, 10, 2, 3, 4, new Uint8Array(15)), /output of 15 bytes for 16/);
  t.throws(() => packWindow(new Uint8Array(100), 50, 2, 40, 2, 10, 5), /outside 100 bytes/);
});

t.test('DeviceExecutor: delegates readWindow, else falls back to one read per row', async (t) => {
  const mem = new Prng(2).fillInt(new Uint8Array(8192), 0, 255);
  let reads = 0, windows = 0;
  const base: EngineDeviceLike = {
    config: testConfig(),
    alloc: () => 0,
    write: () => {},
    read: (addr, len) => {
      reads++;
      return mem.slice(addr, addr + len);
    },
    runCommands: async () => ({ status: 0, errIndex: 0, cmdsDone: 0, cycles: 0 }),
  };
  const plain = new DeviceExecutor(base);
  const withWin = new DeviceExecutor({ ...base, readWindow: (...a) => (windows++, packWindow(mem, ...a)) });
  for (const [addr, p, ps, r, rs, rb] of SHAPES) {
    const want = naive(mem, addr, p, ps, r, rs, rb);
    reads = 0;
    t.same(plain.readWindow(addr, p, ps, r, rs, rb), want, 'fallback');
    t.equal(reads, p * r, 'fallback: one read per row');
    windows = reads = 0;
    t.same(withWin.readWindow(addr, p, ps, r, rs, rb), want, 'delegated');
    t.same([windows, reads], [1, 0], 'delegated: one call');
  }
});

t.test('windowSyncPerPlane: per plane only where planes lie far apart', async (t) => {
  t.equal(windowSyncPerPlane(1, 1 << 20, 300, 16384), false, 'one plane: one sync');
  t.equal(windowSyncPerPlane(64, 49152, 1029, 16384), true, '64 planes 48 KB apart: 64 syncs of 1 KB beat 3 MB');
  t.equal(windowSyncPerPlane(512, 768, 67, 16384), false, '512 planes 768 B apart: one 384 KB sync');
  t.equal(windowSyncPerPlane(4, 1000, 100, 0), true, 'free sync calls: always per plane');
});

t.test('verifier: same checks and detections through viewWindow, readWindow and read()', async (t) => {
  const cfg = testConfig({ tm: 3, tn: 5, ibuf: 200, obuf: 48, sbuf: 96 });
  const arch = flownetsQ({ width: 0.0625 });
  const model = randomModel(arch, 7);
  const plan = planNetwork(arch, 64, 64, cfg);
  const frames = randomFrames(64, 64, 11);
  // Executors with fewer paths (the verifier's fallbacks), over the same interpreter.
  const narrow = (e: TsEngineExecutor, win: boolean): CommandExecutor => ({
    config: e.config, alloc: (b, a) => e.alloc(b, a), write: (a, d) => e.write(a, d), read: (a, n) => e.read(a, n),
    run: (c, n) => e.run(c, n), ...(win ? { readWindow: e.readWindow.bind(e) } : {}),
  });
  const lane = 1;
  const results = [];
  for (const variant of ['viewWindow', 'readWindow', 'read'] as const) {
    const exec = new TsEngineExecutor(cfg);
    const used = { viewWindow: 0, readWindow: 0, held: 0, maxHeld: 0 };
    const origR = exec.readWindow.bind(exec), origV = exec.viewWindow.bind(exec);
    exec.readWindow = (...a) => (used.readWindow++, origR(...a));
    exec.viewWindow = (...a) => (used.viewWindow++, used.maxHeld = Math.max(used.maxHeld, ++used.held), origV(...a));
    exec.releaseWindow = () => void used.held--;
    const target = variant === 'viewWindow' ? exec : narrow(exec, variant === 'readWindow');
    const runner = new FrameRunner(plan, model, target, { verify: 'full', policy: 'log', seed: 5 });
    const clean = await runner.runFrame(frames);
    t.equal(clean.mismatches.length, 0, `${variant}: clean frame passes full verification`);
    exec.faults.push({ kind: 'stuck-lane', lane, value: 77 });
    const bad = await runner.runFrame(frames);
    t.ok(bad.mismatches.length > 0, `${variant}: stuck lane detected`);
    t.ok(bad.mismatches.every((m) => (m.at.c - m.tile.co0) % cfg.tm === lane), `${variant}: every mismatch on the lane`);
    t.equal(used.viewWindow > 0, variant === 'viewWindow', `${variant}: viewWindow ${variant === 'viewWindow' ? '' : 'not '}used`);
    t.equal(used.readWindow > 0, variant === 'readWindow', `${variant}: readWindow ${variant === 'readWindow' ? '' : 'not '}used`);
    t.equal(used.held, 0, `${variant}: every view released`);
    if (variant === 'viewWindow') t.equal(used.maxHeld, 1, 'one view held at a time');
    results.push({ n: bad.mismatches.length, at: bad.mismatches.map((m) => [m.cmd, m.at.c, m.at.y, m.at.x]) });
  }
  t.same(results[0], results[1], 'identical mismatches viewWindow / readWindow');
  t.same(results[1], results[2], 'identical mismatches readWindow / read');
});

t.test('EngineDevice.readWindow on the virtual board: one read-only take of the window, buffer back to the device', async (t) => {
  execFileSync('make', ['-s', '-C', 'hw', 'emu'], { stdio: 'inherit' });
  const dev = await EngineDevice.open({ board: 'emu', ddrMb: 1 });
  t.teardown(() => dev.close());
  const buf = dev.alloc(16384, { label: 'win' });
  const img = new Prng(3).fillInt(new Uint8Array(16384), 0, 255);
  dev.write(buf, img);
  const syncs: Array<[string, number, number, string?]> = [];
  const toCpu = buf.toCpu.bind(buf), toDevice = buf.toDevice.bind(buf);
  buf.toCpu = (o = 0, l?: number, a?: 'read' | 'readwrite') => (syncs.push(['cpu', o, l ?? -1, a]), toCpu(o, l, a));
  buf.toDevice = (o = 0, l?: number) => (syncs.push(['dev', o, l ?? -1, buf.access]), toDevice(o, l));
  const [addr, p, ps, r, rs, rb] = [100, 5, 2000, 3, 64, 40];
  const want = naive(img, addr, p, ps, r, rs, rb);
  const span = (p - 1) * ps + (r - 1) * rs + rb;
  t.same(dev.readWindow(buf, addr, p, ps, r, rs, rb), want, 'the window');
  // The virtual board's DDR is coherent: no line lists, and the hand-back after a read-only take cleans nothing.
  t.same(syncs, [['cpu', addr, span, 'read'], ['dev', addr, span, 'read']], 'read-only take of the covering range, handed back');
  t.equal(buf.owner, 'device', 'range handed back to the device');
  t.same(dev.syncStats, { windows: 1, calls: 0, bytes: 0 }, 'coherent: no maintenance');
  syncs.length = 0;
  const out = new Uint8Array(want.length);
  t.equal(dev.readWindow(buf, addr, p, ps, r, rs, rb, out), out, 'into out');
  t.same(out, want);
  syncs.length = 0;
  t.same(dev.read(buf, 50, 10), img.subarray(50, 60), 'read()');
  t.same(syncs, [['cpu', 50, 10, 'read'], ['dev', 50, 10, 'read']], 'read(): read-only take too');
  syncs.length = 0;
  t.throws(() => dev.readWindow(buf, 16000, 2, 400, 2, 64, 10), /range \[16000, 16474\) outside the 16384 bytes of 'win'/, 'range checked');
  t.same(syncs, [], 'before any sync');
  // Zero-copy: a view of the covering span, held (run() refuses) until released.
  const v = dev.viewWindow(buf, addr, p, ps, r, rs, rb);
  t.equal(v.length, span);
  t.same(naive(v, 0, p, ps, r, rs, rb), want, 'viewWindow: the rows at their strides');
  t.equal(buf.access, 'read');
  await t.rejects(dev.run(0n, 0), /'win' is owned by the CPU at run\(\)/, 'run() refuses while a window is held');
  dev.releaseWindow(buf, addr, span);
  t.equal(buf.owner, 'device');
  dev.releaseWindow(buf, addr, span);
  t.equal((await dev.run(0n, 0)).status, 0, 'runs after the release');
  dev.free(buf);

  // EngineAddressSpace (the scheduler's view of the board): flat engine addresses over several DMA buffers.
  const space = new EngineAddressSpace(dev, 1);
  space.alloc(4096, 64);
  const at = space.alloc(8192, 64);
  const img2 = new Prng(4).fillInt(new Uint8Array(8192), 0, 255);
  space.write(at, img2);
  t.same(space.readWindow(at + 7, 4, 1500, 2, 100, 9), naive(img2, 7, 4, 1500, 2, 100, 9), 'EngineAddressSpace.readWindow');
  t.same(new DeviceExecutor(space).readWindow(at, 2, 4000, 3, 50, 33), naive(img2, 0, 2, 4000, 3, 50, 33), 'through DeviceExecutor');
  t.throws(() => space.readWindow(at, 3, 4000, 2, 100, 200), /not inside one allocated engine buffer/);
  space.freeAll();
});
