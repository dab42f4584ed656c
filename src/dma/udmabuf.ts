// u-dma-buf backend (ikwzm/udmabuf): one reserved contiguous buffer per device, sub-allocated here.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { O_CLOEXEC, O_RDWR, O_SYNC } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Mapping, Sys } from '../sys/types.js';
import { userCacheIfUseful, type UserCache } from '../sys/cache.js';
import { Arena } from './arena.js';
import { checkSub } from './shm.js';
import { CACHE_LINE, checkRanges, checkWindow, type DmaBackend, type DmaRegion } from './types.js';

export interface UdmabufOptions {
  /** Device name, e.g. "udmabuf0" or "u-dma-buf-flow"; default: the first one found. */
  name?: string;
  /** Sysfs class dirs searched in order; default /sys/class/u-dma-buf then the pre-v3 /sys/class/udmabuf. */
  sysfsRoots?: string[];
  /** Default /dev. */
  devRoot?: string;
  /**
   * Cached mapping (default): fast CPU access, explicit sync_for_device/sync_for_cpu. Uncached (O_SYNC): no sync
   * needed but ~3× slower CPU access, and on ARM64 unaligned access or memset can bus-error.
   */
  cached?: boolean;
  /**
   * User-space cache maintenance for a cached, non-coherent buffer (src/sys/cache.ts): every sync becomes one FFI
   * call over the mapping's lines instead of four sysfs writes, and a list of ranges is one call
   * (syncRangesForCpu). Default: the native helper on AArch64 where it is built; null = always sysfs.
   */
  userCache?: UserCache | null;
}

const DEFAULT_ROOTS = ['/sys/class/u-dma-buf', '/sys/class/udmabuf'];

export interface UdmabufInfo {
  name: string;
  sysfs: string;
  device: string;
  phys: bigint;
  size: number;
  dmaCoherent: boolean;
}

function readAttr(dir: string, name: string): string {
  return fs.readFileSync(path.join(dir, name), 'utf8').trim();
}

export function findUdmabuf(o: UdmabufOptions = {}): UdmabufInfo {
  const roots = o.sysfsRoots ?? DEFAULT_ROOTS;
  const seen: string[] = [];
  for (const root of roots) {
    let names: string[];
    try {
      names = fs.readdirSync(root).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      seen.push(n);
      if (o.name !== undefined && n !== o.name) continue;
      const dir = path.join(root, n);
      let phys: bigint;
      let size: number;
      try {
        phys = BigInt(readAttr(dir, 'phys_addr'));
        size = Number(readAttr(dir, 'size'));
      } catch {
        throw new UserError(`${dir} lacks a readable phys_addr/size`, 'install u-dma-buf v2 or newer');
      }
      let coherent = false;
      try {
        coherent = readAttr(dir, 'dma_coherent') === '1';
      } catch {
        /* attribute added in later versions */
      }
      return { name: n, sysfs: dir, device: path.join(o.devRoot ?? '/dev', n), phys, size, dmaCoherent: coherent };
    }
  }
  throw new UserError(
    o.name !== undefined ? `no u-dma-buf device named '${o.name}'${seen.length ? ` (found: ${seen.join(', ')})` : ''}` : 'no u-dma-buf device found',
    'load the module with a buffer, e.g. `modprobe u-dma-buf udmabuf0=67108864`, or add an ikwzm,u-dma-buf device-tree node',
  );
}

export class UdmabufBackend implements DmaBackend {
  readonly name = 'u-dma-buf';
  readonly coherent: boolean;
  readonly info: UdmabufInfo;
  readonly #map: Mapping;
  readonly #arena: Arena;
  readonly #regions = new Map<DmaRegion, number>();
  readonly #uc: UserCache | undefined;
  /** Present where a list of ranges is one call: coherent (checks only) or user-space maintenance. */
  readonly syncRangesForCpu?: (region: DmaRegion, ranges: Uint32Array, count: number) => void;
  /**
   * Through sysfs a sync is four attribute writes (open/write/close each, a kernel entry per line range): an
   * estimated ~256 KB of maintenance per call, so windows are synced over their covering range rather than per
   * plane. User-space maintenance: an FFI call (the default).
   */
  readonly syncCallBytes?: number;
  /** Present where a strided window is one call (see DmaBackend.syncWindowForCpu). */
  readonly syncWindowForCpu?: (region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number) => number;

