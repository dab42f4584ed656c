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
  alloc(size: number, align: number): DmaRegion;
  free(region: DmaRegion): void;
  /** Clean CPU caches for [offset, offset+length) of the region before the device reads it. */
  syncForDevice(region: DmaRegion, offset: number, length: number): void;
  /** Invalidate CPU caches for the range before the CPU reads what the device wrote. */
  syncForCpu(region: DmaRegion, offset: number, length: number): void;
  /** Bytes still allocatable (upper bound; fragmentation may prevent one allocation that large). */
  available(): number;
  close(): void;
}

export const CACHE_LINE = 64;

export function checkAlign(align: number): void {
  if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) {
    throw new RangeError(`DMA alignment ${align} is not a power of two`);
  }
}
