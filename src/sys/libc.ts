// Real Sys: libc through koffi, loaded on first use so that importing the driver never needs the native addon.
import { createRequire } from 'node:module';
import { SysError, ERRNO } from './errors.js';
import { checkRange, closedError } from './mapping.js';
import {
  AF_UNIX,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_SYNC,
  POLLIN,
  POLLHUP,
  POLLNVAL,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  MSG_NOSIGNAL,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_STREAM,
  UNIX_PATH_MAX,
} from './constants.js';
import type { Mapping, MmapOptions, Sys } from './types.js';

type Fn = ((...args: unknown[]) => any) & { async: (...args: unknown[]) => void };

interface Koffi {
  load(name: string): { func(decl: string): Fn };
  errno(): number;
  view(ptr: bigint, len: number): ArrayBuffer;
  sizeof(t: string): number;
}

interface Bindings {
  koffi: Koffi;
  open: Fn;
  close: Fn;
  read: Fn;
  write: Fn;
  mmap: Fn;
  munmap: Fn;
  msync: Fn;
  poll: Fn;
  ioctl: Fn;
  socket: Fn;
  connect: Fn;
  sendto: Fn;
  geteuid: Fn;
  sysconf: Fn;
  flock: Fn;
  mapFailed: bigint;
}

let cached: Bindings | undefined;

