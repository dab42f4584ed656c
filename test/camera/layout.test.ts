// V4L2 layouts of src/camera/layout.ts against the kernel headers: test/camera/layout.c prints sizeof/offsetof and
// the VIDIOC_* numbers of the system's linux/videodev2.h, compiled here (x86-64 or whatever this machine is) and
// cross-compiled for armhf (32-bit time_t, and 64-bit time_t with _TIME_BITS=64) and arm64, run under qemu-user.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import type { Test } from 'tap';
import { ABIS, abiFor, fourcc, fourccName, ioc, v4l2Layout, type Abi, type V4l2Layout } from '../../src/camera/layout.js';

const src = path.join(import.meta.dirname, 'layout.c');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-v4l2layout-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

interface CLayout {
  time_t: number;
  pointer: number;
  structs: Record<string, { size: number; off: Record<string, number> }>;
  ioctl: Record<string, number>;
}

function build(cc: string, flags: string[], runner: string[], name: string): CLayout {
  const exe = path.join(dir, name);
  execFileSync(cc, ['-O0', '-o', exe, ...flags, src]);
  const [cmd, ...args] = runner.length ? runner : [exe];
  return JSON.parse(execFileSync(cmd, runner.length ? [...args, exe] : [], { encoding: 'utf8' })) as CLayout;
}

function compare(t: Test, c: CLayout, abi: Abi): void {
  const l: V4l2Layout = v4l2Layout(abi);
  t.equal(c.pointer, abi.pointer, 'pointer size');
  t.equal(c.time_t, abi.timeT, 'time_t size');
  for (const [name, s] of Object.entries(c.structs)) {
    const ts = l[name as 'buffer'];
    t.equal(ts.size, s.size, `sizeof(struct v4l2_${name})`);
    for (const [m, off] of Object.entries(s.off)) t.equal(ts.off[m], off, `offsetof(v4l2_${name}, ${m})`);
  }
  t.same(Object.keys(l.ioctl).sort(), Object.keys(c.ioctl).sort(), 'the same ioctls');
  for (const [n, v] of Object.entries(c.ioctl)) t.equal(l.ioctl[n as 'QBUF'], v, `VIDIOC_${n} = 0x${v.toString(16)}`);
}

t.test('this machine', { skip: has('cc') ? false : 'needs a C compiler' }, async (t) => {
  compare(t, build('cc', [], [], 'native'), abiFor());
});

t.test('armhf (PYNQ-Z2), 32-bit time_t, under qemu-arm', { skip: has('arm-linux-gnueabihf-gcc') && has('qemu-arm') ? false : 'needs gcc-arm-linux-gnueabihf and qemu-user' }, async (t) => {
  compare(t, build('arm-linux-gnueabihf-gcc', [], ['qemu-arm', '-L', '/usr/arm-linux-gnueabihf'], 'armhf'), ABIS.ilp32);
});

t.test('armhf with 64-bit time_t (_TIME_BITS=64), under qemu-arm', { skip: has('arm-linux-gnueabihf-gcc') && has('qemu-arm') ? false : 'needs gcc-arm-linux-gnueabihf and qemu-user' }, async (t) => {
  const flags = ['-D_TIME_BITS=64', '-D_FILE_OFFSET_BITS=64'];
  compare(t, build('arm-linux-gnueabihf-gcc', flags, ['qemu-arm', '-L', '/usr/arm-linux-gnueabihf'], 'armhf64t'), ABIS['ilp32-time64']);
});

t.test('arm64 (Ultra96-V2, ZCU104), under qemu-aarch64', { skip: has('aarch64-linux-gnu-gcc') && has('qemu-aarch64') ? false : 'needs gcc-aarch64-linux-gnu and qemu-user' }, async (t) => {
  compare(t, build('aarch64-linux-gnu-gcc', [], ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'], 'arm64'), ABIS.lp64);
});

t.test('the numbers the reference facts list, and helpers', async (t) => {
  // facts.md §3.2 (public capture code), independent of any header on this machine.
  t.equal(v4l2Layout(ABIS.lp64).ioctl.QUERYBUF, 0xc0585609);
  t.equal(v4l2Layout(ABIS.ilp32).ioctl.S_FMT, 0xc0cc5605);
  t.equal(v4l2Layout(ABIS.ilp32).ioctl.DQBUF, 0xc0445611);
  t.equal(v4l2Layout(ABIS['ilp32-time64']).ioctl.QUERYBUF, 0xc0505609);
  t.equal(v4l2Layout(ABIS.lp64).ioctl.STREAMON, 0x40045612);
  t.equal(fourcc('YUYV'), 0x56595559);
  t.equal(fourcc('MJPG'), 0x47504a4d);
  t.equal(fourccName(0x47504a4d), 'MJPG');
  t.throws(() => fourcc('YUV'), RangeError);
  t.throws(() => ioc(3, 'V', 0, 1 << 14), RangeError);
  t.equal(abiFor('arm'), ABIS.ilp32);
  t.equal(abiFor('arm64'), ABIS.lp64);
  t.throws(() => abiFor('ia32'), /not derived for architecture ia32/);
});
