// V4L2 struct layouts and ioctl numbers, derived per ABI from the field lists of the kernel header
// include/uapi/linux/videodev2.h (Linux 6.1, Debian 12 linux-libc-dev) with the C layout rules (each member at the
// next multiple of its alignment, the struct padded to its largest alignment). Three ABIs matter:
//   lp64          x86-64, arm64 (Ultra96-V2, ZCU104): long/pointer/time_t 8 bytes.
//   ilp32         armhf (PYNQ-Z2) with 32-bit time_t — the classic 32-bit ABI every kernel accepts (on kernels
//                 ≥ 5.6 as the *_TIME32 ioctl variants, only with CONFIG_COMPAT_32BIT_TIME).
//   ilp32-time64  armhf with 64-bit time_t (glibc _TIME_BITS=64): struct timeval grows to 16 bytes and 8-byte
//                 aligned, so v4l2_buffer is 80 bytes and QUERYBUF/QBUF/DQBUF get other numbers (kernel ≥ 5.6).
// test/camera/layout.c prints the same numbers from the system headers (native and cross-compiled); the camera tests
// compare them with these tables for every ABI.

export interface Abi {
  name: 'lp64' | 'ilp32' | 'ilp32-time64';
  /** sizeof(void *) = sizeof(long) on every ABI here. */
  pointer: 4 | 8;
  /** sizeof(time_t) = sizeof(suseconds_t) of struct timeval's members. */
  timeT: 4 | 8;
}

export const ABIS: Record<Abi['name'], Abi> = {
  lp64: { name: 'lp64', pointer: 8, timeT: 8 },
  ilp32: { name: 'ilp32', pointer: 4, timeT: 4 },
  'ilp32-time64': { name: 'ilp32-time64', pointer: 4, timeT: 8 },
};

/** The ABI a process on `arch` (process.arch) talks to the kernel with; 32-bit ARM starts with 32-bit time_t. */
export function abiFor(arch: string = process.arch): Abi {
  if (arch === 'x64' || arch === 'arm64' || arch === 'ppc64' || arch === 'riscv64' || arch === 's390x') return ABIS.lp64;
  if (arch === 'arm') return ABIS.ilp32;
  // i386 aligns 8-byte members to 4 (not modelled); no board runs it.
  throw new Error(`V4L2 struct layouts are not derived for architecture ${arch}`);
}

// ------------------------------------------------------------------------------------------------- layout engine

type Scalar = 'u8' | 'u32' | 's32' | 'ulong' | 'ptr' | 'time';
type Type = Scalar | { array: Type; n: number } | { struct: Member[] } | { union: Member[] };
type Member = [name: string, type: Type];

interface Laid {
  size: number;
  align: number;
  /** Flattened member offsets relative to this type ('a.b.c'). */
  offsets: Map<string, number>;
}

function scalarSize(t: Scalar, abi: Abi): number {
  switch (t) {
    case 'u8':
      return 1;
    case 'u32':
    case 's32':
      return 4;
    case 'ulong':
    case 'ptr':
      return abi.pointer;
    case 'time':
      return abi.timeT;
  }
}

const up = (v: number, a: number): number => Math.ceil(v / a) * a;

function lay(t: Type, abi: Abi): Laid {
  if (typeof t === 'string') {
    const s = scalarSize(t, abi);
    // armhf EABI and both 64-bit ABIs align every scalar to its size.
    return { size: s, align: s, offsets: new Map() };
  }
  if ('array' in t) {
    const e = lay(t.array, abi);
    return { size: e.size * t.n, align: e.align, offsets: new Map() };
  }
  const isUnion = 'union' in t;
  const members = isUnion ? t.union : t.struct;
  const offsets = new Map<string, number>();
  let size = 0;
  let align = 1;
  for (const [name, mt] of members) {
    const m = lay(mt, abi);
    const off = isUnion ? 0 : up(size, m.align);
    // Anonymous unions (name '') put their members at the parent level, as C11 does.
    if (name !== '') offsets.set(name, off);
    for (const [k, v] of m.offsets) offsets.set(name === '' ? k : `${name}.${k}`, off + v);
    size = isUnion ? Math.max(size, m.size) : off + m.size;
    align = Math.max(align, m.align);
  }
  return { size: up(size, align), align, offsets };
}

