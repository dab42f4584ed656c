// Overlay bring-up (flowfpga load, --overlay): a faked fpga_manager and firmware folder beside the virtual board's
// sysfs/UIO tree (its directory as FLOWFPGA_SYSROOT), a recording SLCR for clocks and reset, the real engine behind
// the UIO device; the real PYNQ-Z1 base overlay .hwh as the foreign design.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bringUpOverlay, checkEngineIdentity, registersFor } from '../src/device/bringup.js';
import { systemPaths } from '../src/device/sysroot.js';
import { findEngine, parseHwh } from '../src/driver/hwh.js';
import { startEmu, type EmuProcess } from '../src/emu/process.js';
import { RegisterWindow } from '../src/driver/mmio.js';
import { MemoryMapping, libcSys } from '../src/sys/index.js';
import { makeBit } from './helpers/bitfile.js';
import { runCli } from './helpers/cli.js';

const FIXTURE = path.resolve(import.meta.dirname, '../../shared/fixtures/pynq-z1-base.hwh');
const haveFixture = fs.existsSync(FIXTURE);
const fixtureSkip = haveFixture || process.env.CI ? false : `fixture ${FIXTURE} absent (shared/fixtures is not part of the repo; CI fails instead)`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-load-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENGINE_BASE = 0x43c00000;
/** A PYNQ-Z2-like design: PS7 with FCLK0 = IO PLL / 10, the engine on GP0 at 0x43C00000 with its interrupt. */
const hwhText = (vlnv = 'flowfpga.org:hls:flowfpga_engine:1.0', extra = '') => `<?xml version="1.0" encoding="UTF-8"?>
<EDKSYSTEM><SYSTEMINFO ARCH="zynq" DEVICE="7z020"/><MODULES>
 <MODULE INSTANCE="ps7_0" MODTYPE="processing_system7" VLNV="xilinx.com:ip:processing_system7:5.5"><PARAMETERS>
  <PARAMETER NAME="PCW_FPGA_FCLK0_ENABLE" VALUE="1"/><PARAMETER NAME="PCW_FCLK0_PERIPHERAL_DIVISOR0" VALUE="10"/><PARAMETER NAME="PCW_FCLK0_PERIPHERAL_DIVISOR1" VALUE="1"/>
  <PARAMETER NAME="PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ" VALUE="100.000000"/>
 </PARAMETERS><MEMORYMAP>
  <MEMRANGE INSTANCE="flowfpga_engine_0" BASEVALUE="0x43C00000" HIGHVALUE="0x43C0FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control"/>
  <MEMRANGE INSTANCE="axi_gpio_0" BASEVALUE="0x41200000" HIGHVALUE="0x4120FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="S_AXI"/>
 </MEMORYMAP></MODULE>
 <MODULE INSTANCE="flowfpga_engine_0" MODTYPE="flowfpga_engine" VLNV="${vlnv}"/>
 <MODULE INSTANCE="axi_gpio_0" MODTYPE="axi_gpio" VLNV="xilinx.com:ip:axi_gpio:2.0"/>${extra}
</MODULES></EDKSYSTEM>`;

/**
 * SLCR model: lock keys + LOCKSTA, FPGA0_CLK_CTRL, IO PLL, FPGA_RST_CTRL; every write logged in order, tagged with
 * what fpga_manager's firmware attribute held at that moment (so the log shows before/after the download).
 */
function slcr(log: string[], firmwareAttr?: string) {
  const w = new RegisterWindow(new MemoryMapping(0x1000, 'SLCR'), 0, 0x1000, 'SLCR');
  w.write32(0x108, 20 << 12); // IO PLL FDIV 20: 1000 MHz from 50
  w.write32(0x170, (5 << 8) | (2 << 20));
  return (phys: bigint, size: number, label: string) => ({
    size,
    read32: (o: number) => w.read32(o),
    write32: (o: number, v: number) => {
      const fw = firmwareAttr ? ` @${fs.readFileSync(firmwareAttr, 'utf8')}` : '';
      log.push(`${label} ${o.toString(16)}=${(v >>> 0).toString(16)}${fw}`);
      if (o === 0x004 && v === 0x767b) w.write32(0x00c, 1);
      else if (o === 0x008 && v === 0xdf0d) w.write32(0x00c, 0);
      else w.write32(o, v);
    },
    close() {},
  });
}

