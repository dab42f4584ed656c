import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLibcSys, type Sys } from '../src/sys/index.js';
import { SysError } from '../src/sys/errors.js';
import { DmaAllocator, ShmBackend, UdmabufBackend, LibcmaBackend, Arena, findUdmabuf, type CmaLib } from '../src/dma/index.js';
import { UserError } from '../src/errors.js';
import { fakeUdmabuf } from './helpers/fake-udmabuf.js';

const sys = createLibcSys();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-dma-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('arena: alignment on the physical address, coalescing, exhaustion', async (t) => {
  const a = new Arena(4096, 0x1000_0010n, 'test arena');
  const o1 = a.alloc(100, 64);
  t.equal((0x1000_0010n + BigInt(o1)) % 64n, 0n, 'physically aligned');
  t.equal(o1, 48);
  const o2 = a.alloc(200, 8);
  t.equal(o2, 152, '0x10000010 + 152 is 8-aligned');
  a.free(o1);
  a.free(o2);
  t.equal(a.available(), 4096);
  t.equal(a.largest(), 4096, 'coalesced back into one span');
  t.throws(() => a.alloc(5000, 8), { name: 'UserError', message: /test arena: cannot allocate 5000 bytes \(aligned 8\); 4096 of 4096 bytes free/ });
  t.throws(() => a.alloc(8, 3), /not a power of two/);
  t.throws(() => a.free(12345), /unknown offset/);
});

t.test('shared-memory file backend + allocator, for real', async (t) => {
  const ddr = path.join(dir, 'ddr.bin');
  const be = new ShmBackend(sys, { path: ddr, physBase: 0x3000_0000n, size: 1 << 20, create: true });
  t.equal(fs.statSync(ddr).size, 1 << 20);
  const pool = new DmaAllocator(be);
  const a = pool.alloc(1000, { label: 'input', align: 4096 });
  t.equal(a.phys % 4096n, 0n);
  t.ok(a.phys >= 0x3000_0000n && a.phys < 0x3010_0000n);
  t.equal(a.view.length, 1000);
  a.view.set([1, 2, 3], 0);
  a.toDevice();
  t.equal(a.owner, 'device');
  t.throws(() => a.view, /owned by the device; call toCpu\(\)/);
  // The "device" (virtual board) sees the bytes at phys − base in the file.
  const fd = fs.openSync(ddr, 'r+');
  const b3 = Buffer.alloc(3);
  fs.readSync(fd, b3, 0, 3, Number(a.phys - 0x3000_0000n));
  t.same([...b3], [1, 2, 3]);
  fs.writeSync(fd, Buffer.from([9]), 0, 1, Number(a.phys - 0x3000_0000n) + 10);
  fs.closeSync(fd);
  a.toCpu();
  t.equal(a.view[10], 9, 'device write visible after toCpu');
  t.throws(() => a.toDevice(999, 2), /range \[999, 1001\) outside its 1000 bytes/);

  // Reuse through free lists.
  const phys = a.phys;
  a.free();
  t.throws(() => a.view, /'input' used after free/);
  t.throws(() => a.free(), /used after free/);
  const b = pool.alloc(990, { label: 'input2', align: 4096 });
  t.equal(b.phys, phys, 'same size class + alignment reuses the region');
  t.match(pool.stats(), { liveBuffers: 1, allocations: 2, reused: 1, cachedBytes: 0 });
  const c = pool.alloc(64, { label: 'params' });
  t.equal(pool.stats().liveBytes, 1024 + 64);
  t.equal(pool.stats().peakBytes, 1024 + 64);

  c.free();
  const leaks: unknown[] = [];
  const reported = pool.close((l) => leaks.push(...l));
  t.same(reported.map((l) => [l.label, l.size]), [['input2', 990]]);
  t.equal(leaks.length, 1);
  t.throws(() => b.view, /used after free/);
  t.throws(() => pool.alloc(8), /after close/);
  t.same(pool.close(), [], 'second close is a no-op');

  t.throws(() => new ShmBackend(sys, { path: path.join(dir, 'missing.bin'), physBase: 0n }), { name: 'UserError', message: /cannot open virtual DDR .*missing\.bin: ENOENT/ });
  fs.writeFileSync(path.join(dir, 'empty.bin'), '');
  t.throws(() => new ShmBackend(sys, { path: path.join(dir, 'empty.bin'), physBase: 0n }), /is empty/);
});

t.test('allocator: free lists are bounded and trim() returns memory', async (t) => {
  const be = new ShmBackend(sys, { path: path.join(dir, 'ddr2.bin'), physBase: 0n, size: 65536, create: true });
  const pool = new DmaAllocator(be, 4096);
  const x = pool.alloc(4096);
  const y = pool.alloc(4096);
  x.free();
  y.free(); // over the 4096-byte cache cap → back to the backend
  t.equal(pool.stats().cachedBytes, 4096);
  t.equal(be.available(), 65536 - 4096);
  pool.trim();
  t.equal(be.available(), 65536);
  let warned = '';
  const z = pool.alloc(100, { label: 'forgotten' });
  process.once('warning', (w) => (warned = w.message));
  pool.close();
  await new Promise((r) => setImmediate(r));
  t.match(warned, /1 DMA buffer\(s\) still allocated at close \(100 bytes\): forgotten \(100 B\)/);
  t.ok(z.freed);
});