  constructor(sys: Sys, o: UdmabufOptions = {}) {
    this.info = findUdmabuf(o);
    const cached = o.cached ?? true;
    this.coherent = !cached || this.info.dmaCoherent;
    this.#uc = this.coherent ? undefined : (o.userCache === undefined ? userCacheIfUseful() : o.userCache ?? undefined);
    if (this.coherent) {
      this.syncRangesForCpu = (region, ranges, count) => checkRanges(region.size, ranges, count, 'sync');
      this.syncWindowForCpu = (region, off, p, ps, r, rs, rb) => (checkWindow(region.size, off, p, ps, r, rs, rb, 'sync'), 0);
    } else if (!this.#uc) {
      this.syncCallBytes = 256 * 1024;
    } else {
      const uc = this.#uc;
      this.syncRangesForCpu = (region, ranges, count) => this.#flushList(region, ranges, count);
      this.syncWindowForCpu = (region, off, p, ps, r, rs, rb) => {
        checkWindow(region.size, off, p, ps, r, rs, rb, 'sync');
        return uc.flushWindow(this.#base(region), off, p, ps, r, rs, rb, this.info.device) * uc.lineBytes;
      };
    }
    let fd: number;
    try {
      fd = sys.open(this.info.device, O_RDWR | O_CLOEXEC | (cached ? 0 : O_SYNC));
    } catch (e) {
      if (e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM')) {
        throw new UserError(`permission denied opening ${this.info.device}`, `add a udev rule KERNEL=="${this.info.name}", GROUP="<group>", MODE="0660" and add this user to that group, or run as root`);
      }
      if (e instanceof SysError && e.code === 'ENOENT') throw new UserError(`${this.info.device} does not exist`, 'the u-dma-buf device node is missing; check udev');
      throw e;
    }
    try {
      this.#map = sys.mmap(fd, this.info.size, 0, { path: this.info.device });
    } finally {
      sys.close(fd);
    }
    this.#arena = new Arena(this.info.size, this.info.phys, this.info.device);
  }

  alloc(size: number, align: number): DmaRegion {
    const off = this.#arena.alloc(size, align);
    const region = { phys: this.info.phys + BigInt(off), view: this.#map.bytes(off, size), size };
    this.#regions.set(region, off);
    return region;
  }

  free(region: DmaRegion): void {
    const off = this.#regions.get(region);
    if (off === undefined) throw new Error('u-dma-buf: free of a region this backend did not allocate');
    this.#regions.delete(region);
    this.#arena.free(off);
  }

  /** One (offset, length) pair per sync: the user-space path's scratch list. */
  readonly #one = new Uint32Array(2);

  /** Virtual address of a live region (the mapping's address + its offset). */
  #base(region: DmaRegion): bigint {
    const base = this.#regions.get(region);
    if (base === undefined) throw new Error('u-dma-buf: sync of a freed region');
    return this.#map.addr + BigInt(base);
  }

  #flushList(region: DmaRegion, ranges: Uint32Array, count: number): void {
    checkRanges(region.size, ranges, count, 'sync');
    // dc civac on lines the CPU did not write only invalidates (ownership API); on written lines it cleans.
    this.#uc!.flushRanges(this.#base(region), ranges, count, this.info.device);
  }

  #sync(which: 'sync_for_device' | 'sync_for_cpu', dir: 1 | 2, region: DmaRegion, offset: number, length: number): void {
    checkSub(region, offset, length);
    if (this.coherent || length === 0) return;
    if (this.#uc) {
      this.#one[0] = offset;
      this.#one[1] = length;
      this.#flushList(region, this.#one, 1);
      return;
    }
    const base = this.#regions.get(region);
    if (base === undefined) throw new Error('u-dma-buf: sync of a freed region');
    // Whole cache lines: a partial line would leave neighbours' bytes stale.
    const start = Math.floor((base + offset) / CACHE_LINE) * CACHE_LINE;
    const end = Math.min(this.info.size, Math.ceil((base + offset + length) / CACHE_LINE) * CACHE_LINE);
    const d = this.info.sysfs;
    try {
      fs.writeFileSync(path.join(d, 'sync_offset'), String(start), { flag: 'w' });
      fs.writeFileSync(path.join(d, 'sync_size'), String(end - start), { flag: 'w' });
      fs.writeFileSync(path.join(d, 'sync_direction'), String(dir), { flag: 'w' });
      fs.writeFileSync(path.join(d, which), '1', { flag: 'w' });
    } catch (e) {
      throw new UserError(`cannot write ${path.join(d, which)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give this user write access to the u-dma-buf sysfs attributes (udev rule), or open the buffer uncached');
    }
  }

  syncForDevice(region: DmaRegion, offset: number, length: number): void {
    this.#sync('sync_for_device', 1, region, offset, length);
  }
  syncForCpu(region: DmaRegion, offset: number, length: number): void {
    this.#sync('sync_for_cpu', 2, region, offset, length);
  }
  available(): number {
    return this.#arena.available();
  }
  close(): void {
    this.#regions.clear();
    this.#map.close();
  }
}
