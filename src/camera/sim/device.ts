// A simulated V4L2 capture device at the libc seam: a `Sys` whose open/ioctl/mmap/poll behave like a UVC camera
// driven by videobuf2, on the real struct layouts of the chosen ABI (src/camera/layout.ts). The capture code runs on
// it unchanged. State machine and errors follow the V4L2 spec and vb2 (drivers/media/common/videobuf2/*):
//   - several opens are allowed; the file handle that REQBUFS first owns the queue, others get EBUSY on
//     REQBUFS/QBUF/DQBUF/STREAMON/STREAMOFF; S_FMT with buffers allocated is EBUSY; REQBUFS while streaming is EBUSY;
//   - S_FMT never fails on an unsupported pixel format or size: the driver adjusts (to its first format, its one
//     size) and the caller reads back what it got (VIDIOC_S_FMT spec); a bad buffer type is EINVAL;
//   - REQBUFS memory other than MMAP, QBUF of a queued buffer, DQBUF/STREAMON without buffers: EINVAL;
//   - DQBUF with O_NONBLOCK and no finished frame: EAGAIN; poll: POLLERR when not streaming, POLLIN with a frame;
//   - unplug (unplug(), or after the application dequeued `unplugAfter` frames): ioctl and mmap give ENODEV, poll POLLERR|POLLHUP|POLLPRI, open
//     ENOENT; mapped memory stays valid until unmapped, as the kernel keeps the pages;
//   - on 32-bit ABIs both the time32 and (kernel ≥ 5.6) time64 QUERYBUF/QBUF/DQBUF numbers are served; either can be
//     switched off to model CONFIG_COMPAT_32BIT_TIME=n or an old kernel (ENOTTY).
// Frames are paced at the sequence's frame rate and never dropped (the k-th frame delivered is frame k of the
// sequence, played forwards then backwards so motion stays continuous), so two runs over the sim see the same frames.
import { ERRNO, SysError } from '../../sys/errors.js';
import { MAP_SHARED, O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLPRI } from '../../sys/constants.js';
import { checkRange, closedError } from '../../sys/mapping.js';
import type { Mapping, MmapOptions, Sys } from '../../sys/types.js';
import {
  ABIS,
  abiFor,
  V4L2_BUF_CAP_SUPPORTS_MMAP,
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_MAPPED,
  V4L2_BUF_FLAG_QUEUED,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_CAP_DEVICE_CAPS,
  V4L2_CAP_STREAMING,
  V4L2_CAP_VIDEO_CAPTURE,
  V4L2_COLORSPACE_JPEG,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_NONE,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_MJPEG,
  V4L2_PIX_FMT_YUYV,
  v4l2Layout,
  type Abi,
  type StructLayout,
  type V4l2Layout,
} from '../layout.js';
import type { Sequence } from './sequence.js';

export type SimFormat = 'yuyv' | 'mjpeg';

export interface SimCameraOptions {
  /** Device path open() accepts (e.g. "sim:" or "sim:DIR"). */
  path: string;
  sequence: Sequence;
  /** Struct layouts and ioctl numbers (default: this process's ABI). */
  abi?: Abi;
  /** Frames per second; 0 = a frame as soon as a buffer is queued. Default: the sequence's rate. */
  fps?: number;
  /** Offered pixel formats, in ENUM_FMT order (default YUYV, MJPEG). */
  formats?: SimFormat[];
  /** 32-bit ABIs: serve the time32 buffer ioctls (CONFIG_COMPAT_32BIT_TIME). Default true. */
  time32?: boolean;
  /** 32-bit ABIs: serve the time64 buffer ioctls (kernel ≥ 5.6). Default true. */
  time64?: boolean;
  /** Unplug right after the application has dequeued this many frames. */
  unplugAfter?: number;
  pageSize?: number;
}

/** What the simulated driver holds, for tests and leak checks. */
export interface SimCameraState {
  /** Open file handles. */
  open: number;
  streaming: boolean;
  /** Buffers allocated by REQBUFS. */
  buffers: number;
  queued: number;
  done: number;
  /** Live mappings of buffer memory (including buffers already freed by REQBUFS 0 but still mapped). */
  mapped: number;
  /** Frames delivered since creation. */
  delivered: number;
  unplugged: boolean;
  format: SimFormat;
}

interface Buf {
  index: number;
  offset: number;
  length: number;
  mem: ArrayBuffer;
  state: 'dequeued' | 'queued' | 'done';
  bytesused: number;
  sequence: number;
  tsUs: number;
}

