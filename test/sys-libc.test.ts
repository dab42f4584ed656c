import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  createLibcSys,
  SysError,
  MemoryMapping,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  O_NONBLOCK,
  POLLIN,
  errnoName,
} from '../src/sys/index.js';

const sys = createLibcSys();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-sys-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('page size is a power of two ≥ 4096', async (t) => {
  t.ok(sys.pageSize >= 4096 && (sys.pageSize & (sys.pageSize - 1)) === 0, `pageSize ${sys.pageSize}`);
});

t.test('mmap a file MAP_SHARED: writes through the view reach the file', async (t) => {
  const f = path.join(dir, 'shared.bin');
  const ps = sys.pageSize;
  fs.writeFileSync(f, Buffer.alloc(ps * 3));
  const fd = sys.open(f, O_RDWR);
  // second page only: exercises a non-zero (BigInt) offset
  const m = sys.mmap(fd, ps, BigInt(ps), { path: f });
  sys.close(fd);
  t.equal(typeof m.addr, 'bigint');
  t.not(m.addr, 0n);
  const u8 = m.bytes();
  t.equal(u8.length, ps);
  u8[0] = 0xab;
  new Uint32Array(m.buffer())[1] = 0xdeadbeef;
  m.sync();
  const back = fs.readFileSync(f);
  t.equal(back[ps], 0xab);
  t.equal(back.readUInt32LE(ps + 4), 0xdeadbeef);
  t.equal(back[0], 0, 'page 0 untouched');
  // and the file → mapping direction
  const wfd = fs.openSync(f, 'r+');
  fs.writeSync(wfd, Buffer.from([0x5a]), 0, 1, ps + 100);
  fs.closeSync(wfd);
  t.equal(m.bytes(100, 1)[0], 0x5a);
  t.throws(() => m.bytes(ps - 2, 4), /outside the \d+-byte mapping/);

  m.close();
  t.ok(m.closed);
  t.throws(() => m.bytes(), /used after close/);
  t.throws(() => m.buffer(), /used after close/);
  t.throws(() => m.sync(), /used after close/);
  // A stale view must neither crash the process nor reach the file any more.
  u8[0] = 0x11;
  t.equal(u8[0], 0x11);
  t.equal(fs.readFileSync(f)[ps], 0xab, 'stale write did not reach the file');
  m.close(); // idempotent
});

// Physical addresses past 2 GiB are /dev/mem offsets that a 32-bit off_t cannot hold: the Zynq-7000 SLCR (PL clocks
// and reset) at 0xF8000000 on armhf. A sparse file stands in for /dev/mem; the ARM lanes (test/arm/run) run this
// under the armhf Node, where only mmap64 reaches it.
t.test('mmap at an offset past 2 GiB (the SLCR at 0xF8000000 on armhf) and, on 64-bit, past 4 GiB', async (t) => {
  const f = path.join(dir, 'sparse.bin');
  const ps = sys.pageSize;
  // Past 4 GiB only on 64-bit: Zynq-7000 has no physical address there, and qemu-user 7.2 (the armhf lane) truncates
  // a 32-bit guest's mmap2 offset to 32 bits although glibc passes it whole (qemu-arm -strace: pgoff 0x100010).
  for (const off of process.arch === 'arm' ? [0xf8000000] : [0xf8000000, 0x1_0000_0000 + 16 * ps]) {
    fs.writeFileSync(f, '');
    fs.truncateSync(f, off + 2 * ps);
    const fd = sys.open(f, O_RDWR);
    const m = sys.mmap(fd, ps, BigInt(off), { path: f });
    sys.close(fd);
    new Uint32Array(m.buffer())[1] = 0x767b0001 + off / ps;
    m.sync();
    m.close();
    const rfd = fs.openSync(f, 'r');
    const back = Buffer.alloc(8);
    fs.readSync(rfd, back, 0, 8, off);
    fs.closeSync(rfd);
    t.equal(back.readUInt32LE(4), 0x767b0001 + off / ps, `the word at 0x${(off + 4).toString(16)} came from the mapping`);
  }
  fs.rmSync(f);
});

