// Virtual-board backend: a shared-memory file standing for DDR at a physical base address.
import fs from 'node:fs';
import { UserError } from '../errors.js';
import { O_CLOEXEC, O_RDWR } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Mapping, Sys } from '../sys/types.js';
import { Arena } from './arena.js';
import { checkRanges, checkWindow, type DmaBackend, type DmaRegion } from './types.js';

export interface ShmOptions {
  /** The DDR file (created/extended to `size` when `create` is set). */
  path: string;
  /** Physical address of file offset 0, as the device sees it. */
  physBase: bigint;
  /** Bytes to use; default the file's size. */
  size?: number;
  create?: boolean;
}

export class ShmBackend implements DmaBackend {
  readonly name = 'shm';
  readonly coherent = true;
  readonly #map: Mapping;
  readonly #arena: Arena;
  readonly #regions = new Map<DmaRegion, number>();

  constructor(sys: Sys, o: ShmOptions) {
    if (o.create && o.size !== undefined) {
      const fd0 = fs.openSync(o.path, 'a');
      try {
        if (fs.fstatSync(fd0).size < o.size) fs.ftruncateSync(fd0, o.size);
      } finally {
        fs.closeSync(fd0);
      }
    }
    let fd: number;
    try {
      fd = sys.open(o.path, O_RDWR | O_CLOEXEC);
    } catch (e) {
      if (e instanceof SysError) throw new UserError(`cannot open virtual DDR ${o.path}: ${e.code}`, 'start the virtual board first (flowfpga emu), or check FLOWFPGA_EMU_DIR');
      throw e;
    }
    try {
      const size = o.size ?? fs.fstatSync(fd).size;
      if (size <= 0) throw new UserError(`virtual DDR ${o.path} is empty`, 'start the virtual board first; it sizes the DDR file');
      this.#map = sys.mmap(fd, size, 0, { path: o.path });
    } finally {
      sys.close(fd);
    }
    this.#arena = new Arena(this.#map.length, o.physBase, `virtual DDR ${o.path}`);
  }

  alloc(size: number, align: number): DmaRegion {
    const off = this.#arena.alloc(size, align);
    const region = { phys: this.#arena.physBase + BigInt(off), view: this.#map.bytes(off, size), size };
    this.#regions.set(region, off);
    return region;
  }

  free(region: DmaRegion): void {
    const off = this.#regions.get(region);
    if (off === undefined) throw new Error('shm: free of a region this backend did not allocate');
    this.#regions.delete(region);
    this.#arena.free(off);
  }

  // File-backed memory shared with the simulator is coherent: only range checks.
  syncForDevice(region: DmaRegion, offset: number, length: number): void {
    checkSub(region, offset, length);
  }
  syncForCpu(region: DmaRegion, offset: number, length: number): void {
    checkSub(region, offset, length);
  }
  syncRangesForCpu(region: DmaRegion, ranges: Uint32Array, count: number): void {
    checkRanges(region.size, ranges, count, 'sync');
  }
  syncWindowForCpu(region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number): number {
    checkWindow(region.size, o, p, ps, r, rs, rb, 'sync');
    return 0;
  }

  available(): number {
    return this.#arena.available();
  }

  close(): void {
    this.#regions.clear();
    this.#map.close();
  }
}

export function checkSub(region: DmaRegion, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > region.size) {
    throw new RangeError(`sync range [${offset}, ${offset + length}) outside the ${region.size}-byte buffer`);
  }
}
