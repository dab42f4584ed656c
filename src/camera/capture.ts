// V4L2 streaming capture as a FrameSource (src/flow/source.ts), following the kernel's capture example: open
// non-blocking, QUERYCAP, ENUM_FMT, S_FMT (read back what the driver chose), REQBUFS(MMAP), QUERYBUF + mmap each
// buffer, QBUF all, STREAMON; per frame DQBUF (EAGAIN → wait for POLLIN on the event loop, as the engine's interrupt
// wait does), hand the buffer out as a SourceFrame that converts straight from the mapping, QBUF again on release();
// close: STREAMOFF, munmap, REQBUFS(0), close. Every wait has a timeout; every failure a user can cause is one line.
import { UserError } from '../errors.js';
import type { RgbImage } from '../flow/image.js';
import type { InputMapping } from '../flow/netinput.js';
import type { FrameSource, SourceFrame } from '../flow/source.js';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLERR, POLLHUP, POLLIN, POLLNVAL, PROT_READ, MAP_SHARED } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Mapping, Sys } from '../sys/types.js';
import { fitPlanesFromRgb } from '../flow/fit.js';
import { fitterFor, toRgb, yuyvRows, type RowSource } from './convert.js';
import {
  fourccName,
  V4L2_BUF_FLAG_ERROR,
  V4L2_CAP_STREAMING,
  V4L2_CAP_VIDEO_CAPTURE,
  V4L2_PIX_FMT_MJPEG,
  V4L2_PIX_FMT_YUYV,
  type V4l2Layout,
} from './layout.js';
import { createMjpegDecoder, mjpegDecoderNote, type MjpegDecoder, type MjpegDecoderOptions } from './mjpeg.js';
import { V4l2, type PixFormat } from './v4l2.js';

export type CaptureFormat = 'yuyv' | 'mjpeg';

export interface CaptureOptions {
  width?: number;
  height?: number;
  /** Default: YUYV when offered (no decode), else MJPEG. */
  format?: CaptureFormat;
  /** Buffers to request; at least 3 (the run loop holds two frames while the driver fills a third). Default 4. */
  buffers?: number;
  /** Longest wait for one frame, ms. Default 5000. */
  frameTimeoutMs?: number;
  /** MJPEG: the decoder's options (tests: a library path). */
  mjpeg?: MjpegDecoderOptions;
  /** Called at most once with a line worth showing the user: MJPEG decoding fell back to jpeg-js (no libturbojpeg). */
  onNote?: (line: string) => void;
}

const FOURCC: Record<CaptureFormat, number> = { yuyv: V4L2_PIX_FMT_YUYV, mjpeg: V4L2_PIX_FMT_MJPEG };
const MIN_BUFFERS = 3;

interface Slot {
  mapping: Mapping;
  length: number;
  /** Held by a SourceFrame (dequeued), else queued to the driver. */
  held: boolean;
  /** MJPEG: the decoded frame's pixels, reused each time this buffer comes back (a frame holds its buffer). */
  rgb?: Uint8Array;
}

/** Opens and starts streaming; everything acquired is released again when a step fails. */
export async function openCapture(sys: Sys, device: string, layout: V4l2Layout, o: CaptureOptions = {}): Promise<FrameSource> {
  const want = o.buffers ?? 4;
  if (!Number.isInteger(want) || want < MIN_BUFFERS || want > 32) {
    throw new UserError(`${want} capture buffers requested: need ${MIN_BUFFERS} to 32 capture buffers`, 'the run loop holds two frames while the driver fills the next');
  }
  let fd: number;
  try {
    fd = sys.open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  } catch (e) {
    throw openError(device, e);
  }
  const src = new CameraSource(sys, device, fd, layout, o.frameTimeoutMs ?? 5000);
  try {
    src.start(o, want);
  } catch (e) {
    await src.close();
    throw e;
  }
  return src;
}

