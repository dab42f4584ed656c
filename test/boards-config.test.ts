import t from 'tap';
import {
  BOARDS, BOARD_NAMES, HARDWARE_BOARDS, getBoard, estimateResources, checkFit, bram18For, lutramFor, lutPerMac,
  partPeakMacsPerCycle, peakMacsPerSecond, ridgeOpsPerByte, hlsDefines, lutLaneCost, UTILIZATION_LIMITS,
} from '../src/driver/boards.js';
import { UserError } from '../src/errors.js';

t.test('lookup by name; unknown names list the valid ones', async (t) => {
  t.same([...BOARD_NAMES].sort(), ['emu', 'pynq-z2', 'ultra96v2', 'zcu104']);
  t.equal(getBoard('zcu104').part, 'xczu7ev-ffvc1156-2-e');
  const err = t.throws(() => getBoard('kv260')) as UserError;
  t.type(err, UserError);
  t.equal(err.message, "unknown board 'kv260'");
  t.equal(err.hint, 'valid boards: pynq-z2, ultra96v2, zcu104, emu');
  t.throws(() => getBoard('toString'), UserError, 'prototype names are not boards');
});

t.test('PS wiring per family (facts.md §1.4, UG585)', async (t) => {
  const z = BOARDS['pynq-z2'];
  t.same([z.part, z.ps, z.psMaster, z.psSlave, z.hpDataBits], ['xc7z020clg400-1', 'ps7', 'M_AXI_GP0', 'S_AXI_HP0', 64]);
  t.same(z.irq, { psPin: 'IRQ_F2P[0]', gic: 61, spi: 29 });
  t.ok(z.engine.baseAddress >= 0x4000_0000 && z.engine.baseAddress + z.engine.range - 1 <= 0x7fff_ffff, 'inside the GP0 window');
  for (const n of ['ultra96v2', 'zcu104'] as const) {
    const b = BOARDS[n];
    t.same([b.ps, b.psMaster, b.psSlave, b.hpDataBits], ['ps8', 'M_AXI_HPM0_FPD', 'S_AXI_HP0_FPD', 128]);
    t.same(b.irq, { psPin: 'pl_ps_irq0[0]', gic: 121, spi: 89 });
    t.ok(b.engine.baseAddress >= 0xa000_0000 && b.engine.baseAddress + b.engine.range - 1 <= 0xafff_ffff, 'inside HPM0_FPD');
  }
  for (const b of Object.values(BOARDS)) {
    t.equal(b.irq.spi, b.irq.gic - 32);
    t.equal(b.engine.range & (b.engine.range - 1), 0, 'range is a power of two');
    t.equal(b.engine.baseAddress % b.engine.range, 0, 'base aligned to range');
    t.equal(b.uioName, 'flowfpga_engine');
    t.equal(b.config.clockMHz, b.plClockMHz, 'engine built for the PL clock');
  }
});

t.test('DDR bandwidth uses the 75 % controller efficiency and the HP port bound', async (t) => {
  const z = BOARDS['pynq-z2'];
  t.equal(z.ddr.efficiency, 0.75);
  t.equal(z.ddr.effectiveGBps, 1.6);
  t.equal(z.hpGBpsPerDirection, 1.0, '64 bit x 125 MHz');
  t.equal(z.memoryGBps, 1.0);
  const u = BOARDS.ultra96v2;
  t.equal(u.ddr.effectiveGBps, 3.195);
  t.equal(u.hpGBpsPerDirection, 3.2);
  t.equal(u.memoryGBps, 3.195);
  const c = BOARDS.zcu104;
  t.equal(c.ddr.effectiveGBps, 14.4);
  t.equal(c.memoryGBps, 4.0, 'one 128-bit HP port at 250 MHz');
  t.equal(Math.round(ridgeOpsPerByte(z)), 64, '256 MAC x 125 MHz x 2 ops over 1 GB/s');
  t.equal(peakMacsPerSecond(c), 1024 * 250e6);
});

