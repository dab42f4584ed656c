// The frames a simulated camera sends: a folder with sequence.json (size, frame rate, the frames' JPEG files and the
// motion they were made with) — samples/sequence/ is the bundled one — or any folder of same-size images.
// makeSequence() is how samples/sequence was made (test/camera/make-sequence.ts writes it; a test regenerates it
// and compares bytes): a background crop of samples/00001_img1 translating by a sub-pixel step per frame and a
// foreground patch of samples/00002_img1 moving the other way, both resampled bilinearly, so the true flow between
// frame k and k+1 is known exactly (one vector inside the patch, one outside).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors.js';
import { decodeImage, encodeJpeg, sniffImageFormat, type RgbImage } from '../../flow/image.js';
import { rgbToYuyv } from '../convert.js';

export interface Motion {
  /** Pixels per frame. */
  dx: number;
  dy: number;
}

export interface SequenceInfo {
  width: number;
  height: number;
  fps: number;
  /** File names of the frames, in order. */
  frames: string[];
  /** How the frames were made (informative; the bundled sequence records its background and foreground motion). */
  motion?: { background: Motion; foreground: Motion & { x0: number; y0: number; width: number; height: number } };
}

export interface Sequence {
  name: string;
  width: number;
  height: number;
  fps: number;
  /** Each frame as JPEG bytes (what an MJPEG camera sends). */
  jpeg: Uint8Array[];
  info: SequenceInfo;
  /** Frame i as YUYV (what a YUYV camera sends); converted on first use. */
  yuyv(i: number): Uint8Array;
}

const IMAGE = /\.(jpe?g|png|ppm|pgm)$/i;

/** Loads a sequence folder (sequence.json, or every image in name order). Throws UserError. */
export function loadSequence(dir: string): Sequence {
  const name = path.basename(path.resolve(dir));
  const hint = 'a simulated camera reads a folder with sequence.json or same-size images (docs/camera.md)';
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UserError(`sim:${dir}: no such folder`, hint);
  }
  if (!st.isDirectory()) throw new UserError(`sim:${dir} is not a folder`, hint);
  const jsonFile = path.join(dir, 'sequence.json');
  let info: SequenceInfo | undefined;
  if (fs.existsSync(jsonFile)) {
    try {
      info = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as SequenceInfo;
    } catch (e) {
      throw new UserError(`${jsonFile}: ${(e as Error).message}`, 'fix or delete it (then every image in the folder is a frame)');
    }
  }
  const files = info?.frames ?? fs.readdirSync(dir).filter((f) => IMAGE.test(f)).sort();
  if (files.length < 2) throw new UserError(`sim:${dir} has ${files.length} frame(s)`, `${hint}; at least two frames`);
  const jpeg: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  const rgbCache = new Map<number, RgbImage>();
  for (const [i, f] of files.entries()) {
    let buf: Uint8Array;
    try {
      buf = fs.readFileSync(path.join(dir, f));
    } catch (e) {
      throw new UserError(`sim:${dir}: cannot read ${f} (${(e as NodeJS.ErrnoException).code})`, hint);
    }
    const img = decodeImage(buf, path.join(dir, f));
    if (i === 0) {
      width = img.width;
      height = img.height;
    } else if (img.width !== width || img.height !== height) {
      throw new UserError(`sim:${dir}: ${f} is ${img.width}x${img.height}, the first frame ${width}x${height}`, 'all frames of a sequence must have one size');
    }
    // An MJPEG camera sends JPEG; other files are encoded once here.
    jpeg.push(sniffImageFormat(buf) === 'jpeg' ? buf : encodeJpeg(img, 90));
    rgbCache.set(i, img);
  }
  if (width % 2 !== 0) throw new UserError(`sim:${dir}: frames are ${width} pixels wide`, 'YUYV packs pixel pairs: use frames with an even width');
  const yuyv = new Map<number, Uint8Array>();
  return {
    name,
    width,
    height,
    fps: info?.fps ?? 30,
    jpeg,
    info: info ?? { width, height, fps: 30, frames: files },
    yuyv(i) {
      let y = yuyv.get(i);
      if (!y) {
        y = rgbToYuyv(rgbCache.get(i)!);
        yuyv.set(i, y);
      }
      return y;
    },
  };
}

// ---------------------------------------------------------------------------------------------------- generator

export interface MakeOptions {
  /** Background source (samples/00001_img1) and foreground source (samples/00002_img1). */
  background: RgbImage;
  foreground: RgbImage;
  frames?: number;
  width?: number;
  height?: number;
  quality?: number;
}

export const BUNDLED_MOTION: NonNullable<SequenceInfo['motion']> = {
  background: { dx: 0.75, dy: 0.5 },
  foreground: { dx: -1.5, dy: 0.75, x0: 140, y0: 40, width: 64, height: 48 },
};

/** Bilinear sample of one channel at (x, y) with edge clamp. */
function sample(img: RgbImage, x: number, y: number, c: number): number {
  const w = img.width;
  const h = img.height;
  const cx = Math.min(Math.max(x, 0), w - 1);
  const cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const d = img.data;
  const a = d[(y0 * w + x0) * 3 + c] + (d[(y0 * w + x1) * 3 + c] - d[(y0 * w + x0) * 3 + c]) * fx;
  const b = d[(y1 * w + x0) * 3 + c] + (d[(y1 * w + x1) * 3 + c] - d[(y1 * w + x0) * 3 + c]) * fx;
  return Math.round(a + (b - a) * fy);
}

/**
 * The frames of the bundled sequence: frame k shows the background at (x + 24 − k·bg.dx, y + 20 − k·bg.dy) and, inside
 * the patch rectangle at (fg.x0 + k·fg.dx, fg.y0 + k·fg.dy), the foreground image at (96, 72) + the offset in the
 * patch. Returns JPEG bytes per frame and the sequence.json content.
 */
export function makeSequence(o: MakeOptions): { info: SequenceInfo; files: Map<string, Buffer>; frames: RgbImage[] } {
  const n = o.frames ?? 20;
  const width = o.width ?? 224;
  const height = o.height ?? 160;
  const { background: bg, foreground: fg } = BUNDLED_MOTION;
  const files = new Map<string, Buffer>();
  const frames: RgbImage[] = [];
  for (let k = 0; k < n; k++) {
    const img: RgbImage = { width, height, data: new Uint8Array(width * height * 3) };
    const px = fg.x0 + k * fg.dx;
    const py = fg.y0 + k * fg.dy;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inFg = x - px >= 0 && x - px < fg.width && y - py >= 0 && y - py < fg.height;
        for (let c = 0; c < 3; c++) {
          img.data[(y * width + x) * 3 + c] = inFg
            ? sample(o.foreground, 96 + x - px, 72 + y - py, c)
            : sample(o.background, x + 24 - k * bg.dx, y + 20 - k * bg.dy, c);
        }
      }
    }
    frames.push(img);
    files.set(`${String(k).padStart(3, '0')}.jpg`, encodeJpeg(img, o.quality ?? 90));
  }
  return { info: { width, height, fps: 30, frames: [...files.keys()], motion: BUNDLED_MOTION }, files, frames };
}
