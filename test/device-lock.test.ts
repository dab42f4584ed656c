// One process per engine: a second user of the same board (here a second real process on the virtual board) gets
// "board in use by pid N", before it touches a register; a killed holder leaves no stale lock.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineDevice } from '../src/device/engine-device.js';
import { flockHolder, lockExclusive, lockFile } from '../src/driver/lock.js';
import { UioDevice } from '../src/driver/uio.js';
import { startEmu } from '../src/emu/process.js';
import { ERRNO, SysError, createLibcSys, type Sys } from '../src/sys/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

execFileSync('make', ['-s', '-C', 'hw', 'emu'], { stdio: 'inherit' });
const here = path.dirname(fileURLToPath(import.meta.url));
const sys = createLibcSys();

/** Resolves with the child's stdout once it contains `word`; rejects when the child exits first or after ms. */
function waitFor(child: ChildProcess, word: string, ms = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no ${word} within ${ms} ms: ${out} ${err}`)), ms);
    child.stderr!.on('data', (d) => (err += String(d)));
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes(word)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes(word)) reject(new Error(`holder exited (${code}) before ${word}: ${err}`));
    });
  });
}

function holder(dir: string): ChildProcess {
  const args = process.execArgv.filter((a) => !a.includes('processinfo'));
  return spawn(process.execPath, [...args, path.join(here, 'fixtures', 'hold-board.ts'), dir], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' },
  });
}

t.test('two processes on one virtual board: the second gets "board in use by pid N"; a killed holder frees it', async (t) => {
  const emu = await startEmu({ ddrMb: 4 });
  t.teardown(() => emu.stop());
  const dir = emu.info.dir;

  const a = holder(dir);
  t.teardown(() => void a.kill('SIGKILL'));
  await waitFor(a, 'LOCKED');
  t.equal(fs.readFileSync(path.join(dir, 'lock'), 'latin1').trim(), String(a.pid), 'the holder recorded its pid');

  const err = await EngineDevice.open({ board: 'emu', emuDir: dir }).then(() => undefined, (e: Error) => e);
  t.match(err, { name: 'UserError', message: `board in use by pid ${a.pid}: virtual board ${dir} is locked` });
  t.match((err as { hint?: string }).hint, new RegExp(`kill ${a.pid}`));

  // The CLI: one line, exit 2, and the holder keeps running undisturbed.
  const prev = process.env.FLOWFPGA_EMU_DIR;
  process.env.FLOWFPGA_EMU_DIR = dir;
  const r = await runCli(['selftest', '--board', 'emu']).finally(() => {
    if (prev === undefined) delete process.env.FLOWFPGA_EMU_DIR;
    else process.env.FLOWFPGA_EMU_DIR = prev;
  });
  t.equal(r.code, 2, r.stdout);
  t.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.match(r.stderr, `board in use by pid ${a.pid}`);
  t.equal(a.exitCode, null, 'the holder is still running');

  // Stale lock: the holder dies without closing; its pid is still in the lock file, but the kernel dropped the lock.
  const gone = new Promise((r) => a.once('exit', r));
  a.kill('SIGKILL');
  await gone;
  const dev = await EngineDevice.open({ board: 'emu', emuDir: dir });
  t.teardown(() => dev.close());
  t.equal(fs.readFileSync(path.join(dir, 'lock'), 'latin1').trim(), String(process.pid), 'the new holder recorded its pid');
  t.equal((await dev.run(0n, 0)).status, 0, 'the engine answers the new holder');
  await dev.close();

  // A holder that closes normally releases too (and a third process can take the board).
  const b = holder(dir);
  t.teardown(() => void b.kill('SIGKILL'));
  await waitFor(b, 'LOCKED');
  const released = waitFor(b, 'RELEASED');
  b.stdin!.end();
  await released;
  const again = await EngineDevice.open({ board: 'emu', emuDir: dir });
  await again.close();
});

t.test('a real board: flock on the UIO node; the holder pid comes from /proc/locks', async (t) => {
  const dir = tempDir(t, 'ff-lock-');
  const node = path.join(dir, 'uio0');
  fs.writeFileSync(node, Buffer.alloc(4096));
  const info = { index: 0, name: 'flowfpga_engine', device: node, maps: [] };
  const one = new UioDevice(info, sys);
  t.teardown(() => one.close());
  one.lock();
  t.equal(flockHolder(node), process.pid, '/proc/locks lists this process on the node');
  const two = new UioDevice(info, sys);
  t.throws(() => two.lock(), { name: 'UserError', message: `board in use by pid ${process.pid} (this process): ${node} is locked` });
  two.close();
  one.close();
  t.equal(flockHolder(node), undefined, 'closing the fd released the lock');
  const three = new UioDevice(info, sys);
  three.lock();
  three.close();
});

t.test('lock errors: holder unknown, other errnos pass through as SysError', async (t) => {
  const dir = tempDir(t, 'ff-lock-');
  const node = path.join(dir, 'uio0');
  fs.writeFileSync(node, '');
  const busy: Sys = { ...sys, pageSize: sys.pageSize, flock: () => { throw new SysError('flock', ERRNO.EWOULDBLOCK); } };
  t.throws(() => lockExclusive(busy, 3, node, { procLocks: path.join(dir, 'no-proc-locks') }),
    { name: 'UserError', message: `board in use by another process: ${node} is locked` });
  const fakeLocks = path.join(dir, 'locks');
  const st = fs.statSync(node, { bigint: true });
  const major = (st.dev >> 8n) & 0xfffn, minor = st.dev & 0xffn;
  const id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  fs.writeFileSync(fakeLocks, `1: POSIX  ADVISORY  WRITE 11 ${id} 0 EOF\n2: FLOCK  ADVISORY  WRITE 4242 ${id} 0 EOF\n2: -> FLOCK  ADVISORY  WRITE 99 ${id} 0 EOF\n`);
  t.equal(flockHolder(node, { procLocks: fakeLocks }), 4242, 'the FLOCK holder, not a POSIX lock or a waiter');
  t.throws(() => lockExclusive(busy, 3, node, { procLocks: fakeLocks, label: 'pynq-z2 engine' }), { message: 'board in use by pid 4242: pynq-z2 engine is locked' });
  const denied: Sys = { ...sys, pageSize: sys.pageSize, open: (p) => { throw new SysError('open', ERRNO.EACCES, p); } };
  t.throws(() => lockFile(denied, path.join(dir, 'lock'), `virtual board ${dir}`), {
    name: 'UserError', message: `cannot open the lock file ${path.join(dir, 'lock')} (EACCES)`, hint: new RegExp(`virtual board ${dir} belongs to another user`),
  });
  const eio: Sys = { ...sys, pageSize: sys.pageSize, flock: () => { throw new SysError('flock', ERRNO.EIO); } };
  t.throws(() => lockExclusive(eio, 3, node), { name: 'SysError', code: 'EIO', message: 'flock: EIO (i/o error)' });
});
