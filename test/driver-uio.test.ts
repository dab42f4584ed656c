import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLibcSys, SysError, MemoryMapping, type Sys } from '../src/sys/index.js';
import { listUio, findUio, openUio, openDevMem, UioDevice } from '../src/driver/uio.js';
import { RegisterWindow, read64, write64 } from '../src/driver/mmio.js';
import { UserError } from '../src/errors.js';

const real = createLibcSys();
const PS = real.pageSize;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-uio-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** /sys/class/uio with uio0 (an unrelated gpio) and uio3 (the engine: two maps, map0 not page-aligned). */
function fakeTree(): { sysfsRoot: string; devRoot: string } {
  const sysfsRoot = path.join(dir, 'class-uio');
  const devRoot = path.join(dir, 'dev');
  const mk = (uio: string, name: string, maps: [string, string, string][]) => {
    const d = path.join(sysfsRoot, uio);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'name'), name + '\n');
    fs.writeFileSync(path.join(d, 'version'), 'devicetree\n');
    maps.forEach(([addr, size, offset], i) => {
      const md = path.join(d, 'maps', `map${i}`);
      fs.mkdirSync(md, { recursive: true });
      fs.writeFileSync(path.join(md, 'addr'), addr + '\n');
      fs.writeFileSync(path.join(md, 'size'), size + '\n');
      fs.writeFileSync(path.join(md, 'offset'), offset + '\n');
      fs.writeFileSync(path.join(md, 'name'), `m${i}\n`);
    });
  };
  mk('uio0', 'gpio', [['0x41200000', '0x10000', '0x0']]);
  mk('uio3', 'flowfpga_engine', [
    ['0x43c00100', '0x100', '0x100'],
    ['0x80000000', `0x${PS.toString(16)}`, '0x0'],
  ]);
  fs.mkdirSync(path.join(sysfsRoot, 'not-uio'), { recursive: true });
  fs.mkdirSync(devRoot, { recursive: true });
  // A regular file stands in for /dev/uio3: mmap offset N·pagesize selects "map N" exactly as the UIO driver does.
  const dev = Buffer.alloc(2 * PS);
  dev.writeUInt32LE(0xcafe0001, 0x100); // map0 register 0
  dev.writeUInt32LE(0x12345678, PS); // map1 word 0
  fs.writeFileSync(path.join(devRoot, 'uio3'), dev);
  return { sysfsRoot, devRoot };
}

t.test('discovery by name under an injected sysfs root', async (t) => {
  const p = fakeTree();
  const all = listUio(p);
  t.same(all.map((u) => [u.index, u.name]), [[0, 'gpio'], [3, 'flowfpga_engine']]);
  const u = findUio('flowfpga_engine', p);
  t.equal(u.device, path.join(p.devRoot, 'uio3'));
  t.same(u.maps[0], { index: 0, name: 'm0', addr: 0x43c00100n, size: 0x100, offset: 0x100 });
  t.equal(u.maps[1]!.addr, 0x80000000n);
  const e = t.throws(() => findUio('nope', p)) as UserError;
  t.match(e.message, /^no UIO device named 'nope' under .*class-uio \(found: gpio, flowfpga_engine\)$/);
  t.match(e.hint, /generic-uio/);
  t.same(listUio({ sysfsRoot: path.join(dir, 'absent') }), []);
});

t.test('map N at offset N·pagesize, register window at the in-page offset', async (t) => {
  const p = fakeTree();
  const dev = openUio('flowfpga_engine', real, p);
  const regs = dev.registers(0);
  t.equal(regs.size, 0x100);
  t.equal(regs.read32(0), 0xcafe0001);
  regs.write32(4, 0xfeedf00d);
  const m1 = dev.map(1);
  t.equal(new Uint32Array(m1.buffer())[0], 0x12345678, 'map1 came from file offset pagesize');
  t.throws(() => dev.map(2), { name: 'UserError', message: /has no map2/ });
  dev.close();
  t.equal(fs.readFileSync(path.join(p.devRoot, 'uio3')).readUInt32LE(0x104), 0xfeedf00d, 'MMIO write reached the device');
  t.throws(() => regs.read32(0), /used after close/, 'window over a closed device throws');
  t.throws(() => dev.map(0), /used after close/);
  dev.close();
});

t.test('permission denied and missing node are one clear line', async (t) => {
  const p = fakeTree();
  const denied: Sys = { ...real, pageSize: PS, open: (path) => { throw new SysError('open', 13, path); } };
  const e = t.throws(() => openUio('flowfpga_engine', denied, p)) as UserError;
  t.equal(e.name, 'UserError');
  t.match(e.message, /^permission denied opening .*uio3$/);
  t.match(e.hint, /SUBSYSTEM=="uio", KERNEL=="uio\*", GROUP="<group>", MODE="0660"/);
  fs.rmSync(path.join(p.devRoot, 'uio3'));
  t.throws(() => openUio('flowfpga_engine', real, p), { name: 'UserError', message: /uio3 does not exist/ });
  const other: Sys = { ...real, pageSize: PS, open: () => { throw new SysError('open', 5); } };
  t.throws(() => new UioDevice(findUio('gpio', p), other), { name: 'SysError', code: 'EIO' });
});

