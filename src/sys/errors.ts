import { getSystemErrorMap } from 'node:util';

const errMap = getSystemErrorMap();

/** Symbolic name of a positive errno value ("ENOENT"); "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return errMap.get(-errno)?.[0] ?? `E${errno}`;
}

/** Short human text of a positive errno ("no such file or directory"). */
export function errnoMessage(errno: number): string {
  return errMap.get(-errno)?.[1] ?? `error ${errno}`;
}

/**
 * A failed system call. Real and virtual Sys implementations throw exactly this, with the same text, so callers
 * (and their tests) branch on `code` and never on platform details.
 */
export class SysError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly path?: string,
  ) {
    const code = errnoName(errno);
    super(`${syscall}${path !== undefined ? ` ${path}` : ''}: ${code} (${errnoMessage(errno)})`);
    this.name = 'SysError';
    this.code = code;
  }
}

/** errno values the driver branches on (Linux; same on every architecture we target). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  /** = EAGAIN on Linux. */
  EWOULDBLOCK: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  EISCONN: 106,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;
