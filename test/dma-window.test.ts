// Strided window reads from DMA buffers (src/dma/window.ts) and the read-only ownership API (src/dma/allocator.ts):
// exactly the lines of the window's rows are invalidated, nothing is cleaned after a read-only take, and — against
// a model of a non-coherent cache — stale lines are never read and stale data never reaches DDR.
import t from 'tap';
import { DmaAllocator, type DmaBuffer } from '../src/dma/allocator.js';
import type { DmaBackend, DmaRegion } from '../src/dma/types.js';
import { copyWindow, planWindowSync, rangeBytes, readDmaWindow, takeDmaWindow, windowLineRanges, windowReadState } from '../src/dma/window.js';
import { Prng } from '../src/reference/prng.js';

const LINE = 64;

/** Byte equality without tap's element-wise diff (slow on tens of KB). */
const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;

/** The window by definition, element by element. */
function naive(src: Uint8Array, addr: number, planes: number, ps: number, rows: number, rs: number, rb: number): Uint8Array {
  const out = new Uint8Array(planes * rows * rb);
  let d = 0;
  for (let p = 0; p < planes; p++) for (let r = 0; r < rows; r++) for (let i = 0; i < rb; i++) out[d++] = src[addr + p * ps + r * rs + i];
  return out;
}

/** Lines (indices) that window bytes fall in. */
function touched(addr: number, planes: number, ps: number, rows: number, rs: number, rb: number): Set<number> {
  const s = new Set<number>();
  for (let p = 0; p < planes; p++) for (let r = 0; r < rows; r++) for (let i = 0; i < rb; i++) s.add(Math.floor((addr + p * ps + r * rs + i) / LINE));
  return s;
}

function linesOf(ranges: Uint32Array, n: number): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < n; i++) for (let o = ranges[2 * i]; o < ranges[2 * i] + ranges[2 * i + 1]; o += LINE) s.add(Math.floor(o / LINE));
  return s;
}

/** Random window shapes inside `size` bytes: few/many planes, short/long rows, rows closer or farther than a line. */
function shapes(rng: Prng, size: number, n: number): Array<[number, number, number, number, number, number]> {
  const out: Array<[number, number, number, number, number, number]> = [];
  while (out.length < n) {
    const rb = rng.int(1, 100), rows = rng.int(1, 5), rs = rb + rng.int(0, 200), planes = rng.int(1, 40);
    const ps = (rows - 1) * rs + rb + rng.int(0, 3000);
    const span = (planes - 1) * ps + (rows - 1) * rs + rb;
    if (span >= size) continue;
    out.push([rng.int(0, size - span), planes, ps, rows, rs, rb]);
  }
  return out;
}

t.test('windowLineRanges: exactly the lines the rows touch, merged, line-aligned, ascending', async (t) => {
  const rng = new Prng(11);
  const size = 1 << 17;
  const out = new Uint32Array(2 * 40 * 5);
  for (const [a, p, ps, r, rs, rb] of shapes(rng, size, 300)) {
    const n = windowLineRanges(a, p, ps, r, rs, rb, size, out);
    t.same([...linesOf(out, n)].sort((x, y) => x - y), [...touched(a, p, ps, r, rs, rb)].sort((x, y) => x - y));
    for (let i = 0; i < n; i++) {
      if (out[2 * i] % LINE || out[2 * i + 1] % LINE) t.fail(`range ${i} not line-aligned`);
      if (i > 0 && out[2 * i] <= out[2 * i - 2] + out[2 * i - 1]) t.fail(`ranges ${i - 1}, ${i} touch but were not merged`);
    }
    // Per plane: one range per plane span (merged where spans touch), covering the window.
    const m = windowLineRanges(a, p, ps, r, rs, rb, size, out, true);
    const cover = linesOf(out, m);
    for (const l of touched(a, p, ps, r, rs, rb)) if (!cover.has(l)) t.fail(`per-plane ranges miss line ${l}`);
    t.ok(m <= p);
  }
  // Capped at the buffer's end (a last partial line).
  const n = windowLineRanges(90, 1, 0, 1, 0, 10, 100, out);
  t.same([...out.subarray(0, 2 * n)], [64, 36]);
});