/** fpga_manager (Xilinx attributes) + firmware folder under `root`; returns the path of its firmware attribute. */
function fakeFpgaManager(root: string, state = 'operating'): string {
  const mgr = path.join(root, 'sys/class/fpga_manager/fpga0');
  fs.mkdirSync(mgr, { recursive: true });
  for (const [f, v] of [['name', 'Xilinx Zynq FPGA Manager\n'], ['state', `${state}\n`], ['flags', '0\n'], ['firmware', '']]) fs.writeFileSync(path.join(mgr, f!), v!);
  fs.mkdirSync(path.join(root, 'lib/firmware'), { recursive: true });
  return path.join(mgr, 'firmware');
}

let emu: EmuProcess;
t.before(async () => {
  emu = await startEmu({ stderr: 'ignore' });
  // A Zynq-7000 device tree puts the engine's UIO map at its GP0 address.
  const uio = path.join(emu.info.sysfsRoot, `uio${emu.info.uioIndex}`, 'maps/map0/addr');
  fs.writeFileSync(uio, `0x${ENGINE_BASE.toString(16)}\n`);
});
t.teardown(() => emu.stop());

function writeDesign(name: string, hwh = hwhText(), part?: string): string {
  const bit = path.join(dir, `${name}.bit`);
  fs.writeFileSync(bit, makeBit(undefined, 0, part));
  fs.writeFileSync(path.join(dir, `${name}.hwh`), hwh);
  return bit;
}

t.test('bring-up on the faked tree: engine by VLNV, clocks, download, PL reset, UIO by address, identity — in that order', async (t) => {
  const root = emu.info.dir;
  const log: string[] = [];
  const fwAttr = fakeFpgaManager(root);
  const bit = writeDesign('flowfpga_z2');
  const paths = systemPaths(root);
  const sys = libcSys();
  const mmio = slcr(log, fwAttr);
  const r = await bringUpOverlay(bit, { paths, sys, mmio, registers: registersFor(paths, sys), timeoutMs: 5000, resetSleep: async () => {} });
  t.equal(r.hwh, path.join(dir, 'flowfpga_z2.hwh'), '.hwh found next to the .bit');
  t.equal(r.engine.instance, 'flowfpga_engine_0');
  t.equal(r.uio.device, path.join(emu.info.devRoot, `uio${emu.info.uioIndex}`));
  t.equal(r.caps.magic, 0x31514646);
  t.equal(r.caps.version >>> 16, 1);
  t.same([...fs.readFileSync(path.join(root, 'lib/firmware/flowfpga_z2.bin'))].length % 4, 0);
  // Clocks go in before the download; the reset pulse (FPGA_RST_CTRL bit 0 set, then cleared) after it.
  t.same(log, [
    'SLCR 170=100a00 @',
    'SLCR 8=df0d @flowfpga_z2.bin',
    'SLCR 240=1 @flowfpga_z2.bin',
    'SLCR 240=0 @flowfpga_z2.bin',
  ], 'FCLK0 divisors before the download (SLCR left unlocked as found), the reset pulse after it');
  t.match(r.line, /^loaded flowfpga_z2 \(operating\); engine flowfpga_engine_0 \(flowfpga\.org:hls:flowfpga_engine:1\.0\) at 0x43c00000 = \S+\/uio\d+: FFQ1 v\d+, contract 1, \d+x\d+ PEs at \d+ MHz; PL clocks FCLK0 100 MHz$/);
  t.notMatch(r.line, /\n/);

  // Same bitstream again: no download and no reset (a running engine keeps its job), identity still checked.
  log.length = 0;
  const again = await bringUpOverlay(bit, { paths, sys, mmio, registers: registersFor(paths, sys), timeoutMs: 5000 });
  t.equal(again.load.skipped, true);
  t.same(log, [], 'divisors already in place, no download, no reset: not one register write');
  t.equal(fs.readFileSync(fwAttr, 'utf8'), 'flowfpga_z2.bin');
  t.match(again.line, /^already loaded flowfpga_z2/);
});

