// User-space cache maintenance over range lists: the native helper (native/ffcache.c through src/sys/cache.ts, run
// for real on this machine's architecture), every error path with an injected library, and the u-dma-buf / libcma
// backends routing their syncs through it.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createLibcSys } from '../src/sys/index.js';
import { SysError } from '../src/sys/errors.js';
import { FFCACHE_LIB, loadUserCache, userCacheFrom, userCacheIfUseful, type CacheLib, type UserCache } from '../src/sys/cache.js';
import { DmaAllocator, LibcmaBackend, UdmabufBackend, rangeBytes, windowLineRanges, type CmaLib } from '../src/dma/index.js';
import { Prng } from '../src/reference/prng.js';
import { fakeUdmabuf } from './helpers/fake-udmabuf.js';

const root = path.resolve(import.meta.dirname, '..');
const lib = path.join(root, FFCACHE_LIB);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-uc-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('native helper on this machine: line size, lines maintained, argument errors', async (t) => {
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    t.skip(`no user-space cache maintenance on ${process.arch}`);
    return;
  }
  execFileSync('make', ['-s', '-C', path.join(root, 'native')], { stdio: 'inherit' });
  const uc = loadUserCache(lib);
  t.ok([32, 64, 128].includes(uc.lineBytes), `line ${uc.lineBytes}`);
  const L = uc.lineBytes;
  const koffi = createRequire(import.meta.url)('koffi') as { address(b: ArrayBufferView): bigint };
  const mem = new Uint8Array(1 << 16);
  const at = BigInt(koffi.address(mem));
  const base = at + ((BigInt(L) - (at % BigInt(L))) % BigInt(L)); // line-aligned
  mem.fill(5);
  const r = new Uint32Array([0, 1, L - 1, 2, 4 * L, 3 * L, 10 * L, 0]);
  // [0,1) line 0; [L−1, L+1) lines 0..1; [4L, 7L) 3 lines; empty range none.
  t.equal(uc.flushRanges(base, r, 4), 1 + 2 + 3);
  t.equal(uc.flushRanges(base, r, 0), 0, 'empty list');
  t.equal(mem[0], 5, 'memory unchanged by maintenance');
  const e = t.throws(() => uc.flushRanges(0n, r, 1, 'buf')) as SysError;
  t.match(e, { name: 'SysError', code: 'EINVAL', message: /^ff_flush_ranges buf: EINVAL/ });
  t.throws(() => uc.flushRanges(0xffff_ffff_ffff_ff00n, new Uint32Array([0x100, 0x100]), 1), { code: 'EINVAL' }, 'a range that wraps');
  t.throws(() => uc.flushRanges(base, r, 5), /5 ranges in a list of 4/);
  // The window walk maintains exactly the lines of the rows, each once: the count of windowLineRanges' lines.
  const rng = new Prng(8);
  const out = new Uint32Array(2 * 64 * 6);
  for (let k = 0; k < 200; k++) {
    const rb = rng.int(1, 90), rows = rng.int(1, 6), rs = rng.int(0, 300), planes = rng.int(1, 64);
    const ps = rng.int(0, 900), off = rng.int(0, 2000);
    const span = (planes - 1) * ps + (rows - 1) * rs + rb;
    if (off + span > mem.length) continue;
    const want = rangeBytes(out, windowLineRanges(off, planes, ps, rows, rs, rb, mem.length, out)) / L;
    const got = uc.flushWindow(base, off, planes, ps, rows, rs, rb);
    // Rows that go backwards (rs = 0 or planes closer than rows) may be maintained twice: never fewer lines.
    if (ps >= (rows - 1) * rs + rb && rs >= rb ? got !== want : got < want) t.fail(`window ${[off, planes, ps, rows, rs, rb]}: ${got} lines, want ${want}`);
  }
  t.equal(uc.flushWindow(base, 0, 3, 4096, 2, 100, 3), 6);
  t.equal(uc.flushWindow(base, 0, 0, 4096, 2, 100, 3), 0, 'empty window');
  t.throws(() => uc.flushWindow(0n, 0, 1, 0, 1, 0, 1, 'buf'), { name: 'SysError', code: 'EINVAL', message: /^ff_flush_window buf: EINVAL/ });
  t.throws(() => uc.flushWindow(0xffff_ffff_ffff_ff00n, 0, 1, 0, 2, 0x100, 1), { code: 'EINVAL' }, 'a window whose end wraps');
  t.throws(() => uc.flushWindow(base, -1, 1, 0, 1, 0, 1), /-1 is not a 32-bit size/);
  t.throws(() => uc.flushWindow(base, 0, 2 ** 32, 0, 1, 0, 1), /4294967296 is not a 32-bit size/);
  t.equal(userCacheIfUseful('x64'), undefined, 'backends use it on arm64 only');
  if (process.arch === 'arm64') t.ok(userCacheIfUseful(), 'arm64: loaded');
});