t.test('planWindowSync: the row lines in one call where the backend takes a list, else the cheapest granularity', async (t) => {
  const sc = { a: new Uint32Array(2), b: new Uint32Array(2) };
  // 64 planes 48 KB apart, 3 rows of 3 bytes 512 B apart: 192 row lines.
  const list = planWindowSync(0, 64, 49152, 3, 512, 3, 1 << 22, 4096, true, sc);
  t.match(list, { count: 192, calls: 1, bytes: 192 * LINE });
  t.ok(sc.a.length >= 2 * 64 * 3, 'scratch grown');
  // Without a list call: 192 calls lose to 64 per-plane calls (1.1 KB each) and to nothing else.
  const per = planWindowSync(0, 64, 49152, 3, 512, 3, 1 << 22, 4096, false, sc);
  t.match(per, { count: 64, calls: 64, bytes: 64 * 1088 });
  // Planes 768 B apart: the covering range (one call over 48 KB) beats 64 calls.
  const whole = planWindowSync(32, 64, 768, 3, 24, 3, 1 << 22, 4096, false, sc);
  t.match(whole, { count: 1, calls: 1 });
  t.same([...whole.ranges.subarray(0, 2)], [0, Math.ceil((32 + 63 * 768 + 2 * 24 + 3) / LINE) * LINE]);
  // Free calls: rows.
  t.match(planWindowSync(0, 64, 49152, 3, 512, 3, 1 << 22, 0, false, sc), { count: 192, calls: 192 });
  t.equal(rangeBytes(new Uint32Array([0, 64, 128, 192]), 2), 256);
});

/** Records what the allocator asks of a non-coherent backend over one memory image. */
class Recorder implements DmaBackend {
  readonly name = 'recorder';
  readonly coherent: boolean;
  log: string[] = [];
  syncRangesForCpu?: (region: DmaRegion, ranges: Uint32Array, count: number) => void;
  syncWindowForCpu?: (region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number) => number;
  constructor(readonly mem: Uint8Array, o: { list?: boolean; coherent?: boolean; walk?: boolean } = {}) {
    this.coherent = o.coherent ?? false;
    if (o.walk) this.syncWindowForCpu = (_r, ...w) => (this.log.push(`window ${w.join(',')}`), 4096);
    if (o.list) {
      this.syncRangesForCpu = (_r, ranges, count) => void this.log.push(`list ${[...ranges.subarray(0, 2 * count)].join(',')}`);
    }
  }
  alloc(size: number): DmaRegion {
    return { phys: 0x1000_0000n, view: this.mem.subarray(0, size), size };
  }
  free(): void {}
  syncForDevice(_r: DmaRegion, o: number, l: number): void {
    this.log.push(`clean ${o} ${l}`);
  }
  syncForCpu(_r: DmaRegion, o: number, l: number): void {
    this.log.push(`inval ${o} ${l}`);
  }
  available(): number {
    return 0;
  }
  close(): void {}
}