// --------------------------------------------------------------------------------- videodev2.h, field by field

const u32 = 'u32' as const;
const arr = (array: Type, n: number): Type => ({ array, n });

/** struct v4l2_capability (videodev2.h: "struct v4l2_capability - Describes V4L2 device caps"). */
const CAPABILITY: Type = {
  struct: [['driver', arr('u8', 16)], ['card', arr('u8', 32)], ['bus_info', arr('u8', 32)], ['version', u32],
    ['capabilities', u32], ['device_caps', u32], ['reserved', arr(u32, 3)]],
};
/** struct v4l2_fmtdesc. */
const FMTDESC: Type = {
  struct: [['index', u32], ['type', u32], ['flags', u32], ['description', arr('u8', 32)], ['pixelformat', u32],
    ['mbus_code', u32], ['reserved', arr(u32, 3)]],
};
/** struct v4l2_pix_format (the union { ycbcr_enc; hsv_enc } is one __u32). */
const PIX_FORMAT: Type = {
  struct: [['width', u32], ['height', u32], ['pixelformat', u32], ['field', u32], ['bytesperline', u32],
    ['sizeimage', u32], ['colorspace', u32], ['priv', u32], ['flags', u32], ['ycbcr_enc', u32], ['quantization', u32],
    ['xfer_func', u32]],
};
/** struct v4l2_window: its pointers make the v4l2_format union pointer-aligned (fmt at 8 on lp64, 4 on ilp32). */
const WINDOW: Type = {
  struct: [['w', arr('s32', 4)], ['field', u32], ['chromakey', u32], ['clips', 'ptr'], ['clipcount', u32],
    ['bitmap', 'ptr'], ['global_alpha', 'u8']],
};
/** struct v4l2_format: type + union fmt { pix, pix_mp, win, vbi, sliced, sdr, meta, raw_data[200] }. */
const FORMAT: Type = {
  struct: [['type', u32], ['fmt', { union: [['pix', PIX_FORMAT], ['win', WINDOW], ['raw_data', arr('u8', 200)]] }]],
};
/** struct v4l2_requestbuffers (Linux ≥ 6.0: flags + reserved[3] bytes; earlier reserved[1] __u32 — same size). */
const REQUESTBUFFERS: Type = {
  struct: [['count', u32], ['type', u32], ['memory', u32], ['capabilities', u32], ['flags', 'u8'], ['reserved', arr('u8', 3)]],
};
/** struct timeval as userspace sees it (glibc: time_t tv_sec, suseconds_t tv_usec; both 64-bit with _TIME_BITS=64). */
const TIMEVAL: Type = { struct: [['tv_sec', 'time'], ['tv_usec', 'time']] };
/** struct v4l2_timecode. */
const TIMECODE: Type = {
  struct: [['type', u32], ['flags', u32], ['frames', 'u8'], ['seconds', 'u8'], ['minutes', 'u8'], ['hours', 'u8'],
    ['userbits', arr('u8', 4)]],
};
/** struct v4l2_buffer: timeval and the pointer/unsigned-long union m make it ABI-dependent (88 / 68 / 80 bytes). */
const BUFFER: Type = {
  struct: [['index', u32], ['type', u32], ['bytesused', u32], ['flags', u32], ['field', u32], ['timestamp', TIMEVAL],
    ['timecode', TIMECODE], ['sequence', u32], ['memory', u32],
    ['m', { union: [['offset', u32], ['userptr', 'ulong'], ['planes', 'ptr'], ['fd', 's32']] }],
    ['length', u32], ['reserved2', u32], ['', { union: [['request_fd', 's32'], ['reserved', u32]] }]],
};

// ------------------------------------------------------------------------------------------------ ioctl numbers