t.test('loader and wrapper errors, injected', async (t) => {
  t.throws(() => loadUserCache(path.join(dir, 'missing.so')), { name: 'UserError', message: /missing\.so is missing/, hint: /make -C native/ });
  fs.writeFileSync(path.join(dir, 'bad.so'), 'not an ELF');
  t.throws(() => loadUserCache(path.join(dir, 'bad.so')), { name: 'UserError', message: /^cannot load .*bad\.so/, hint: /rebuild/ });
  const fake = (line: number, ret: number | bigint): CacheLib => ({ ff_cache_line: () => line, ff_flush_ranges: () => ret, ff_flush_window: () => ret });
  t.throws(() => userCacheFrom(fake(0, 0)), { name: 'UserError', message: /cannot maintain data caches from user space/ });
  for (const [errno, code] of [[38, 'ENOSYS'], [22, 'EINVAL'], [14, 'EFAULT']] as const) {
    const uc = userCacheFrom(fake(64, BigInt(-errno)));
    t.throws(() => uc.flushRanges(0x1000n, new Uint32Array(2), 1, '/dev/udmabuf0'), { name: 'SysError', code, message: new RegExp(`^ff_flush_ranges /dev/udmabuf0: ${code}`) });
    t.throws(() => uc.flushWindow(0x1000n, 0, 1, 0, 1, 0, 1, '/dev/udmabuf0'), { name: 'SysError', code, message: new RegExp(`^ff_flush_window /dev/udmabuf0: ${code}`) });
  }
  t.equal(userCacheFrom(fake(64, 7n)).flushRanges(1n, new Uint32Array(2), 1), 7);
  t.throws(() => userCacheFrom(fake(64, 0)).flushRanges(1n, new Uint32Array(2), -1), /-1 ranges/);
});

/** Records the calls a backend makes. */
function recorder(line = 64): UserCache & { calls: Array<{ base: bigint; ranges: number[] }>; fail?: Error } {
  const uc = {
    lineBytes: line,
    calls: [] as Array<{ base: bigint; ranges: number[] }>,
    fail: undefined as Error | undefined,
    flushWindow(base: bigint, o: number, p: number, ps: number, r: number, rs: number, rb: number): number {
      if (uc.fail) throw uc.fail;
      uc.calls.push({ base, ranges: [-1, o, p, ps, r, rs, rb] });
      return 3;
    },
    flushRanges(base: bigint, ranges: Uint32Array, count: number): number {
      if (uc.fail) throw uc.fail;
      uc.calls.push({ base, ranges: [...ranges.subarray(0, 2 * count)] });
      return count;
    },
  };
  return uc;
}

