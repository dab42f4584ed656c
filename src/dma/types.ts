// Contiguous, physically addressed buffers for the engine's AXI masters (facts.md §2.4).

/** One backend allocation: a CPU view over memory the device sees at `phys`. */
export interface DmaRegion {
  phys: bigint;
  view: Uint8Array;
  size: number;
}

/**
 * What every buffer source provides. Real (u-dma-buf, libcma) and virtual (shared-memory file) backends have the
 * same shape and error texts; the allocator on top adds reuse, accounting and ownership.
 */
export interface DmaBackend {
  readonly name: string;
  /** True when CPU and device see the same bytes without cache maintenance (uncached, coherent port, or a file). */
  readonly coherent: boolean;
  /**
   * What one sync call costs, in bytes of lines maintained, where it differs much from an FFI call (~4 KB,
   * SYNC_CALL_BYTES): picks between many small syncs and fewer larger ones (planWindowSync).
   */
  readonly syncCallBytes?: number;
  alloc(size: number, align: number): DmaRegion;
  free(region: DmaRegion): void;
  /** Clean CPU caches for [offset, offset+length) of the region before the device reads it. */
  syncForDevice(region: DmaRegion, offset: number, length: number): void;
  /** Invalidate CPU caches for the range before the CPU reads what the device wrote. */
  syncForCpu(region: DmaRegion, offset: number, length: number): void;
  /**
   * Invalidate (before a CPU read) a LIST of ranges in ONE call: (offset, length) pairs of `ranges[0 .. 2·count)`
   * within the region, whole lines each. Only backends that can do it in one call (user-space maintenance, or
   * coherent: a no-op) have it; DmaBuffer.toCpuRanges falls back to one syncForCpu per range.
   */
  syncRangesForCpu?(region: DmaRegion, ranges: Uint32Array, count: number): void;
  /**
   * Invalidate (before a CPU read) the lines of a strided window's rows — offset + p·planeStride + r·rowStride +
   * [0, rowBytes) for p < planes, r < rows, within the region — in ONE call, without a list. Returns the bytes of
   * lines maintained (0 when coherent). Same availability as syncRangesForCpu.
   */
  syncWindowForCpu?(region: DmaRegion, offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
    rowBytes: number): number;
  /** Bytes still allocatable (upper bound; fragmentation may prevent one allocation that large). */
  available(): number;
  close(): void;
}

export const CACHE_LINE = 64;

/** Checks (offset, length) pairs against a region of `size` bytes; throws RangeError naming the first bad one. */
export function checkRanges(size: number, ranges: Uint32Array, count: number, what: string): void {
  if (!Number.isInteger(count) || count < 0 || 2 * count > ranges.length) {
    throw new RangeError(`${what}: ${count} ranges in a list of ${ranges.length >> 1}`);
  }
  for (let i = 0; i < count; i++) {
    const o = ranges[2 * i], l = ranges[2 * i + 1];
    if (o + l > size) throw new RangeError(`${what}: range [${o}, ${o + l}) outside the ${size}-byte buffer`);
  }
}

/** Checks a strided window against a region of `size` bytes (RangeError). Returns its covering span. */
export function checkWindow(size: number, offset: number, planes: number, planeStride: number, rows: number,
  rowStride: number, rowBytes: number, what: string): number {
  for (const v of [offset, planes, planeStride, rows, rowStride, rowBytes]) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what}: window geometry ${v} is not a size`);
  }
  const span = planes * rows * rowBytes === 0 ? 0 : (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes;
  if (offset + span > size) throw new RangeError(`${what}: window [${offset}, ${offset + span}) outside the ${size}-byte buffer`);
  return span;
}

export function checkAlign(align: number): void {
  if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) {
    throw new RangeError(`DMA alignment ${align} is not a power of two`);
  }
}
