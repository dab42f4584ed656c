// User-space data-cache maintenance over a list of ranges in one native call (native/ffcache.c, loaded with koffi).
// A DMA backend with a cached, non-coherent mapping uses it to keep exactly the lines a strided read touches
// coherent — one FFI call per window instead of one kernel sync per range.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UserError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { SysError } from './errors.js';

/** The native entry points (injectable: tests drive every return path without the library). */
export interface CacheLib {
  /** Line size the maintenance loop steps by; 0 where user space cannot maintain caches. */
  ff_cache_line(): number;
  /** Lines maintained, or −errno. `ranges` holds (offset, length) pairs relative to `base`. */
  ff_flush_ranges(base: bigint, ranges: Uint32Array, count: number): number | bigint;
  /** Lines maintained over a strided window's rows, or −errno. */
  ff_flush_window(base: bigint, offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
    rowBytes: number): number | bigint;
}

/**
 * Clean + invalidate to the point of coherency of a list of ranges (AArch64 `dc civac`, x86 `clflushopt`). On a
 * line the CPU has not written this is an invalidate; the DMA ownership API guarantees that for reads.
 */
export interface UserCache {
  readonly lineBytes: number;
  /** Maintains [base + r[2i], base + r[2i] + r[2i+1]) for i < count; returns the lines maintained. Throws SysError. */
  flushRanges(base: bigint, ranges: Uint32Array, count: number, label?: string): number;
  /**
   * Maintains the lines of the rows base + offset + p·planeStride + r·rowStride + [0, rowBytes) — each line once
   * where rows ascend; no list to build. Returns the lines maintained. Throws SysError.
   */
  flushWindow(base: bigint, offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
    rowBytes: number, label?: string): number;
}

export const FFCACHE_LIB = 'native/build/libffcache.so';

export function userCacheFrom(lib: CacheLib): UserCache {
  const line = lib.ff_cache_line();
  if (!Number.isInteger(line) || line <= 0) {
    throw new UserError('this CPU cannot maintain data caches from user space', 'sync through the DMA backend (u-dma-buf sysfs / libcma) instead');
  }
  return {
    lineBytes: line,
    flushRanges(base, ranges, count, label) {
      if (!Number.isInteger(count) || count < 0 || 2 * count > ranges.length) {
        throw new RangeError(`flushRanges: ${count} ranges in a list of ${ranges.length >> 1}`);
      }
      const r = Number(lib.ff_flush_ranges(base, ranges, count));
      if (r < 0) throw new SysError('ff_flush_ranges', -r, label);
      return r;
    },
    flushWindow(base, offset, planes, planeStride, rows, rowStride, rowBytes, label) {
      for (const v of [offset, planes, planeStride, rows, rowStride, rowBytes]) {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`flushWindow: ${v} is not a 32-bit size`);
      }
      const r = Number(lib.ff_flush_window(base, offset, planes, planeStride, rows, rowStride, rowBytes));
      if (r < 0) throw new SysError('ff_flush_window', -r, label);
      return r;
    },
  };
}

let loaded: UserCache | undefined;

/**
 * Loads native/build/libffcache.so (built by `make -C native`, part of the package's prepare step). Throws a
 * UserError when it is missing or when this architecture has no user-space maintenance (32-bit ARM).
 */
export function loadUserCache(file = path.join(packageRoot(), FFCACHE_LIB)): UserCache {
  if (loaded && file === path.join(packageRoot(), FFCACHE_LIB)) return loaded;
  if (!fs.existsSync(file)) {
    throw new UserError(`${file} is missing`, 'build it with `make -C native` (needs a C compiler), or reinstall the package');
  }
  const require = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const koffi = require('koffi') as any;
  let lib;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new UserError(`cannot load ${file}: ${(e as Error).message.split('\n')[0]}`, 'rebuild it on this machine with `make -C native clean all`');
  }
  const line = lib.func('int ff_cache_line()');
  const flush = lib.func('int64_t ff_flush_ranges(uint64_t base, const uint32_t *ranges, uint32_t count)');
  const win = lib.func('int64_t ff_flush_window(uint64_t base, uint32_t off, uint32_t planes, uint32_t ps, uint32_t rows, uint32_t rs, uint32_t rb)');
  const uc = userCacheFrom({
    ff_cache_line: () => line(),
    ff_flush_ranges: (b, r, n) => flush(b, r, n),
    ff_flush_window: (b, o, p, ps, r, rs, rb) => win(b, o, p, ps, r, rs, rb),
  });
  if (file === path.join(packageRoot(), FFCACHE_LIB)) loaded = uc;
  return uc;
}

/** The native helper where this process may need it (AArch64 Linux), else undefined; never throws. */
export function userCacheIfUseful(arch: string = process.arch): UserCache | undefined {
  if (arch !== 'arm64') return undefined;
  try {
    return loadUserCache();
  } catch {
    return undefined;
  }
}
