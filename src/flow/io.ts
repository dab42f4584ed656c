// File access shared by the flow readers: fs failures become one-line UserErrors naming the path.
import { readFile, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';

/** Read a whole input file, turning the common fs errors into one-line UserErrors. */
export async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw fsError(e, path, what);
  }
}

export async function writeOutput(path: string, data: Uint8Array): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') {
      throw new UserError(`cannot write ${path}: its directory does not exist`, 'create the directory first');
    }
    throw fsError(e, path, 'output file');
  }
}

export function fsError(e: unknown, path: string, what: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UserError(`${what} not found: ${path}`, 'check the path');
  if (code === 'EISDIR') return new UserError(`${what} is a directory: ${path}`, 'give a file path');
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`permission denied: ${path}`, 'check file permissions');
  if (code === 'ENOTDIR') return new UserError(`${what} path has a non-directory component: ${path}`, 'check the path');
  return e instanceof Error ? e : new Error(String(e));
}
