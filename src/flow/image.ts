// 8-bit RGB images: PPM/PGM (parsed here, the format is a few header tokens), PNG (pngjs) and JPEG (jpeg-js).
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { UserError } from '../errors.js';
import { readInput, writeOutput } from './io.js';
import { checkJpeg } from './jpeg-check.js';
import { checkPixels, maxPixels } from './limits.js';
import { checkPng } from './png-check.js';

const { PNG } = pngjs;

/** Interleaved 8-bit RGB, row-major: data[(y*width + x)*3 + c], c = 0 R, 1 G, 2 B. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Single-channel 8-bit image (masks): data[y*width + x]. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Little-endian hosts (x86, ARM as Linux runs it): the pixel loops that move bytes as 32-bit words rely on it. */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export function createImage(width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new UserError(`invalid image size ${width}x${height}`, 'width and height must be positive integers');
  }
  return { width, height, data: new Uint8Array(width * height * 3) };
}

export type ImageFormat = 'ppm' | 'png' | 'jpeg';

/** Identify by content, not extension (datasets mislabel files more often than they corrupt magic bytes). */
export function sniffImageFormat(buf: Uint8Array): ImageFormat | undefined {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 2 && buf[0] === 0x50 /* P */ && buf[1] >= 0x31 && buf[1] <= 0x36) return 'ppm';
  return undefined;
}

export interface DecodeOptions {
  /** Largest width x height accepted, checked from the header before allocating (default: maxPixels()). */
  maxPixels?: number;
}

/**
 * Decode PNG, JPEG or netpbm (P6/P3/P5/P2) bytes to RGB. `name` only labels error messages. Every failure is one
 * UserError naming the file; the decoders' own texts are not shown (they name internals, not the problem).
 */
export function decodeImage(buf: Uint8Array, name = '<buffer>', o: DecodeOptions = {}): RgbImage {
  const fmt = sniffImageFormat(buf);
  if (fmt === 'png') return decodePng(buf, name, o);
  if (fmt === 'jpeg') return decodeJpeg(buf, name, o);
  if (fmt === 'ppm') return decodePpm(buf, name, o);
  throw new UserError(`${name}: unrecognized image format`, 'supported: PNG, JPEG, binary/ASCII PPM or PGM (P6, P3, P5, P2)');
}

export async function readImage(path: string, o: DecodeOptions = {}): Promise<RgbImage> {
  return decodeImage(await readInput(path, 'image'), path, o);
}

// ---------------------------------------------------------------------------------------------------------------- PPM

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/**
 * Netpbm P6/P3 (RGB) and P5/P2 (grey, expanded to RGB). maxval 1..255; values are rescaled to 0..255 when
 * maxval < 255 (round half up). 16-bit (maxval > 255) is rejected: no flow dataset uses it.
 */