interface Fh {
  nonblock: boolean;
}

interface Waiter {
  fd: number;
  resolve: (rev: number) => void;
  timer?: NodeJS.Timeout;
  deadline?: NodeJS.Timeout;
}

const FORMAT_INFO: Record<SimFormat, { fourcc: number; description: string; flags: number; colorspace: number }> = {
  yuyv: { fourcc: V4L2_PIX_FMT_YUYV, description: 'YUYV 4:2:2', flags: 0, colorspace: V4L2_COLORSPACE_SRGB },
  // V4L2_FMT_FLAG_COMPRESSED = 1
  mjpeg: { fourcc: V4L2_PIX_FMT_MJPEG, description: 'Motion-JPEG', flags: 1, colorspace: V4L2_COLORSPACE_JPEG },
};

/** Recently created simulated cameras (newest last), so that a test can check what a CLI run left behind. */
export const simCameras: SimCamera[] = [];

export class SimCamera {
  readonly sys: Sys;
  readonly path: string;
  readonly sequence: Sequence;
  readonly layout: V4l2Layout;
  /** The other 32-bit buffer layout (time64), when the ABI is 32-bit. */
  readonly #alt?: V4l2Layout;
  readonly #o: SimCameraOptions;
  readonly #formats: SimFormat[];
  readonly #page: number;
  #fhs = new Map<number, Fh>();
  #nextFd = 100;
  #owner = -1;
  #bufs: Buf[] = [];
  #queued: Buf[] = [];
  #done: Buf[] = [];
  #mappings = new Set<SimMapping>();
  #streaming = false;
  #nextDue = 0;
  #delivered = 0;
  #dequeued = 0;
  #unplugged = false;
  #format: SimFormat;
  #waiters = new Set<Waiter>();

  constructor(o: SimCameraOptions) {
    this.#o = o;
    this.path = o.path;
    this.sequence = o.sequence;
    const abi = o.abi ?? abiFor();
    this.layout = v4l2Layout(abi);
    if (abi.pointer === 4) this.#alt = v4l2Layout(abi.timeT === 4 ? ABIS['ilp32-time64'] : ABIS.ilp32);
    this.#formats = o.formats ?? ['yuyv', 'mjpeg'];
    if (this.#formats.length === 0) throw new Error('a simulated camera needs at least one format');
    this.#format = this.#formats[0];
    this.#page = o.pageSize ?? 4096;
    this.sys = this.#makeSys();
    simCameras.push(this);
    if (simCameras.length > 16) simCameras.shift();
  }

  state(): SimCameraState {
    return {
      open: this.#fhs.size,
      streaming: this.#streaming,
      buffers: this.#bufs.length,
      queued: this.#queued.length,
      done: this.#done.length,
      mapped: this.#mappings.size,
      delivered: this.#delivered,
      unplugged: this.#unplugged,
      format: this.#format,
    };
  }

  /** The camera is pulled out: every later ioctl/mmap fails with ENODEV, poll reports an error and a hang-up. */
  unplug(): void {
    this.#unplugged = true;
    this.#streaming = false;
    this.#notify();
  }

  get #interval(): number {
    const fps = this.#o.fps ?? this.sequence.fps;
    return fps > 0 ? 1000 / fps : 0;
  }

  #sizeimage(f: SimFormat = this.#format): number {
    const { width, height } = this.sequence;
    if (f === 'yuyv') return 2 * width * height;
    // UVC reports dwMaxVideoFrameBufferSize; here the largest frame, rounded up to a page.
    const max = Math.max(...this.sequence.jpeg.map((j) => j.length));
    return Math.ceil(max / this.#page) * this.#page;
  }

  // ------------------------------------------------------------------------------------------------ frame clock