t.test('u-dma-buf backend over a fake sysfs tree', async (t) => {
  const { root, dev } = fakeUdmabuf(dir, 'udmabuf0', 1 << 16);
  const info = findUdmabuf({ sysfsRoots: [path.join(dir, 'nope'), root], devRoot: dev });
  t.match(info, { name: 'udmabuf0', phys: 0x3f000000n, size: 65536, dmaCoherent: false });
  // userCache: null — the sysfs sync path on every host; by default an arm64 host (the arm64 lane, an Ultra96) would
  // route syncs through native/ffcache instead (test/dma-usercache.test.ts covers that path).
  const be = new UdmabufBackend(sys, { sysfsRoots: [root], devRoot: dev, userCache: null });
  t.equal(be.coherent, false);
  const pool = new DmaAllocator(be);
  const a = pool.alloc(100, { align: 64 });
  const b = pool.alloc(300, { align: 64 });
  t.equal(b.phys, 0x3f000000n + 128n);
  b.view.fill(7);
  b.toDevice(10, 20);
  const d = path.join(root, 'udmabuf0');
  const rd = (f: string) => fs.readFileSync(path.join(d, f), 'utf8');
  // [128+10, 128+30) widened to whole 64-byte lines: [128, 192).
  t.same([rd('sync_offset'), rd('sync_size'), rd('sync_direction'), rd('sync_for_device')], ['128', '64', '1', '1']);
  b.toCpu();
  t.same([rd('sync_offset'), rd('sync_size'), rd('sync_direction'), rd('sync_for_cpu')], ['128', '320', '2', '1']);
  // Writes through the view reach the "device" file.
  t.equal(fs.readFileSync(path.join(dev, 'udmabuf0'))[128], 7);
  a.free();
  b.free();
  t.same(pool.close(), []);

  // Uncached open (O_SYNC): coherent, no sysfs writes.
  fs.writeFileSync(path.join(d, 'sync_for_device'), 'untouched');
  const un = new UdmabufBackend(sys, { sysfsRoots: [root], devRoot: dev, cached: false });
  t.equal(un.coherent, true);
  const r = un.alloc(64, 64);
  un.syncForDevice(r, 0, 64);
  t.equal(rd('sync_for_device'), 'untouched');
  un.close();

  t.throws(() => findUdmabuf({ sysfsRoots: [root], name: 'other' }), { name: 'UserError', message: "no u-dma-buf device named 'other' (found: udmabuf0)" });
  t.throws(() => findUdmabuf({ sysfsRoots: [path.join(dir, 'none')] }), /no u-dma-buf device found/);
  t.throws(() => new UdmabufBackend(sys, { sysfsRoots: [root], devRoot: path.join(dir, 'nodev') }), { name: 'UserError', message: /udmabuf0 does not exist/ });
  const denied: Sys = { ...sys, pageSize: sys.pageSize, open: (p) => { throw new SysError('open', 13, p); } };
  const e = t.throws(() => new UdmabufBackend(denied, { sysfsRoots: [root], devRoot: dev })) as UserError;
  t.match(e.message, /^permission denied opening .*udmabuf0$/);
  t.match(e.hint, /udev rule/);
});

t.test('libcma backend with an injected fake library', async (t) => {
  const calls: string[] = [];
  const mem = new Map<bigint, ArrayBuffer>();
  let next = 0x7f00_0000_0000n;
  let pages = 16;
  const lib: CmaLib = {
    cma_alloc(len, cacheable) {
      calls.push(`alloc ${len} ${cacheable}`);
      if (len > pages * 4096) return 0n;
      const p = next;
      next += 0x10000n;
      mem.set(p, new ArrayBuffer(len));
      return p;
    },
    cma_get_phy_addr: (p) => 0x1800_0000n + (p - 0x7f00_0000_0000n),
    cma_free: (p) => void calls.push(`free ${p.toString(16)}`),
    cma_flush_cache: (p, phys, size) => void calls.push(`flush ${phys.toString(16)} ${size}`),
    cma_invalidate_cache: (p, phys, size) => void calls.push(`inval ${phys.toString(16)} ${size}`),
    cma_pages_available: () => pages,
    view: (p, len) => mem.get(p)!.slice(0, len) && mem.get(p)!,
  };
  const be = new LibcmaBackend(lib);
  t.equal(be.coherent, false);
  const pool = new DmaAllocator(be);
  const a = pool.alloc(1000, { label: 'w' });
  t.equal(a.phys, 0x1800_0000n);
  a.view[0] = 5;
  a.toDevice(64, 128).toCpu();
  t.same(calls, ['alloc 1024 1', 'flush 18000040 128', 'inval 18000000 1000']);
  t.throws(() => pool.alloc(1 << 20), { name: 'UserError', message: 'libcma: cannot allocate 1048576 bytes (16 CMA pages free)' });
  t.throws(() => pool.alloc(64, { align: 8192 }), /alignment 8192 exceeds/);
  a.free();
  pool.close();
  t.ok(calls.includes('free 7f0000000000'), 'close returns cached regions to CMA');
  t.equal(be.available(), 16 * 4096);
  pages = 0;
  const un = new LibcmaBackend(lib, { cacheable: false });
  t.equal(un.coherent, true);
});
