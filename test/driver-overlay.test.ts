import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBitHeader, bitToBin, checkBin, hasSyncWord, readBitstream, swap32 } from '../src/driver/bitstream.js';
import { loadBitstream, loadOverlay, fpgaState } from '../src/driver/overlay.js';
import { applyPlClocks, closestDivisors, readPlClockMHz, withDivisors, readDivisors, ZYNQ_SLCR } from '../src/driver/clocks.js';
import { parseHwh } from '../src/driver/hwh.js';
import { RegisterWindow } from '../src/driver/mmio.js';
import { MemoryMapping } from '../src/sys/index.js';
import { BIT_PAYLOAD, makeBit } from './helpers/bitfile.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-ovl-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const PAYLOAD = BIT_PAYLOAD;

t.test('.bit header and .bin conversion', async (t) => {
  const bit = makeBit(PAYLOAD);
  const h = parseBitHeader(bit);
  t.same(h, {
    design: 'flowfpga_wrapper',
    userId: '0XFFFFFFFF',
    version: '2023.2',
    part: '7z020clg400',
    date: '2025/01/02',
    time: '03:04:05',
    dataOffset: bit.length - PAYLOAD.length,
    dataLength: PAYLOAD.length,
  });
  const bin = bitToBin(bit);
  t.same([...bit.subarray(bit.length - 8)], [...PAYLOAD.subarray(PAYLOAD.length - 8)], 'input not modified');
  t.equal(bin.length, PAYLOAD.length);
  t.same([...bin.subarray(8, 12)], [0xbb, 0, 0, 0], 'each word byte-swapped');
  t.same([...bin.subarray(20, 24)], [0x66, 0x55, 0x99, 0xaa]);
  t.ok(hasSyncWord(bin));
  t.notOk(hasSyncWord(PAYLOAD), 'unswapped payload has no swapped sync word');
  t.doesNotThrow(() => checkBin(bin));
  t.throws(() => checkBin(PAYLOAD, 'x.bin'), { name: 'UserError', message: 'x.bin: bitstream is not byte-swapped (sync word AA995566 found unswapped)' });
  t.throws(() => checkBin(Buffer.alloc(64), 'z.bin'), /z\.bin: invalid bitstream, no sync word 0xAA995566/);
  t.throws(() => checkBin(Buffer.alloc(6), 'odd.bin'), /6 bytes is not a whole number of 32-bit words/);
  // The sync word must sit on a word boundary.
  const shifted = Buffer.concat([Buffer.alloc(2), bin.subarray(0, bin.length - 2)]);
  t.notOk(hasSyncWord(shifted));
  const s = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  swap32(s);
  t.same([...s], [4, 3, 2, 1, 8, 7, 6, 5]);

  t.throws(() => parseBitHeader(makeBit(PAYLOAD, 4), 'a.bit'), /a\.bit: invalid length: header says 28 bytes of configuration data, file holds 32/);
  t.throws(() => parseBitHeader(Buffer.from('hello world, not a bit'), 'b.bit'), /b\.bit: not a Xilinx \.bit file \(bad magic\)/);
  t.throws(() => parseBitHeader(Buffer.alloc(4)), /too short/);
  const noData = makeBit(PAYLOAD).subarray(0, 13 + 10);
  t.throws(() => parseBitHeader(noData), /not a Xilinx \.bit file/);
  t.throws(() => bitToBin(makeBit(Buffer.alloc(6))), /not whole 32-bit words/);

  fs.writeFileSync(path.join(dir, 'design.bit'), bit);
  fs.writeFileSync(path.join(dir, 'raw.bin'), bin);
  fs.writeFileSync(path.join(dir, 'unswapped.bin'), PAYLOAD);
  const r = readBitstream(path.join(dir, 'design.bit'));
  t.equal(r.stem, 'design');
  t.equal(r.header?.design, 'flowfpga_wrapper');
  t.same([...readBitstream(path.join(dir, 'raw.bin')).bin], [...bin]);
  t.throws(() => readBitstream(path.join(dir, 'unswapped.bin')), /not byte-swapped/);
  t.throws(() => readBitstream(path.join(dir, 'nope.bit')), /cannot read bitstream .*nope\.bit: ENOENT/);
});