function bind(): Bindings {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let koffi: Koffi;
  try {
    koffi = require('koffi') as Koffi;
  } catch (e) {
    throw new Error(`cannot load koffi (native FFI addon): ${(e as Error).message}`);
  }
  const lib = koffi.load('libc.so.6');
  const ptrBits = koffi.sizeof('void *') * 8;
  // mmap64 takes a 64-bit offset on every glibc ABI; plain mmap has a 32-bit off_t on armhf (facts.md §3.1).
  let mmap: Fn;
  try {
    mmap = lib.func('void *mmap64(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
  } catch {
    if (ptrBits !== 64) throw new Error('libc has no mmap64 and mmap takes a 32-bit offset here');
    mmap = lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
  }
  cached = {
    koffi,
    open: lib.func('int open(const char *path, int flags, uint32_t mode)'),
    close: lib.func('int close(int fd)'),
    read: lib.func('long read(int fd, void *buf, size_t count)'),
    write: lib.func('long write(int fd, const void *buf, size_t count)'),
    mmap,
    munmap: lib.func('int munmap(void *addr, size_t len)'),
    msync: lib.func('int msync(void *addr, size_t len, int flags)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    connect: lib.func('int connect(int fd, const void *addr, uint32_t len)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    geteuid: lib.func('uint32_t geteuid()'),
    sysconf: lib.func('long sysconf(int name)'),
    flock: lib.func('int flock(int fd, int operation)'),
    // MAP_FAILED = (void*)-1, not null.
    mapFailed: ptrBits === 64 ? 0xffffffffffffffffn : 0xffffffffn,
  };
  return cached;
}

const _SC_PAGESIZE = 30;

// Stale views of a closed mapping point at private anonymous memory; it is returned once the last view is collected.
const tombstones = new FinalizationRegistry<{ addr: bigint; length: number }>((t) => {
  bind().munmap(t.addr, t.length);
});

class LibcMapping implements Mapping {
  #ab: ArrayBuffer | undefined;
  readonly label: string;
  constructor(
    private readonly b: Bindings,
    readonly addr: bigint,
    readonly length: number,
    path: string | undefined,
  ) {
    this.#ab = b.koffi.view(addr, length);
    this.label = path ?? `mapping@0x${addr.toString(16)}`;
  }
  get closed(): boolean {
    return this.#ab === undefined;
  }
  buffer(): ArrayBuffer {
    if (this.#ab === undefined) throw closedError(this.label);
    return this.#ab;
  }
  bytes(offset = 0, length = this.length - offset): Uint8Array {
    const ab = this.buffer();
    checkRange(this, offset, length);
    return new Uint8Array(ab, offset, length);
  }
  sync(offset = 0, length = this.length - offset): void {
    this.buffer();
    checkRange(this, offset, length);
    if (length === 0) return;
    // msync needs a page-aligned start; mappings start page-aligned, so round the offset down.
    const page = Number(this.b.sysconf(_SC_PAGESIZE));
    const start = offset - (offset % page);
    if (this.b.msync(this.addr + BigInt(start), length + (offset - start), MS_SYNC) < 0) {
      throw new SysError('msync', this.b.koffi.errno(), this.label);
    }
  }
  close(): void {
    const ab = this.#ab;
    if (ab === undefined) return;
    this.#ab = undefined;
    const b = this.b;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
    const r: bigint = b.mmap(this.addr, this.length, PROT_READ | PROT_WRITE, flags, -1, 0n);
    if (r === this.addr) {
      tombstones.register(ab, { addr: this.addr, length: this.length });
    } else if (b.munmap(this.addr, this.length) < 0) {
      throw new SysError('munmap', b.koffi.errno(), this.label);
    }
  }
}

function now(): number {
  return performance.now();
}

/** The libc-backed Sys. Cheap to create; koffi and libc load on the first call. */
export function createLibcSys(): Sys {
  let pageSize = 0;
  const sys: Sys = {
    get pageSize(): number {
      if (pageSize === 0) pageSize = Number(bind().sysconf(_SC_PAGESIZE));
      return pageSize;
    },
    open(path, flags, mode = 0o644) {
      const b = bind();
      const fd: number = b.open(path, flags, mode);
      if (fd < 0) throw new SysError('open', b.koffi.errno(), path);
      return fd;
    },
    close(fd) {
      const b = bind();
      // A poll handle kept for this fd must go before the fd does, or libuv would watch a recycled descriptor.
      // A wait in progress on this fd ends now, as poll(2) reports a closed descriptor (POLLNVAL), instead of
      // lingering on its timer (which would also keep the process alive).
      uvWaits.get(fd)?.(POLLNVAL);
      const h = uvHandles.get(fd);
      if (h) {
        uvHandles.delete(fd);
        h.close();
      }
      if (b.close(fd) < 0) throw new SysError('close', b.koffi.errno());
    },
    read(fd, buf, length = buf.length) {
      const b = bind();
      if (length > buf.length) throw new RangeError(`read: length ${length} exceeds the ${buf.length}-byte buffer`);
      for (;;) {
        const n = Number(b.read(fd, buf, length));
        if (n >= 0) return n;
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('read', e);
      }
    },
    write(fd, buf) {
      const b = bind();
      for (;;) {
        const n = Number(b.write(fd, buf, buf.length));
        if (n >= 0) return n;
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('write', e);
      }
    },
    mmap(fd, length, offset, opts: MmapOptions = {}) {
      const b = bind();
      if (!Number.isInteger(length) || length <= 0) throw new RangeError(`mmap: invalid length ${length}`);
      const off = BigInt(offset);
      if (off < 0n || off % BigInt(sys.pageSize) !== 0n) {
        throw new RangeError(`mmap: offset 0x${off.toString(16)} is not a multiple of the ${sys.pageSize}-byte page`);
      }
      const p: bigint = b.mmap(null, length, opts.prot ?? PROT_READ | PROT_WRITE, opts.flags ?? MAP_SHARED, fd, off);
      if (p === b.mapFailed || p === 0n) throw new SysError('mmap', b.koffi.errno(), opts.path);
      return new LibcMapping(b, p, length, opts.path);
    },
    poll(fd, events, timeoutMs) {
      const b = bind();
      const pfd = Buffer.alloc(8);
      pfd.writeInt32LE(fd, 0);
      pfd.writeInt16LE(events, 4);
      const deadline = now() + timeoutMs;
      for (;;) {
        const left = timeoutMs < 0 ? -1 : Math.max(0, Math.ceil(deadline - now()));
        const r: number = b.poll(pfd, 1, left);
        if (r >= 0) return r === 0 ? 0 : pfd.readUInt16LE(6);
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('poll', e);
      }
    },
    pollAsync(fd, events, timeoutMs) {
      const b = bind();
      // A libuv poll handle waits on the event loop itself: no worker thread per wait (that hop cost ~40 µs of CPU
      // per engine job). Only for read/write interest; anything else takes the worker-thread poll below.
      const uvPoll = (b.koffi as unknown as { node?: { poll?: UvPoll } }).node?.poll;
      if (uvPoll && (events & ~(POLLIN | POLLOUT)) === 0 && events !== 0) return pollOnLoop(uvPoll, fd, events, timeoutMs);
      const pfd = Buffer.alloc(8);
      pfd.writeInt32LE(fd, 0);
      pfd.writeInt16LE(events, 4);
      const deadline = now() + timeoutMs;
      return new Promise<number>((resolve, reject) => {
        const once = (): void => {
          const left = timeoutMs < 0 ? -1 : Math.max(0, Math.ceil(deadline - now()));
          b.poll.async(pfd, 1, left, (err: unknown, r: number) => {
            if (err) return reject(err as Error);
            if (r > 0) return resolve(pfd.readUInt16LE(6));
            if (r === 0) return resolve(0);
            // errno of the worker thread is not visible here; poll only fails on EINTR/ENOMEM, so retry until the deadline.
            if (timeoutMs >= 0 && now() >= deadline) return resolve(0);
            once();
          });
        };
        once();
      });
    },
    ioctl(fd, request, arg) {
      const b = bind();
      for (;;) {
        const r: number = b.ioctl(fd, request, arg);
        if (r >= 0) return r;
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('ioctl', e);
      }
    },
    connectUnix(path) {
      const p = Buffer.from(path, 'utf8');
      if (p.length === 0 || p.includes(0)) throw new SysError('connect', ERRNO.EINVAL, path);
      if (p.length >= UNIX_PATH_MAX) throw new SysError('connect', ERRNO.ENAMETOOLONG, path);
      const b = bind();
      const fd: number = b.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw new SysError('socket', b.koffi.errno(), path);
      const sa = Buffer.alloc(2 + UNIX_PATH_MAX); // sockaddr_un: sa_family_t (host order), NUL-terminated sun_path
      sa.writeUInt16LE(AF_UNIX, 0);
      p.copy(sa, 2);
      // A connect interrupted by a signal completes in the background: wait for writability and ask again
      // (EISCONN = done), within a bound like every other wait in the driver.
      const deadline = now() + 5000;
      for (;;) {
        if (b.connect(fd, sa, 2 + p.length + 1) === 0) return fd;
        const e = b.koffi.errno();
        if (e === ERRNO.EISCONN) return fd;
        if ((e === ERRNO.EINTR || e === ERRNO.EALREADY || e === ERRNO.EINPROGRESS) && now() < deadline) {
          if (e !== ERRNO.EINTR) sys.poll(fd, POLLOUT, Math.max(1, Math.ceil(deadline - now())));
          continue;
        }
        b.close(fd);
        throw new SysError('connect', e === ERRNO.EINTR || e === ERRNO.EALREADY || e === ERRNO.EINPROGRESS ? ERRNO.ETIMEDOUT : e, path);
      }
    },
    geteuid() {
      return bind().geteuid() as number;
    },
    flock(fd, operation) {
      const b = bind();
      for (;;) {
        if ((b.flock(fd, operation) as number) === 0) return;
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('flock', e);
      }
    },
    socketDgram() {
      const b = bind();
      const fd: number = b.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw new SysError('socket', b.koffi.errno());
      return fd;
    },
    sendto(fd, buf, path) {
      const sa = unixAddress(path, 'sendto');
      const b = bind();
      for (;;) {
        const n = Number(b.sendto(fd, buf, buf.length, MSG_NOSIGNAL, sa.addr, sa.len));
        if (n >= 0) return n;
        const e = b.koffi.errno();
        if (e !== ERRNO.EINTR) throw new SysError('sendto', e, path);
      }
    },
  };
  return sys;
}

/**
 * sockaddr_un for `path`: u16 family + sun_path. Filesystem names are NUL-terminated (length 2 + n + 1); '@name'
 * is the abstract namespace: sun_path[0] = NUL, then the name, length 2 + 1 + n with no terminator (unix(7)).
 */
export function unixAddress(path: string, syscall: string): { addr: Buffer; len: number } {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path, 'utf8');
  if (name.length === 0 || name.includes(0)) throw new SysError(syscall, ERRNO.EINVAL, path);
  if (name.length + 1 > UNIX_PATH_MAX) throw new SysError(syscall, ERRNO.ENAMETOOLONG, path);
  const addr = Buffer.alloc(2 + UNIX_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, abstract ? 3 : 2);
  return { addr, len: 2 + 1 + name.length };
}

let defaultSys: Sys | undefined;
/** Process-wide libc Sys (lazy). */
export function libcSys(): Sys {
  return (defaultSys ??= createLibcSys());
}

type UvPollEvents = { readable: boolean; writable: boolean; disconnect: boolean };
type UvPollCallback = (a: number | UvPollEvents, b?: UvPollEvents) => void;
type UvPollHandle = { start(opts: { readable?: boolean; writable?: boolean }, cb: UvPollCallback): void; stop(): void; close(): void };
/** One uv_poll_t per fd, kept across waits (started and stopped per wait; closed with the fd in close()). */
const uvHandles = new Map<number, UvPollHandle>();
/** The pending pollOnLoop wait per fd (its finish function), so that close() can end it. */
const uvWaits = new Map<number, (rev: number) => void>();
// koffi 3.3 calls back with (status, events) although index.d.ts declares (events) (facts.md §3.1).
type UvPoll = (fd: number, opts: { readable?: boolean; writable?: boolean }, cb: UvPollCallback) => UvPollHandle;

/** poll(2) semantics (revents, 0 on timeout) on the event loop through koffi.node.poll (a uv_poll_t). */
function pollOnLoop(uvPoll: UvPoll, fd: number, events: number, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let handle: UvPollHandle | undefined;
    const finish = (rev: number): void => {
      if (timer) clearTimeout(timer);
      if (uvWaits.get(fd) === finish) uvWaits.delete(fd);
      handle?.stop();
      handle = undefined;
      resolve(rev);
    };
    uvWaits.set(fd, finish);
    const onEvent: UvPollCallback = (a, b) => {
      const ev = typeof a === 'object' ? a : b;
      if (typeof a === 'number' && a < 0) return finish(POLLHUP); // libuv error status: report it like a hang-up
      finish(ev ? (ev.readable ? POLLIN : 0) | (ev.writable ? POLLOUT : 0) | (ev.disconnect ? POLLHUP : 0) : 0);
    };
    const opts = { readable: (events & POLLIN) !== 0, writable: (events & POLLOUT) !== 0 };
    try {
      const kept = uvHandles.get(fd);
      if (kept) {
        handle = kept;
        kept.start(opts, onEvent);
      } else {
        handle = uvPoll(fd, opts, onEvent);
        uvHandles.set(fd, handle);
      }
    } catch (e) {
      uvWaits.delete(fd);
      reject(e as Error);
      return;
    }
    if (timeoutMs >= 0) timer = setTimeout(() => finish(0), timeoutMs);
  });
}