  /** Fills queued buffers with the frames that are due by now (and unplugs when the budget is spent). */
  #advance(now = performance.now()): void {
    while (this.#streaming && this.#queued.length > 0 && now >= this.#nextDue) {
      const b = this.#queued.shift()!;
      const n = this.sequence.jpeg.length;
      // Forwards, then backwards without repeating the ends: 0 1 … n−1 n−2 … 1 0 1 …
      const period = 2 * (n - 1);
      const k = this.#delivered % period;
      const i = k < n ? k : period - k;
      const src = this.#format === 'yuyv' ? this.sequence.yuyv(i) : this.sequence.jpeg[i];
      new Uint8Array(b.mem).set(src, 0);
      b.bytesused = src.length;
      b.sequence = this.#delivered++;
      b.tsUs = Math.round(now * 1000);
      b.state = 'done';
      this.#done.push(b);
      this.#nextDue = Math.max(this.#nextDue + this.#interval, now);
    }
  }

  #revents(fd: number): number {
    if (this.#unplugged) return POLLERR | POLLHUP | POLLPRI;
    if (!this.#streaming || this.#owner !== fd) return POLLERR;
    this.#advance();
    return this.#done.length > 0 ? POLLIN : 0;
  }

  /** Re-evaluates pending pollAsync calls after a state change or when the next frame is due. */
  #notify(): void {
    for (const w of [...this.#waiters]) this.#check(w);
  }

  #check(w: Waiter): void {
    const rev = this.#revents(w.fd);
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
    if (rev !== 0) return this.#finish(w, rev);
    // A frame will come when a queued buffer's time is due; without queued buffers only a QBUF can wake us.
    if (this.#queued.length > 0) w.timer = setTimeout(() => this.#check(w), Math.max(0, this.#nextDue - performance.now()) + 0.5);
  }

  #finish(w: Waiter, rev: number): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.deadline) clearTimeout(w.deadline);
    this.#waiters.delete(w);
    w.resolve(rev);
  }

  // ----------------------------------------------------------------------------------------------------- the Sys

  #fh(fd: number, call: string): Fh {
    const fh = this.#fhs.get(fd);
    if (!fh) throw new SysError(call, ERRNO.EBADF);
    return fh;
  }

  #makeSys(): Sys {
    const self = this;
    return {
      get pageSize() {
        return self.#page;
      },
      open(path, flags) {
        if (path !== self.path || self.#unplugged) throw new SysError('open', ERRNO.ENOENT, path);
        const fd = self.#nextFd++;
        self.#fhs.set(fd, { nonblock: (flags & O_NONBLOCK) !== 0 });
        return fd;
      },
      close(fd) {
        self.#fh(fd, 'close');
        // vb2_fop_release: the owner's close stops streaming and frees the queue (mapped pages stay until munmap).
        if (self.#owner === fd) self.#release();
        self.#fhs.delete(fd);
        for (const w of [...self.#waiters]) if (w.fd === fd) self.#finish(w, POLLNVAL); // as libc's close ends a wait
      },
      read(fd) {
        self.#fh(fd, 'read');
        throw new SysError('read', ERRNO.EINVAL); // no V4L2_CAP_READWRITE
      },
      write(fd) {
        self.#fh(fd, 'write');
        throw new SysError('write', ERRNO.EINVAL);
      },
      mmap(fd, length, offset, opts: MmapOptions = {}) {
        self.#fh(fd, 'mmap');
        if (self.#unplugged) throw new SysError('mmap', ERRNO.ENODEV, opts.path);
        const off = Number(offset);
        const b = self.#bufs.find((x) => x.offset === off);
        // vb2_mmap: MAP_SHARED only, a known buffer offset, no more than the buffer.
        if (((opts.flags ?? MAP_SHARED) & MAP_SHARED) === 0 || !b || length > b.mem.byteLength || length <= 0) {
          throw new SysError('mmap', ERRNO.EINVAL, opts.path);
        }
        const m = new SimMapping(b.mem, length, opts.path ?? `${self.path} buffer ${b.index}`, (x) => self.#mappings.delete(x));
        self.#mappings.add(m);
        return m;
      },
      poll(fd, events, timeoutMs) {
        self.#fh(fd, 'poll');
        const end = performance.now() + Math.max(0, timeoutMs);
        for (;;) {
          const rev = self.#revents(fd) & (events | POLLERR | POLLHUP | POLLPRI);
          if (rev !== 0 || performance.now() >= end || self.#queued.length === 0) return rev;
          sleepMs(Math.min(end, self.#nextDue) - performance.now());
        }
      },
      pollAsync(fd, events, timeoutMs) {
        self.#fh(fd, 'poll');
        return new Promise<number>((resolve) => {
          const w: Waiter = { fd, resolve: (rev) => resolve(rev & (events | POLLERR | POLLHUP | POLLPRI | POLLNVAL)) };
          self.#waiters.add(w);
          if (timeoutMs >= 0) w.deadline = setTimeout(() => self.#finish(w, 0), timeoutMs);
          self.#check(w);
        });
      },
      ioctl(fd, request, arg) {
        const fh = self.#fh(fd, 'ioctl');
        if (self.#unplugged) throw new SysError('ioctl', ERRNO.ENODEV);
        return self.#ioctl(fd, fh, request >>> 0, arg);
      },
      connectUnix(path) {
        throw new SysError('connect', ERRNO.ENOENT, path);
      },
      geteuid() {
        return 1000;
      },
      flock(fd) {
        self.#fh(fd, 'flock'); // a character device takes flock(2) like any file; the camera code does not lock
      },
      // The simulated driver is a device node, not a socket layer: there is nothing to send to.
      socketDgram() {
        throw new SysError('socket', ERRNO.ENOSYS);
      },
      sendto(_fd, _buf, path) {
        throw new SysError('sendto', ERRNO.ENOSYS, path);
      },
    };
  }

  #release(): void {
    this.#streaming = false;
    for (const b of this.#bufs) b.state = 'dequeued';
    this.#bufs = [];
    this.#queued = [];
    this.#done = [];
    this.#owner = -1;
    this.#notify();
  }

  // ---------------------------------------------------------------------------------------------------- ioctls

  #ioctl(fd: number, fh: Fh, req: number, arg: Uint8Array): number {
    const L = this.layout;
    const io = L.ioctl;
    const alt = this.#alt;
    const bufLayout = (): StructLayout | undefined => {
      const time32 = this.layout.abi.timeT === 4 ? L : alt;
      const time64 = this.layout.abi.timeT === 4 ? alt : L;
      const ok32 = this.#o.time32 !== false;
      const ok64 = this.#o.time64 !== false;
      for (const [lay, ok] of [[time32, ok32], [time64, ok64]] as const) {
        if (!lay || (lay.abi.pointer === 4 && !ok)) continue;
        if (req === lay.ioctl.QUERYBUF || req === lay.ioctl.QBUF || req === lay.ioctl.DQBUF) return lay.buffer;
      }
      return undefined;
    };
    const need = (size: number): DataView => {
      if (arg.length < size) throw new SysError('ioctl', ERRNO.EFAULT);
      return new DataView(arg.buffer, arg.byteOffset, size);
    };
    switch (req) {
      case io.QUERYCAP:
        return this.#querycap(arg, need(L.capability.size));
      case io.ENUM_FMT:
        return this.#enumFmt(arg, need(L.fmtdesc.size));
      case io.G_FMT:
      case io.S_FMT:
        return this.#fmt(req === io.S_FMT, need(L.format.size));
      case io.REQBUFS:
        return this.#reqbufs(fd, need(L.requestbuffers.size));
      case io.STREAMON:
      case io.STREAMOFF:
        return this.#stream(fd, req === io.STREAMON, need(4).getUint32(0, true));
    }
    const bl = bufLayout();
    if (!bl) throw new SysError('ioctl', ERRNO.ENOTTY);
    const v = need(bl.size);
    const lay = [L, alt].find((x) => x && x.buffer === bl)!;
    if (req === lay.ioctl.QUERYBUF) return this.#querybuf(v, bl);
    if (req === lay.ioctl.QBUF) return this.#qbuf(fd, v, bl);
    return this.#dqbuf(fd, fh, v, bl);
  }

  #querycap(arg: Uint8Array, v: DataView): number {
    const o = this.layout.capability.off;
    arg.fill(0, 0, this.layout.capability.size);
    putString(arg, o.driver, 16, 'flowfpga-sim');
    putString(arg, o.card, 32, `Simulated camera (${this.sequence.name})`);
    putString(arg, o.bus_info, 32, 'platform:flowfpga-sim');
    v.setUint32(o.version, 0x060100, true);
    const dev = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
    v.setUint32(o.capabilities, (dev | V4L2_CAP_DEVICE_CAPS) >>> 0, true);
    v.setUint32(o.device_caps, dev, true);
    return 0;
  }

  #enumFmt(arg: Uint8Array, v: DataView): number {
    const o = this.layout.fmtdesc.off;
    const index = v.getUint32(o.index, true);
    if (v.getUint32(o.type, true) !== V4L2_BUF_TYPE_VIDEO_CAPTURE || index >= this.#formats.length) throw new SysError('ioctl', ERRNO.EINVAL);
    const f = FORMAT_INFO[this.#formats[index]];
    arg.fill(0, o.flags, this.layout.fmtdesc.size);
    v.setUint32(o.flags, f.flags, true);
    putString(arg, o.description, 32, f.description);
    v.setUint32(o.pixelformat, f.fourcc, true);
    return 0;
  }

  #fmt(set: boolean, v: DataView): number {
    const o = this.layout.format.off;
    if (v.getUint32(o.type, true) !== V4L2_BUF_TYPE_VIDEO_CAPTURE) throw new SysError('ioctl', ERRNO.EINVAL);
    if (set) {
      if (this.#bufs.length > 0) throw new SysError('ioctl', ERRNO.EBUSY);
      const want = v.getUint32(o['fmt.pix.pixelformat'], true);
      // Adjust, never refuse: an unknown format becomes the first one offered.
      this.#format = this.#formats.find((f) => FORMAT_INFO[f].fourcc === want) ?? this.#formats[0];
    }
    const f = FORMAT_INFO[this.#format];
    new Uint8Array(v.buffer, v.byteOffset + o.fmt, v.byteLength - o.fmt).fill(0);
    v.setUint32(o['fmt.pix.width'], this.sequence.width, true);
    v.setUint32(o['fmt.pix.height'], this.sequence.height, true);
    v.setUint32(o['fmt.pix.pixelformat'], f.fourcc, true);
    v.setUint32(o['fmt.pix.field'], V4L2_FIELD_NONE, true);
    v.setUint32(o['fmt.pix.bytesperline'], this.#format === 'yuyv' ? 2 * this.sequence.width : 0, true);
    v.setUint32(o['fmt.pix.sizeimage'], this.#sizeimage(), true);
    v.setUint32(o['fmt.pix.colorspace'], f.colorspace, true);
    return 0;
  }

  #checkOwner(fd: number): void {
    // vb2_queue_is_busy: another file handle owns the queue.
    if (this.#owner !== -1 && this.#owner !== fd) throw new SysError('ioctl', ERRNO.EBUSY);
  }

  #reqbufs(fd: number, v: DataView): number {
    const o = this.layout.requestbuffers.off;
    this.#checkOwner(fd);
    if (v.getUint32(o.type, true) !== V4L2_BUF_TYPE_VIDEO_CAPTURE || v.getUint32(o.memory, true) !== V4L2_MEMORY_MMAP) {
      throw new SysError('ioctl', ERRNO.EINVAL);
    }
    if (this.#streaming) throw new SysError('ioctl', ERRNO.EBUSY);
    const count = v.getUint32(o.count, true);
    this.#release();
    if (count > 0) {
      const n = Math.min(Math.max(count, 2), 32);
      const size = this.#sizeimage();
      const span = Math.ceil(size / this.#page) * this.#page;
      for (let i = 0; i < n; i++) {
        this.#bufs.push({ index: i, offset: i * span, length: size, mem: new ArrayBuffer(span), state: 'dequeued', bytesused: 0, sequence: 0, tsUs: 0 });
      }
      this.#owner = fd;
      v.setUint32(o.count, n, true);
    } else {
      v.setUint32(o.count, 0, true);
    }
    v.setUint32(o.capabilities, V4L2_BUF_CAP_SUPPORTS_MMAP, true);
    return 0;
  }

  #buffer(v: DataView, bl: StructLayout): Buf {
    const o = bl.off;
    const index = v.getUint32(o.index, true);
    if (v.getUint32(o.type, true) !== V4L2_BUF_TYPE_VIDEO_CAPTURE || index >= this.#bufs.length) throw new SysError('ioctl', ERRNO.EINVAL);
    return this.#bufs[index];
  }

  #fill(v: DataView, bl: StructLayout, b: Buf): void {
    const o = bl.off;
    new Uint8Array(v.buffer, v.byteOffset, bl.size).fill(0);
    v.setUint32(o.index, b.index, true);
    v.setUint32(o.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    v.setUint32(o.bytesused, b.bytesused, true);
    let flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    if ([...this.#mappings].some((m) => m.mem === b.mem)) flags |= V4L2_BUF_FLAG_MAPPED;
    if (b.state === 'queued') flags |= V4L2_BUF_FLAG_QUEUED;
    if (b.state === 'done') flags |= V4L2_BUF_FLAG_DONE;
    v.setUint32(o.flags, flags, true);
    v.setUint32(o.field, V4L2_FIELD_NONE, true);
    const sec = Math.floor(b.tsUs / 1e6);
    const usec = b.tsUs - sec * 1e6;
    const wide = o['timestamp.tv_usec'] - o['timestamp.tv_sec'] === 8;
    if (wide) {
      v.setBigInt64(o['timestamp.tv_sec'], BigInt(sec), true);
      v.setBigInt64(o['timestamp.tv_usec'], BigInt(usec), true);
    } else {
      v.setInt32(o['timestamp.tv_sec'], sec, true);
      v.setInt32(o['timestamp.tv_usec'], usec, true);
    }
    v.setUint32(o.sequence, b.sequence, true);
    v.setUint32(o.memory, V4L2_MEMORY_MMAP, true);
    v.setUint32(o['m.offset'], b.offset, true);
    v.setUint32(o.length, b.length, true);
  }

  #querybuf(v: DataView, bl: StructLayout): number {
    this.#fill(v, bl, this.#buffer(v, bl));
    return 0;
  }

  #qbuf(fd: number, v: DataView, bl: StructLayout): number {
    this.#checkOwner(fd);
    const b = this.#buffer(v, bl);
    if (v.getUint32(bl.off.memory, true) !== V4L2_MEMORY_MMAP || b.state !== 'dequeued') throw new SysError('ioctl', ERRNO.EINVAL);
    b.state = 'queued';
    this.#queued.push(b);
    this.#fill(v, bl, b);
    this.#notify();
    return 0;
  }

  #dqbuf(fd: number, fh: Fh, v: DataView, bl: StructLayout): number {
    this.#checkOwner(fd);
    if (v.getUint32(bl.off.type, true) !== V4L2_BUF_TYPE_VIDEO_CAPTURE || v.getUint32(bl.off.memory, true) !== V4L2_MEMORY_MMAP) {
      throw new SysError('ioctl', ERRNO.EINVAL);
    }
    if (!this.#streaming) throw new SysError('ioctl', ERRNO.EINVAL);
    this.#advance();
    if (this.#done.length === 0) {
      if (fh.nonblock) throw new SysError('ioctl', ERRNO.EAGAIN);
      // A blocking DQBUF sleeps until the next frame; with nothing queued the kernel would sleep forever.
      if (this.#queued.length === 0) throw new Error(`${this.path}: blocking DQBUF with no buffer queued would never return`);
      sleepMs(this.#nextDue - performance.now());
      this.#advance(Math.max(performance.now(), this.#nextDue));
      if (this.#unplugged) throw new SysError('ioctl', ERRNO.ENODEV);
    }
    const b = this.#done.shift()!;
    b.state = 'dequeued';
    this.#fill(v, bl, b);
    // Pulled out right after the application got its N-th frame: deterministic however slow the consumer is.
    if (++this.#dequeued === this.#o.unplugAfter) this.unplug();
    return 0;
  }

  #stream(fd: number, on: boolean, type: number): number {
    this.#checkOwner(fd);
    if (type !== V4L2_BUF_TYPE_VIDEO_CAPTURE) throw new SysError('ioctl', ERRNO.EINVAL);
    if (on) {
      if (this.#bufs.length === 0) throw new SysError('ioctl', ERRNO.EINVAL);
      if (!this.#streaming) {
        this.#streaming = true;
        this.#nextDue = performance.now() + this.#interval;
      }
    } else {
      // STREAMOFF returns every buffer to the application, finished or not (vb2 __vb2_queue_cancel).
      this.#streaming = false;
      for (const b of this.#bufs) b.state = 'dequeued';
      this.#queued = [];
      this.#done = [];
    }
    this.#notify();
    return 0;
  }
}

/** A buffer's memory as mmap returns it; close() is munmap. */
class SimMapping implements Mapping {
  readonly addr = 0n;
  #ab: ArrayBuffer | undefined;
  constructor(
    readonly mem: ArrayBuffer,
    readonly length: number,
    readonly label: string,
    private readonly onClose: (m: SimMapping) => void,
  ) {
    this.#ab = mem;
  }
  get closed(): boolean {
    return this.#ab === undefined;
  }
  buffer(): ArrayBuffer {
    if (!this.#ab) throw closedError(this.label);
    return this.#ab; // whole pages, as the kernel maps them
  }
  bytes(offset = 0, length = this.length - offset): Uint8Array {
    if (!this.#ab) throw closedError(this.label);
    checkRange(this, offset, length);
    return new Uint8Array(this.#ab, offset, length);
  }
  sync(offset = 0, length = this.length - offset): void {
    if (!this.#ab) throw closedError(this.label);
    checkRange(this, offset, length);
  }
  close(): void {
    if (!this.#ab) return;
    this.#ab = undefined;
    this.onClose(this);
  }
}

function putString(arg: Uint8Array, off: number, max: number, s: string): void {
  const b = Buffer.from(s, 'utf8').subarray(0, max - 1);
  arg.set(b, off);
  arg[off + b.length] = 0;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, Math.ceil(ms));
}
