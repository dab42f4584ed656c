// The virtual board process: lifecycle, fake sysfs/UIO, register-block semantics, interrupt fd, fault parsing.
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUio, UioDevice } from '../src/driver/uio.js';
import { ENGINE_REGS as R, AP_START, AP_DONE, AP_IDLE, AP_READY } from '../src/driver/engine-regs.js';
import { createLibcSys } from '../src/sys/index.js';
import { EmuControl, EmuIrq, EmuRegisterBus, parseFault, faultArgs, startEmu, readEmuInfo, type EmuProcess } from '../src/emu/index.js';
import { UserError } from '../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync('make', ['-s', '-C', path.join(root, 'hw'), 'emu'], { stdio: 'inherit' });
const sys = createLibcSys();

interface Open { proc: EmuProcess; uio: UioDevice; bus: EmuRegisterBus; ctl: EmuControl; raw: Uint32Array }
async function open(isr: 'tow' | 'cor' = 'tow'): Promise<Open> {
  const proc = await startEmu({ ddrMb: 1, isr });
  const uio = new UioDevice(findUio('flowfpga_engine', { sysfsRoot: proc.info.sysfsRoot, devRoot: proc.info.devRoot }), sys);
  const m = uio.map(0);
  const ctl = new EmuControl(sys, proc.info.control);
  return { proc, uio, ctl, bus: new EmuRegisterBus(m, ctl.isrMode), raw: new Uint32Array(m.buffer()) };
}
async function close(o: Open): Promise<void> {
  o.ctl.close();
  o.uio.close();
  await o.proc.stop();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Bounded polling for a condition the board process brings about (never a fixed sleep: on a loaded machine the
 * board may not run for a while). The bound is generous; reaching it fails the test with `what`.
 */
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}
/** Polls the raw word (no read side effects) until the model raised ap_done. */
async function waitRawDone(o: Open, ms = 30_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(o.raw[0]! & AP_DONE)) {
    if (performance.now() > end) throw new Error('no ap_done');
    await sleep(0.2);
  }
}

t.test('lifecycle: ready line, fake sysfs found by the UIO discovery code, nothing left behind', async (t) => {
  const proc = await startEmu({ ddrMb: 2 });
  const i = proc.info;
  t.equal(i.uioName, 'flowfpga_engine');
  t.equal(i.ddrBase, '0x10000000');
  t.equal(i.ddrSize, 2 << 20);
  t.equal(fs.statSync(i.ddr).size, 2 << 20);
  const u = findUio('flowfpga_engine', { sysfsRoot: i.sysfsRoot, devRoot: i.devRoot });
  t.equal(u.device, path.join(i.devRoot, 'uio0'));
  t.same(u.maps[0], { index: 0, name: 's_axi_control', addr: 0xa0000000n, size: 0x10000, offset: 0 });
  t.same(readEmuInfo(i.dir), i);
  t.ok(fs.statSync(i.irq).isSocket());
  await proc.stop();
  t.notOk(proc.running);
  t.notOk(fs.existsSync(i.dir), 'temp dir removed');
  t.throws(() => process.kill(i.pid, 0), { code: 'ESRCH' }, 'process gone');
});