/** An Ultra96-V2-like design: ZynqMP PS, PL0 = IOPLL / 15, the engine on HPM0 at 0xA0000000 (the virtual board's address). */
const ZU_HWH = `<EDKSYSTEM><SYSTEMINFO ARCH="zynquplus" DEVICE="xczu3eg"/><MODULES>
 <MODULE INSTANCE="zynq_ultra_ps_e_0" MODTYPE="zynq_ultra_ps_e" VLNV="xilinx.com:ip:zynq_ultra_ps_e:3.5"><PARAMETERS>
  <PARAMETER NAME="PSU__FPGA_PL0_ENABLE" VALUE="1"/><PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__DIVISOR0" VALUE="15"/>
  <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__DIVISOR1" VALUE="1"/><PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ" VALUE="99.999001"/>
 </PARAMETERS><MEMORYMAP>
  <MEMRANGE INSTANCE="flowfpga_engine_0" BASEVALUE="0xA0000000" HIGHVALUE="0xA000FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control"/>
 </MEMORYMAP></MODULE>
 <MODULE INSTANCE="flowfpga_engine_0" MODTYPE="flowfpga_engine" VLNV="flowfpga.org:hls:flowfpga_engine:1.0"/>
</MODULES></EDKSYSTEM>`;

/** CRL_APB (plain registers) and the PS GPIO: MASK_DATA_5_MSW (+0x02C) drives EMIO 95 = DATA_5 (+0x054) bit 31. */
function zynqmpRegs(log: string[], firmwareAttr: string) {
  const windows = new Map<bigint, RegisterWindow>();
  return (phys: bigint, size: number, label: string) => {
    const w = windows.get(phys) ?? new RegisterWindow(new MemoryMapping(size, label), 0, size, label);
    windows.set(phys, w);
    return {
      size,
      read32: (o: number) => w.read32(o),
      write32: (o: number, v: number) => {
        log.push(`${label} ${o.toString(16)}=${(v >>> 0).toString(16)} @${fs.readFileSync(firmwareAttr, 'utf8')}`);
        w.write32(o, v);
        if (phys === 0xff0a0000n && o === 0x02c) {
          const keep = (v >>> 16) & 0xffff;
          const upper = (w.read32(0x054) >>> 16) & 0xffff;
          const next = (upper & keep) | (v & 0xffff & ~keep);
          w.write32(0x054, ((next << 16) | (w.read32(0x054) & 0xffff)) >>> 0);
        }
      },
      close() {},
    };
  };
}

t.test('bring-up of a ZynqMP design: CRL_APB clock before the download, pl_resetn0 pulse through the PS GPIO after', async (t) => {
  const root = emu.info.dir;
  const map0 = path.join(emu.info.sysfsRoot, `uio${emu.info.uioIndex}`, 'maps/map0/addr');
  const zynqAddr = fs.readFileSync(map0, 'utf8');
  fs.writeFileSync(map0, '0xa0000000\n');
  t.teardown(() => fs.writeFileSync(map0, zynqAddr));
  const fwAttr = fakeFpgaManager(root);
  const bit = writeDesign('flowfpga_u96', ZU_HWH, 'xczu3eg-sbva484-1-e');
  const paths = systemPaths(root);
  const sys = libcSys();
  const log: string[] = [];
  const r = await bringUpOverlay(bit, { paths, sys, mmio: zynqmpRegs(log, fwAttr), registers: registersFor(paths, sys), force: true, timeoutMs: 5000, resetSleep: async () => {} });
  t.same(log, [
    'CRL_APB c0=10f00 @',
    'GPIO (pl_resetn0) 344=80000000 @flowfpga_u96.bin',
    'GPIO (pl_resetn0) 348=80000000 @flowfpga_u96.bin',
    'GPIO (pl_resetn0) 2c=7fff0000 @flowfpga_u96.bin',
    'GPIO (pl_resetn0) 2c=7fff8000 @flowfpga_u96.bin',
  ], 'PL0 divisors (15, 1) first; after the download DIRM/OEN set, pin low, pin high');
  t.match(r.line, /^loaded flowfpga_u96 \(operating\); engine flowfpga_engine_0 \(flowfpga\.org:hls:flowfpga_engine:1\.0\) at 0xa0000000 = .*: FFQ1 v\d+, contract 1, .*; PL clocks PL0 99\.999 MHz$/);
});