t.test('read-only ownership: readView only, hand-back without a clean, upgrades and CPU-owned buffers', async (t) => {
  const be = new Recorder(new Uint8Array(4096), { list: false });
  const pool = new DmaAllocator(be);
  const b = pool.alloc(1000, { label: 'ro' });
  b.toDevice();
  be.log = [];
  b.toCpu(64, 100, 'read');
  t.equal(b.owner, 'cpu');
  t.equal(b.access, 'read');
  t.throws(() => b.view, /'ro' was taken read-only; use readView/);
  t.equal(b.readView.length, 1000);
  b.toDevice(64, 100);
  t.same(be.log, ['inval 64 100'], 'invalidate only, no clean');
  t.equal(b.access, undefined);
  t.throws(() => b.readView, /owned by the device/);

  // A read-write take upgrades a read-only one: the clean comes back.
  be.log = [];
  b.toCpu(0, 64, 'read').toCpu(0, 64);
  t.equal(b.access, 'readwrite');
  b.view[0] = 1;
  b.toDevice(0, 64);
  t.same(be.log, ['inval 0 64', 'inval 0 64', 'clean 0 64']);

  // A buffer the CPU owns read-write: a read needs no sync and keeps its write access (its lines may be dirty).
  be.log = [];
  b.toCpu();
  b.toCpu(0, 10, 'read');
  t.equal(b.access, 'readwrite');
  b.toCpuRanges(new Uint32Array([0, 64]), 1);
  t.equal(b.access, 'readwrite');
  b.toDevice();
  t.same(be.log, ['inval 0 1000', 'clean 0 1000']);

  // toCpuRanges without a list call: one invalidate per non-empty range, after checking all of them.
  be.log = [];
  b.toCpuRanges(new Uint32Array([0, 64, 500, 0, 640, 128]), 3);
  t.equal(b.access, 'read');
  b.toDevice();
  t.same(be.log, ['inval 0 64', 'inval 640 128']);
  be.log = [];
  t.throws(() => b.toCpuRanges(new Uint32Array([0, 64, 960, 64]), 2), /'ro': range \[960, 1024\) outside the 1000-byte buffer/);
  t.throws(() => b.toCpuRanges(new Uint32Array([0, 64]), 2), /2 ranges in a list of 1/);
  t.same(be.log, [], 'nothing synced for a bad list');
  t.equal(b.owner, 'device');

  // With a list call: one backend call.
  const bl = new Recorder(new Uint8Array(4096), { list: true });
  const c = new DmaAllocator(bl).alloc(2000).toDevice();
  bl.log = [];
  c.toCpuRanges(new Uint32Array([0, 64, 640, 128]), 2).toDevice();
  t.same(bl.log, ['list 0,64,640,128']);
  b.free();
  c.free();
});

t.test('readDmaWindow: the right bytes, one list call of the row lines, no clean; per-range backends and coherent ones', async (t) => {
  const size = 1 << 16;
  const mem = new Prng(3).fillInt(new Uint8Array(size), 0, 255);
  const rng = new Prng(4);
  for (const list of [true, false]) {
    const be = new Recorder(mem, { list });
    const buf = new DmaAllocator(be).alloc(size).toDevice();
    const st = windowReadState();
    for (const [a, p, ps, r, rs, rb] of shapes(rng, size, 40)) {
      be.log = [];
      const got = readDmaWindow(be, buf, a, p, ps, r, rs, rb, undefined, st);
      t.ok(eq(got, naive(mem, a, p, ps, r, rs, rb)), 'window bytes');
      t.equal(buf.owner, 'device');
      if (be.log.some((l) => l.startsWith('clean'))) t.fail('cleaned after a read-only take');
      if (list) {
        const want = new Uint32Array(2 * p * r);
        const n = windowLineRanges(a, p, ps, r, rs, rb, size, want);
        t.same(be.log, [`list ${[...want.subarray(0, 2 * n)].join(',')}`], 'one call: the row lines');
      } else {
        const cover = new Set<number>();
        for (const l of be.log) {
          const [, o, len] = l.split(' ').map(Number);
          for (let x = o; x < o + len; x += LINE) cover.add(Math.floor(x / LINE));
        }
        for (const l of touched(a, p, ps, r, rs, rb)) if (!cover.has(l)) t.fail(`line ${l} not invalidated`);
      }
    }
    t.equal(st.stats.windows, 40);
    t.ok(st.stats.calls >= 40 && st.stats.bytes > 0);
    be.log = [];
    t.throws(() => readDmaWindow(be, buf, size - 90, 2, 80, 2, 10, 5, undefined, st), /readWindow: range \[65446, 65541\) outside the 65536 bytes/);
    t.throws(() => readDmaWindow(be, buf, size - 50, 2, 80, 1, 0, 5, undefined, st), /range \[65486, 65571\) outside the 65536 bytes/);
    t.throws(() => readDmaWindow(be, buf, 0, 2, 80, 1, 0, 5, new Uint8Array(9), st), /output of 9 bytes for 10/);
    t.same(be.log, [], 'checked before any sync');
    t.equal(buf.owner, 'device');
  }
  const co = new Recorder(mem, { coherent: true, list: true });
  const cb = new DmaAllocator(co).alloc(size).toDevice();
  co.log = [];
  const st = windowReadState();
  t.same(readDmaWindow(co, cb, 100, 3, 1000, 2, 64, 5, undefined, st), naive(mem, 100, 3, 1000, 2, 64, 5));
  t.same(co.log, ['inval 100 2069'], 'coherent: one (free) take of the covering range, no list, no clean');
  t.same(st.stats, { windows: 1, calls: 0, bytes: 0 });
});

