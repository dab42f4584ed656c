// Overlay bring-up: .bit + .hwh → a configured PL with a verified flowfpga engine. Order (PYNQ's, plus checks):
// the .hwh must hold the engine (by VLNV; a named instance must carry that VLNV too) before anything touches the PL;
// PL clocks from the .hwh divisors; download through fpga_manager; pulse the PL reset; find the engine's UIO device
// by its address; and read its identity registers (magic, contract version, capabilities) before anyone uses it —
// an AXI-Lite access to an address with nothing behind it hangs the interconnect (facts.md §2.5), so the address
// comes from the .hwh and the registers are touched only after the design is known to hold the engine there.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { readBitstream } from '../driver/bitstream.js';
import { applyPlClocks, readPlClockMHz, layoutFor, type ClockSetting, type MmioOpener } from '../driver/clocks.js';
import { EngineDriver, EngineError, type EngineCaps } from '../driver/engine.js';
import { ENGINE_MAGIC, ENGINE_REGS_SPAN, engineRegMapFromHwh } from '../driver/engine-regs.js';
import { findEngine, readHwh, type EngineInfo, type HwhDesign } from '../driver/hwh.js';
import type { RegisterIo } from '../driver/mmio.js';
import { loadBitstream, type LoadResult } from '../driver/overlay.js';
import { pulsePlReset } from '../driver/plreset.js';
import { listUio, openDevMem, UioDevice, type UioInfo } from '../driver/uio.js';
import { EmuRegisterBus } from '../emu/bus.js';
import { EmuControl } from '../emu/control.js';
import { readEmuInfo } from '../emu/process.js';
import { libcSys } from '../sys/libc.js';
import type { Sys } from '../sys/types.js';
import { CONTRACT_VERSION } from '../model/arch.js';
import { systemPaths, type SystemPaths } from './sysroot.js';

export interface BringUpOptions {
  /** The .hwh; default: the .bit's path with .hwh (Vivado writes them side by side). */
  hwh?: string;
  /** Instance name of the engine when the design has several (must carry the engine's VLNV). */
  instance?: string;
  paths?: SystemPaths;
  sys?: Sys;
  /** Physical register access for PL clocks and reset; default /dev/mem under paths.root. */
  mmio?: MmioOpener;
  /** Download even when the same bitstream is recorded as loaded. */
  force?: boolean;
  /** Bound on the fpga_manager wait and on the identity probe, ms (default 10000). */
  timeoutMs?: number;
  /** Register access over the engine's UIO device (default: its map0); the virtual board needs its own bus. */
  registers?: (uio: UioDevice) => RegisterIo & { close?(): void };
  /** PL reset options (tests shorten the waits). */
  resetSleep?: (ms: number) => Promise<void>;
}

export interface BringUp {
  bit: string;
  hwh: string;
  design: HwhDesign;
  engine: EngineInfo;
  load: LoadResult;
  clocks: ClockSetting[];
  uio: UioInfo;
  caps: EngineCaps;
  /** What was found, in one line. */
  line: string;
}

/** The .hwh that belongs to a .bit: same path with .hwh; a UserError naming --hwh when it is not there. */
export function hwhFor(bit: string, hwh?: string): string {
  if (hwh !== undefined) return hwh;
  const guess = bit.replace(/\.(bit|bin)$/i, '') + '.hwh';
  if (!fs.existsSync(guess)) {
    throw new UserError(`no .hwh next to ${bit} (looked for ${guess})`, 'pass the .hwh Vivado wrote with the bitstream: --hwh FILE');
  }
  return guess;
}

