// Streaming capture over the simulated V4L2 device (the libc seam): frames arrive in order with the sequence's pixels,
// fitPlanes equals fitImage(rgb()), every ABI's layouts work end to end (incl. the armhf time64 fallback), and the
// state machine's errors (EBUSY, EINVAL, EAGAIN, ENODEV, timeouts) become one clear line; nothing stays mapped.
import t from 'tap';
import path from 'node:path';
import { ABIS, loadSequence, openCameraSource, SimCamera, simCameras, v4l2Layout, defaultSequenceDir } from '../../src/camera/index.js';
import { openCapture } from '../../src/camera/capture.js';
import { decodeMjpeg, mjpegDecoderName } from '../../src/camera/mjpeg.js';
import { V4l2 } from '../../src/camera/v4l2.js';
import { toRgb, yuyvRows } from '../../src/camera/convert.js';
import { fitImage, planInput, stackPair } from '../../src/flow/netinput.js';
import type { RgbImage } from '../../src/flow/image.js';
import { createLibcSys, O_NONBLOCK, O_RDWR, POLLERR, SysError } from '../../src/sys/index.js';
import { fourcc, V4L2_PIX_FMT_YUYV } from '../../src/camera/layout.js';
import { sameBytes } from '../helpers/bytes.js';

const seq = loadSequence(defaultSequenceDir());
const sim = (o: Partial<ConstructorParameters<typeof SimCamera>[0]> = {}): SimCamera =>
  new SimCamera({ path: '/dev/video7', sequence: seq, fps: 0, ...o });
const planes = (img: RgbImage): Uint8Array => stackPair(img, img).subarray(0, 3 * img.width * img.height);

t.test('bundled sequence: 20 frames 224x160, < 1 MB, known motion', async (t) => {
  t.equal(seq.jpeg.length, 20);
  t.equal(seq.width, 224);
  t.equal(seq.height, 160);
  t.ok(seq.jpeg.reduce((a, b) => a + b.length, 0) < 1 << 20);
  t.same(seq.info.motion?.background, { dx: 0.75, dy: 0.5 });
});

for (const [format, abi] of [['yuyv', ABIS.lp64], ['mjpeg', ABIS.lp64], ['yuyv', ABIS.ilp32], ['mjpeg', ABIS['ilp32-time64']]] as const) {
  t.test(`${format} on the ${abi.name} layouts: frames in order, pixels of the sequence, fitPlanes = fitImage(rgb)`, async (t) => {
    const cam = sim({ abi });
    const src = await openCameraSource('/dev/video7', { sys: cam.sys, abi, format, buffers: 3 });
    const via = format === 'yuyv' ? '' : ` via ${mjpegDecoderName()}`;
    t.match(src.description, new RegExp(`^/dev/video7: ${format === 'yuyv' ? 'YUYV' : 'MJPG'} 224x160 \\(asked 640x480\\)${via}, 3 buffers \\(Simulated camera \\(sequence\\)\\)$`));
    t.equal(src.width, 224);
    t.equal(src.length, undefined);
    t.same(cam.state(), { open: 1, streaming: true, buffers: 3, queued: 3, done: 0, mapped: 3, delivered: 0, unplugged: false, format });
    const map = planInput(224, 160, { mode: 'resize', height: 192, width: 256 });
    const n = 3 * 192 * 256;
    const dst = new Uint8Array(2 * n);
    let prev = -1;
    let lastTs = -Infinity;
    for (let k = 0; k < 22; k++) {
      const f = (await src.next())!;
      t.equal(f.index, k);
      t.ok(f.timestampMs >= lastTs, 'monotonic timestamps');
      lastTs = f.timestampMs;
      // Ping-pong: frames 0..19, then 18, 17, …
      const i = k < 20 ? k : 38 - k;
      if (k % 7 === 0 || k >= 19) {
        // MJPEG: what this machine's decoder makes of the frame (libturbojpeg and jpeg-js differ by their IDCTs).
        const want = format === 'yuyv' ? toRgb(yuyvRows(seq.yuyv(i), 224, 160)) : decodeMjpeg(seq.jpeg[i]);
        const rgb = f.rgb();
        sameBytes(t, rgb.data, want.data, `frame ${k} is sequence frame ${i}`);
        // An MJPEG frame also offers the JPEG it arrived in (the live page sends it as it is); YUYV has none.
        const jpg = f.jpeg?.();
        if (format === 'mjpeg') {
          t.same([jpg?.width, jpg?.height], [224, 160]);
          sameBytes(t, jpg!.jpeg, seq.jpeg[i], `frame ${k}: jpeg() is the captured JPEG`);
        } else t.equal(jpg, undefined, `frame ${k}: no JPEG from a YUYV capture`);
        f.fitPlanes(map, dst, n);
        sameBytes(t, dst.subarray(n), planes(fitImage(rgb, map)), `frame ${k}: fitPlanes = fitImage(rgb)`);
      }
      t.ok(prev !== f.index);
      prev = f.index;
      f.release();
      f.release(); // idempotent
      t.throws(() => f.rgb(), /used after release/);
      t.throws(() => f.jpeg?.(), /used after release/);
    }
    await src.close();
    await src.close();
    t.equal(await src.next(), null, 'a closed source ends');
    const st = cam.state();
    t.same({ ...st, delivered: 0 }, { open: 0, streaming: false, buffers: 0, queued: 0, done: 0, mapped: 0, delivered: 0, unplugged: false, format });
    t.ok(st.delivered >= 22, 'the driver filled at least the frames dequeued (fps 0 fills every queued buffer)');
  });
}