/**
 * A non-coherent cache in front of DDR, line by line: the CPU sees `cpu` (its cached copy). Invalidate reloads the
 * lines from DDR (a civac also writes dirty lines back first), clean writes dirty lines to DDR; CPU writes through
 * the view are tracked as dirty by comparing with the last loaded copy. The device writes `ddr` directly.
 */
class CacheModel implements DmaBackend {
  readonly name = 'cache-model';
  readonly coherent = false;
  readonly cpu: Uint8Array;
  readonly loaded: Uint8Array;
  syncRangesForCpu?: (region: DmaRegion, ranges: Uint32Array, count: number) => void;
  constructor(readonly ddr: Uint8Array, list: boolean) {
    this.cpu = ddr.slice();
    this.loaded = ddr.slice();
    if (list) this.syncRangesForCpu = (_r, ranges, count) => { for (let i = 0; i < count; i++) this.#civac(ranges[2 * i], ranges[2 * i + 1]); };
  }
  /** Walks a window row by row (what native/ffcache.c does). */
  walk(): void {
    this.syncWindowForCpu = (_r, o, p, ps, r, rs, rb) => {
      for (let i = 0; i < p; i++) for (let j = 0; j < r; j++) this.#civac(o + i * ps + j * rs, rb);
      return 0;
    };
  }
  syncWindowForCpu?: (region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number) => number;
  #lines(o: number, l: number, f: (a: number, e: number) => void): void {
    if (l === 0) return;
    for (let a = Math.floor(o / LINE) * LINE; a < o + l; a += LINE) f(a, Math.min(a + LINE, this.ddr.length));
  }
  #clean(o: number, l: number): void {
    this.#lines(o, l, (a, e) => {
      for (let i = a; i < e; i++) if (this.cpu[i] !== this.loaded[i]) this.ddr[i] = this.cpu[i];
    });
  }
  #civac(o: number, l: number): void {
    this.#clean(o, l);
    this.#lines(o, l, (a, e) => {
      this.cpu.set(this.ddr.subarray(a, e), a);
      this.loaded.set(this.ddr.subarray(a, e), a);
    });
  }
  alloc(size: number): DmaRegion {
    return { phys: 0n, view: this.cpu.subarray(0, size), size };
  }
  free(): void {}
  syncForDevice(_r: DmaRegion, o: number, l: number): void {
    this.#clean(o, l);
  }
  syncForCpu(_r: DmaRegion, o: number, l: number): void {
    this.#civac(o, l);
  }
  available(): number {
    return 0;
  }
  close(): void {}
}

