// Buffer pool over a DmaBackend: alignment, reuse, accounting, leak reports, and cache ownership enforced by the API.
import { CACHE_LINE, checkAlign, type DmaBackend, type DmaRegion } from './types.js';

export type Owner = 'cpu' | 'device';

export interface AllocOptions {
  /** Physical alignment; default 64 (a cache line; the engine needs 8). */
  align?: number;
  /** Shown in leak reports and errors. */
  label?: string;
}

export interface DmaStats {
  liveBuffers: number;
  liveBytes: number;
  peakBytes: number;
  allocations: number;
  reused: number;
  /** Bytes parked in free lists (held from the backend for reuse). */
  cachedBytes: number;
}

export interface LeakReport {
  label: string;
  size: number;
  phys: bigint;
}

/**
 * A physically contiguous buffer. The CPU may touch `view` only while it owns the buffer: toDevice() cleans the
 * caches and hands it to the engine, toCpu() invalidates and takes it back. Use after free throws.
 */
export class DmaBuffer {
  #region: DmaRegion | undefined;
  #owner: Owner = 'cpu';

  constructor(
    region: DmaRegion,
    readonly size: number,
    readonly align: number,
    readonly label: string,
    private readonly pool: DmaAllocator,
  ) {
    this.#region = region;
  }

  #live(): DmaRegion {
    if (!this.#region) throw new Error(`DMA buffer '${this.label}' used after free`);
    return this.#region;
  }

  get phys(): bigint {
    return this.#live().phys;
  }

  get owner(): Owner {
    this.#live();
    return this.#owner;
  }

  get freed(): boolean {
    return this.#region === undefined;
  }

  /** CPU view (exactly `size` bytes); throws while the device owns the buffer. */
  get view(): Uint8Array {
    const r = this.#live();
    if (this.#owner !== 'cpu') {
      throw new Error(`DMA buffer '${this.label}' is owned by the device; call toCpu() after the engine finished before reading it`);
    }
    return r.view.subarray(0, this.size);
  }

  #range(offset: number, length: number | undefined): [number, number] {
    const len = length ?? this.size - offset;
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > this.size) {
      throw new RangeError(`DMA buffer '${this.label}': range [${offset}, ${offset + len}) outside its ${this.size} bytes`);
    }
    return [offset, len];
  }

  /** Cleans caches for the range and gives the buffer to the device. */
  toDevice(offset = 0, length?: number): this {
    const r = this.#live();
    const [o, l] = this.#range(offset, length);
    this.pool.backend.syncForDevice(r, o, l);
    this.#owner = 'device';
    return this;
  }

  /** Invalidates caches for the range (what the device wrote) and gives the buffer back to the CPU. */
  toCpu(offset = 0, length?: number): this {
    const r = this.#live();
    const [o, l] = this.#range(offset, length);
    this.pool.backend.syncForCpu(r, o, l);
    this.#owner = 'cpu';
    return this;
  }

  free(): void {
    const r = this.#live();
    this.#region = undefined;
    this.pool._release(this, r);
  }
}

/** Round sizes so that free-list reuse hits for buffers that differ by a few bytes. */
function sizeClass(size: number): number {
  return Math.ceil(size / CACHE_LINE) * CACHE_LINE;
}

export class DmaAllocator {
  readonly #live = new Set<DmaBuffer>();
  /** Freed regions by `${sizeClass}/${align}`, reused before asking the backend. */
  readonly #freeLists = new Map<string, DmaRegion[]>();
  #liveBytes = 0;
  #peak = 0;
  #allocs = 0;
  #reused = 0;
  #cached = 0;
  #closed = false;

  constructor(
    readonly backend: DmaBackend,
    /** Cap on bytes kept in free lists; beyond it freed regions go back to the backend. */
    readonly maxCachedBytes = 256 * 1024 * 1024,
  ) {}

  alloc(size: number, o: AllocOptions = {}): DmaBuffer {
    if (this.#closed) throw new Error('DMA allocator used after close');
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`DMA allocation of ${size} bytes`);
    const align = o.align ?? CACHE_LINE;
    checkAlign(align);
    const cls = sizeClass(size);
    const key = `${cls}/${align}`;
    let region = this.#freeLists.get(key)?.pop();
    if (region) {
      this.#reused++;
      this.#cached -= region.size;
    } else {
      region = this.backend.alloc(cls, align);
    }
    const buf = new DmaBuffer(region, size, align, o.label ?? `buffer#${this.#allocs}`, this);
    this.#allocs++;
    this.#live.add(buf);
    this.#liveBytes += region.size;
    this.#peak = Math.max(this.#peak, this.#liveBytes);
    return buf;
  }

  /** @internal called by DmaBuffer.free() */
  _release(buf: DmaBuffer, region: DmaRegion): void {
    this.#live.delete(buf);
    this.#liveBytes -= region.size;
    if (this.#closed) return;
    if (this.#cached + region.size <= this.maxCachedBytes) {
      const key = `${region.size}/${buf.align}`;
      let l = this.#freeLists.get(key);
      if (!l) this.#freeLists.set(key, (l = []));
      l.push(region);
      this.#cached += region.size;
    } else {
      this.backend.free(region);
    }
  }

  /** Returns cached free-list memory to the backend. */
  trim(): void {
    for (const l of this.#freeLists.values()) for (const r of l) this.backend.free(r);
    this.#freeLists.clear();
    this.#cached = 0;
  }

  stats(): DmaStats {
    return {
      liveBuffers: this.#live.size,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peak,
      allocations: this.#allocs,
      reused: this.#reused,
      cachedBytes: this.#cached,
    };
  }

  /** Buffers not freed yet (label, size, phys). */
  live(): LeakReport[] {
    return [...this.#live].map((b) => ({ label: b.label, size: b.size, phys: b.phys }));
  }

  /**
   * Frees everything and closes the backend. Returns the buffers that were still live (leaks); `onLeak` (default
   * a process warning) is told about them so they do not go unnoticed.
   */
  close(onLeak: (leaks: LeakReport[]) => void = defaultLeakWarning): LeakReport[] {
    if (this.#closed) return [];
    const leaks = this.live();
    for (const b of [...this.#live]) b.free();
    this.trim();
    this.#closed = true;
    this.backend.close();
    if (leaks.length) onLeak(leaks);
    return leaks;
  }
}

function defaultLeakWarning(leaks: LeakReport[]): void {
  const total = leaks.reduce((s, l) => s + l.size, 0);
  process.emitWarning(`${leaks.length} DMA buffer(s) still allocated at close (${total} bytes): ${leaks.map((l) => `${l.label} (${l.size} B)`).join(', ')}`, 'DmaLeakWarning');
}