t.test('refusals before the PL is touched: foreign design, named non-engine, part mismatch, no UIO at the address', async (t) => {
  const root = fs.mkdtempSync(path.join(dir, 'root-'));
  const log: string[] = [];
  fakeFpgaManager(root);
  const paths = systemPaths(root);
  const mmio = slcr(log);
  const o = { paths, mmio, resetSleep: async () => {} };

  const noEngine = writeDesign('gpio_only', hwhText('xilinx.com:hls:something_else:1.0'));
  await t.rejects(bringUpOverlay(noEngine, o), { name: 'UserError', message: /gpio_only\.hwh: no IP with VLNV \*:hls:flowfpga_engine:\* in the design: not a flowfpga overlay$/ });
  const bit = writeDesign('named');
  await t.rejects(bringUpOverlay(bit, { ...o, instance: 'axi_gpio_0' }), {
    name: 'UserError',
    message: /named\.hwh: instance "axi_gpio_0" is xilinx\.com:ip:axi_gpio:2\.0, not a flowfpga engine \(VLNV \*:hls:flowfpga_engine:\*\)$/,
  });
  const zu = writeDesign('wrongpart', hwhText(), 'xczu3eg-sbva484-1-e');
  await t.rejects(bringUpOverlay(zu, o), { name: 'UserError', message: /wrongpart\.bit is built for part xczu3eg-sbva484-1-e, but .*wrongpart\.hwh describes a 7z020 design/ });
  t.same(log, [], 'no register write and no download for any refusal');
  t.same(fs.readdirSync(path.join(root, 'lib/firmware')), []);

  // The design is fine and loads, but no UIO device maps the engine's address: one line naming the address.
  await t.rejects(bringUpOverlay(bit, o), {
    name: 'UserError',
    message: /^no UIO device maps flowfpga_engine_0 at 0x43c00000 under .*sys\/class\/uio$/,
    hint: /compatible = "generic-uio" with reg = <0x43c00000 0x10000>/,
  });
  await t.rejects(bringUpOverlay(path.join(dir, 'missing.bit'), o), { message: /no \.hwh next to .*missing\.bit/, hint: /--hwh FILE/ });
});

/** A generic HLS block behind the registers: ap_start → done + idle at once; identity words as given. */
function hlsBlock(words: Record<number, number>, answers = true, ctrl = 0x4 /* ap_idle */) {
  const w = new RegisterWindow(new MemoryMapping(0x10000, 'ip'), 0, 0x10000, 'ip');
  w.write32(0, ctrl);
  for (const [o, v] of Object.entries(words)) w.write32(Number(o), v);
  return {
    size: w.size,
    read32: (o: number) => w.read32(o),
    write32: (o: number, v: number) => {
      w.write32(o, v);
      if (o === 0 && v & 1 && answers) w.write32(0, 0x6);
    },
  };
}

t.test('identity registers: magic and contract checked before use, each failure one line', async (t) => {
  const engine = findEngine(parseHwh(hwhText()));
  t.match(await checkEngineIdentity(hlsBlock({ 0x54: 0x31514646, 0x5c: 0x10002, 0x64: (8 << 16) | 8 }), engine, '/dev/uio0', 100), { magic: 0x31514646, peRows: 8 });
  await t.rejects(checkEngineIdentity(hlsBlock({ 0x54: 0xdeadbeef }), engine, '/dev/uio0', 100), {
    name: 'UserError',
    message: 'flowfpga_engine_0 at 0x43c00000 (/dev/uio0) is not a flowfpga engine: magic register reads 0xdeadbeef, expected 0x31514646 (FFQ1)',
  });
  await t.rejects(checkEngineIdentity(hlsBlock({ 0x54: 0x31514646, 0x5c: 0x20000 }), engine, '/dev/uio0', 100), {
    message: /implements integer contract version 2, this runtime implements 1/,
  });
  await t.rejects(checkEngineIdentity(hlsBlock({}, false), engine, '/dev/uio0', 20), {
    message: /does not answer as a flowfpga engine: an empty job did not finish within 20 ms/,
  });
  const busy = hlsBlock({}, true, 0x1);
  await t.rejects(checkEngineIdentity(busy, engine, '/dev/uio0', 20), { message: /is not idle \(AP_CTRL 0x1\): not a flowfpga engine, or another process is running it/ });
});

