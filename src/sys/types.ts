/**
 * The system-call surface every driver module takes as an injected dependency. The real implementation
 * (libc.ts, koffi) and test doubles share this shape and throw the same SysError texts.
 */
export interface Sys {
  /** Bytes per page (mmap offsets and UIO map indices are in these units). */
  readonly pageSize: number;
  /** Returns a file descriptor; throws SysError. */
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  /** Reads up to `length` (default buf.length) bytes into buf; returns the count. */
  read(fd: number, buf: Uint8Array, length?: number): number;
  /** Writes all of buf once; returns the count actually written. */
  write(fd: number, buf: Uint8Array): number;
  /** Maps `length` bytes at file offset `offset` (a multiple of pageSize; BigInt for offsets beyond 2^53 or on 32-bit). */
  mmap(fd: number, length: number, offset: bigint | number, opts?: MmapOptions): Mapping;
  /** Blocking poll of one fd; returns revents (0 on timeout). Retries EINTR within the same deadline. */
  poll(fd: number, events: number, timeoutMs: number): number;
  /** Like poll but runs off the event loop; use this for waits longer than a few milliseconds. */
  pollAsync(fd: number, events: number, timeoutMs: number): Promise<number>;
  /** ioctl with an in/out argument buffer; returns the (non-negative) result. */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /**
   * A blocking, close-on-exec AF_UNIX stream socket connected to `path` (socket + connect with a sockaddr_un).
   * open(2) cannot open a socket (ENXIO); the virtual board's interrupt line is one. Throws SysError
   * ('socket' | 'connect', with the path).
   */
  connectUnix(path: string): number;
  geteuid(): number;

  // locking
  /**
   * flock(2) on an open fd (LOCK_EX | LOCK_NB, LOCK_UN, …). Throws SysError('flock'), EWOULDBLOCK (= EAGAIN) when
   * another open file description holds a conflicting lock. The kernel drops the lock when the last fd of that
   * description closes — also when its process dies, so a lock is never stale.
   */
  flock(fd: number, operation: number): void;
  // notify
  /** An unbound, close-on-exec AF_UNIX datagram socket (sd_notify's transport; Node has none). Throws SysError('socket'). */
  socketDgram(): number;
  /**
   * Sends `buf` as one datagram to the AF_UNIX address `path` (sendto with a sockaddr_un). A leading '@' names the
   * abstract namespace: a NUL byte replaces it and the address length counts the name only (unix(7)). Returns the
   * bytes sent; throws SysError('sendto', path).
   */
  sendto(fd: number, buf: Uint8Array, path: string): number;
}

export interface MmapOptions {
  /** Default PROT_READ|PROT_WRITE. */
  prot?: number;
  /** Default MAP_SHARED. */
  flags?: number;
  /** Path for error messages only. */
  path?: string;
}

/**
 * A mapped region. Accessors throw once closed; typed-array views taken before close() stay harmless (the
 * range is replaced by private anonymous memory) but no longer reach the device or file.
 */
export interface Mapping {
  /** Virtual address (BigInt, as koffi 3 returns pointers); 0n for pure-JS mappings. */
  readonly addr: bigint;
  readonly length: number;
  readonly closed: boolean;
  /** The whole mapping as an ArrayBuffer; throws after close. */
  buffer(): ArrayBuffer;
  /** Bytes [offset, offset+length) as a Uint8Array; throws after close or when out of range. */
  bytes(offset?: number, length?: number): Uint8Array;
  /** Flushes a range to the backing file (no-op for memory without a file). */
  sync(offset?: number, length?: number): void;
  close(): void;
}