t.test('interrupt wait: re-arm with s32 1, poll with timeout, read exactly 4 bytes', async (t) => {
  const p = fakeTree();
  const calls: string[] = [];
  let pending = 0;
  let count = 41;
  const fake: Sys = {
    ...real,
    pageSize: PS,
    open: () => 99,
    close: (fd) => void calls.push(`close ${fd}`),
    write: (fd, buf) => {
      calls.push(`write ${fd} ${[...buf].join(',')}`);
      return buf.length;
    },
    pollAsync: async (fd, ev, ms) => {
      calls.push(`poll ${fd} ${ev} ${ms}`);
      if (pending === 0) return 0;
      pending--;
      return 1;
    },
    read: (fd, buf, len) => {
      calls.push(`read ${fd} ${len}`);
      new DataView(buf.buffer, buf.byteOffset).setInt32(0, ++count, true);
      return 4;
    },
  };
  const dev = openUio('flowfpga_engine', fake, p);
  dev.arm();
  t.equal(await dev.wait(25), null, 'timeout → null');
  pending = 1;
  t.equal(await dev.wait(1000), 42);
  t.same(calls, ['write 99 1,0,0,0', 'poll 99 1 25', 'poll 99 1 1000', 'read 99 4']);
  const noIrq: Sys = { ...fake, write: () => { throw new SysError('write', 38); } };
  const d2 = openUio('flowfpga_engine', noIrq, p);
  t.throws(() => d2.arm(), { name: 'UserError', message: /cannot re-enable its interrupt \(no irqcontrol\)/ });
  const hup: Sys = { ...fake, pollAsync: async () => 0x10 };
  await t.rejects(openUio('flowfpga_engine', hup, p).wait(10), /interrupt wait failed \(poll revents 0x10\)/);
  const short: Sys = { ...fake, pollAsync: async () => 1, read: () => 2 };
  await t.rejects(openUio('flowfpga_engine', short, p).wait(10), /short interrupt read/);
  dev.close();
  t.ok(calls.includes('close 99'));
});

t.test('/dev/mem fallback: euid 0, page-aligned map, in-page window', async (t) => {
  const mem = path.join(dir, 'mem');
  fs.writeFileSync(mem, Buffer.alloc(4 * PS));
  const asRoot: Sys = { ...real, pageSize: PS, geteuid: () => 0 };
  const w = openDevMem(asRoot, BigInt(2 * PS + 0x40), 0x20, 'engine', { path: mem });
  w.write32(0x1c, 0xa5a5a5a5);
  t.throws(() => w.read32(0x20), /outside the 0x20-byte window/);
  w.close();
  t.equal(fs.readFileSync(mem).readUInt32LE(2 * PS + 0x40 + 0x1c), 0xa5a5a5a5);
  const user: Sys = { ...real, pageSize: PS, geteuid: () => 1000 };
  t.throws(() => openDevMem(user, 0x43c00000n, 0x100, 'engine', { path: mem }), { name: 'UserError', message: 'engine: /dev/mem access needs root' });
  const locked: Sys = { ...asRoot, open: (p) => { throw new SysError('open', 1, p); } };
  t.throws(() => openDevMem(locked, 0x43c00000n, 0x100, 'engine', { path: mem }), /engine: .*mem refused \(EPERM\)/);
  t.throws(() => openDevMem(asRoot, 0x43c00002n, 0x100, 'engine', { path: mem }), /not word aligned/);
});

t.test('register window: aligned 32-bit only, range checked, 64-bit as lo/hi', async (t) => {
  const m = new MemoryMapping(0x40, 'regs');
  t.throws(() => new RegisterWindow(m, 2, 8), /does not fit/);
  t.throws(() => new RegisterWindow(m, 0x20, 0x40), /does not fit/);
  const w = new RegisterWindow(m, 0x10, 0x20, 'eng');
  w.write32(0, 0xffffffff);
  t.equal(w.read32(0), 0xffffffff);
  w.write32(4, -1);
  t.equal(w.read32(4), 0xffffffff, 'negative int32 stored as its u32 bits');
  t.throws(() => w.read32(2), /eng: unaligned read at 0x2/);
  t.throws(() => w.write32(6, 0), /unaligned write/);
  t.throws(() => w.read32(0x20), /eng: read at 0x20 outside the 0x20-byte window/);
  t.throws(() => w.read32(-4), /outside/);
  t.throws(() => w.write32(0, 2 ** 32), /not a 32-bit value/);
  t.throws(() => w.write32(0, 1.5), /not a 32-bit value/);
  write64(w, 8, 0x1_2345_6789n);
  t.equal(w.read32(8), 0x23456789);
  t.equal(w.read32(12), 1);
  t.equal(read64(w, 8), 0x1_2345_6789n);
  t.throws(() => write64(w, 8, -1n), /not a u64/);
  t.equal(new DataView(m.buffer()).getUint32(0x18, true), 0x23456789, 'window offset applied, little-endian');
  m.close();
  t.throws(() => w.read32(0), /regs: mapping used after close/);
});
