import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pulsePlReset, plResetHook, ZYNQ_PL_RESET as Z, ZYNQMP_PL_RESET as M } from '../src/driver/plreset.js';
import type { MmioOpener } from '../src/driver/clocks.js';
import { EngineDriver } from '../src/driver/engine.js';
import { EngineDevice } from '../src/device/engine-device.js';
import { createLibcSys, type Sys } from '../src/sys/index.js';

type Op = string;

/**
 * A register block that records every access in order. `onWrite` models the hardware's reaction (SLCR lock,
 * MASK_DATA → DATA); by default a write stores the value.
 */
class FakeRegs {
  readonly regs = new Map<number, number>();
  readonly log: Op[] = [];
  opened: string[] = [];
  closed = 0;
  constructor(
    init: Record<number, number>,
    readonly onWrite: (r: FakeRegs, off: number, v: number) => void = (r, off, v) => r.regs.set(off, v),
  ) {
    for (const [k, v] of Object.entries(init)) this.regs.set(Number(k), v);
  }
  readonly size = 0x1000;
  read32(off: number): number {
    const v = this.regs.get(off) ?? 0;
    this.log.push(`r ${hex(off)}=${hex(v)}`);
    return v;
  }
  write32(off: number, v: number): void {
    this.log.push(`w ${hex(off)} ${hex(v >>> 0)}`);
    this.onWrite(this, off, v >>> 0);
  }
  opener(): MmioOpener {
    return (phys, size, label) => {
      this.opened.push(`${hex(Number(phys))}+${hex(size)} ${label}`);
      return Object.assign(this, { close: () => void this.closed++ });
    };
  }
  writes(): Op[] {
    return this.log.filter((l) => l.startsWith('w '));
  }
}
const hex = (v: number): string => '0x' + v.toString(16);
const noSleep = async (): Promise<void> => {};

/** Zynq-7000 SLCR: writes other than UNLOCK are ignored while locked; LOCK/UNLOCK only change LOCKSTA. */
function slcr(locked: boolean, rst = 0): FakeRegs {
  return new FakeRegs({ [Z.LOCKSTA]: locked ? 1 : 0, [Z.FPGA_RST_CTRL]: rst }, (r, off, v) => {
    if (off === Z.UNLOCK) return void (v === Z.UNLOCK_KEY && r.regs.set(Z.LOCKSTA, 0));
    if (off === Z.LOCK) return void (v === Z.LOCK_KEY && r.regs.set(Z.LOCKSTA, 1));
    if (r.regs.get(Z.LOCKSTA) === 1) return;
    r.regs.set(off, v);
  });
}

/** ZynqMP GPIO: MASK_DATA_5_MSW writes the unmasked upper-half bits of DATA_5. */
function gpio(init: Record<number, number>): FakeRegs {
  return new FakeRegs(init, (r, off, v) => {
    if (off === M.MASK_DATA_5_MSW) {
      const keep = v >>> 16;
      const cur = r.regs.get(M.DATA_5) ?? 0;
      const upper = ((cur >>> 16) & keep) | (v & 0xffff & ~keep);
      r.regs.set(M.DATA_5, ((upper << 16) | (cur & 0xffff)) >>> 0);
      return;
    }
    r.regs.set(off, v);
  });
}

t.test('Zynq-7000, SLCR locked: unlock, assert FPGA0_OUT_RST, hold, release, relock; other resets kept', async (t) => {
  const f = slcr(true, 0x4); // FPGA2_OUT_RST held by someone else: must survive
  const sleeps: number[] = [];
  await pulsePlReset('zynq', f.opener(), { holdMs: 2, settleMs: 3, sleep: async (ms) => void sleeps.push(ms) });
  t.same(f.opened, ['0xf8000000+0x1000 SLCR']);
  t.equal(f.closed, 1, 'window closed');
  t.same(f.writes(), ['w 0x8 0xdf0d', 'w 0x240 0x5', 'w 0x240 0x4', 'w 0x4 0x767b']);
  t.ok(f.log.indexOf('r 0x240=0x5') > f.log.indexOf('w 0x240 0x5'), 'assert read back before the hold');
  t.same(sleeps, [2, 3], 'hold, then settle');
  t.equal(f.regs.get(Z.FPGA_RST_CTRL), 0x4);
  t.equal(f.regs.get(Z.LOCKSTA), 1, 'locked again');
});

