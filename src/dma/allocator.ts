// Buffer pool over a DmaBackend: alignment, reuse, accounting, leak reports, and cache ownership enforced by the API.
import { windowLineRanges } from './window.js';
import { CACHE_LINE, checkAlign, checkRanges, checkWindow, type DmaBackend, type DmaRegion } from './types.js';

export type Owner = 'cpu' | 'device';
/**
 * What the CPU may do while it owns a buffer: 'readwrite' (toDevice() cleans the caches), or 'read' — taken only
 * to read what the device wrote, so the caches hold no dirty lines and toDevice() hands it back without a clean.
 */
export type CpuAccess = 'readwrite' | 'read';

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
 * caches and hands it to the engine, toCpu() invalidates and takes it back. A read-only take (toCpu(o, l, 'read'),
 * toCpuRanges()) gives `readView` only, and its toDevice() skips the clean: the CPU wrote nothing, and cleaning
 * lines that are not dirty costs a maintenance operation per line for nothing. Use after free throws.
 */
export class DmaBuffer {
  #region: DmaRegion | undefined;
  #owner: Owner = 'cpu';
  #access: CpuAccess = 'readwrite';

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

  /** How the CPU holds it (undefined while the device owns it). */
  get access(): CpuAccess | undefined {
    this.#live();
    return this.#owner === 'cpu' ? this.#access : undefined;
  }

  /** CPU view for reading and writing (exactly `size` bytes); throws while the device owns the buffer or after a read-only take. */
  get view(): Uint8Array {
    const r = this.#live();
    if (this.#owner !== 'cpu') {
      throw new Error(`DMA buffer '${this.label}' is owned by the device; call toCpu() after the engine finished before reading it`);
    }
    if (this.#access !== 'readwrite') {
      throw new Error(`DMA buffer '${this.label}' was taken read-only; use readView, or toCpu() without 'read' to write it`);
    }
    return r.view.subarray(0, this.size);
  }

  /** CPU view for reading (the caller must not write through it); throws while the device owns the buffer. */
  get readView(): Uint8Array {
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

  /**
   * Cleans caches for the range and gives the buffer to the device — without the clean after a read-only take
   * (no line can be dirty: the CPU invalidated, then only read).
   */
  toDevice(offset = 0, length?: number): this {
    const r = this.#live();
    const [o, l] = this.#range(offset, length);
    if (this.#owner !== 'cpu' || this.#access !== 'read') this.pool.backend.syncForDevice(r, o, l);
    this.#owner = 'device';
    this.#access = 'readwrite';
    return this;
  }

  /**
   * Invalidates caches for the range (what the device wrote) and gives the buffer back to the CPU. With 'read'
   * the CPU promises not to write (readView only) and toDevice() skips the clean. A buffer the CPU holds
   * read-write needs no sync for a read (its lines may be dirty: they are the truth) and keeps its access; one it
   * holds read-only is invalidated again for the new range (the device may have written other parts of it since).
   */
  toCpu(offset = 0, length?: number, access: CpuAccess = 'readwrite'): this {
    const r = this.#live();
    const [o, l] = this.#range(offset, length);
    if (access === 'read' && this.#heldReadWrite()) return this;
    this.pool.backend.syncForCpu(r, o, l);
    if (this.#owner !== 'cpu') this.#access = access;
    else if (access === 'readwrite') this.#access = 'readwrite';
    this.#owner = 'cpu';
    return this;
  }

  #heldReadWrite(): boolean {
    return this.#owner === 'cpu' && this.#access === 'readwrite';
  }

  /**
   * Read-only take of a LIST of ranges ((offset, length) pairs in `ranges[0 .. 2·count)`): invalidates exactly
   * those lines — in one backend call where the backend has syncRangesForCpu, else one syncForCpu per range — and
   * gives the buffer to the CPU for reading those ranges (readView); toDevice() then hands it back without a clean.
   * Read-only takes add up (each invalidates its own lines); a read-write holder is left alone. All ranges are
   * checked before any sync.
   */
  toCpuRanges(ranges: Uint32Array, count: number): this {
    const r = this.#live();
    checkRanges(this.size, ranges, count, `DMA buffer '${this.label}'`);
    if (this.#heldReadWrite()) return this;
    const b = this.pool.backend;
    if (b.syncRangesForCpu) b.syncRangesForCpu(r, ranges, count);
    else for (let i = 0; i < count; i++) if (ranges[2 * i + 1] > 0) b.syncForCpu(r, ranges[2 * i], ranges[2 * i + 1]);
    this.#owner = 'cpu';
    this.#access = 'read';
    return this;
  }

  /**
   * Read-only take of a strided window's rows (see DmaBackend.syncWindowForCpu): one backend call where the
   * backend walks windows itself, else the rows' line ranges through toCpuRanges (built here; `scratch` reused).
   * Returns the bytes of lines maintained (0 when the CPU holds the buffer read-write or the backend is coherent).
   */
  toCpuWindow(offset: number, planes: number, planeStride: number, rows: number, rowStride: number, rowBytes: number,
    scratch?: { a: Uint32Array }): number {
    const r = this.#live();
    checkWindow(this.size, offset, planes, planeStride, rows, rowStride, rowBytes, `DMA buffer '${this.label}'`);
    if (this.#heldReadWrite()) return 0;
    const b = this.pool.backend;
    let bytes = 0;
    if (b.syncWindowForCpu) {
      bytes = b.syncWindowForCpu(r, offset, planes, planeStride, rows, rowStride, rowBytes);
    } else {
      const sc = scratch ?? { a: new Uint32Array(0) };
      if (sc.a.length < 2 * planes * rows) sc.a = new Uint32Array(2 * planes * rows);
      const n = windowLineRanges(offset, planes, planeStride, rows, rowStride, rowBytes, this.size, sc.a);
      this.toCpuRanges(sc.a, n);
      for (let i = 0; i < n; i++) bytes += sc.a[2 * i + 1];
    }
    this.#owner = 'cpu';
    this.#access = 'read';
    return bytes;
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