t.test('armhf on a kernel without CONFIG_COMPAT_32BIT_TIME: ENOTTY on time32 QUERYBUF switches to time64', async (t) => {
  const cam = sim({ abi: ABIS.ilp32, time32: false });
  const src = await openCameraSource('/dev/video7', { sys: cam.sys, abi: ABIS.ilp32 });
  t.equal((src as unknown as { layout: { abi: { name: string } } }).layout.abi.name, 'ilp32-time64');
  const f = (await src.next())!;
  t.equal(f.index, 0);
  f.release();
  await src.close();
  // And an old kernel without the time64 numbers keeps time32.
  const old = sim({ abi: ABIS.ilp32, time64: false });
  const s2 = await openCameraSource('/dev/video7', { sys: old.sys, abi: ABIS.ilp32 });
  t.equal((s2 as unknown as { layout: { abi: { name: string } } }).layout.abi.name, 'ilp32');
  (await s2.next())!.release();
  await s2.close();
  t.equal(old.state().mapped, 0);
});

t.test('sim: and sim:DIR open through openCameraSource; bad folders are one line', async (t) => {
  const src = await openCameraSource('sim:', { sim: { fps: 0 } });
  t.match(src.description, /^sim:: YUYV 224x160/);
  const cam = simCameras[simCameras.length - 1];
  const f = (await src.next())!;
  f.release();
  await src.close();
  t.same(cam.state().mapped, 0);
  const src2 = await openCameraSource(`sim:${defaultSequenceDir()}`, { format: 'mjpeg', sim: { fps: 0 } });
  t.match(src2.description, /MJPG 224x160/);
  await src2.close();
  await t.rejects(openCameraSource('sim:/nonexistent/dir'), { name: 'UserError', message: 'sim:/nonexistent/dir: no such folder' });
  await t.rejects(openCameraSource(`sim:${path.join(defaultSequenceDir(), '000.jpg')}`), { name: 'UserError', message: /is not a folder/ });
  await t.rejects(openCameraSource('sim:', { buffers: 2 }), { name: 'UserError', message: /need 3 to 32 capture buffers/ });
});

t.test('paced at the frame rate: poll waits on the event loop, frames come in order', async (t) => {
  const cam = sim({ fps: 200 });
  const src = await openCameraSource('/dev/video7', { sys: cam.sys });
  const t0 = performance.now();
  for (let k = 0; k < 5; k++) (await src.next())!.release();
  // Five frames at 200 fps cannot arrive in less than 4 intervals (lower bound only: the machine may be slow).
  t.ok(performance.now() - t0 >= 4 * 5 - 1, 'paced');
  await src.close();
});

