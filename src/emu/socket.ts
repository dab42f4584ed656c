// connect() to a Unix stream socket, returning a plain fd for the Sys read/write/poll calls. The virtual board's
// interrupt line is such a socket; open(2) cannot open one (ENXIO), and src/sys has no socket call, so this is the
// one extra libc binding the virtual board needs (koffi, loaded on first use like src/sys/libc.ts).
import { createRequire } from 'node:module';
import { SysError } from '../sys/errors.js';

type Fn = (...args: unknown[]) => number;
interface Bind {
  socket: Fn;
  connect: Fn;
  close: Fn;
  errno: () => number;
}
let cached: Bind | undefined;

function bind(): Bind {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as { load(n: string): { func(d: string): Fn }; errno(): number };
  const lib = koffi.load('libc.so.6');
  cached = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    connect: lib.func('int connect(int fd, const void *addr, uint32_t len)'),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
  };
  return cached;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0x80000;
const SUN_PATH = 108;
const EINTR = 4;

/** A connected AF_UNIX stream socket fd (blocking, close-on-exec). Throws SysError like the Sys calls. */
export function connectUnix(path: string): number {
  const p = Buffer.from(path, 'utf8');
  if (p.length >= SUN_PATH) throw new SysError('connect', 36 /* ENAMETOOLONG */, path);
  const b = bind();
  const fd = b.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError('socket', b.errno(), path);
  const sa = Buffer.alloc(2 + SUN_PATH);
  sa.writeUInt16LE(AF_UNIX, 0);
  p.copy(sa, 2);
  for (;;) {
    if (b.connect(fd, sa, 2 + p.length + 1) === 0) return fd;
    const e = b.errno();
    if (e === EINTR) continue;
    b.close(fd);
    throw new SysError('connect', e, path);
  }
}