t.test('part bounds reproduce facts.md §7.5', async (t) => {
  // peak GMAC/s at 150 / 250 / 300 MHz: 8-bit 72 / 266 / 1373, 6-bit 138 / 340 / 1665.
  const g = (n: 'pynq-z2' | 'ultra96v2' | 'zcu104', bits: number, mhz: number) =>
    Math.round((partPeakMacsPerCycle(BOARDS[n].resources, bits) * mhz) / 1000);
  t.same([g('pynq-z2', 8, 150), g('ultra96v2', 8, 250), g('zcu104', 8, 300)], [72, 266, 1373]);
  t.same([g('pynq-z2', 6, 150), g('ultra96v2', 6, 250), g('zcu104', 6, 300)], [138, 340, 1665]);
  t.equal(Math.round(lutPerMac(8, 8)), 123);
  t.equal(Math.round(lutPerMac(6, 6)), 66);
  t.equal(Math.round(lutPerMac(4, 4)), 44);
});

t.test('block RAM mapping', async (t) => {
  t.equal(bram18For(8, 2048), 1, '2K x 9');
  t.equal(bram18For(8, 4096), 2, '4K x 9 in a BRAM36');
  t.equal(bram18For(32, 512), 1, '512 x 36 SDP');
  t.equal(bram18For(32, 4096), 8);
  t.equal(bram18For(64, 512), 2, '512 x 72 SDP BRAM36');
  t.equal(bram18For(8, 100), 1, 'never less than one block');
  t.equal(bram18For(0, 10), 0);
  t.equal(lutramFor(8, 98), 32, 'RAM128X1D per bit');
});

