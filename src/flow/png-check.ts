// Structural check of a PNG before any decoder sees it: chunk bounds and CRCs, the IHDR (sizes against the pixel
// limit), and the image data inflated with a bound and counted — exactly what width x height x format needs, no more
// and no less. pngjs (unmaintained since 7.0.0) allocates what IHDR claims before reading any data, and on Node >= 9
// its sync inflate pads short image data with uninitialised memory (it reads zlib's [availOut, availIn] state in the
// wrong order); after this check it only ever sees complete, bounded images. docs/images.md.
import zlib from 'node:zlib';
import { crc32 } from '../crc32.js';
import { UserError } from '../errors.js';
import { checkPixels } from './limits.js';

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel per colour type (PNG spec 11.2.2); the allowed bit depths. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/** Bytes of filtered scanlines (filter byte + packed samples per row) the header asks for. */
export function pngDataBytes(h: PngHeader): number {
  const bpp = CHANNELS[h.colorType]! * h.depth;
  const rows = (w: number, n: number): number => (w === 0 || n === 0 ? 0 : n * (1 + Math.ceil((w * bpp) / 8)));
  if (h.interlace === 0) return rows(h.width, h.height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) total += rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy));
  return total;
}

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * Validates `buf` as a PNG whose image is at most `limit` pixels and whose image data is complete; returns its header.
 * Every failure is one UserError naming the file.
 */
export function checkPng(buf: Uint8Array, name: string, limit: number): PngHeader {
  const corrupt = (what: string, hint = 'the file is corrupt or was cut short; re-copy it'): never => {
    throw new UserError(`${name}: ${what}`, hint);
  };
  if (buf.length < 8 || SIGNATURE.some((v, i) => buf[i] !== v)) corrupt('not a PNG file (bad signature)');
  let pos = 8;
  let header: PngHeader | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 8 > buf.length) corrupt(`truncated PNG (no IEND chunk; file ends at byte ${buf.length})`);
    const len = u32(buf, pos);
    const type = String.fromCharCode(buf[pos + 4]!, buf[pos + 5]!, buf[pos + 6]!, buf[pos + 7]!);
    if (!/^[A-Za-z]{4}$/.test(type)) corrupt(`corrupt PNG (bad chunk type at byte ${pos})`);
    if (len > 0x7fffffff || pos + 12 + len > buf.length) corrupt(`truncated PNG (${type} chunk at byte ${pos} runs past the end of the file)`);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (crc32(data, crc32(buf.subarray(pos + 4, pos + 8))) !== u32(buf, pos + 8 + len)) corrupt(`corrupt PNG (${type} chunk at byte ${pos} fails its CRC)`);
    if (!header) {
      if (type !== 'IHDR' || len !== 13) corrupt('corrupt PNG (the first chunk is not a 13-byte IHDR)');
      const h: PngHeader = { width: u32(data, 0), height: u32(data, 4), depth: data[8]!, colorType: data[9]!, interlace: data[12]! };
      if (h.width < 1 || h.height < 1 || h.width > 0x7fffffff || h.height > 0x7fffffff) corrupt(`corrupt PNG (size ${h.width}x${h.height})`);
      if (!DEPTHS[h.colorType]?.includes(h.depth)) corrupt(`corrupt PNG (bit depth ${h.depth} with colour type ${h.colorType})`);
      if (data[10] !== 0 || data[11] !== 0 || h.interlace > 1) corrupt('corrupt PNG (unknown compression, filter or interlace method)');
      // Before anything is allocated for the image.
      checkPixels(name, 'PNG', h.width, h.height, limit);
      header = h;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    }
    pos += 12 + len;
  }
  const h = header!;
  if (idat.length === 0) corrupt('PNG has no image data (no IDAT chunk)');
  const want = pngDataBytes(h);
  let got: number;
  try {
    // maxOutputLength bounds the memory a deflate bomb can take; exceeding it is "too much data" below.
    // One output chunk of the expected size: no growing and re-copying (a third of the time at 384x512).
    const chunkSize = Math.max(zlib.constants.Z_MIN_CHUNK, Math.min(want, 1 << 24));
    got = zlib.inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), { maxOutputLength: want, chunkSize }).length;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') corrupt(`corrupt PNG (more image data than ${h.width}x${h.height} needs)`);
    if (code === 'Z_BUF_ERROR') corrupt(`truncated PNG (the image data stops before its end)`);
    return corrupt('corrupt PNG (its image data does not inflate)');
  }
  if (got !== want) corrupt(`truncated PNG (image data holds ${got} of the ${want} bytes ${h.width}x${h.height} needs)`);
  return h;
}