t.test('state machine errors: EBUSY, EINVAL, EAGAIN, adjusting S_FMT, ENOTTY', async (t) => {
  const cam = sim();
  const L = v4l2Layout();
  const src = await openCameraSource('/dev/video7', { sys: cam.sys });
  // A second open works (V4L2 allows it) but the streaming owner's queue is busy.
  await t.rejects(openCameraSource('/dev/video7', { sys: cam.sys }), {
    name: 'UserError',
    message: '/dev/video7 is busy: another program is streaming from it',
  });
  t.equal(cam.state().open, 1, 'the failed second open closed its handle');
  const fd2 = cam.sys.open('/dev/video7', O_RDWR | O_NONBLOCK);
  const v2 = new V4l2(cam.sys, fd2, L);
  t.throws(() => v2.requestBuffers(4), { code: 'EBUSY' });
  t.throws(() => v2.queueBuffer(0), { code: 'EBUSY' });
  t.throws(() => v2.streamOff(), { code: 'EBUSY' });
  t.throws(() => v2.setFormat(224, 160, V4L2_PIX_FMT_YUYV), { code: 'EBUSY' }, 'S_FMT with buffers allocated');
  t.equal(cam.sys.poll(fd2, 1, 0), POLLERR, 'a non-owner polls an error');
  t.equal(v2.querycap().driver, 'flowfpga-sim', 'QUERYCAP works for anyone');
  t.throws(() => cam.sys.ioctl(fd2, 0xc0ff56ff, new Uint8Array(8)), { code: 'ENOTTY' });
  t.throws(() => cam.sys.ioctl(fd2, L.ioctl.G_FMT, new Uint8Array(8)), { code: 'EFAULT' });
  const badType = new Uint8Array(L.format.size);
  badType[0] = 9;
  t.throws(() => cam.sys.ioctl(fd2, L.ioctl.G_FMT, badType), { code: 'EINVAL' }, 'unknown buffer type');
  t.throws(() => cam.sys.read(fd2, new Uint8Array(4)), { code: 'EINVAL' });
  t.throws(() => cam.sys.mmap(fd2, 4096, 4096 * 999), { code: 'EINVAL' });
  cam.sys.close(fd2);
  t.throws(() => cam.sys.close(fd2), { code: 'EBADF' });
  await src.close();

  // Owner-side errors, driven through the raw calls.
  const fd = cam.sys.open('/dev/video7', O_RDWR | O_NONBLOCK);
  const v = new V4l2(cam.sys, fd, L);
  // S_FMT adjusts rather than refuses (V4L2 spec): unknown fourcc and size -> the driver's YUYV 224x160.
  const adj = v.setFormat(1920, 1080, fourcc('RGB3'));
  t.same([adj.width, adj.height, adj.pixelformat, adj.bytesperline, adj.sizeimage], [224, 160, V4L2_PIX_FMT_YUYV, 448, 448 * 160]);
  t.same(v.getFormat().width, 224);
  t.throws(() => v.streamOn(), { code: 'EINVAL' }, 'STREAMON without buffers');
  t.throws(() => v.dequeueBuffer(), { code: 'EINVAL' }, 'DQBUF when not streaming');
  t.equal(v.requestBuffers(1), 2, 'the driver raises a too-small count');
  t.throws(() => v.queueBuffer(5), { code: 'EINVAL' }, 'no such buffer');
  v.queueBuffer(0);
  t.throws(() => v.queueBuffer(0), { code: 'EINVAL' }, 'already queued');
  t.equal(cam.sys.poll(fd, 1, 0), POLLERR, 'poll before STREAMON is an error');
  v.streamOn();
  v.streamOn(); // already streaming: no-op
  t.throws(() => v.requestBuffers(4), { code: 'EBUSY' }, 'REQBUFS while streaming');
  t.equal(v.dequeueBuffer().index, 0, 'fps 0: a frame as soon as a buffer is queued');
  t.throws(() => v.dequeueBuffer(), { code: 'EAGAIN' }, 'O_NONBLOCK and no frame');
  t.equal(cam.sys.poll(fd, 1, 0), 0, 'nothing queued: nothing to wait for');
  t.equal(await cam.sys.pollAsync(fd, 1, 10), 0, 'pollAsync times out');
  v.streamOff();
  t.equal(v.requestBuffers(0), 0);
  cam.sys.close(fd);
  t.same(cam.state().buffers, 0);
  t.throws(() => cam.sys.open('/dev/video9', O_RDWR), { code: 'ENOENT' });
});

