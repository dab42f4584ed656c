// PYNQ ≤2.6 libcma backend (libxlnk_cma.h; /usr/lib/libcma.so over /dev/xlnk): one CMA allocation per buffer.
import { createRequire } from 'node:module';
import { UserError } from '../errors.js';
import { userCacheIfUseful, type UserCache } from '../sys/cache.js';
import { checkSub } from './shm.js';
import { checkAlign, checkRanges, checkWindow, type DmaBackend, type DmaRegion } from './types.js';

/** The C API, injectable so tests can drive every path without /dev/xlnk. Pointers are BigInt (koffi 3). */
export interface CmaLib {
  cma_alloc(len: number, cacheable: number): bigint;
  cma_get_phy_addr(buf: bigint): bigint;
  cma_free(buf: bigint): void;
  cma_flush_cache(buf: bigint, phys: number, size: number): void;
  cma_invalidate_cache(buf: bigint, phys: number, size: number): void;
  cma_pages_available(): number;
  /** ArrayBuffer over [buf, buf+len) (koffi.view). */
  view(buf: bigint, len: number): ArrayBuffer;
}

export function loadLibcma(file = '/usr/lib/libcma.so'): CmaLib {
  const require = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const koffi = require('koffi') as any;
  let lib;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new UserError(`cannot load ${file}: ${(e as Error).message.split('\n')[0]}`, 'libcma ships with PYNQ ≤ 2.6; on newer images load the u-dma-buf module instead (docs/driver.md)');
  }
  const f = {
    alloc: lib.func('void *cma_alloc(uint32_t len, uint32_t cacheable)'),
    phy: lib.func('unsigned long cma_get_phy_addr(void *buf)'),
    free: lib.func('void cma_free(void *buf)'),
    flush: lib.func('void cma_flush_cache(void *buf, unsigned int phys_addr, int size)'),
    inval: lib.func('void cma_invalidate_cache(void *buf, unsigned int phys_addr, int size)'),
    pages: lib.func('uint32_t cma_pages_available()'),
  };
  return {
    cma_alloc: (len, c) => BigInt(f.alloc(len, c) ?? 0n),
    cma_get_phy_addr: (b) => BigInt(f.phy(b)),
    cma_free: (b) => f.free(b),
    cma_flush_cache: (b, p, s) => f.flush(b, p, s),
    cma_invalidate_cache: (b, p, s) => f.inval(b, p, s),
    cma_pages_available: () => Number(f.pages()),
    view: (b, len) => koffi.view(b, len) as ArrayBuffer,
  };
}

const PAGE = 4096;

interface CmaRegion extends DmaRegion {
  ptr: bigint;
}

export class LibcmaBackend implements DmaBackend {
  readonly name = 'libcma';
  readonly coherent: boolean;
  readonly #lib: CmaLib;
  readonly #cacheable: boolean;
  readonly #live = new Set<CmaRegion>();
  /** Present where a list of ranges is one call: uncached (checks only) or user-space maintenance (AArch64). */
  readonly syncRangesForCpu?: (region: DmaRegion, ranges: Uint32Array, count: number) => void;
  readonly syncWindowForCpu?: (region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number) => number;

  /**
   * `userCache`: a list of ranges in one native call (src/sys/cache.ts; default: the helper on AArch64, where
   * libcma's own invalidate is the same user-space `dc civac`, one FFI call per range). armv7 libcma enters the
   * kernel per call; there lists fall back to one cma_invalidate_cache per range.
   */
  constructor(lib: CmaLib, o: { cacheable?: boolean; userCache?: UserCache | null } = {}) {
    this.#lib = lib;
    this.#cacheable = o.cacheable ?? true;
    this.coherent = !this.#cacheable;
    const uc = this.coherent ? undefined : (o.userCache === undefined ? userCacheIfUseful() : o.userCache ?? undefined);
    const live = (region: DmaRegion): CmaRegion => {
      const r = region as CmaRegion;
      if (!this.#live.has(r)) throw new Error('libcma: sync of a region this backend did not allocate');
      return r;
    };
    if (this.coherent) {
      this.syncRangesForCpu = (region, ranges, count) => checkRanges(region.size, ranges, count, 'sync');
      this.syncWindowForCpu = (region, off, p, ps, r, rs, rb) => (checkWindow(region.size, off, p, ps, r, rs, rb, 'sync'), 0);
    } else if (uc) {
      this.syncRangesForCpu = (region, ranges, count) => {
        checkRanges(region.size, ranges, count, 'sync');
        uc.flushRanges(live(region).ptr, ranges, count, 'libcma buffer');
      };
      this.syncWindowForCpu = (region, off, p, ps, r, rs, rb) => {
        checkWindow(region.size, off, p, ps, r, rs, rb, 'sync');
        return uc.flushWindow(live(region).ptr, off, p, ps, r, rs, rb, 'libcma buffer') * uc.lineBytes;
      };
    }
  }

  alloc(size: number, align: number): DmaRegion {
    checkAlign(align);
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`libcma: invalid allocation size ${size}`);
    // CMA allocations are page-aligned; larger alignments are not offered by the API.
    if (align > PAGE) throw new UserError(`libcma: alignment ${align} exceeds the ${PAGE}-byte page`, 'use u-dma-buf for larger alignments');
    const ptr = this.#lib.cma_alloc(size, this.#cacheable ? 1 : 0);
    if (ptr === 0n) {
      throw new UserError(`libcma: cannot allocate ${size} bytes (${this.#lib.cma_pages_available()} CMA pages free)`, 'free buffers, reboot to defragment CMA, or raise cma= on the kernel command line');
    }
    const phys = this.#lib.cma_get_phy_addr(ptr);
    const region: CmaRegion = { ptr, phys, size, view: new Uint8Array(this.#lib.view(ptr, size)) };
    this.#live.add(region);
    return region;
  }

  free(region: DmaRegion): void {
    const r = region as CmaRegion;
    if (!this.#live.delete(r)) throw new Error('libcma: free of a region this backend did not allocate');
    this.#lib.cma_free(r.ptr);
  }

  syncForDevice(region: DmaRegion, offset: number, length: number): void {
    checkSub(region, offset, length);
    if (this.coherent || length === 0) return;
    const r = region as CmaRegion;
    // The API takes a 32-bit physical address (armv7 libcma); PYNQ passes the buffer base and the byte count.
    this.#lib.cma_flush_cache(r.ptr + BigInt(offset), Number(r.phys + BigInt(offset)) >>> 0, length);
  }

  syncForCpu(region: DmaRegion, offset: number, length: number): void {
    checkSub(region, offset, length);
    if (this.coherent || length === 0) return;
    const r = region as CmaRegion;
    this.#lib.cma_invalidate_cache(r.ptr + BigInt(offset), Number(r.phys + BigInt(offset)) >>> 0, length);
  }

  available(): number {
    return this.#lib.cma_pages_available() * PAGE;
  }

  close(): void {
    for (const r of this.#live) this.#lib.cma_free(r.ptr);
    this.#live.clear();
  }
}