export function decodePpm(buf: Uint8Array, name = '<buffer>', o: DecodeOptions = {}): RgbImage {
  const kind = buf.length >= 2 && buf[0] === 0x50 ? String.fromCharCode(buf[1]) : '';
  if (kind !== '6' && kind !== '3' && kind !== '5' && kind !== '2') {
    const hint = kind === '1' || kind === '4' ? 'bitmaps (P1/P4) are not supported' : 'expected P6, P3, P5 or P2';
    throw new UserError(`${name}: not a supported PPM/PGM file`, hint);
  }
  let pos = 2;
  // Header tokens are separated by whitespace and may be interleaved with '#' comments to end of line.
  const skipSpaceAndComments = (): void => {
    for (;;) {
      while (pos < buf.length && isSpace(buf[pos])) pos++;
      if (pos < buf.length && buf[pos] === 0x23) {
        while (pos < buf.length && buf[pos] !== 0x0a && buf[pos] !== 0x0d) pos++;
        continue;
      }
      break;
    }
  };
  const token = (what: string): number => {
    skipSpaceAndComments();
    const start = pos;
    let val = 0;
    while (pos < buf.length && buf[pos] >= 0x30 && buf[pos] <= 0x39) {
      val = val * 10 + (buf[pos] - 0x30);
      pos++;
    }
    if (pos === start || (pos < buf.length && !isSpace(buf[pos]) && buf[pos] !== 0x23)) {
      throw new UserError(`${name}: bad PPM header (${what} is not a number)`, 'file is corrupt or not a PPM');
    }
    if (val > 1e9) throw new UserError(`${name}: bad PPM header (${what} ${val} too large)`, 'file is corrupt');
    return val;
  };
  const width = token('width');
  const height = token('height');
  const maxval = token('maxval');
  if (width < 1 || height < 1) throw new UserError(`${name}: bad PPM size ${width}x${height}`, 'file is corrupt');
  if (maxval > 255) {
    throw new UserError(`${name}: 16-bit PPM (maxval ${maxval}) is not supported`, 'convert it to 8 bits, e.g. `convert in.ppm -depth 8 out.ppm`');
  }
  if (maxval < 1) throw new UserError(`${name}: bad PPM maxval 0`, 'file is corrupt');
  checkPixels(name, 'PPM', width, height, o.maxPixels ?? maxPixels());
  const grey = kind === '5' || kind === '2';
  const n = width * height;
  const count = grey ? n : 3 * n;
  const binary = kind === '6' || kind === '5';
  if (binary) pos++; // exactly one whitespace byte separates maxval from the raster
  // Check the size against the header before allocating, so a corrupt header cannot ask for gigabytes.
  if (binary && buf.length - pos < count) {
    throw new UserError(`${name}: truncated PPM (${Math.max(0, buf.length - pos)} of ${count} raster bytes)`, 'file was cut short; re-copy it');
  }
  // Bytes after the raster: a header that shrank the image (or a second image) would otherwise pass silently.
  if (binary && buf.length - pos > count) trailing(name, 'PPM', buf.length - pos - count, `${width}x${height}`);
  if (!binary && buf.length - pos < 2 * count - 1) {
    throw new UserError(`${name}: truncated PPM (${buf.length - pos} bytes cannot hold ${count} samples)`, 'file was cut short; re-copy it');
  }
  const img = createImage(width, height);
  const d = img.data;
  const samples = grey ? new Uint8Array(n) : d;
  if (binary) {
    samples.set(buf.subarray(pos, pos + count));
    if (maxval < 255) {
      for (let i = 0; i < count; i++) {
        if (samples[i] > maxval) throw new UserError(`${name}: PPM sample ${samples[i]} exceeds maxval ${maxval}`, 'file is corrupt');
      }
    }
  } else {
    for (let i = 0; i < count; i++) {
      while (pos < buf.length && isSpace(buf[pos])) pos++;
      if (pos >= buf.length) throw new UserError(`${name}: truncated PPM (${i} of ${count} samples)`, 'file was cut short; re-copy it');
      const v = token('sample');
      if (v > maxval) throw new UserError(`${name}: PPM sample ${v} exceeds maxval ${maxval}`, 'file is corrupt');
      samples[i] = v;
    }
    // Only whitespace and comments may follow the last sample.
    skipSpaceAndComments();
    if (pos < buf.length) trailing(name, 'PPM', buf.length - pos, `${width}x${height}`);
  }
  if (maxval < 255) {
    const half = maxval >> 1;
    for (let i = 0; i < count; i++) samples[i] = Math.floor((samples[i] * 255 + half) / maxval);
  }
  if (grey) {
    for (let i = 0, o = 0; i < n; i++, o += 3) d[o] = d[o + 1] = d[o + 2] = samples[i];
  }
  return img;
}

/** The one-line error for data after the end of an image (.flo words its own, with the byte counts). */
export function trailing(name: string, kind: string, extra: number, size: string): never {
  throw new UserError(`${name}: ${extra} unexpected byte${extra === 1 ? '' : 's'} after the ${size} ${kind} data`, 'the header does not match the file (corrupt, or two files joined); re-copy or re-export it');
}

export function encodePpm(img: RgbImage): Buffer {
  checkImage(img);
  const header = Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'latin1');
  return Buffer.concat([header, Buffer.from(img.data.buffer, img.data.byteOffset, img.width * img.height * 3)]);
}

export async function writePpm(path: string, img: RgbImage): Promise<void> {
  await writeOutput(path, encodePpm(img));
}

// ---------------------------------------------------------------------------------------------------------------- PNG

/**
 * Any PNG (grey, grey+alpha, RGB, RGBA, palette; 1..16 bits) to 8-bit RGB. pngjs rescales 16-bit samples with
 * round(v·255/65535). Alpha is dropped, not composited: flow frames are opaque.
 */
export function decodePng(buf: Uint8Array, name = '<buffer>', o: DecodeOptions = {}): RgbImage {
  const png = readPngChecked(buf, name, o) as { width: number; height: number; data: Uint8Array };
  const img = createImage(png.width, png.height);
  const src = png.data;
  const d = img.data;
  const n = png.width * png.height;
  for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
    d[o] = src[s];
    d[o + 1] = src[s + 1];
    d[o + 2] = src[s + 2];
  }
  return img;
}