t.test('the board dies with its parent and removes its files', async (t) => {
  // A child node process starts a board, prints its info, then is SIGKILLed (no exit hooks run).
  const script = `import { startEmu } from ${JSON.stringify(path.join(root, 'src/emu/process.ts'))};
    const p = await startEmu({ ddrMb: 1 }); console.log(JSON.stringify(p.info)); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    let b = '';
    child.stdout!.on('data', (d) => { b += d; if (b.includes('\n')) res(b.split('\n')[0]!); });
    child.once('exit', () => rej(new Error('child exited early')));
  });
  const info = JSON.parse(line) as { pid: number; dir: string };
  t.ok(fs.existsSync(info.dir));
  child.kill('SIGKILL');
  const end = Date.now() + 30_000;
  let alive = true;
  while (alive && Date.now() < end) {
    await sleep(50);
    try { process.kill(info.pid, 0); } catch { alive = false; }
  }
  t.notOk(alive, 'board exited after its parent died');
  t.notOk(fs.existsSync(info.dir), 'board removed its directory');
});

t.test('start failures are one clear line', async (t) => {
  await t.rejects(startEmu({ ddrMb: 0 }), UserError);
  const prev = process.env.FLOWFPGA_EMU_BIN;
  process.env.FLOWFPGA_EMU_BIN = '/nonexistent/flowfpga-emu';
  try {
    await t.rejects(startEmu(), { name: 'UserError', message: /virtual board binary not found at \/nonexistent/ });
  } finally {
    if (prev === undefined) delete process.env.FLOWFPGA_EMU_BIN; else process.env.FLOWFPGA_EMU_BIN = prev;
  }
});

t.test('ap_ctrl handshake, clear-on-read bits, ap_vld, output scalars', async (t) => {
  const o = await open();
  t.teardown(() => close(o));
  const { bus } = o;
  t.equal(bus.read32(R.AP_CTRL), AP_IDLE, 'reset value: idle only');
  t.equal(bus.read32(R.magic + 4), 0, 'no ap_vld before the first run');
  // Writes to read-only bits and registers are ignored.
  bus.write32(R.AP_CTRL, AP_DONE | AP_READY);
  t.equal(bus.read32(R.AP_CTRL), AP_IDLE);
  bus.write32(R.magic, 0x1234);
  t.equal(bus.read32(R.magic), 0);
  bus.write32(R.cmd_count, 0);
  bus.write32(R.AP_CTRL, AP_START);
  await waitRawDone(o);
  const c1 = bus.read32(R.AP_CTRL);
  t.equal(c1 & (AP_DONE | AP_IDLE | AP_READY), AP_DONE | AP_IDLE | AP_READY, 'done, idle and ready after the run');
  t.equal(c1 & AP_START, 0, 'ap_start cleared by the ap_ready handshake');
  t.equal(bus.read32(R.AP_CTRL), AP_IDLE, 'ap_done and ap_ready cleared by the first read');
  t.equal(bus.read32(R.magic), 0x31514646);
  t.equal(bus.read32(R.magic + 4), 1, 'magic_ap_vld set');
  t.equal(bus.read32(R.magic + 4), 0, 'magic_ap_vld clears on read');
  t.equal(bus.read32(R.status), 0);
  t.equal(bus.read32(0x200), 0, 'beyond the register range reads 0');
  t.throws(() => bus.read32(2), /unaligned read at 0x2/);
  t.throws(() => bus.read32(0x10000), /outside the 0x10000-byte window/);
  // auto_restart keeps ap_start set after completion.
  bus.write32(R.AP_CTRL, 0x80 | AP_START);
  await waitRawDone(o);
  t.equal(bus.read32(R.AP_CTRL) & (AP_START | 0x80), AP_START | 0x80, 'auto_restart re-arms ap_start');
  bus.write32(R.AP_CTRL, 0); // clear auto_restart; the run in flight ends the chain
  await until(() => !(o.raw[0]! & AP_START), 'the auto-restart chain to end');
  t.equal(bus.read32(R.AP_CTRL) & AP_START, 0);
  t.ok(o.ctl.jobsDone >= 3);
});

for (const mode of ['tow', 'cor'] as const) {
  t.test(`ISR (${mode}), GIE/IER gating, interrupt pin bit, UIO interrupt fd`, async (t) => {
    const o = await open(mode);
    t.teardown(() => close(o));
    const { bus } = o;
    t.equal(o.ctl.isrMode, mode);
    const irq = new EmuIrq(sys, o.proc.info.irq, o.uio.info.device);
    t.teardown(() => irq.close());
    // IER off: ISR stays 0 after a run.
    bus.write32(R.AP_CTRL, AP_START);
    await waitRawDone(o);
    t.equal(bus.read32(R.ISR), 0, 'no ISR bit without IER');
    bus.read32(R.AP_CTRL);
    // IER on, GIE off: ISR latches but the pin stays low and no event arrives.
    bus.write32(R.IER, 1);
    irq.arm();
    bus.write32(R.AP_CTRL, AP_START);
    await waitRawDone(o);
    t.equal(await irq.wait(30), null, 'no event with GIE = 0');
    t.equal(bus.read32(R.AP_CTRL) & 0x200, 0, 'interrupt bit low with GIE = 0');
    bus.write32(R.GIE, 1);
    t.equal(bus.read32(R.AP_CTRL) & 0x200, 0x200, 'interrupt bit follows GIE & ISR');
    const n1 = await irq.wait(30_000);
    t.type(n1, 'number', 'level-sensitive: enabling GIE with ISR set raises the line');
    t.equal(await irq.wait(30), null, 'line disabled after one event until re-armed');
    // Clear ISR the driver's way: read, write the value back (works for both flavours).
    const isr = bus.read32(R.ISR);
    t.equal(isr & 1, 1);
    bus.write32(R.ISR, isr);
    t.equal(bus.read32(R.ISR), 0, 'cleared');
    if (mode === 'tow') {
      bus.write32(R.ISR, 1);
      t.equal(bus.read32(R.ISR), 1, 'TOW: writing 1 to a clear bit sets it');
      t.equal(bus.read32(R.ISR), 1, 'TOW: reads do not clear');
      bus.write32(R.ISR, 1);
      t.equal(bus.read32(R.ISR), 0);
    } else {
      bus.write32(R.ISR, 1);
      t.equal(bus.read32(R.ISR), 0, 'COR: writes are ignored');
    }
    irq.arm();
    bus.write32(R.AP_CTRL, AP_START);
    const n2 = await irq.wait(30_000);
    t.equal(n2, n1! + 1, 'event count increments by one per interrupt');
    t.equal(o.ctl.irqEvents, n2);
  });
}

t.test('PL reset and hold-in-reset through the control file', async (t) => {
  const o = await open();
  t.teardown(() => close(o));
  const { bus, ctl } = o;
  ctl.setFaults({ hang: true });
  t.same(ctl.faults(), { hang: true });
  bus.write32(R.AP_CTRL, AP_START);
  await until(() => ctl.state === 'withheld', 'the hung job to start');
  t.equal(ctl.state, 'withheld');
  t.equal(bus.read32(R.AP_CTRL) & (AP_IDLE | AP_DONE), 0, 'busy, never done');
  bus.write32(R.GIE, 1);
  await ctl.plReset();
  t.equal(bus.read32(R.AP_CTRL), AP_IDLE, 'reset: idle again');
  t.equal(bus.read32(R.GIE), 0, 'reset: registers at reset values');
  ctl.setFaults({ reset: true });
  const started = ctl.jobsStarted;
  bus.write32(R.AP_CTRL, AP_START);
  // The raw word (no read side effects): ap_start goes away when the model drops it (or, wrongly, ends a job).
  await until(() => !(o.raw[0]! & AP_START), 'ap_start to be dropped');
  t.equal(ctl.state, 'reset');
  t.equal(ctl.jobsStarted, started, 'no job started while held in reset');
  t.equal(bus.read32(R.AP_CTRL), AP_IDLE, 'ap_start lost while held in reset');
  ctl.clearFaults();
  bus.write32(R.AP_CTRL, AP_START);
  await waitRawDone(o);
  t.equal(bus.read32(R.status), 0);
});

t.test('fault switch parsing', async (t) => {
  t.same(parseFault('hang'), { hang: true });
  t.same(parseFault('late=250'), { lateMs: 250 });
  t.same(parseFault('flip'), { flip: 1 });
  t.same(parseFault('flip=0x80'), { flip: 128 });
  t.same(parseFault('bus-error'), { busError: 'any' });
  t.same(parseFault('bus-error=0x10001000'), { busError: 0x10001000n });
  t.same(parseFault('reset'), { reset: true });
  t.throws(() => parseFault('late'), { name: 'UserError', message: /--fault late: value must be 0..3600000/ });
  t.throws(() => parseFault('flip=300'), UserError);
  t.throws(() => parseFault('melt'), { message: "unknown fault 'melt'" });
  const all = { hang: true, lateMs: 5, flip: 3, busError: 0x20n, reset: true } as const;
  t.same(faultArgs(all), ['hang', 'late=5', 'flip=3', 'bus-error=0x20', 'reset']);
  t.same(faultArgs(all).reduce((f, s) => parseFault(s, f), {}), all, 'round trip');
});