function fakeMgr(state = 'operating', flags = '0'): { sysfsRoot: string; firmwareDir: string; stateFile: string; mgr: string } {
  const root = fs.mkdtempSync(path.join(dir, 'mgr-'));
  const mgr = path.join(root, 'sys', 'fpga0');
  fs.mkdirSync(mgr, { recursive: true });
  fs.writeFileSync(path.join(mgr, 'state'), state + '\n');
  fs.writeFileSync(path.join(mgr, 'flags'), flags + '\n');
  fs.writeFileSync(path.join(mgr, 'firmware'), '');
  fs.writeFileSync(path.join(mgr, 'name'), 'Xilinx Zynq FPGA Manager\n');
  return { sysfsRoot: path.join(root, 'sys'), firmwareDir: path.join(root, 'firmware'), stateFile: path.join(root, 'state', 'pl.json'), mgr };
}

t.test('fpga_manager loading: write firmware, flags, wait operating, skip same sha', async (t) => {
  const bs = readBitstream(path.join(dir, 'design.bit'));
  const env = fakeMgr('operating');
  // Simulate the kernel: state goes through 'write' and reaches 'operating' a little later.
  fs.writeFileSync(path.join(env.mgr, 'state'), 'write\n');
  setTimeout(() => fs.writeFileSync(path.join(env.mgr, 'state'), 'operating\n'), 40);
  const r = await loadBitstream(bs, { ...env, pollMs: 5 });
  t.match(r, { skipped: false, state: 'operating', firmware: 'design.bin' });
  t.match(r.sha256, /^[0-9a-f]{64}$/);
  t.same([...fs.readFileSync(path.join(env.firmwareDir, 'design.bin'))], [...bs.bin]);
  t.equal(fs.readFileSync(path.join(env.mgr, 'flags'), 'utf8'), '0');
  t.equal(fs.readFileSync(path.join(env.mgr, 'firmware'), 'utf8'), 'design.bin');
  t.match(JSON.parse(fs.readFileSync(env.stateFile, 'utf8')), { bitstream: 'design.bin', sha256: r.sha256 });

  fs.writeFileSync(path.join(env.mgr, 'firmware'), 'sentinel');
  const again = await loadBitstream(bs, env);
  t.equal(again.skipped, true, 'same bitstream, PL operating → no reload');
  t.equal(fs.readFileSync(path.join(env.mgr, 'firmware'), 'utf8'), 'sentinel');
  t.equal((await loadBitstream(bs, { ...env, force: true })).skipped, false, 'force reloads');
  // Cold boot marker in flags clears the record.
  fs.writeFileSync(path.join(env.mgr, 'flags'), '100\n');
  fs.writeFileSync(path.join(env.mgr, 'firmware'), 'sentinel');
  t.equal((await loadBitstream(bs, env)).skipped, false);
  t.equal(fpgaState(env), 'operating');
});

t.test('fpga_manager error paths, one line each', async (t) => {
  const bs = readBitstream(path.join(dir, 'design.bit'));
  t.rejects(loadBitstream(bs, { sysfsRoot: path.join(dir, 'nomgr') }), { name: 'UserError', message: /^no FPGA manager at .*nomgr\/fpga0$/ });
  const mainline = fakeMgr();
  fs.rmSync(path.join(mainline.mgr, 'firmware'));
  await t.rejects(loadBitstream(bs, mainline), /has no 'firmware' attribute/);

  const ro = fakeMgr();
  fs.writeFileSync(ro.firmwareDir, 'a file where the directory should be');
  await t.rejects(loadBitstream(bs, ro), { name: 'UserError', message: /firmware directory .* is not writable \(E[A-Z]+\)/ });

  const stuck = fakeMgr('write');
  await t.rejects(loadBitstream(bs, { ...stuck, timeoutMs: 50, pollMs: 5 }), { message: /FPGA state still 'write' 50 ms after loading design\.bin, expected 'operating'/ });
  const bad = fakeMgr('write error');
  await t.rejects(loadBitstream(bs, { ...bad, pollMs: 5 }), { message: "FPGA state 'write error' after loading design.bin" });
  const rej = fakeMgr();
  fs.rmSync(path.join(rej.mgr, 'firmware'));
  fs.mkdirSync(path.join(rej.mgr, 'firmware'));
  await t.rejects(loadBitstream(bs, rej), /fpga_manager rejected design\.bin \(EISDIR, state 'operating'\)/);
  const unswapped = { stem: 'u', bin: PAYLOAD };
  await t.rejects(loadBitstream(unswapped, fakeMgr()), /u\.bin: bitstream is not byte-swapped/);
});