function openError(device: string, e: unknown): unknown {
  if (!(e instanceof SysError)) return e;
  switch (e.code) {
    case 'ENOENT':
    case 'ENXIO':
    case 'ENODEV':
      return new UserError(`no camera at ${device} (${e.code})`, 'list cameras with `ls /dev/video*` (v4l2-ctl --list-devices); is it plugged in?');
    case 'EACCES':
    case 'EPERM':
      return new UserError(`${device}: permission denied`, 'add your user to the video group (sudo usermod -aG video $USER, then log in again)');
    case 'EBUSY':
      return new UserError(`${device} is busy`, 'another program is using the camera; close it and try again');
  }
  return new UserError(`cannot open ${device}: ${e.message}`, 'check the device path');
}

class CameraSource implements FrameSource {
  description = '';
  width = 0;
  height = 0;
  readonly length = undefined;
  readonly #sys: Sys;
  readonly #device: string;
  readonly #v: V4l2;
  readonly #timeoutMs: number;
  #fd: number;
  #fmt!: PixFormat;
  #format: CaptureFormat = 'yuyv';
  #slots: Slot[] = [];
  #streaming = false;
  #closed = false;
  #count = 0;
  #decoder?: MjpegDecoder;
  /** Frames dropped as corrupt (driver ERROR flag, undecodable MJPEG). */
  dropped = 0;

  constructor(sys: Sys, device: string, fd: number, layout: V4l2Layout, timeoutMs: number) {
    this.#sys = sys;
    this.#device = device;
    this.#fd = fd;
    this.#v = new V4l2(sys, fd, layout);
    this.#timeoutMs = timeoutMs;
  }

  /** The layout in use (the time64 fallback may have switched it). */
  get layout(): V4l2Layout {
    return this.#v.layout;
  }

  start(o: CaptureOptions, want: number): void {
    const dev = this.#device;
    const cap = this.#ioctl(() => this.#v.querycap(), (e) => e.code === 'ENOTTY' || e.code === 'EINVAL'
      ? new UserError(`${dev} is not a V4L2 device`, 'give a /dev/videoN capture node (v4l2-ctl --list-devices)')
      : undefined);
    if (!(cap.caps & V4L2_CAP_VIDEO_CAPTURE) || !(cap.caps & V4L2_CAP_STREAMING)) {
      throw new UserError(`${dev} (${cap.card}) is not a streaming video capture node`, 'UVC cameras also expose a metadata node; use the other /dev/videoN of the camera');
    }
    const offered = this.#ioctl(() => this.#v.enumFormats());
    const has = (f: CaptureFormat): boolean => offered.some((d) => d.pixelformat === FOURCC[f]);
    const names = offered.map((d) => fourccName(d.pixelformat)).join(', ') || 'none';
    let format: CaptureFormat;
    if (o.format) {
      if (o.format !== 'yuyv' && o.format !== 'mjpeg') throw new UserError(`unknown camera format '${String(o.format)}'`, 'use yuyv or mjpeg');
      if (!has(o.format)) throw new UserError(`${dev} does not offer ${fourccName(FOURCC[o.format])} (it offers ${names})`, 'choose another --camera-format (yuyv or mjpeg)');
      format = o.format;
    } else if (has('yuyv')) format = 'yuyv';
    else if (has('mjpeg')) format = 'mjpeg';
    else throw new UserError(`${dev} offers neither YUYV nor MJPEG (it offers ${names})`, 'flowfpga reads YUYV and MJPEG cameras');
    const busy = (e: SysError): UserError | undefined =>
      e.code === 'EBUSY' ? new UserError(`${dev} is busy: another program is streaming from it`, 'stop the other capture (e.g. a browser tab or cheese) and try again') : undefined;
    const fmt = this.#ioctl(() => this.#v.setFormat(o.width ?? 640, o.height ?? 480, FOURCC[format]), busy);
    // The driver may adjust size and format (V4L2 S_FMT); a different pixel format is no use to us.
    if (fmt.pixelformat !== FOURCC[format]) {
      throw new UserError(`${dev} switched to ${fourccName(fmt.pixelformat)} when asked for ${fourccName(FOURCC[format])}`, 'choose another --camera-format (yuyv or mjpeg)');
    }
    if (fmt.width < 2 || fmt.height < 1 || (format === 'yuyv' && (fmt.width % 2 !== 0 || fmt.bytesperline < 2 * fmt.width))) {
      throw new UserError(`${dev} reports an unusable format ${fmt.width}x${fmt.height}, ${fmt.bytesperline} bytes per line`, 'try another size or format');
    }
    this.#fmt = fmt;
    this.#format = format;
    if (format === 'mjpeg') {
      const note = mjpegDecoderNote(o.mjpeg);
      this.#decoder = createMjpegDecoder(o.mjpeg);
      if (note) o.onNote?.(note);
    }
    this.width = fmt.width;
    this.height = fmt.height;
    const granted = this.#ioctl(() => this.#v.requestBuffers(want), busy);
    if (granted < MIN_BUFFERS) {
      throw new UserError(`${dev} granted ${granted} capture buffer(s), need ${MIN_BUFFERS}`, 'the driver is short of memory; try a smaller size');
    }
    for (let i = 0; i < granted; i++) {
      const b = this.#ioctl(() => this.#v.queryBuffer(i));
      const mapping = this.#ioctl(() => this.#sys.mmap(this.#fd, b.length, b.offset, { prot: PROT_READ, flags: MAP_SHARED, path: `${dev} buffer ${i}` }));
      this.#slots.push({ mapping, length: b.length, held: true });
    }
    for (let i = 0; i < this.#slots.length; i++) this.#requeue(i);
    this.#ioctl(() => this.#v.streamOn(), busy);
    this.#streaming = true;
    const size = `${fmt.width}x${fmt.height}`;
    const aw = o.width ?? 640;
    const ah = o.height ?? 480;
    const asked = aw !== fmt.width || ah !== fmt.height ? ` (asked ${aw}x${ah})` : '';
    const via = this.#decoder ? ` via ${this.#decoder.name}` : '';
    this.description = `${dev}: ${fourccName(fmt.pixelformat)} ${size}${asked}${via}, ${granted} buffers (${cap.card})`;
  }