t.test('mmap errors: bad fd, unaligned offset, zero length', async (t) => {
  const f = path.join(dir, 'small.bin');
  fs.writeFileSync(f, Buffer.alloc(16));
  const fd = sys.open(f, O_RDWR);
  t.throws(() => sys.mmap(fd, 4096, 100), /not a multiple/);
  t.throws(() => sys.mmap(fd, 0, 0), /invalid length/);
  sys.close(fd);
  try {
    sys.mmap(fd, 4096, 0, { path: f });
    t.fail('mmap on a closed fd succeeded');
  } catch (e) {
    t.type(e, SysError);
    t.equal((e as SysError).code, 'EBADF');
    t.match((e as Error).message, /^mmap .*small\.bin: EBADF \(/);
  }
});

t.test('open errors carry errno names', async (t) => {
  try {
    sys.open(path.join(dir, 'nope'), O_RDONLY);
    t.fail('no error');
  } catch (e) {
    t.equal((e as SysError).code, 'ENOENT');
    t.equal((e as SysError).errno, 2);
    t.match((e as Error).message, /open .*nope: ENOENT \(no such file or directory\)/);
  }
  // EACCES: a 000 file for ordinary users; root bypasses file modes, so use a proc/sysfs file that refuses writes.
  const locked = path.join(dir, 'locked');
  fs.writeFileSync(locked, 'x');
  fs.chmodSync(locked, 0);
  const candidates = sys.geteuid() === 0 ? ['/proc/1/environ', '/sys/kernel/mm/transparent_hugepage/hpage_pmd_size'] : [locked];
  let hit = false;
  for (const c of candidates) {
    try {
      sys.close(sys.open(c, O_WRONLY));
    } catch (e) {
      if ((e as SysError).code === 'EACCES') {
        hit = true;
        t.match((e as Error).message, /EACCES \(permission denied\)/);
        break;
      }
    }
  }
  if (!hit) t.skip('no file on this host refuses this user with EACCES');
  t.equal(errnoName(13), 'EACCES');
  t.equal(errnoName(100000), 'E100000');
});

t.test('ioctl on a regular file → ENOTTY; read/write round trip', async (t) => {
  const f = path.join(dir, 'rw.bin');
  fs.writeFileSync(f, Buffer.alloc(0));
  const fd = sys.open(f, O_RDWR);
  // TCGETS, not a V4L2 number: qemu-user (the ARM lanes, test/arm/run) answers ENOSYS for ioctls it has no table
  // entry for, V4L2 among them, instead of passing them to the kernel.
  t.throws(() => sys.ioctl(fd, 0x5401, new Uint8Array(64)), { code: 'ENOTTY' });
  t.equal(sys.write(fd, new Uint8Array([1, 2, 3, 4])), 4);
  sys.close(fd);
  const rfd = sys.open(f, O_RDONLY);
  const buf = new Uint8Array(8);
  t.equal(sys.read(rfd, buf), 4);
  t.same([...buf.subarray(0, 4)], [1, 2, 3, 4]);
  t.equal(sys.read(rfd, buf), 0, 'EOF');
  t.throws(() => sys.write(rfd, buf), { code: 'EBADF' });
  t.throws(() => sys.read(rfd, buf, 9), RangeError);
  sys.close(rfd);
  t.throws(() => sys.close(rfd), { code: 'EBADF' });
});

t.test('poll on a FIFO: timeout, then readable', async (t) => {
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // O_RDWR on a FIFO never blocks on Linux and keeps a writer open.
  const fd = sys.open(fifo, O_RDWR | O_NONBLOCK);
  const t0 = performance.now();
  t.equal(sys.poll(fd, POLLIN, 30), 0, 'nothing to read → timeout');
  t.ok(performance.now() - t0 >= 25, 'waited the timeout');
  t.equal(await sys.pollAsync(fd, POLLIN, 20), 0, 'async timeout');
  const pending = sys.pollAsync(fd, POLLIN, 30_000); // generous: a stalled process must not time out before the write
  setTimeout(() => sys.write(fd, new Uint8Array([7])), 20);
  const rev = await pending;
  t.ok(rev & POLLIN, 'async poll woke on data');
  t.ok(sys.poll(fd, POLLIN, 0) & POLLIN, 'sync poll sees data');
  const b = new Uint8Array(1);
  t.equal(sys.read(fd, b), 1);
  t.equal(b[0], 7);
  t.throws(() => sys.read(fd, b), { code: 'EAGAIN' });
  sys.close(fd);
});

t.test('MemoryMapping has the same accessor contract', async (t) => {
  const m = new MemoryMapping(64, 'regs');
  m.bytes(60, 4).fill(9);
  t.equal(new Uint8Array(m.buffer())[63], 9);
  t.throws(() => m.bytes(62, 4), /regs: range \[62, 66\) outside the 64-byte mapping/);
  m.sync();
  m.close();
  t.throws(() => m.bytes(), /regs: mapping used after close/);
});

t.test('connectUnix: a stream socket fd that read/write/pollAsync serve like any other fd', async (t) => {
  const net = await import('node:net');
  const sock = path.join(dir, 'irq.sock');
  const got: Buffer[] = [];
  let peer: import('node:net').Socket | undefined;
  const server = net.createServer((c) => {
    peer = c;
    c.on('data', (d) => got.push(d));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  const fd = sys.connectUnix(sock);
  t.ok(fd > 2);
  t.equal(sys.write(fd, new Uint8Array([1, 0, 0, 0])), 4);
  t.equal(await sys.pollAsync(fd, POLLIN, 20), 0, 'nothing to read yet → timeout');
  while (!peer || got.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.same([...Buffer.concat(got)], [1, 0, 0, 0]);
  peer.write(Buffer.from([7, 0, 0, 0]));
  t.ok((await sys.pollAsync(fd, POLLIN, 30_000)) & POLLIN);
  const buf = new Uint8Array(4);
  t.equal(sys.read(fd, buf, 4), 4);
  t.same([...buf], [7, 0, 0, 0]);
  const flags = parseInt(/flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
  t.ok(flags & 0o2000000, 'O_CLOEXEC set');
  sys.close(fd);
});

t.test('connectUnix errors: SysError with syscall, path and errno text', async (t) => {
  const missing = path.join(dir, 'nope.sock');
  t.throws(() => sys.connectUnix(missing), { name: 'SysError', code: 'ENOENT', message: `connect ${missing}: ENOENT (no such file or directory)` });
  const plain = path.join(dir, 'plain-file');
  fs.writeFileSync(plain, '');
  t.throws(() => sys.connectUnix(plain), { name: 'SysError', code: 'ECONNREFUSED', message: new RegExp(`^connect ${plain}: ECONNREFUSED`) });
  const long = '/tmp/' + 'x'.repeat(120);
  t.throws(() => sys.connectUnix(long), { name: 'SysError', code: 'ENAMETOOLONG' });
  t.throws(() => sys.connectUnix('a\0b'), { name: 'SysError', code: 'EINVAL' });
  const before = fs.readdirSync('/proc/self/fd').length;
  for (let i = 0; i < 20; i++) t.throws(() => sys.connectUnix(plain));
  t.equal(fs.readdirSync('/proc/self/fd').length, before, 'failed connects close their socket');
});

t.test('flock: exclusive per open file description, EWOULDBLOCK with LOCK_NB, released by LOCK_UN and close', async (t) => {
  const { LOCK_EX, LOCK_NB, LOCK_UN, O_RDWR, O_CREAT } = await import('../src/sys/constants.js');
  const p = path.join(dir, 'lockme');
  const a = sys.open(p, O_RDWR | O_CREAT);
  const b = sys.open(p, O_RDWR);
  sys.flock(a, LOCK_EX | LOCK_NB);
  t.throws(() => sys.flock(b, LOCK_EX | LOCK_NB), { name: 'SysError', code: 'EAGAIN', message: 'flock: EAGAIN (resource temporarily unavailable)' });
  sys.flock(a, LOCK_UN);
  sys.flock(b, LOCK_EX | LOCK_NB);
  t.throws(() => sys.flock(a, LOCK_EX | LOCK_NB), { code: 'EAGAIN' });
  sys.close(b);
  sys.flock(a, LOCK_EX | LOCK_NB);
  sys.close(a);
  t.throws(() => sys.flock(a, LOCK_EX | LOCK_NB), { code: 'EBADF' });
});