t.test('Zynq-7000, SLCR left unlocked by Linux: no relock', async (t) => {
  const f = slcr(false);
  await pulsePlReset('zynq', f.opener(), { sleep: noSleep });
  t.same(f.writes(), ['w 0x8 0xdf0d', 'w 0x240 0x1', 'w 0x240 0x0']);
  t.equal(f.regs.get(Z.LOCKSTA), 0);
});

t.test('Zynq-7000: a write the SLCR ignores times out with one line and a hint, PL not left in reset', async (t) => {
  // Unlock key refused (e.g. secure-only): every FPGA_RST_CTRL write is lost.
  const f = new FakeRegs({ [Z.LOCKSTA]: 1 }, () => {});
  // The timeout error itself shows the wait ended; no wall-clock bound (it failed under qemu-user on a loaded machine).
  await t.rejects(pulsePlReset('zynq', f.opener(), { timeoutMs: 20 }), {
    name: 'UserError',
    message: 'PL reset: FPGA0_OUT_RST did not assert within 20 ms (register +0x240 reads 0x0)',
    hint: /SLCR ignored the write/,
  });
  t.same(f.writes().slice(-2), ['w 0x240 0x0', 'w 0x4 0x767b'], 'release and relock still written');
  t.equal(f.closed, 1);
});

t.test('Zynq-7000: a reset that never releases times out and relocks', async (t) => {
  const f = slcr(true);
  const stuck = new FakeRegs({ [Z.LOCKSTA]: 1 }, (r, off, v) => {
    f.onWrite(r, off, v);
    if (off === Z.FPGA_RST_CTRL) r.regs.set(off, r.regs.get(off)! | 1);
  });
  await t.rejects(pulsePlReset('zynq', stuck.opener(), { timeoutMs: 10, sleep: noSleep }), { message: /FPGA0_OUT_RST did not release within 10 ms/ });
  t.equal(stuck.writes().at(-1), 'w 0x4 0x767b');
});

t.test('ZynqMP: pl_resetn0 = EMIO 95 pulsed low through MASK_DATA_5_MSW; other bank-5 pins untouched', async (t) => {
  // After psu_init: pin 31 an enabled output at 1; pin 3 is some other EMIO output at 1.
  const f = gpio({ [M.DIRM_5]: 0x80000008, [M.OEN_5]: 0x80000008, [M.DATA_5]: 0x80000008 });
  await pulsePlReset('zynqmp', f.opener(), { sleep: noSleep });
  t.same(f.opened, ['0xff0a0000+0x1000 GPIO (pl_resetn0)']);
  t.same(f.writes(), ['w 0x2c 0x7fff0000', 'w 0x2c 0x7fff8000'], 'direction already right: only the two maskable writes');
  t.ok(f.log.includes('r 0x54=0x8'), 'low level read back');
  t.equal(f.regs.get(M.DATA_5), 0x80000008);
  t.equal(f.closed, 1);
});

t.test('ZynqMP: direction and output enable set (read-modify-write) when pin 95 is not an output', async (t) => {
  const f = gpio({ [M.DIRM_5]: 0x00000010, [M.OEN_5]: 0x00000010, [M.DATA_5]: 0x00000010 });
  await pulsePlReset('zynqmp', f.opener(), { sleep: noSleep });
  t.same(f.writes(), ['w 0x344 0x80000010', 'w 0x348 0x80000010', 'w 0x2c 0x7fff0000', 'w 0x2c 0x7fff8000']);
  t.equal(f.regs.get(M.DATA_5), 0x80000010);
});

t.test('ZynqMP: a dead GPIO block times out, and the release is still written', async (t) => {
  const f = new FakeRegs({ [M.DIRM_5]: 0x80000000, [M.OEN_5]: 0x80000000, [M.DATA_5]: 0x80000000 }, () => {});
  await t.rejects(pulsePlReset('zynqmp', f.opener(), { timeoutMs: 10 }), { name: 'UserError', message: 'PL reset: pl_resetn0 did not go low within 10 ms (register +0x54 reads 0x80000000)' });
  t.equal(f.writes().at(-1), 'w 0x2c 0x7fff8000');
});