t.test('u-dma-buf: syncs and range lists through user-space maintenance, sysfs untouched; fallbacks', async (t) => {
  const sys = createLibcSys();
  const { root, dev, attr } = fakeUdmabuf(dir, 'udmabuf1', 1 << 16);
  const uc = recorder();
  const be = new UdmabufBackend(sys, { sysfsRoots: [root], devRoot: dev, userCache: uc });
  t.equal(be.coherent, false);
  t.type(be.syncRangesForCpu, 'function');
  const pool = new DmaAllocator(be);
  pool.alloc(128);
  const b = pool.alloc(1000, { label: 'w' });
  b.view.fill(1);
  b.toDevice(10, 20);
  b.toCpuRanges(new Uint32Array([0, 64, 512, 128]), 2);
  b.toDevice();
  b.toCpu(0, 1000, 'read');
  b.toDevice();
  t.equal(b.toCpuWindow(5, 3, 300, 2, 100, 3), 3 * 64, 'window: lines reported in bytes');
  b.toDevice();
  // The mapping's address + the region's offset (128) is the base of every call.
  const mapBase = uc.calls[0].base - 128n;
  t.same(uc.calls.map((c) => [c.base - mapBase, c.ranges]), [
    [128n, [10, 20]], // clean for the device
    [128n, [0, 64, 512, 128]], // one call for the list
    [128n, [0, 1000]], // read-only take; no clean after any of the reads
    [128n, [-1, 5, 3, 300, 2, 100, 3]], // one call for the window
  ]);
  t.throws(() => be.syncWindowForCpu!({ phys: 0n, view: new Uint8Array(64), size: 64 }, 0, 1, 0, 1, 0, 64), /sync of a freed region/);
  t.equal(attr('sync_for_cpu') + attr('sync_for_device'), '', 'no sysfs writes');
  t.throws(() => be.syncRangesForCpu!({ phys: 0n, view: new Uint8Array(64), size: 64 }, new Uint32Array([0, 64]), 1), /sync of a freed region/);
  t.throws(() => b.toCpuRanges(new Uint32Array([990, 20]), 1), /range \[990, 1010\) outside the 1000-byte buffer/);
  uc.fail = new SysError('ff_flush_ranges', 22, '/dev/udmabuf1');
  t.throws(() => b.toCpuRanges(new Uint32Array([0, 64]), 1), { name: 'SysError', code: 'EINVAL' });
  t.equal(b.owner, 'device', 'a failed sync leaves the buffer with the device');
  pool.close();

  // Without the helper (null): no list call; DmaBuffer falls back to one sysfs sync per range.
  const plain = new UdmabufBackend(sys, { sysfsRoots: [root], devRoot: dev, userCache: null });
  t.equal(plain.syncRangesForCpu, undefined);
  t.equal(plain.syncWindowForCpu, undefined);
  t.equal(plain.syncCallBytes, 256 * 1024, 'sysfs syncs are expensive calls');
  t.equal(be.syncCallBytes, undefined, 'user-space syncs: the default');
  const p2 = new DmaAllocator(plain);
  const c = p2.alloc(4096).toDevice();
  const writes: string[] = [];
  const orig = plain.syncForCpu.bind(plain);
  plain.syncForCpu = (r, o, l) => (writes.push(`${o}+${l}`), orig(r, o, l));
  c.toCpuRanges(new Uint32Array([64, 64, 1024, 256]), 2).toDevice();
  t.same(writes, ['64+64', '1024+256']);
  t.same([attr('sync_offset'), attr('sync_size'), attr('sync_direction'), attr('sync_for_cpu')], ['1024', '256', '2', '1'], 'last range via sysfs');
  p2.close();

  // Coherent (dma-coherent buffer): a list is one call that only checks ranges.
  const co = fakeUdmabuf(dir, 'udmabuf2', 1 << 16, { coherent: '1' });
  const cb = new UdmabufBackend(sys, { sysfsRoots: [co.root], devRoot: co.dev, userCache: uc });
  t.equal(cb.coherent, true);
  const n = uc.calls.length;
  const r = cb.alloc(256, 64);
  cb.syncRangesForCpu!(r, new Uint32Array([0, 256]), 1);
  t.equal(cb.syncWindowForCpu!(r, 0, 2, 128, 1, 0, 64), 0);
  t.throws(() => cb.syncWindowForCpu!(r, 0, 2, 200, 1, 0, 64), /window \[0, 264\) outside the 256-byte buffer/);
  t.throws(() => cb.syncRangesForCpu!(r, new Uint32Array([0, 320]), 1), /range \[0, 320\) outside the 256-byte buffer/);
  t.equal(uc.calls.length, n, 'no maintenance on a coherent buffer');
  cb.close();
});

t.test('libcma: a list in one native call on the mapping; per-range cma_invalidate_cache without the helper', async (t) => {
  const calls: string[] = [];
  const mem = new Map<bigint, ArrayBuffer>();
  let next = 0x7f00_0000_0000n;
  const lib: CmaLib = {
    cma_alloc(len) {
      const p = next;
      next += 0x10000n;
      mem.set(p, new ArrayBuffer(len));
      return p;
    },
    cma_get_phy_addr: (p) => 0x1800_0000n + (p - 0x7f00_0000_0000n),
    cma_free: () => {},
    cma_flush_cache: (_p, phys, size) => void calls.push(`flush ${phys.toString(16)} ${size}`),
    cma_invalidate_cache: (_p, phys, size) => void calls.push(`inval ${phys.toString(16)} ${size}`),
    cma_pages_available: () => 100,
    view: (p) => mem.get(p)!,
  };
  const uc = recorder();
  const be = new LibcmaBackend(lib, { userCache: uc });
  const a = new DmaAllocator(be).alloc(4096).toDevice();
  calls.length = 0;
  a.toCpuRanges(new Uint32Array([0, 64, 2048, 192]), 2).toDevice();
  t.equal(a.toCpuWindow(64, 2, 1024, 1, 0, 3), 3 * 64);
  a.toDevice();
  t.same(uc.calls, [{ base: 0x7f00_0000_0000n, ranges: [0, 64, 2048, 192] }, { base: 0x7f00_0000_0000n, ranges: [-1, 64, 2, 1024, 1, 0, 3] }]);
  t.same(calls, [], 'no libcma call, no clean');
  t.throws(() => be.syncWindowForCpu!({ phys: 0n, view: new Uint8Array(64), size: 64 }, 0, 1, 0, 1, 0, 8), /did not allocate/);
  t.throws(() => be.syncRangesForCpu!({ phys: 0n, view: new Uint8Array(64), size: 64 }, new Uint32Array([0, 64]), 1), /did not allocate/);
  const plain = new LibcmaBackend(lib, { userCache: null });
  t.equal(plain.syncRangesForCpu, undefined);
  const b = new DmaAllocator(plain).alloc(4096).toDevice();
  calls.length = 0;
  b.toCpuRanges(new Uint32Array([0, 64, 2048, 192]), 2).toDevice();
  t.same(calls, ['inval 18010000 64', 'inval 18010800 192']);
  const un = new LibcmaBackend(lib, { cacheable: false, userCache: uc });
  t.type(un.syncRangesForCpu, 'function', 'uncached: list is a checked no-op');
});
