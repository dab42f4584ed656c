// A folder of frames as a FrameSource: image files (.png, .jpg, .ppm, .pgm) in natural name order, decoded one at a
// time when the run loop asks for the next frame (the following file is read ahead while the current pair runs).
import { resolve, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { imageFrame } from './fit.js';
import { readImage, type RgbImage } from './image.js';
import { fsError } from './io.js';
import type { FrameSource, SourceFrame } from './source.js';

export const FRAME_FILE_RE = /\.(png|jpe?g|ppm|pgm)$/i;
const natural = new Intl.Collator('en', { numeric: true }).compare;

export interface FolderSource extends FrameSource {
  /** The frame files in sequence order (absolute paths). */
  readonly files: readonly string[];
}

/** Lists `dir` now (errors surface before any frame is computed); pixels are read on next(). */
export async function openFolderSource(dir: string): Promise<FolderSource> {
  const d = resolve(dir);
  const hint = 'expected a folder of at least two frames (.png, .jpg, .ppm), consecutive in name order';
  let names: string[];
  try {
    names = (await readdir(d, { withFileTypes: true })).filter((e) => !e.isDirectory() && FRAME_FILE_RE.test(e.name)).map((e) => e.name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') throw new UserError(`frame folder not found: ${d}`, hint);
    if (code === 'ENOTDIR') throw new UserError(`not a directory: ${d}`, hint);
    throw fsError(e, d, 'frame folder');
  }
  names.sort(natural);
  if (names.length < 2) throw new UserError(`no frame pairs in ${d} (${names.length} image${names.length === 1 ? '' : 's'})`, hint);
  const files = names.map((n) => join(d, n));
  const first = await readImage(files[0]);
  let pos = 0;
  let ahead: Promise<RgbImage> | undefined = Promise.resolve(first);
  let closed = false;
  const read = (i: number): Promise<RgbImage> => {
    const p = readImage(files[i]);
    p.catch(() => undefined); // surfaced by next(); a read-ahead nobody asks for must not become an unhandled rejection
    return p;
  };
  return {
    files,
    description: `${d}: ${files.length} frames ${first.width}x${first.height}`,
    width: first.width,
    height: first.height,
    length: files.length,
    async next(): Promise<SourceFrame | null> {
      if (closed || pos >= files.length || !ahead) return null;
      const img = await ahead;
      const i = pos++;
      ahead = pos < files.length ? read(pos) : undefined;
      if (img.width !== first.width || img.height !== first.height) {
        throw new UserError(`${files[i]} is ${img.width}x${img.height} but ${files[0]} is ${first.width}x${first.height}`, 'all frames of a sequence must have one size');
      }
      return imageFrame(img, i);
    },
    async close(): Promise<void> {
      closed = true;
      ahead = undefined;
    },
  };
}