t.test('flowfpga load refuses the PYNQ-Z1 base overlay in one line naming the engine it looked for', { skip: fixtureSkip }, async (t) => {
  const root = fs.mkdtempSync(path.join(dir, 'root-'));
  fakeFpgaManager(root);
  const bit = path.join(dir, 'base.bit');
  fs.writeFileSync(bit, makeBit());
  process.env.FLOWFPGA_SYSROOT = root;
  t.teardown(() => void delete process.env.FLOWFPGA_SYSROOT);
  const r = await runCli(['load', bit, '--hwh', FIXTURE]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  t.match(r.stderr, /^flowfpga: .*pynq-z1-base\.hwh: no IP with VLNV \*:hls:flowfpga_engine:\* in the design: not a flowfpga overlay \(hint: load a bitstream built from hw\/ .*; HLS IPs here: .*video_hdmi_in_color_convert/);
  const named = await runCli(['load', bit, '--hwh', FIXTURE, '--engine-instance', 'btns_gpio']);
  t.equal(named.code, 2);
  t.match(named.stderr, /^flowfpga: .*: instance "btns_gpio" is xilinx\.com:ip:axi_gpio:2\.0, not a flowfpga engine \(VLNV \*:hls:flowfpga_engine:\*\) \(hint: this design has no flowfpga engine/);
  t.same(fs.readdirSync(path.join(root, 'lib/firmware')), [], 'nothing downloaded');
});

const rootSkip = process.geteuid?.() === 0 || process.env.CI ? false : '/dev/mem (here a sparse file in the sysroot) is opened only as root, like the kernel node';

t.test('flowfpga load and selftest --overlay accept a flowfpga overlay on the virtual board tree', { skip: rootSkip }, async (t) => {
  const root = emu.info.dir;
  fakeFpgaManager(root);
  // /dev/mem of the sysroot: a sparse file as large as the 32-bit physical space (SLCR at 0xF8000000).
  const mem = path.join(root, 'dev/mem');
  fs.writeFileSync(mem, '');
  fs.truncateSync(mem, 2 ** 32);
  const bit = writeDesign('cli_z2');
  process.env.FLOWFPGA_SYSROOT = root;
  process.env.FLOWFPGA_EMU_DIR = root;
  t.teardown(() => {
    delete process.env.FLOWFPGA_SYSROOT;
    delete process.env.FLOWFPGA_EMU_DIR;
  });
  const r = await runCli(['load', bit, '--force']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^flowfpga: loaded cli_z2 \(operating\); engine flowfpga_engine_0 \(flowfpga\.org:hls:flowfpga_engine:1\.0\) at 0x43c00000 = .*uio\d+: FFQ1 v\d+, contract 1, .*; PL clocks FCLK0 100 MHz\n$/);
  const fd = fs.openSync(mem, 'r');
  const word = Buffer.alloc(4);
  fs.readSync(fd, word, 0, 4, 0xf8000170);
  fs.closeSync(fd);
  t.equal(word.readUInt32LE(0), (10 << 8) | (1 << 20), 'FPGA0_CLK_CTRL holds the .hwh divisors (10, 1)');

  const j = await runCli(['load', bit, '--json']);
  t.equal(j.code, 0, j.stderr);
  t.match(JSON.parse(j.stdout), { loaded: false, state: 'operating', engine: { instance: 'flowfpga_engine_0', base: '0x43c00000' }, caps: { magic: 0x31514646 } });

  const s = await runCli(['selftest', '--board', 'emu', '--overlay', bit, '--force']);
  t.equal(s.code, 0, s.stderr);
  t.match(s.stderr, /^flowfpga: loaded cli_z2 \(operating\); engine flowfpga_engine_0/);
  t.match(s.stdout, /selftest: PASS, 7\/7 checks passed/);

  const bad = await runCli(['selftest', '--board', 'emu', '--hwh', 'x.hwh']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--hwh, --engine-instance and --force only apply with --overlay BIT/);
  const ref = await runCli(['run', '--board', 'ref', '--overlay', bit]);
  t.equal(ref.code, 2);
  t.match(ref.stderr, /--board ref runs no engine/);
});