const ZYNQ_HWH = (engine: boolean) => `<EDKSYSTEM><SYSTEMINFO DEVICE="7z020"/><MODULES>
 <MODULE INSTANCE="ps7_0" MODTYPE="processing_system7" VLNV="xilinx.com:ip:processing_system7:5.5"><PARAMETERS>
  <PARAMETER NAME="PCW_FPGA_FCLK0_ENABLE" VALUE="1"/><PARAMETER NAME="PCW_FCLK0_PERIPHERAL_DIVISOR0" VALUE="10"/><PARAMETER NAME="PCW_FCLK0_PERIPHERAL_DIVISOR1" VALUE="1"/>
  <PARAMETER NAME="PCW_FPGA_FCLK1_ENABLE" VALUE="0"/><PARAMETER NAME="PCW_FCLK1_PERIPHERAL_DIVISOR0" VALUE="5"/><PARAMETER NAME="PCW_FCLK1_PERIPHERAL_DIVISOR1" VALUE="1"/>
 </PARAMETERS><MEMORYMAP>${engine ? '<MEMRANGE INSTANCE="flowfpga_engine_0" BASEVALUE="0x43C00000" HIGHVALUE="0x43C0FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control"/>' : ''}</MEMORYMAP></MODULE>
 ${engine ? '<MODULE INSTANCE="flowfpga_engine_0" MODTYPE="flowfpga_engine" VLNV="flowfpga:hls:flowfpga_engine:1.0"/>' : ''}
</MODULES></EDKSYSTEM>`;

/**
 * SLCR model (UG585 App. B): SLCR_LOCK +0x004 (key 0x767B) sets SLCR_LOCKSTA +0x00C bit 0, SLCR_UNLOCK +0x008 (key
 * 0xDF0D) clears it, and writes to other registers are ignored while locked. Plain memory plus a write log.
 */
function slcr(locked = false) {
  const m = new MemoryMapping(0x1000, 'SLCR');
  const w = new RegisterWindow(m, 0, 0x1000, 'SLCR');
  const log: string[] = [];
  // reset values: FPGA0 div0=5 div1=2 (IO PLL), FPGA1 untouched; IO PLL FDIV 20 (1000 MHz from 50)
  w.write32(0x170, withDivisors('zynq', 0x00000000, 5, 2));
  w.write32(0x180, 0x00101400 | 0x10);
  w.write32(0x108, 20 << 12);
  w.write32(0x00c, locked ? 1 : 0);
  let failAt: number | undefined;
  const io = {
    size: w.size,
    read32: (o: number) => w.read32(o),
    write32: (o: number, v: number) => {
      log.push(`${o.toString(16)}=${(v >>> 0).toString(16)}`);
      if (o === failAt) throw new Error(`bus error at 0x${o.toString(16)}`);
      if (o === 0x004 && v === 0x767b) w.write32(0x00c, 1);
      else if (o === 0x008 && v === 0xdf0d) w.write32(0x00c, 0);
      else if (o === 0x00c) return; // read-only
      else if (!(w.read32(0x00c) & 1)) w.write32(o, v);
    },
    closed: false,
    close() {
      this.closed = true;
    },
    failOn(o: number) {
      failAt = o;
    },
  };
  return { io, log, w };
}

t.test('PL clocks from .hwh divisors through the SLCR', async (t) => {
  const d = parseHwh(ZYNQ_HWH(true));
  const s = slcr();
  t.equal(readPlClockMHz('zynq', s.io, 0), 100);
  let opened = '';
  const res = applyPlClocks(d, (phys, size, label) => {
    opened = `${label}@${phys.toString(16)}+${size}`;
    return s.io;
  });
  t.equal(opened, 'SLCR@f8000000+4096');
  t.same(s.log, ['170=100a00'], 'SLCR unlocked (as Linux leaves it): FPGA0 only (FPGA1 disabled), no lock key either way');
  t.equal(s.w.read32(0x00c), 0, 'still unlocked afterwards');
  t.same(res, [{ index: 0, div0: 10, div1: 1, before: 0x200500, after: 0xa00 | (1 << 20) }].map((r) => ({ ...r, after: withDivisors('zynq', 0x200500, 10, 1) })));
  t.ok(s.io.closed);
  t.equal(readPlClockMHz('zynq', s.io, 0), 100, '1000 MHz / (10·1)');
  t.same(readDivisors('zynq', s.w.read32(0x170)), { div0: 10, div1: 1 });
  t.equal(readDivisors('zynq', s.w.read32(0x180)).div0, 20, 'FPGA1 untouched');
  // SRCSEL bits survive a divisor change.
  t.equal(withDivisors('zynq', 0x30, 4, 4) & 0x30, 0x30);
  t.equal(withDivisors('zynqmp', 0x01000002, 15, 1), 0x01010f02);
  t.throws(() => withDivisors('zynq', 0, 64, 1), /divisor 64 outside 1\.\.63/);
  t.same(closestDivisors(1000, 142.857), { div0: 1, div1: 7, mhz: 1000 / 7 }, 'first pair in PYNQ search order');
  t.same(closestDivisors(1000, 100), { div0: 1, div1: 10, mhz: 100 });
  t.equal(ZYNQ_SLCR.ctrl(3), 0x1a0);
  // ZynqMP readback: IOPLL FBDIV 45, DIV2 → 33.333·45/2 = 750 MHz; /(15·1) = 50 MHz.
  const zm = new RegisterWindow(new MemoryMapping(0x1000), 0, 0x1000);
  zm.write32(0x20, (45 << 8) | 0x10000);
  zm.write32(0xc0, withDivisors('zynqmp', 0x01000000, 15, 1));
  t.ok(Math.abs(readPlClockMHz('zynqmp', zm, 0) - 49.99995) < 1e-3);
  zm.write32(0xc4, withDivisors('zynqmp', 0x01000003, 2, 1));
  t.throws(() => readPlClockMHz('zynqmp', zm, 1), /SRCSEL 3/);
});

