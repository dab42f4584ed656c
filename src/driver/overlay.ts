// Bitstream download through the Linux fpga_manager (Xilinx kernel: flags + firmware attributes; facts.md §1.2).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { checkBin, readBitstream, type LoadedBitstream } from './bitstream.js';
import { applyPlClocks, type ClockSetting, type MmioOpener } from './clocks.js';
import { findEngine, readHwh, type EngineInfo, type EngineSelector } from './hwh.js';

export interface FpgaManagerOptions {
  /** Default /sys/class/fpga_manager. */
  sysfsRoot?: string;
  /** Default fpga0. */
  manager?: string;
  /** Default /lib/firmware. */
  firmwareDir?: string;
  /** Small JSON remembering what is loaded; default /var/lib/flowfpga/pl-state.json. */
  stateFile?: string;
  /** How long to wait for 'operating' after the firmware write; default 10 s. */
  timeoutMs?: number;
  pollMs?: number;
  /** Reload even when the same bitstream is recorded as loaded. */
  force?: boolean;
}

export interface LoadResult {
  skipped: boolean;
  sha256: string;
  state: string;
  firmware: string;
}

interface PlState {
  bitstream: string;
  sha256: string;
  timestamp: string;
}

const ERROR_STATE = /err/i;

function mgrDir(o: FpgaManagerOptions): string {
  return path.join(o.sysfsRoot ?? '/sys/class/fpga_manager', o.manager ?? 'fpga0');
}

function readAttr(dir: string, name: string): string {
  return fs.readFileSync(path.join(dir, name), 'utf8').trim();
}

function writeAttr(dir: string, name: string, value: string): void {
  // sysfs attributes want one write() of the whole value; O_WRONLY (not O_RDWR) because many are write-only.
  fs.writeFileSync(path.join(dir, name), value, { flag: 'w' });
}

/** Current fpga_manager state string, e.g. "operating"; UserError when there is no manager. */
export function fpgaState(o: FpgaManagerOptions = {}): string {
  const dir = mgrDir(o);
  if (!fs.existsSync(path.join(dir, 'state'))) {
    throw new UserError(`no FPGA manager at ${dir}`, 'run on a Zynq board whose kernel has CONFIG_FPGA_MGR_ZYNQ_FPGA (or ZYNQMP_FPGA); or use the virtual board (--board emu)');
  }
  return readAttr(dir, 'state');
}

function readPlState(file: string): PlState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as PlState;
    return typeof s.sha256 === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Downloads a .bin (full configuration) unless the same bytes are recorded as loaded and the PL is operating. */
export async function loadBitstream(bs: LoadedBitstream, o: FpgaManagerOptions = {}): Promise<LoadResult> {
  checkBin(bs.bin, `${bs.stem}.bin`);
  const dir = mgrDir(o);
  const state0 = fpgaState(o);
  for (const a of ['flags', 'firmware']) {
    if (!fs.existsSync(path.join(dir, a))) {
      throw new UserError(`${dir} has no '${a}' attribute`, 'this kernel lacks the Xilinx fpga_manager sysfs interface (linux-xlnx); use a PYNQ/PetaLinux kernel');
    }
  }
  const sha256 = crypto.createHash('sha256').update(bs.bin).digest('hex');
  const stateFile = o.stateFile ?? '/var/lib/flowfpga/pl-state.json';
  const firmware = `${bs.stem}.bin`;
  // Cold boot (state unknown or flags 100…) clears what was loaded, as PYNQ does.
  const cold = state0.startsWith('unknown') || readAttr(dir, 'flags').startsWith('100');
  const prev = cold ? undefined : readPlState(stateFile);
  if (!o.force && prev?.sha256 === sha256 && state0 === 'operating') {
    return { skipped: true, sha256, state: state0, firmware };
  }
  const fwDir = o.firmwareDir ?? '/lib/firmware';
  try {
    fs.mkdirSync(fwDir, { recursive: true });
    fs.writeFileSync(path.join(fwDir, firmware), bs.bin);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new UserError(`firmware directory ${fwDir} is not writable (${code})`, 'run as root, or give the service write access to /lib/firmware (ReadWritePaths=)');
  }
  try {
    writeAttr(dir, 'flags', '0');
    writeAttr(dir, 'firmware', firmware);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    let st = '';
    try {
      st = readAttr(dir, 'state');
    } catch {
      /* keep the write error */
    }
    throw new UserError(`fpga_manager rejected ${firmware} (${code}${st ? `, state '${st}'` : ''})`, 'check dmesg; the bitstream must be a full .bin built for this part');
  }
  const timeout = o.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeout;
  let st = readAttr(dir, 'state');
  while (st !== 'operating') {
    if (ERROR_STATE.test(st)) {
      throw new UserError(`FPGA state '${st}' after loading ${firmware}`, 'check dmesg; the bitstream may be for another part or corrupt');
    }
    if (performance.now() >= deadline) {
      throw new UserError(`FPGA state still '${st}' ${timeout} ms after loading ${firmware}, expected 'operating'`, 'check dmesg for fpga_manager errors; the PL may need a power cycle');
    }
    await sleep(o.pollMs ?? 20);
    st = readAttr(dir, 'state');
  }
  try {
    fs.mkdirSync(path.dirname(stateFile), { recursive: true });
    const rec: PlState = { bitstream: firmware, sha256, timestamp: new Date().toISOString() };
    fs.writeFileSync(stateFile, JSON.stringify(rec) + '\n');
  } catch {
    // Only the skip optimisation depends on the record; a read-only state dir means we reload next time.
  }
  return { skipped: false, sha256, state: st, firmware };
}

export interface OverlayOptions extends FpgaManagerOptions {
  engine?: EngineSelector;
  /** Physical register access for the PL clock registers; clocks are left alone when omitted. */
  mmio?: MmioOpener;
}

export interface Overlay {
  engine: EngineInfo;
  load: LoadResult;
  clocks: ClockSetting[];
}

/**
 * PYNQ order: check the .hwh has the engine (fail before touching the PL), set PL clocks from the .hwh
 * divisors, then download.
 */
export async function loadOverlay(bitFile: string, hwhFile: string, o: OverlayOptions = {}): Promise<Overlay> {
  const design = readHwh(hwhFile);
  const engine = findEngine(design, o.engine, hwhFile);
  const bs = readBitstream(bitFile);
  const clocks = o.mmio ? applyPlClocks(design, o.mmio) : [];
  const load = await loadBitstream(bs, o);
  return { engine, load, clocks };
}