/** The UIO device whose map covers the engine's base address (the device tree's reg = <base range>). */
export function uioForEngine(engine: EngineInfo, paths: SystemPaths): UioInfo {
  const all = listUio(paths.uio);
  const hit = all.find((u) => u.maps.some((m) => m.addr === engine.base));
  if (hit) return hit;
  const seen = all.map((u) => `${u.name}@0x${(u.maps[0]?.addr ?? 0n).toString(16)}`).join(', ');
  throw new UserError(
    `no UIO device maps ${engine.instance} at 0x${engine.base.toString(16)} under ${paths.uio.sysfsRoot}${seen ? ` (found: ${seen})` : ''}`,
    `add a device-tree node compatible = "generic-uio" with reg = <0x${engine.base.toString(16)} 0x${engine.range.toString(16)}> and boot with uio_pdrv_genirq.of_id=generic-uio (docs/board-setup.md)`,
  );
}

function partMatches(bitPart: string, device: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/^xc/, '');
  return !bitPart || !device || norm(bitPart).startsWith(norm(device));
}

/**
 * Reads the identity registers through a polled empty job (capability registers are HLS outputs, valid after a
 * run): magic FFQ1 and the contract version. Anything else is refused with the address and what was read.
 */
export async function checkEngineIdentity(io: RegisterIo, engine: EngineInfo, where: string, timeoutMs: number): Promise<EngineCaps> {
  const driver = new EngineDriver(io, { map: engineRegMapFromHwh(engine.registers), timeoutMs, retries: 0, pollMs: 0.2 });
  const at = `${engine.instance} at 0x${engine.base.toString(16)} (${where})`;
  let caps: EngineCaps;
  try {
    await driver.run({ cmdAddr: 0n, cmdCount: 0, winBase: 0n, winSize: 0n });
    caps = driver.caps();
  } catch (e) {
    if (e instanceof EngineError && e.code === 'EBUSY') {
      throw new UserError(
        `${at} is not idle (${e.message.replace(/^engine busy \((.*)\)$/, '$1')}): not a flowfpga engine, or another process is running it`,
        'check that the .hwh belongs to the bitstream; stop other users (systemctl stop flowfpga) and run flowfpga load BIT --force',
      );
    }
    if (e instanceof EngineError && e.code === 'ETIMEDOUT') {
      throw new UserError(`${at} does not answer as a flowfpga engine: an empty job did not finish within ${timeoutMs} ms`, `the bitstream and .hwh may not belong together, or the PL clock/reset is wrong; reload with flowfpga load BIT --hwh HWH`);
    }
    throw e;
  }
  if (caps.magic !== ENGINE_MAGIC) {
    throw new UserError(
      `${at} is not a flowfpga engine: magic register reads 0x${caps.magic.toString(16)}, expected 0x${ENGINE_MAGIC.toString(16)} (FFQ1)`,
      'the .hwh does not describe the loaded bitstream; load the pair built together from hw/ with flowfpga load BIT --hwh HWH',
    );
  }
  if (caps.version >>> 16 !== CONTRACT_VERSION) {
    throw new UserError(
      `${at} implements integer contract version ${caps.version >>> 16}, this runtime implements ${CONTRACT_VERSION}`,
      'load a bitstream built from this release (make -C hw bitstream BOARD=<board>), or update the runtime',
    );
  }
  return caps;
}

/**
 * Register access for the UIO devices under `paths`: a virtual board's directory used as the system root (it holds
 * board.json) needs its register bus for the read side effects of a real AXI-Lite slave (src/emu/bus.ts); a real
 * /sys tree needs nothing special (undefined = the device's own map).
 */
export function registersFor(paths: SystemPaths, sys: Sys): BringUpOptions['registers'] {
  if (!fs.existsSync(path.join(paths.root, 'board.json'))) return undefined;
  return (uio) => {
    const control = new EmuControl(sys, readEmuInfo(paths.root).control);
    const m = uio.info.maps[0]!;
    const bus = new EmuRegisterBus(uio.map(0), control.isrMode, m.offset, m.size, `${uio.info.name} registers`);
    return Object.assign(bus, { close: () => control.close() });
  };
}

