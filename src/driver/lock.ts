// One process drives an engine at a time: flock(LOCK_EX | LOCK_NB) on the engine's UIO node (a real board) or on
// the virtual board's lock file. Two processes sharing one engine overwrite each other's registers and DMA buffers
// and write wrong flows with exit 0; the second one must stop with one line instead. The kernel releases a flock
// when its holder dies, so a lock is never stale; the holder's pid comes from /proc/locks (the kernel's own record)
// and, for the lock file, from the pid written into it.
import fs from 'node:fs';
import { UserError } from '../errors.js';
import { LOCK_EX, LOCK_NB, O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';
import { SysError } from '../sys/errors.js';
import type { Sys } from '../sys/types.js';

export interface LockOptions {
  /** Default /proc/locks (tests inject a copy). */
  procLocks?: string;
}

/** Linux dev_t (glibc encoding, what stat returns) → the "MAJ:MIN" hex pair /proc/locks prints. */
function devPair(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/**
 * The pid holding a flock on `path`, from /proc/locks ("1: FLOCK  ADVISORY  WRITE 1234 00:05:678 0 EOF"; waiters
 * are "->" lines), or undefined when none is listed or the file cannot be read.
 */
export function flockHolder(path: string, o: LockOptions = {}): number | undefined {
  let st: fs.BigIntStats;
  let text: string;
  try {
    st = fs.statSync(path, { bigint: true });
    text = fs.readFileSync(o.procLocks ?? '/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const want = `${devPair(st.dev)}:${st.ino}`;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'FLOCK' || f[3] !== 'WRITE') continue;
    if (f[5]?.toLowerCase() === want) {
      const pid = Number(f[4]);
      if (Number.isInteger(pid) && pid > 0) return pid;
    }
  }
  return undefined;
}

function inUse(device: string, pid: number | undefined): UserError {
  const who = pid === undefined ? 'another process' : `pid ${pid}${pid === process.pid ? ' (this process)' : ''}`;
  return new UserError(
    `board in use by ${who}: ${device} is locked`,
    pid === undefined ? 'wait for the other flowfpga process to finish; one process drives an engine at a time'
      : `wait for it to finish or stop it (kill ${pid}); one process drives an engine at a time`,
  );
}

/**
 * flock(LOCK_EX | LOCK_NB) on `fd` (open on `path`); a held lock is a UserError naming the holder's pid and
 * `label` (default the path).
 */
export function lockExclusive(sys: Sys, fd: number, path: string, o: LockOptions & { label?: string; pidOf?: () => number | undefined } = {}): void {
  try {
    sys.flock(fd, LOCK_EX | LOCK_NB);
  } catch (e) {
    if (e instanceof SysError && e.code === 'EAGAIN') throw inUse(o.label ?? path, flockHolder(path, o) ?? o.pidOf?.());
    throw e;
  }
}

/**
 * The virtual board's lock: `path` (created if missing) locked exclusively, this process's pid written into it
 * (fixed width, so a shorter pid overwrites a longer one completely). Returns the fd; closing it releases the lock.
 */
export function lockFile(sys: Sys, path: string, label: string, o: LockOptions = {}): number {
  let fd: number;
  try {
    fd = sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS')) {
      throw new UserError(`cannot open the lock file ${path} (${e.code})`, `${label} belongs to another user or a read-only place; start your own board (flowfpga emu) or get write access to its directory`);
    }
    throw e;
  }
  try {
    lockExclusive(sys, fd, path, { ...o, label, pidOf: () => readPid(path) });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
  sys.write(fd, new TextEncoder().encode(`${String(process.pid).padEnd(11)}\n`));
  return fd;
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path, 'latin1').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