t.test('PL clocks: SLCR lock state restored to what SLCR_LOCKSTA said, both ways and on failure', async (t) => {
  const d = parseHwh(ZYNQ_HWH(true));
  const locked = slcr(true);
  applyPlClocks(d, () => locked.io);
  t.same(locked.log, ['8=df0d', '170=100a00', '4=767b'], 'locked before: unlock, write, relock');
  t.equal(locked.w.read32(0x00c), 1, 'locked again');
  t.same(readDivisors('zynq', locked.w.read32(0x170)), { div0: 10, div1: 1 }, 'the write landed while unlocked');

  const unlocked = slcr(false);
  applyPlClocks(d, () => unlocked.io);
  t.same(unlocked.log, ['170=100a00']);
  t.equal(unlocked.w.read32(0x00c), 0, 'left unlocked, as found');

  const failing = slcr(true);
  failing.io.failOn(0x170);
  t.throws(() => applyPlClocks(d, () => failing.io), /bus error at 0x170/);
  t.same(failing.log, ['8=df0d', '170=100a00', '4=767b'], 'relocked although the clock write failed');
  t.equal(failing.w.read32(0x00c), 1);
  t.ok(failing.io.closed, 'window closed on failure');

  // ZynqMP CRL_APB has no lock: nothing but the divisor write.
  const zu = parseHwh(ZYNQ_HWH(true).replace('processing_system7', 'zynq_ultra_ps_e').replace(/PCW_FPGA_FCLK(\d)_ENABLE/g, 'PSU__FPGA_PL$1_ENABLE').replace(/PCW_FCLK(\d)_PERIPHERAL_DIVISOR(\d)/g, 'PSU__CRL_APB__PL$1_REF_CTRL__DIVISOR$2'));
  const crl = slcr(false);
  const r = applyPlClocks(zu, (phys, size, label) => {
    t.equal(label, 'CRL_APB');
    t.equal(phys, 0xff5e0000n);
    return crl.io;
  });
  t.equal(r.length, 1);
  t.same(crl.log, [`c0=${withDivisors('zynqmp', 0, 10, 1).toString(16)}`]);
});

t.test('loadOverlay: engine check before touching the PL, then clocks, then download', async (t) => {
  fs.writeFileSync(path.join(dir, 'with.hwh'), ZYNQ_HWH(true));
  fs.writeFileSync(path.join(dir, 'without.hwh'), ZYNQ_HWH(false));
  const env = fakeMgr();
  const s = slcr();
  const ov = await loadOverlay(path.join(dir, 'design.bit'), path.join(dir, 'with.hwh'), { ...env, mmio: () => s.io });
  t.equal(ov.engine.base, 0x43c00000n);
  t.equal(ov.clocks.length, 1);
  t.equal(ov.load.firmware, 'design.bin');
  const env2 = fakeMgr();
  await t.rejects(loadOverlay(path.join(dir, 'design.bit'), path.join(dir, 'without.hwh'), env2), { name: 'UserError', message: /without\.hwh: no IP with VLNV .*flowfpga_engine/ });
  t.notOk(fs.existsSync(path.join(env2.firmwareDir, 'design.bin')), 'nothing written when the engine is missing');
});