export async function bringUpOverlay(bit: string, o: BringUpOptions = {}): Promise<BringUp> {
  const paths = o.paths ?? systemPaths();
  const sys = o.sys ?? libcSys();
  const timeoutMs = o.timeoutMs ?? 10_000;
  const hwh = hwhFor(bit, o.hwh);
  // 1. The design must hold the engine before the PL is touched.
  const design = readHwh(hwh);
  const engine = findEngine(design, { instance: o.instance }, hwh);
  if (engine.range < BigInt(ENGINE_REGS_SPAN)) {
    throw new UserError(`${hwh}: ${engine.instance} has a ${engine.range}-byte address range, the engine's registers need ${ENGINE_REGS_SPAN}`, 'assign it at least 64 KiB in the Vivado Address Editor (hw/bd does)');
  }
  const bs = readBitstream(bit);
  const part = bs.header?.part ?? '';
  if (!partMatches(part, design.device)) {
    throw new UserError(`${bit} is built for part ${part}, but ${hwh} describes a ${design.device} design`, 'pass the .bit and .hwh from the same Vivado run');
  }
  const mmio: MmioOpener = o.mmio ?? ((phys, size, label) => openDevMem(sys, phys, size, label, { path: paths.devMem }));
  // 2. Clocks (PYNQ sets them before the download), 3. download, 4. PL reset after a fresh configuration.
  const clocks = applyPlClocks(design, mmio);
  const load = await loadBitstream(bs, { ...paths.fpga, force: o.force, timeoutMs });
  if (!load.skipped) await pulsePlReset(design.family, mmio, o.resetSleep ? { sleep: o.resetSleep } : {});
  // 5. The engine's UIO device, found by address, and its identity registers.
  const info = uioForEngine(engine, paths);
  const uio = new UioDevice(info, sys);
  let caps: EngineCaps;
  try {
    const io = o.registers ? o.registers(uio) : uio.registers(info.maps.find((m) => m.addr === engine.base)!.index);
    try {
      caps = await checkEngineIdentity(io, engine, info.device, timeoutMs);
    } finally {
      (io as { close?(): void }).close?.();
    }
  } finally {
    uio.close();
  }
  const clk = clockText(design, clocks, mmio);
  const line =
    `${load.skipped ? 'already loaded' : 'loaded'} ${bs.stem} (${load.state}); engine ${engine.instance} (${engine.vlnv}) at 0x${engine.base.toString(16)} = ${info.device}: ` +
    `FFQ1 v${caps.version & 0xffff}, contract ${caps.version >>> 16}, ${caps.peRows}x${caps.peCols} PEs at ${caps.clockMHz} MHz` +
    (clk ? `; PL clocks ${clk}` : '');
  return { bit, hwh, design, engine, load, clocks, uio: info, caps, line };
}

/** "FCLK0 100 MHz" per enabled clock, read back from the clock registers when that works, else the .hwh value. */
function clockText(design: HwhDesign, clocks: ClockSetting[], mmio: MmioOpener): string {
  const name = design.family === 'zynq' ? 'FCLK' : 'PL';
  let io: (RegisterIo & { close?(): void }) | undefined;
  try {
    const l = layoutFor(design.family);
    io = mmio(l.base, l.size, design.family === 'zynq' ? 'SLCR' : 'CRL_APB');
  } catch {
    io = undefined;
  }
  try {
    return clocks
      .map((c) => {
        let mhz = design.clocks.find((x) => x.index === c.index)?.freqMHz ?? NaN;
        try {
          const r = io ? readPlClockMHz(design.family, io, c.index) : 0;
          if (r > 0) mhz = r;
        } catch {
          /* keep the .hwh figure */
        }
        return `${name}${c.index} ${Number.isFinite(mhz) ? `${+mhz.toFixed(3)} MHz` : `div ${c.div0}x${c.div1}`}`;
      })
      .join(', ');
  } finally {
    io?.close?.();
  }
}

