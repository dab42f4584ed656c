// UIO devices (kernel "Userspace I/O HOWTO"; facts.md §2.3) and the /dev/mem fallback (§2.5).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { O_CLOEXEC, O_RDWR, O_SYNC, POLLIN, POLLERR, POLLHUP, POLLNVAL } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Mapping, Sys } from '../sys/types.js';
import { lockExclusive, type LockOptions } from './lock.js';
import { RegisterWindow } from './mmio.js';

export interface UioMap {
  index: number;
  name: string;
  addr: bigint;
  size: number;
  offset: number;
}

export interface UioInfo {
  index: number;
  name: string;
  /** /dev/uioN */
  device: string;
  maps: UioMap[];
}

export interface UioPaths {
  /** Default /sys/class/uio. */
  sysfsRoot?: string;
  /** Default /dev. */
  devRoot?: string;
}

function readTrim(p: string): string {
  return fs.readFileSync(p, 'utf8').trim();
}

/** All UIO devices, sorted by index. */
export function listUio(paths: UioPaths = {}): UioInfo[] {
  const root = paths.sysfsRoot ?? '/sys/class/uio';
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: UioInfo[] = [];
  for (const e of entries) {
    const m = /^uio(\d+)$/.exec(e);
    if (!m) continue;
    const dir = path.join(root, e);
    let name: string;
    try {
      name = readTrim(path.join(dir, 'name'));
    } catch {
      continue;
    }
    const maps: UioMap[] = [];
    const mapsDir = path.join(dir, 'maps');
    for (const me of fs.existsSync(mapsDir) ? fs.readdirSync(mapsDir) : []) {
      const mm = /^map(\d+)$/.exec(me);
      if (!mm) continue;
      const md = path.join(mapsDir, me);
      const opt = (f: string): string | undefined => (fs.existsSync(path.join(md, f)) ? readTrim(path.join(md, f)) : undefined);
      maps.push({
        index: Number(mm[1]),
        name: opt('name') ?? '',
        addr: BigInt(opt('addr') ?? '0'),
        size: Number(BigInt(opt('size') ?? '0')),
        offset: Number(BigInt(opt('offset') ?? '0')),
      });
    }
    maps.sort((a, b) => a.index - b.index);
    out.push({ index: Number(m[1]), name, device: path.join(paths.devRoot ?? '/dev', e), maps });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Finds a UIO device by its `name` (the device-tree node name, e.g. "flowfpga_engine"). */
export function findUio(name: string, paths: UioPaths = {}): UioInfo {
  const all = listUio(paths);
  const hit = all.filter((u) => u.name === name);
  if (hit.length === 0) {
    throw new UserError(
      `no UIO device named '${name}' under ${paths.sysfsRoot ?? '/sys/class/uio'}${all.length ? ` (found: ${all.map((u) => u.name).join(', ')})` : ''}`,
      "load the overlay's device tree with compatible = \"generic-uio\" and boot with uio_pdrv_genirq.of_id=generic-uio",
    );
  }
  return hit[0]!;
}

function openDevice(sys: Sys, dev: string, flags: number): number {
  try {
    return sys.open(dev, flags);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM')) {
      throw new UserError(
        `permission denied opening ${dev}`,
        `add a udev rule SUBSYSTEM=="uio", KERNEL=="uio*", GROUP="<group>", MODE="0660" and add this user to that group (re-login), or run as root`,
      );
    }
    if (e instanceof SysError && e.code === 'ENOENT') {
      throw new UserError(`${dev} does not exist`, 'the UIO device node is missing; check udev and that uio_pdrv_genirq is loaded');
    }
    throw e;
  }
}

/** The interrupt side of a device: re-arm, wait with timeout, count events. */
export interface IrqSource {
  /** Re-enables the interrupt line (uio_pdrv_genirq masks it in its handler). */
  arm(): void;
  /** Resolves with the total event count, or null on timeout. */
  wait(timeoutMs: number): Promise<number | null>;
}

export class UioDevice implements IrqSource {
  readonly #sys: Sys;
  #fd: number;
  readonly #maps: Mapping[] = [];
  readonly #one = new Int32Array([1]);
  readonly #count = new Uint8Array(4);

  constructor(
    readonly info: UioInfo,
    sys: Sys,
  ) {
    this.#sys = sys;
    this.#fd = openDevice(sys, info.device, O_RDWR | O_CLOEXEC);
  }

  #checkOpen(): number {
    if (this.#fd < 0) throw new Error(`${this.info.device}: used after close`);
    return this.#fd;
  }

  /** Maps map N (mmap offset N × pagesize selects it); the returned mapping covers [0, size) of the map. */
  map(n = 0): Mapping {
    const fd = this.#checkOpen();
    const m = this.info.maps.find((x) => x.index === n);
    if (!m) throw new UserError(`${this.info.device} has no map${n}`, `it has ${this.info.maps.length} map(s); check the device tree reg property`);
    // The kernel maps whole pages; an IP smaller than a page still gets a full page, starting at the page base.
    const ps = this.#sys.pageSize;
    const len = Math.ceil((m.offset + m.size) / ps) * ps;
    const mapping = this.#sys.mmap(fd, len, BigInt(n) * BigInt(ps), { path: `${this.info.device} map${n}` });
    this.#maps.push(mapping);
    return mapping;
  }

  /** A register window over map N, starting at the IP's base (the map's in-page offset). */
  registers(n = 0): RegisterWindow {
    const m = this.info.maps.find((x) => x.index === n);
    const mapping = this.map(n);
    return new RegisterWindow(mapping, m!.offset, m!.size, `${this.info.name} registers`);
  }

  /**
   * Exclusive use of the device for this process (flock on the node, src/driver/lock.ts): a second user gets
   * "board in use by pid N". Released by close() or when the process dies.
   */
  lock(o: LockOptions = {}): void {
    lockExclusive(this.#sys, this.#checkOpen(), this.info.device, o);
  }

  arm(): void {
    const fd = this.#checkOpen();
    try {
      this.#sys.write(fd, new Uint8Array(this.#one.buffer));
    } catch (e) {
      if (e instanceof SysError && e.code === 'ENOSYS') {
        throw new UserError(`${this.info.device} cannot re-enable its interrupt (no irqcontrol)`, 'bind the device to uio_pdrv_genirq with an interrupts property in its device-tree node (docs/driver.md)');
      }
      throw e;
    }
  }

  async wait(timeoutMs: number): Promise<number | null> {
    const fd = this.#checkOpen();
    const rev = await this.#sys.pollAsync(fd, POLLIN, timeoutMs);
    if (rev === 0) return null;
    if (rev & (POLLERR | POLLHUP | POLLNVAL) && !(rev & POLLIN)) {
      throw new UserError(`${this.info.device}: interrupt wait failed (poll revents 0x${rev.toString(16)})`, 'the device went away; reload the overlay');
    }
    // UIO read must ask for exactly 4 bytes: the s32 total event count.
    const n = this.#sys.read(fd, this.#count, 4);
    if (n !== 4) throw new Error(`${this.info.device}: short interrupt read (${n} bytes)`);
    return new DataView(this.#count.buffer).getInt32(0, true);
  }

  close(): void {
    for (const m of this.#maps.splice(0)) m.close();
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#sys.close(fd);
    }
  }
}

export function openUio(name: string, sys: Sys, paths: UioPaths = {}): UioDevice {
  return new UioDevice(findUio(name, paths), sys);
}

export interface DevMemOptions {
  /** Default /dev/mem. */
  path?: string;
}

/**
 * Maps physical [phys, phys+size) through /dev/mem (PYNQ mmio): page-aligned map, window at the in-page offset.
 * Needs euid 0 (CAP_SYS_RAWIO); the caller closes the returned window's mapping via close().
 */
export function openDevMem(sys: Sys, phys: bigint, size: number, label: string, o: DevMemOptions = {}): RegisterWindow & { close(): void } {
  const dev = o.path ?? '/dev/mem';
  if (sys.geteuid() !== 0) {
    throw new UserError(`${label}: /dev/mem access needs root`, 'run as root (or with CAP_SYS_RAWIO), or expose the IP through UIO');
  }
  if (phys % 4n !== 0n) throw new RangeError(`${label}: physical address 0x${phys.toString(16)} is not word aligned`);
  const ps = BigInt(sys.pageSize);
  const base = phys - (phys % ps);
  const inPage = Number(phys - base);
  const len = Math.ceil((inPage + size) / sys.pageSize) * sys.pageSize;
  let fd: number;
  try {
    fd = sys.open(dev, O_RDWR | O_SYNC | O_CLOEXEC);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM')) {
      throw new UserError(`${label}: ${dev} refused (${e.code})`, 'the kernel may be in lockdown or lack CONFIG_DEVMEM; use UIO instead');
    }
    throw e;
  }
  let mapping: Mapping;
  try {
    mapping = sys.mmap(fd, len, base, { path: dev });
  } finally {
    sys.close(fd);
  }
  const w = new RegisterWindow(mapping, inPage, size, label) as RegisterWindow & { close(): void };
  w.close = () => mapping.close();
  return w;
}