t.test('capture format negotiation errors are one line', async (t) => {
  const mj = sim({ formats: ['mjpeg'] });
  await t.rejects(openCameraSource('/dev/video7', { sys: mj.sys, format: 'yuyv' }), {
    name: 'UserError',
    message: '/dev/video7 does not offer YUYV (it offers MJPG)',
  });
  const auto = await openCameraSource('/dev/video7', { sys: mj.sys });
  t.match(auto.description, /MJPG/, 'MJPEG when YUYV is not offered');
  await auto.close();
  await t.rejects(openCameraSource('/dev/video7', { sys: sim().sys, format: 'rgb' as 'yuyv' }), { message: /unknown camera format 'rgb'/ });
  t.equal(mj.state().open, 0, 'failed opens leave nothing open');
});

t.test('unplugged mid-stream: one clear line, then close leaves nothing mapped', async (t) => {
  const cam = sim({ unplugAfter: 3, fps: 500 });
  const src = await openCameraSource('/dev/video7', { sys: cam.sys });
  const held = [];
  for (let k = 0; k < 3; k++) held.push((await src.next())!);
  held[0].release();
  const e = (await src.next().catch((x) => x)) as Error;
  t.equal(e.name, 'UserError');
  t.equal(e.message, '/dev/video7: camera disconnected (ENODEV)');
  t.equal((e as { hint?: string }).hint, 'reconnect it and run again');
  held[1].release(); // QBUF fails with ENODEV: swallowed, the error was reported once
  t.ok(cam.state().unplugged);
  await src.close();
  t.same(cam.state().mapped, 0, 'every buffer unmapped after an unplug');
  t.same(cam.state().open, 0);
  await t.rejects(openCameraSource('/dev/video7', { sys: cam.sys }), { name: 'UserError', message: 'no camera at /dev/video7 (ENOENT)' });
  // Unplugged while waiting in poll: the waiter wakes with an error and the line is the same.
  const cam2 = sim({ fps: 1 });
  const s2 = await openCameraSource('/dev/video7', { sys: cam2.sys });
  const p = s2.next();
  setImmediate(() => cam2.unplug());
  await t.rejects(p, { message: '/dev/video7: camera disconnected (ENODEV)' });
  await s2.close();
  t.same(cam2.state().mapped, 0);
});

t.test('holding every buffer, no frame in time, streaming taken away', async (t) => {
  const cam = sim();
  const src = await openCameraSource('/dev/video7', { sys: cam.sys, buffers: 3 });
  const held = [(await src.next())!, (await src.next())!, (await src.next())!];
  await t.rejects(src.next(), /all 3 buffers are held by frames/);
  held.forEach((f) => f.release());
  await src.close();
  const slow = sim({ fps: 0.01 });
  const s2 = await openCameraSource('/dev/video7', { sys: slow.sys, frameTimeoutMs: 30 });
  await t.rejects(s2.next(), { name: 'UserError', message: '/dev/video7: no frame within 0.0 s' });
  await s2.close();
  t.equal(slow.state().mapped, 0);
});