t.test('every chosen engine configuration fits its part', async (t) => {
  for (const n of HARDWARE_BOARDS) {
    const b = BOARDS[n];
    const e = estimateResources(b.config);
    const f = checkFit(e, b.resources);
    t.ok(f.fits, `${n}: ${f.problems.join('; ')}`);
    t.equal(b.macsPerCycle.bits8, b.config.tm * b.config.tn);
    t.equal(b.macsPerCycle.bits6, b.macsPerCycle.bits8, 'one array for every bit width');
    t.equal(b.config.macsPerDsp, 2, `${n}: lane pairs share a DSP (FF_PACK2)`);
    t.equal(e.detail.dspMac, (b.config.tm / 2) * b.config.tn, `${n}: Tm·Tn/2 DSPs for the array`);
    t.equal(b.config.accUram, b.resources.uram > 0, `${n}: accumulators in URAM exactly where the part has it`);
    t.ok(b.config.busBytes * 8 <= b.hpDataBits, `${n}: the read port is no wider than the HP port`);
    t.ok(b.macsPerCycle.bits8 <= b.partPeakMacsPerCycle.bits8, 'below the part bound');
    // The array uses what the binding resource allows: doubling TM does not fit.
    const bigger = { ...b.config, tm: b.config.tm * 2 };
    t.notOk(checkFit(estimateResources(bigger), b.resources).fits, `${n}: doubling TM does not fit`);
    // LUT-multiplier lanes spend LUTs to save DSPs: they cannot add MACs where LUTs are nearer their ceiling than
    // DSPs (docs/hardware.md §3.2), and a ≤6-bit LUT lane costs more LUTs than a packed DSP lane's share.
    const u = f.utilization;
    t.ok(u.lut / UTILIZATION_LIMITS.lut > u.dsp / UTILIZATION_LIMITS.dsp, `${n}: LUT, not DSP, is the nearer ceiling`);
    const lutPerDspLane = (e.detail.lutAdderTrees + e.detail.lutUnpack + e.detail.lutWbuf) / (b.config.tm * b.config.tn);
    t.ok(lutLaneCost(6, 6) > lutPerDspLane, `${n}: a 6-bit LUT lane (${lutLaneCost(6, 6)}) > a packed DSP lane (${lutPerDspLane.toFixed(0)})`);
  }
  const z = estimateResources(BOARDS['pynq-z2'].config);
  // 32×8 lanes in 128 packed pairs + 24 + 1 extra requantize lane × 2; ibuf 8·8 banks of 2K×9 (32 BRAM36) + acc 32
  // banks of 2 × 1280 int32 (5 BRAM18 each: 80) + sbuf 4 banks (2).
  t.same([z.dsp, z.bram36, z.detail.pairs], [154, 114, 128]);
  t.same(hlsDefines(BOARDS['pynq-z2']), {
    FF_TM: 32, FF_TN: 8, FF_IBUF: 8192, FF_OBUF: 1280, FF_SBUF: 4096, FF_BUS_BYTES: 8, FF_WR_BYTES: 2, FF_UP_PAR: 2,
    FF_PACK2: 1, FF_ACC_URAM: 0, FF_CLOCK_MHZ: 125,
  });
  t.equal(hlsDefines(BOARDS.zcu104).FF_ACC_URAM, 1);
  // The unpacked build of the same array needs twice the MAC DSPs (over the part's ceiling) and no unpack LUTs.
  const unpacked = estimateResources({ ...BOARDS['pynq-z2'].config, macsPerDsp: 1 });
  t.same([unpacked.dsp, unpacked.detail.lutUnpack], [282, 0]);
  t.notOk(checkFit(unpacked, BOARDS['pynq-z2'].resources).fits, 'PYNQ-Z2 32x8 needs packing');
  t.same([estimateResources({ ...BOARDS['pynq-z2'].config, tm: 3, tn: 5 }).detail.dspMac], [10], 'odd TM: one row unpaired');
  // A wider store costs DSPs and LUTs.
  const narrow = estimateResources({ ...BOARDS['pynq-z2'].config, wrBytes: 1, upPar: 1 });
  t.same([narrow.dsp, narrow.bram36], [152, 114]);
  t.ok(z.lut > narrow.lut);
  // URAM accumulators: one URAM288 (4K × 72) per PE row for 2·FF_OBUF ≤ 4096 words, none of the acc BRAM.
  const zc = estimateResources(BOARDS.zcu104.config);
  t.same([zc.uram, zc.detail.bramAcc, zc.bram36], [64, 0, 136]);
  const inBram = estimateResources({ ...BOARDS.zcu104.config, accUram: false });
  t.same([inBram.uram, inBram.detail.bramAcc], [0, 256]);
  t.notOk(checkFit(inBram, BOARDS.zcu104.resources).fits, 'the ZCU104 accumulators do not fit block RAM');
});

t.test('the fit check reports each resource over its ceiling', async (t) => {
  const b = BOARDS['pynq-z2'];
  const f = checkFit(estimateResources({ ...b.config, tm: 32, tn: 16, wrBytes: 1, upPar: 1 }), b.resources);
  t.notOk(f.fits);
  t.match(f.problems.join('\n'), /^dsp: 280 of 220 \(127% > 90%\)/m);
  t.match(f.problems.join('\n'), /bram36: 146 of 140/);
  t.match(f.problems.join('\n'), /^lut: 55834 of 53200/m);
  t.equal(UTILIZATION_LIMITS.dsp, 0.9);
  const uramOnZ7 = checkFit(estimateResources({ ...b.config, accUram: true }), b.resources);
  t.same(uramOnZ7.problems.filter((p) => p.startsWith('uram')).length, 1, 'URAM on a part without URAM');
  t.equal(Math.round(lutLaneCost(8, 8)), 155);
  t.equal(Math.round(lutLaneCost(6, 6)), 98);
});

t.test('emu models the Ultra96-V2', async (t) => {
  const e = BOARDS.emu;
  t.ok(e.virtual);
  t.equal(e.ps, 'emu');
  t.same(e.config, BOARDS.ultra96v2.config);
  t.same(e.resources, BOARDS.ultra96v2.resources);
  t.notOk(HARDWARE_BOARDS.includes('emu'));
});