  /** Runs a V4L2 call; ENODEV becomes the unplug line, `map` turns other errno values into user errors. */
  #ioctl<T>(f: () => T, map?: (e: SysError) => UserError | undefined): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof SysError) {
        if (e.code === 'ENODEV') throw this.#unplugged();
        const u = map?.(e);
        if (u) throw u;
      }
      throw e;
    }
  }

  #unplugged(): UserError {
    return new UserError(`${this.#device}: camera disconnected (ENODEV)`, 'reconnect it and run again');
  }

  #requeue(i: number): void {
    this.#ioctl(() => this.#v.queueBuffer(i));
    this.#slots[i].held = false;
  }

  async next(): Promise<SourceFrame | null> {
    if (this.#closed) return null;
    const deadline = performance.now() + this.#timeoutMs;
    for (;;) {
      if (!this.#slots.some((s) => !s.held)) {
        throw new Error(`${this.#device}: all ${this.#slots.length} buffers are held by frames; release() frames before asking for more`);
      }
      let b;
      try {
        b = this.#v.dequeueBuffer();
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        if (e.code === 'ENODEV') throw this.#unplugged();
        if (e.code !== 'EAGAIN') throw e;
        const left = Math.ceil(deadline - performance.now());
        const rev = left > 0 ? await this.#sys.pollAsync(this.#fd, POLLIN, left) : 0;
        if (this.#closed) return null;
        if (rev === 0) {
          throw new UserError(`${this.#device}: no frame within ${(this.#timeoutMs / 1000).toFixed(1)} s`, 'check the camera (is it covered, in use, or on a hub without power?)');
        }
        if (rev & (POLLERR | POLLHUP | POLLNVAL) && !(rev & POLLIN)) {
          // The errno of the next DQBUF says why (ENODEV on unplug); anything else is a driver error.
          try {
            this.#v.dequeueBuffer();
          } catch (e2) {
            if (!(e2 instanceof SysError)) throw e2;
            if (e2.code === 'ENODEV') throw this.#unplugged();
            // Not streaming any more (EINVAL) or an error without a reason (EAGAIN): the driver stopped the stream.
            throw new UserError(`${this.#device}: capture stopped (poll revents 0x${rev.toString(16)}, ${e2.code})`, 'another program may have taken the camera; run again');
          }
        }
        continue;
      }
      const slot = this.#slots[b.index];
      slot.held = true;
      if (b.flags & V4L2_BUF_FLAG_ERROR || b.bytesused === 0) {
        this.dropped++;
        this.#requeue(b.index);
        continue;
      }
      const bytes = slot.mapping.bytes(0, Math.min(b.bytesused, slot.length));
      let rows: RowSource | undefined;
      let decoded: RgbImage | undefined;
      if (this.#format === 'yuyv') {
        rows = yuyvRows(bytes, this.width, this.height, this.#fmt.bytesperline);
      } else {
        try {
          // libturbojpeg decodes into the buffer's own RGB memory, free again once the frame holding it is released.
          const d = this.#decoder!;
          decoded = d.decode(bytes, d.name === 'libturbojpeg' ? (slot.rgb ??= new Uint8Array(this.width * this.height * 3)) : undefined);
        } catch {
          this.dropped++;
          this.#requeue(b.index);
          continue;
        }
        if (decoded.width !== this.width || decoded.height !== this.height) {
          this.dropped++;
          this.#requeue(b.index);
          continue;
        }
      }
      return this.#frame(b.index, b.timestampUs / 1000, rows, decoded, decoded ? bytes : undefined);
    }
  }

  /** A dequeued buffer as a frame: YUYV `rows` read from the mapping, or the `decoded` MJPEG image and its `jpeg` bytes. */
  #frame(index: number, timestampMs: number, rows: RowSource | undefined, decoded: RgbImage | undefined, jpeg: Uint8Array | undefined): SourceFrame {
    const seq = this.#count++;
    let released = false;
    const live = (): void => {
      if (released) throw new Error(`${this.#device}: frame ${seq} used after release()`);
    };
    return {
      index: seq,
      width: this.width,
      height: this.height,
      timestampMs,
      fitPlanes: (map: InputMapping, dst: Uint8Array, offset: number) => {
        live();
        // The decoded image is MJPEG's one copy; YUYV converts inside the pass from the buffer.
        if (decoded) return fitPlanesFromRgb(decoded, map, dst, offset);
        fitterFor(map).fit(rows!, dst, offset);
      },
      rgb: () => {
        live();
        return decoded ? { width: decoded.width, height: decoded.height, data: decoded.data.slice() } : toRgb(rows!);
      },
      jpeg: () => {
        live();
        return jpeg && { width: this.width, height: this.height, jpeg };
      },
      release: () => {
        if (released) return;
        released = true;
        if (this.#closed || !this.#streaming) return;
        try {
          this.#requeue(index);
        } catch (e) {
          // An unplugged camera is reported by the next next(); nothing to give back then.
          if (!(e instanceof UserError)) throw e;
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    const step = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        // After an unplug every ioctl fails with ENODEV; unmapping and closing still have to happen.
        if (!(e instanceof SysError && e.code === 'ENODEV')) errors.push(e);
      }
    };
    if (this.#streaming) step(() => this.#v.streamOff());
    this.#streaming = false;
    for (const s of this.#slots) step(() => s.mapping.close());
    if (this.#slots.length > 0) step(() => this.#v.requestBuffers(0));
    this.#slots = [];
    this.#decoder?.close();
    this.#decoder = undefined;
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      step(() => this.#sys.close(fd));
    }
    if (errors.length > 0) throw errors[0];
  }
}
