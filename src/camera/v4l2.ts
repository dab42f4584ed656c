// The V4L2 ioctls capture needs, over an injected Sys and the layout of the running ABI: each call packs its struct
// into a reused buffer at the offsets layout.ts derived, issues the ioctl (libc Sys retries EINTR) and unpacks.
// Errors stay SysError here; capture.ts turns the ones a user can cause into one line with a hint.
import { SysError } from '../sys/errors.js';
import type { Sys } from '../sys/types.js';
import {
  ABIS,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_MEMORY_MMAP,
  type StructLayout,
  type V4l2Layout,
  v4l2Layout,
} from './layout.js';

export interface Capability {
  driver: string;
  card: string;
  busInfo: string;
  /** device_caps when V4L2_CAP_DEVICE_CAPS is set, else capabilities. */
  caps: number;
}

export interface FmtDesc {
  pixelformat: number;
  description: string;
  flags: number;
}

export interface PixFormat {
  width: number;
  height: number;
  pixelformat: number;
  field: number;
  bytesperline: number;
  sizeimage: number;
  colorspace: number;
  quantization: number;
}

export interface BufferInfo {
  index: number;
  bytesused: number;
  flags: number;
  sequence: number;
  /** Driver timestamp, µs. */
  timestampUs: number;
  offset: number;
  length: number;
}

function cstr(b: Uint8Array, off: number, max: number): string {
  const s = b.subarray(off, off + max);
  const end = s.indexOf(0);
  return Buffer.from(s.subarray(0, end < 0 ? max : end)).toString('utf8');
}

export class V4l2 {
  layout: V4l2Layout;
  readonly #sys: Sys;
  readonly fd: number;
  #arg: Uint8Array;
  #view: DataView;

  constructor(sys: Sys, fd: number, layout: V4l2Layout) {
    this.#sys = sys;
    this.fd = fd;
    this.layout = layout;
    // One argument buffer, as large as the largest struct (v4l2_format).
    this.#arg = new Uint8Array(256);
    this.#view = new DataView(this.#arg.buffer);
  }

