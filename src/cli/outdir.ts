// `--out` checked before any frame is computed: a folder we can create and write regular files in, not inside a
// kernel pseudo filesystem, and no output name that is one of the input files (run never overwrites the user's data).
import nodeFs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';

// statfs f_type of filesystems where "files" are kernel interfaces (linux/magic.h).
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc', 0x62656572: 'sysfs', 0x64626720: 'debugfs', 0x74726163: 'tracefs', 0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2', 0x73636673: 'securityfs', 0x42494e4d: 'binfmt_misc', 0x6e736673: 'nsfs', 0xcafe4a11: 'bpf',
  0x1cd1: 'devpts', 0x6165676c: 'pstore', 0xde5e81e4: 'efivarfs', 0x9fa2: 'usbdevfs',
};

const HINT = 'give --out a folder you can write to, e.g. --out out';

function errnoLine(e: unknown, p: string): UserError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only filesystem', ENOTDIR: 'a part of the path is a file',
    EEXIST: 'exists and is not a folder', ENOSPC: 'no space left', EDQUOT: 'disk quota exceeded', ENAMETOOLONG: 'path too long',
    ELOOP: 'too many symbolic links', ENOENT: 'a part of the path does not exist', EIO: 'I/O error',
  };
  return new UserError(`cannot write to --out ${p}: ${why[code ?? ''] ?? code ?? String(e)}`, HINT);
}

/** The nearest existing ancestor of `p` (itself when it exists). */
/** The filesystem calls used here (injected by tests to drive errno paths such as EROFS for root). */
export type OutDirFs = Pick<typeof nodeFs, 'existsSync' | 'realpathSync' | 'statfsSync' | 'statSync' | 'mkdirSync' | 'openSync' | 'closeSync' | 'unlinkSync'>;

function existingAncestor(fs: OutDirFs, p: string): string {
  let cur = p;
  for (;;) {
    if (fs.existsSync(cur)) return cur;
    const up = path.dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
}

/**
 * Makes sure `out` is a writable folder (creating it) and that none of `outputs` (file names inside it) is one of
 * `inputs`. Returns the absolute folder path. Throws one UserError line otherwise; nothing is written but a probe
 * file that is removed at once.
 */
export function prepareOutDir(out: string, outputs: readonly string[] = [], inputs: readonly string[] = [], fs: OutDirFs = nodeFs): string {
  const dir = path.resolve(out);
  const anc = existingAncestor(fs, dir);
  let real: string;
  try {
    real = fs.realpathSync(anc);
  } catch (e) {
    throw errnoLine(e, dir);
  }
  if (real === '/dev' || real.startsWith('/dev/')) {
    throw new UserError(`--out ${dir} is under /dev (device files, not a folder for results)`, HINT);
  }
  try {
    const st = fs.statfsSync(real);
    const fsName = PSEUDO_FS[st.type >>> 0];
    if (fsName) throw new UserError(`--out ${dir} is inside ${fsName} (a kernel interface, not storage)`, HINT);
  } catch (e) {
    if (e instanceof UserError) throw e;
  }
  const st = fs.statSync(anc, { throwIfNoEntry: false });
  if (anc === dir && st && !st.isDirectory()) throw new UserError(`--out ${dir} exists and is not a folder`, HINT);
  if (anc !== dir && st && !st.isDirectory()) throw new UserError(`cannot create --out ${dir}: ${anc} is a file`, HINT);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw errnoLine(e, dir);
  }
  // Writability the way writing results needs it (access(2) says yes to root on some read-only mounts).
  const probe = path.join(dir, `.flowfpga-write-test-${process.pid}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
    fs.unlinkSync(probe);
  } catch (e) {
    throw errnoLine(e, dir);
  }
  const realDir = fs.realpathSync(dir);
  const realInputs = new Map<string, string>();
  for (const i of inputs) {
    try {
      realInputs.set(fs.realpathSync(i), i);
    } catch {
      realInputs.set(path.resolve(i), i);
    }
  }
  for (const name of outputs) {
    const target = path.join(realDir, name);
    let realTarget = target;
    try {
      realTarget = fs.realpathSync(target); // an existing output may be a link to an input
    } catch {
      /* not there yet */
    }
    const hit = realInputs.get(target) ?? realInputs.get(realTarget);
    if (hit) throw new UserError(`--out ${dir} would overwrite the input file ${hit}`, 'choose an --out folder that does not hold the input frames');
  }
  return dir;
}
