// Linux constants (asm-generic; identical on x86_64, armhf and arm64 — facts.md §3.1).
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0x40;
export const O_TRUNC = 0x200;
export const O_NONBLOCK = 0x800;
export const O_SYNC = 0x101000;
export const O_CLOEXEC = 0x80000;

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;

export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;

export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

// flock(2) operations (asm-generic/fcntl.h; the same on every architecture we target).
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
/** send flags: no SIGPIPE when the peer is gone (an EPIPE error instead). */
export const MSG_NOSIGNAL = 0x4000;
export const SOCK_CLOEXEC = 0x80000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
export const UNIX_PATH_MAX = 108;