/** Grey view of any PNG: the first (red) channel after pngjs' RGBA expansion, which for grey PNGs is the grey value. */
export function decodePngGray(buf: Uint8Array, name = '<buffer>', o: DecodeOptions = {}): GrayImage {
  const rgb = decodePng(buf, name, o);
  const n = rgb.width * rgb.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = rgb.data[3 * i];
  return { width: rgb.width, height: rgb.height, data };
}

/**
 * pngjs over a PNG that checkPng() has accepted (bounded size, complete image data). `skipRescale` keeps 16-bit
 * samples. What pngjs still rejects (a bad filter type, a palette index without a PLTE) is a corrupt file.
 */
export function readPngChecked(buf: Uint8Array, name: string, o: DecodeOptions & { skipRescale?: boolean } = {}): {
  width: number; height: number; depth: number; colorType: number; data: Uint8Array | Uint16Array;
} {
  checkPng(buf, name, o.maxPixels ?? maxPixels());
  try {
    return PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), { skipRescale: o.skipRescale }) as never;
  } catch {
    throw new UserError(`${name}: corrupt PNG (its image data does not decode)`, 'the file is corrupt; re-copy or re-export it');
  }
}

/**
 * RGB to PNG. `fast` uses one row filter (Sub) instead of pngjs' per-row trial of all five: ≈ 2.7x faster for ≈ 20 %
 * more bytes on a colour-wheel image (docs/performance.md), for images that live a moment (the live page).
 */
export function encodePng(img: RgbImage, o: { fast?: boolean } = {}): Buffer {
  checkImage(img);
  return PNG.sync.write(
    { width: img.width, height: img.height, data: Buffer.from(img.data.buffer, img.data.byteOffset, img.width * img.height * 3) } as never,
    { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 6, ...(o.fast ? { filterType: 1 } : {}) },
  );
}

export function encodePngGray(img: GrayImage): Buffer {
  if (img.data.length !== img.width * img.height) throw new Error(`grey image data has ${img.data.length} bytes, expected ${img.width * img.height}`);
  return PNG.sync.write(
    { width: img.width, height: img.height, data: Buffer.from(img.data.buffer, img.data.byteOffset, img.width * img.height) } as never,
    { colorType: 0, inputColorType: 0, inputHasAlpha: false, deflateLevel: 6 },
  );
}

export async function writePng(path: string, img: RgbImage): Promise<void> {
  await writeOutput(path, encodePng(img));
}

// --------------------------------------------------------------------------------------------------------------- JPEG

/** Baseline/progressive JPEG (grey, YCbCr, CMYK) to RGB via jpeg-js. EXIF orientation is not applied. */
export function decodeJpeg(buf: Uint8Array, name = '<buffer>', o: DecodeOptions = {}): RgbImage {
  const limit = o.maxPixels ?? maxPixels();
  checkJpeg(buf, name, limit);
  let out: { width: number; height: number; data: Uint8Array };
  try {
    // jpeg-js' own limits as a second fence: its size check (SOF, again) and its memory accounting, ~32 B/pixel.
    out = jpeg.decode(buf, {
      useTArray: true, formatAsRGBA: false, tolerantDecoding: true,
      maxResolutionInMP: limit / 1e6, maxMemoryUsageInMB: Math.max(64, Math.ceil((limit * 32) / 2 ** 20)),
    });
  } catch {
    throw new UserError(`${name}: corrupt JPEG (its data does not decode)`, 'the file is corrupt or an unsupported JPEG variant; re-encode it (e.g. ffmpeg -i in.jpg out.png)');
  }
  if (out.width < 1 || out.height < 1 || out.data.length !== out.width * out.height * 3) {
    throw new UserError(`${name}: cannot decode JPEG: no image data`, 'file is corrupt or truncated');
  }
  return { width: out.width, height: out.height, data: out.data };
}

/** JPEG writing is for tests and previews only (lossy; never feed it back as ground truth). */
export function encodeJpeg(img: RgbImage, quality = 90): Buffer {
  checkImage(img);
  const n = img.width * img.height;
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = img.data[3 * i];
    rgba[4 * i + 1] = img.data[3 * i + 1];
    rgba[4 * i + 2] = img.data[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data;
}

function checkImage(img: RgbImage): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new Error(`RGB image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3 = ${img.width * img.height * 3}`);
  }
}