  #call(req: number, s: StructLayout | number): void {
    this.#sys.ioctl(this.fd, req, this.#arg.subarray(0, typeof s === 'number' ? s : s.size));
  }

  #clear(): DataView {
    this.#arg.fill(0);
    return this.#view;
  }

  querycap(): Capability {
    const L = this.layout.capability;
    this.#clear();
    this.#call(this.layout.ioctl.QUERYCAP, L);
    const v = this.#view;
    const caps = v.getUint32(L.off.capabilities, true);
    const device = v.getUint32(L.off.device_caps, true);
    return {
      driver: cstr(this.#arg, L.off.driver, 16),
      card: cstr(this.#arg, L.off.card, 32),
      busInfo: cstr(this.#arg, L.off.bus_info, 32),
      caps: caps & 0x80000000 ? device : caps,
    };
  }

  /** Every capture format the driver offers (ENUM_FMT until EINVAL). */
  enumFormats(): FmtDesc[] {
    const L = this.layout.fmtdesc;
    const out: FmtDesc[] = [];
    for (let i = 0; i < 64; i++) {
      const v = this.#clear();
      v.setUint32(L.off.index, i, true);
      v.setUint32(L.off.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
      try {
        this.#call(this.layout.ioctl.ENUM_FMT, L);
      } catch (e) {
        if (e instanceof SysError && e.code === 'EINVAL') break;
        throw e;
      }
      out.push({ pixelformat: v.getUint32(L.off.pixelformat, true), description: cstr(this.#arg, L.off.description, 32), flags: v.getUint32(L.off.flags, true) });
    }
    return out;
  }

  getFormat(): PixFormat {
    const v = this.#clear();
    v.setUint32(this.layout.format.off.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    this.#call(this.layout.ioctl.G_FMT, this.layout.format);
    return this.#pix();
  }

  /** S_FMT; returns what the driver chose (it may adjust every field). */
  setFormat(width: number, height: number, pixelformat: number): PixFormat {
    const o = this.layout.format.off;
    const v = this.#clear();
    v.setUint32(o.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    v.setUint32(o['fmt.pix.width'], width, true);
    v.setUint32(o['fmt.pix.height'], height, true);
    v.setUint32(o['fmt.pix.pixelformat'], pixelformat, true);
    v.setUint32(o['fmt.pix.field'], 1, true); // V4L2_FIELD_NONE: progressive
    this.#call(this.layout.ioctl.S_FMT, this.layout.format);
    return this.#pix();
  }

  #pix(): PixFormat {
    const o = this.layout.format.off;
    const v = this.#view;
    const g = (k: string): number => v.getUint32(o[`fmt.pix.${k}`], true);
    return {
      width: g('width'),
      height: g('height'),
      pixelformat: g('pixelformat'),
      field: g('field'),
      bytesperline: g('bytesperline'),
      sizeimage: g('sizeimage'),
      colorspace: g('colorspace'),
      quantization: g('quantization'),
    };
  }

  /** REQBUFS (MMAP); returns the count the driver granted. */
  requestBuffers(count: number): number {
    const L = this.layout.requestbuffers;
    const v = this.#clear();
    v.setUint32(L.off.count, count, true);
    v.setUint32(L.off.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    v.setUint32(L.off.memory, V4L2_MEMORY_MMAP, true);
    this.#call(this.layout.ioctl.REQBUFS, L);
    return v.getUint32(L.off.count, true);
  }

  /**
   * QUERYBUF. On a 32-bit ABI a kernel without CONFIG_COMPAT_32BIT_TIME knows only the time64 layout: ENOTTY on the
   * time32 request switches this device to the time64 layout once and retries.
   */
  queryBuffer(index: number): BufferInfo {
    try {
      return this.#bufferCall(this.layout.ioctl.QUERYBUF, index);
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'ENOTTY' && this.layout.abi.name === 'ilp32')) throw e;
      this.layout = v4l2Layout(ABIS['ilp32-time64']);
      return this.#bufferCall(this.layout.ioctl.QUERYBUF, index);
    }
  }

  queueBuffer(index: number): void {
    this.#bufferCall(this.layout.ioctl.QBUF, index);
  }

  /** DQBUF; throws SysError EAGAIN when no frame is ready (the fd is non-blocking). */
  dequeueBuffer(): BufferInfo {
    return this.#bufferCall(this.layout.ioctl.DQBUF, 0);
  }

  #bufferCall(req: number, index: number): BufferInfo {
    const L = this.layout.buffer;
    const o = L.off;
    const v = this.#clear();
    v.setUint32(o.index, index, true);
    v.setUint32(o.type, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    v.setUint32(o.memory, V4L2_MEMORY_MMAP, true);
    this.#call(req, L);
    const wide = o['timestamp.tv_usec'] - o['timestamp.tv_sec'] === 8;
    const sec = wide ? Number(v.getBigInt64(o['timestamp.tv_sec'], true)) : v.getInt32(o['timestamp.tv_sec'], true);
    const usec = wide ? Number(v.getBigInt64(o['timestamp.tv_usec'], true)) : v.getInt32(o['timestamp.tv_usec'], true);
    return {
      index: v.getUint32(o.index, true),
      bytesused: v.getUint32(o.bytesused, true),
      flags: v.getUint32(o.flags, true),
      sequence: v.getUint32(o.sequence, true),
      timestampUs: sec * 1e6 + usec,
      offset: v.getUint32(o['m.offset'], true),
      length: v.getUint32(o.length, true),
    };
  }

  streamOn(): void {
    this.#stream(this.layout.ioctl.STREAMON);
  }

  streamOff(): void {
    this.#stream(this.layout.ioctl.STREAMOFF);
  }

  #stream(req: number): void {
    const v = this.#clear();
    v.setUint32(0, V4L2_BUF_TYPE_VIDEO_CAPTURE, true);
    this.#call(req, 4);
  }
}