t.test('readDmaWindow over a backend that walks windows: one call with the geometry, no list, no clean', async (t) => {
  const size = 1 << 16;
  const mem = new Prng(5).fillInt(new Uint8Array(size), 0, 255);
  const be = new Recorder(mem, { walk: true, list: true });
  const buf = new DmaAllocator(be).alloc(size).toDevice();
  const st = windowReadState();
  be.log = [];
  t.same(readDmaWindow(be, buf, 100, 7, 3000, 3, 128, 3, undefined, st), naive(mem, 100, 7, 3000, 3, 128, 3));
  t.same(be.log, ['window 100,7,3000,3,128,3'], 'one call, the window itself');
  t.same(st.stats, { windows: 1, calls: 1, bytes: 4096 }, 'bytes as the backend reports');
  // toCpuWindow: checked first; a CPU-owned buffer needs no sync; without the walk, the rows' line list.
  t.throws(() => buf.toCpuWindow(size - 10, 2, 5, 1, 0, 6), /window \[65526, 65537\) outside the 65536-byte buffer/);
  t.throws(() => buf.toCpuWindow(0, 2, -5, 1, 0, 6), /window geometry -5 is not a size/);
  const lb = new Recorder(mem, { list: true });
  const b2 = new DmaAllocator(lb).alloc(size).toDevice();
  lb.log = [];
  t.equal(b2.toCpuWindow(64, 2, 1000, 2, 64, 3), 4 * LINE);
  t.same(lb.log, ['list 64,128,1024,128']);
  // Read-only takes add up: a second window is invalidated too (the device may have written it meanwhile).
  t.equal(b2.toCpuWindow(4096, 1, 0, 1, 0, 1), LINE);
  b2.toDevice();
  t.same(lb.log, ['list 64,128,1024,128', 'list 4096,64'], 'no clean');
  b2.toCpu(0, 64);
  t.equal(b2.toCpuWindow(0, 1, 0, 1, 0, 1), 0, 'held read-write: nothing to take');
});

t.test('against a non-coherent cache model: never a stale line, never stale data written back', async (t) => {
  const size = 1 << 15;
  const rng = new Prng(21);
  for (const mode of ['walk', 'list', 'perrange'] as const) {
    const list = mode !== 'perrange';
    const ddr = new Prng(1).fillInt(new Uint8Array(size), 0, 255);
    const be = new CacheModel(ddr, list);
    if (mode === 'walk') be.walk();
    const buf: DmaBuffer = new DmaAllocator(be).alloc(size).toDevice();
    const st = windowReadState();
    for (const [a, p, ps, r, rs, rb] of shapes(rng, size, 60)) {
      // The device writes new data; the CPU's cache still holds the old lines.
      new Prng(rng.int(0, 1e6)).fillInt(ddr, 0, 255);
      const before = ddr.slice();
      if (!eq(readDmaWindow(be, buf, a, p, ps, r, rs, rb, undefined, st), naive(before, a, p, ps, r, rs, rb))) t.fail(`stale bytes read, window ${[a, p, ps, r, rs, rb]}`);
      if (!eq(ddr, before)) t.fail('DDR changed by a read');
    }
    t.pass(`${mode}: 60 windows read fresh, DDR untouched`);
    // Two windows held at once (input and output in one buffer): the second is taken after the device wrote it.
    const A = [100, 3, 4000, 2, 128, 5] as const, B = [20000, 2, 3000, 3, 100, 7] as const;
    const va = takeDmaWindow(be, buf, ...A, st);
    new Prng(77).fillInt(ddr.subarray(20000, 30000), 0, 255);
    const vb = takeDmaWindow(be, buf, ...B, st);
    t.ok(eq(naive(va, 0, A[1], A[2], A[3], A[4], A[5]), naive(ddr, ...A)) && eq(naive(vb, 0, B[1], B[2], B[3], B[4], B[5]), naive(ddr, ...B)), `${mode}: two held windows both fresh`);
    buf.toDevice();
    // A read-write take that writes: its clean reaches DDR.
    buf.toCpu(0, 128).view[5] = ddr[5] ^ 0xff;
    buf.toDevice(0, 128);
    t.equal(ddr[5], be.cpu[5]);
  }
  // The model catches a missing invalidate (the test can fail): copy without taking the lines.
  const ddr = new Uint8Array(size);
  const be = new CacheModel(ddr, true);
  ddr.fill(9);
  const out = new Uint8Array(10);
  copyWindow(be.cpu, 0, 1, 0, 1, 0, 10, out);
  t.not(out[0], 9, 'stale without the invalidate');
});