/** asm-generic/ioctl.h (x86, arm and arm64 all use it): dir in bits 30-31 (1 write, 2 read), size 16-29, type, nr. */
export function ioc(dir: number, type: string, nr: number, size: number): number {
  if (size >= 1 << 14) throw new RangeError(`ioctl size ${size} does not fit _IOC_SIZEBITS`);
  return ((dir << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0;
}
const IOC_WRITE = 1;
const IOC_READ = 2;

export interface StructLayout {
  size: number;
  /** Byte offset of every (flattened) member used here: 'fmt.pix.width', 'timestamp.tv_sec', 'm.offset'. */
  off: Record<string, number>;
}

export interface V4l2Layout {
  abi: Abi;
  capability: StructLayout;
  fmtdesc: StructLayout;
  format: StructLayout;
  requestbuffers: StructLayout;
  buffer: StructLayout;
  /** Request numbers, as videodev2.h defines them (_IOR/_IOW/_IOWR('V', nr, type)). */
  ioctl: {
    QUERYCAP: number;
    ENUM_FMT: number;
    G_FMT: number;
    S_FMT: number;
    REQBUFS: number;
    QUERYBUF: number;
    QBUF: number;
    DQBUF: number;
    STREAMON: number;
    STREAMOFF: number;
  };
}

function toLayout(t: Type, abi: Abi): StructLayout {
  const l = lay(t, abi);
  return { size: l.size, off: Object.fromEntries(l.offsets) };
}

const cache = new Map<string, V4l2Layout>();

export function v4l2Layout(abi: Abi = abiFor()): V4l2Layout {
  const hit = cache.get(abi.name);
  if (hit) return hit;
  const capability = toLayout(CAPABILITY, abi);
  const fmtdesc = toLayout(FMTDESC, abi);
  const format = toLayout(FORMAT, abi);
  const requestbuffers = toLayout(REQUESTBUFFERS, abi);
  const buffer = toLayout(BUFFER, abi);
  const RW = IOC_READ | IOC_WRITE;
  const l: V4l2Layout = {
    abi,
    capability,
    fmtdesc,
    format,
    requestbuffers,
    buffer,
    ioctl: {
      QUERYCAP: ioc(IOC_READ, 'V', 0, capability.size),
      ENUM_FMT: ioc(RW, 'V', 2, fmtdesc.size),
      G_FMT: ioc(RW, 'V', 4, format.size),
      S_FMT: ioc(RW, 'V', 5, format.size),
      REQBUFS: ioc(RW, 'V', 8, requestbuffers.size),
      QUERYBUF: ioc(RW, 'V', 9, buffer.size),
      QBUF: ioc(RW, 'V', 15, buffer.size),
      DQBUF: ioc(RW, 'V', 17, buffer.size),
      STREAMON: ioc(IOC_WRITE, 'V', 18, 4),
      STREAMOFF: ioc(IOC_WRITE, 'V', 19, 4),
    },
  };
  cache.set(abi.name, l);
  return l;
}

// ---------------------------------------------------------------------------------------- constants (videodev2.h)

export const V4L2_BUF_TYPE_VIDEO_CAPTURE = 1;
export const V4L2_MEMORY_MMAP = 1;
export const V4L2_FIELD_NONE = 1;
export const V4L2_CAP_VIDEO_CAPTURE = 0x00000001;
export const V4L2_CAP_STREAMING = 0x04000000;
export const V4L2_CAP_DEVICE_CAPS = 0x80000000;
export const V4L2_BUF_FLAG_MAPPED = 0x1;
export const V4L2_BUF_FLAG_QUEUED = 0x2;
export const V4L2_BUF_FLAG_DONE = 0x4;
export const V4L2_BUF_FLAG_ERROR = 0x40;
export const V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x2000;
export const V4L2_BUF_CAP_SUPPORTS_MMAP = 0x1;
export const V4L2_COLORSPACE_SRGB = 8;
export const V4L2_COLORSPACE_JPEG = 7;

/** v4l2_fourcc(a, b, c, d) = a | b << 8 | c << 16 | d << 24. */
export function fourcc(s: string): number {
  if (s.length !== 4) throw new RangeError(`fourcc "${s}" is not 4 characters`);
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

export function fourccName(v: number): string {
  return String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

export const V4L2_PIX_FMT_YUYV = fourcc('YUYV');
export const V4L2_PIX_FMT_MJPEG = fourcc('MJPG');