t.test('EngineDriver.reset() runs the hook before waiting for idle', async (t) => {
  const f = slcr(false);
  const regs = new Uint32Array(0x100);
  regs[0] = 0x1; // ap_start stuck (hung engine): idle only after the PL reset
  const io = {
    size: 0x400,
    read32: (o: number) => regs[o >> 2]!,
    write32: (o: number, v: number) => void (regs[o >> 2] = v),
  };
  const hook = plResetHook('zynq', f.opener(), { sleep: noSleep });
  const d = new EngineDriver(io, {
    plReset: async () => {
      await hook();
      regs[0] = 0x4; // the engine comes out of reset idle
    },
  });
  await d.reset();
  t.same(f.writes(), ['w 0x8 0xdf0d', 'w 0x240 0x1', 'w 0x240 0x0']);
});

t.test('EngineDevice on a real board wires the PL reset through /dev/mem: non-root gets one line with a hint', async (t) => {
  // A fake board: sysfs + device node for the engine's UIO and a u-dma-buf, backed by plain files.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-plreset-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const real = createLibcSys();
  const ps = real.pageSize;
  const uioRoot = path.join(dir, 'uio');
  const devRoot = path.join(dir, 'dev');
  fs.mkdirSync(path.join(uioRoot, 'uio0', 'maps', 'map0'), { recursive: true });
  fs.mkdirSync(devRoot);
  fs.writeFileSync(path.join(uioRoot, 'uio0', 'name'), 'flowfpga_engine\n');
  fs.writeFileSync(path.join(uioRoot, 'uio0', 'maps', 'map0', 'addr'), '0xa0000000\n');
  fs.writeFileSync(path.join(uioRoot, 'uio0', 'maps', 'map0', 'size'), '0x10000\n');
  fs.writeFileSync(path.join(uioRoot, 'uio0', 'maps', 'map0', 'offset'), '0x0\n');
  const regs = Buffer.alloc(0x10000);
  regs.writeUInt32LE(0x1, 0); // busy at open → the device resets before probing
  fs.writeFileSync(path.join(devRoot, 'uio0'), regs);
  const udRoot = path.join(dir, 'u-dma-buf');
  fs.mkdirSync(path.join(udRoot, 'udmabuf0'), { recursive: true });
  fs.writeFileSync(path.join(udRoot, 'udmabuf0', 'phys_addr'), '0x3f000000\n');
  fs.writeFileSync(path.join(udRoot, 'udmabuf0', 'size'), `${16 * ps}\n`);
  fs.writeFileSync(path.join(udRoot, 'udmabuf0', 'dma_coherent'), '0\n');
  for (const a of ['sync_offset', 'sync_size', 'sync_direction', 'sync_for_device', 'sync_for_cpu']) fs.writeFileSync(path.join(udRoot, 'udmabuf0', a), '');
  fs.writeFileSync(path.join(devRoot, 'udmabuf0'), Buffer.alloc(16 * ps));
  const user: Sys = { ...real, pageSize: ps, geteuid: () => 1000 };
  const open = (o: object) => EngineDevice.open({
    board: 'pynq-z2', sys: user, irq: false, timeoutMs: 50, retries: 0,
    uio: { sysfsRoot: uioRoot, devRoot }, udmabuf: { sysfsRoots: [udRoot], devRoot }, ...o,
  });
  const e = await open({}).then(() => null, (x: unknown) => x as Error & { hint?: string });
  t.match(e, { name: 'UserError', message: 'PL reset (SLCR): /dev/mem access needs root', hint: /run as root/ });
  // With an injected MMIO layer (root on a board) the same open pulses FPGA0_OUT_RST.
  const f = slcr(false);
  const e2 = await open({ mmio: f.opener() }).then(() => null, (x: unknown) => x as Error);
  t.same(f.writes(), ['w 0x8 0xdf0d', 'w 0x240 0x1', 'w 0x240 0x0'], 'board plReset = SLCR pulse');
  // The file-backed engine never becomes idle, so open still fails, but after the reset was tried.
  t.match(e2?.message ?? '', /did not return to idle after reset/);
  const f2 = slcr(false);
  await open({ mmio: f2.opener(), plReset: false }).catch(() => {});
  t.same(f2.writes(), [], 'plReset: false leaves the PL alone');
});