t.test('real libc: missing node and a non-V4L2 file are one line', async (t) => {
  const sys = createLibcSys();
  await t.rejects(openCapture(sys, '/dev/video-flowfpga-none', v4l2Layout()), { name: 'UserError', message: 'no camera at /dev/video-flowfpga-none (ENOENT)' });
  // qemu-user (the ARM lanes, test/arm/run) answers an ioctl it does not know with ENOSYS, where the kernel says ENOTTY.
  if (process.env.FLOWFPGA_ARM_LANE) {
    await t.rejects(openCapture(sys, '/dev/null', v4l2Layout()), { name: 'SysError', code: 'ENOSYS' }, 'qemu-user: ENOSYS');
  } else {
    await t.rejects(openCapture(sys, '/dev/null', v4l2Layout()), { name: 'UserError', message: '/dev/null is not a V4L2 device' });
  }
  t.ok(new SysError('ioctl', 25).code === 'ENOTTY');
});

t.test('what a real driver may answer: permissions, busy, not a capture node, a switched format, too few buffers', async (t) => {
  const L = v4l2Layout();
  /** The sim's Sys with open or one ioctl answered differently. */
  const twist = (o: { open?: number; after?: (req: number, arg: Uint8Array) => void }) => {
    const cam = sim();
    const base = cam.sys;
    return {
      cam,
      sys: {
        ...base,
        get pageSize() {
          return base.pageSize;
        },
        open: (p: string, f: number) => {
          if (o.open) throw new SysError('open', o.open, p);
          return base.open(p, f);
        },
        ioctl: (fd: number, req: number, arg: Uint8Array) => {
          const r = base.ioctl(fd, req, arg);
          o.after?.(req >>> 0, arg);
          return r;
        },
      },
    };
  };
  const open = (x: ReturnType<typeof twist>) => openCameraSource('/dev/video7', { sys: x.sys });
  await t.rejects(open(twist({ open: 13 })), { name: 'UserError', message: '/dev/video7: permission denied', hint: /usermod -aG video/ });
  await t.rejects(open(twist({ open: 16 })), { name: 'UserError', message: '/dev/video7 is busy' });
  await t.rejects(open(twist({ open: 5 })), { name: 'UserError', message: /^cannot open \/dev\/video7: open \/dev\/video7: EIO/ });
  const meta = twist({ after: (req, arg) => req === L.ioctl.QUERYCAP && new DataView(arg.buffer, arg.byteOffset).setUint32(L.capability.off.device_caps, 0x00800000, true) });
  await t.rejects(open(meta), { name: 'UserError', message: '/dev/video7 (Simulated camera (sequence)) is not a streaming video capture node' });
  t.equal(meta.cam.state().open, 0, 'closed again');
  const switched = twist({ after: (req, arg) => req === L.ioctl.S_FMT && new DataView(arg.buffer, arg.byteOffset).setUint32(L.format.off['fmt.pix.pixelformat'], fourcc('NV12'), true) });
  await t.rejects(open(switched), { name: 'UserError', message: '/dev/video7 switched to NV12 when asked for YUYV' });
  const few = twist({ after: (req, arg) => req === L.ioctl.REQBUFS && arg[0] > 0 && new DataView(arg.buffer, arg.byteOffset).setUint32(0, 2, true) });
  await t.rejects(open(few), { name: 'UserError', message: '/dev/video7 granted 2 capture buffer(s), need 3' });
  t.same([few.cam.state().open, few.cam.state().mapped], [0, 0], 'nothing left open or mapped');
});

t.test('the stream stopped under the reader (STREAMOFF by the driver): one line', async (t) => {
  const cam = sim({ fps: 1 });
  const src = await openCameraSource('/dev/video7', { sys: cam.sys });
  const p = src.next();
  // The owner's queue stops (as a driver error or a reset would): poll wakes with POLLERR, DQBUF says EINVAL.
  setImmediate(() => {
    const fd = 100; // the source's handle: the sim's first
    cam.sys.ioctl(fd, v4l2Layout().ioctl.STREAMOFF, Uint8Array.from([1, 0, 0, 0]));
  });
  await t.rejects(p, { name: 'UserError', message: '/dev/video7: capture stopped (poll revents 0x8, EINVAL)' });
  await src.close();
  t.same([cam.state().open, cam.state().mapped], [0, 0]);
});
