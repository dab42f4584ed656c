// Motion-JPEG frames from a V4L2 buffer to RGB. UVC cameras commonly send MJPEG frames without a DHT segment (USB
// Video Class "Motion-JPEG payload": the Huffman tables are the standard ones of ITU-T T.81 Annex K.3), which a plain
// JPEG decoder rejects; as libv4lconvert and ffmpeg do, the standard tables are inserted before the first SOS when the
// frame has none. The decoder is the system's libturbojpeg (src/camera/turbojpeg.ts, ≈ 20x faster) when it loads,
// else jpeg-js (the project's JPEG decoder); FLOWFPGA_JPEG=js in the environment forces jpeg-js.
import jpeg from 'jpeg-js';
import type { RgbImage } from '../flow/image.js';
import { MAX_RGB_BYTES, TURBOJPEG_LIB, TurboJpegDecoder, loadTurboJpeg } from './turbojpeg.js';

const hex = (s: string): number[] => Array.from(Buffer.from(s, 'hex'));

// T.81 Table K.3-K.6: 16 code-length counts, then the symbol values.
const DC_LUM = { counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHR = { counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const AC_LUM = {
  counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  values: hex('01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa'),
};
const AC_CHR = {
  counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  values: hex('000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa'),
};

/** One DHT segment (FF C4) with the four standard tables. */
export const STANDARD_DHT: Uint8Array = (() => {
  const body: number[] = [];
  for (const [tcth, t] of [[0x00, DC_LUM], [0x10, AC_LUM], [0x01, DC_CHR], [0x11, AC_CHR]] as const) {
    body.push(tcth, ...t.counts, ...t.values);
  }
  const len = body.length + 2;
  return Uint8Array.from([0xff, 0xc4, len >> 8, len & 0xff, ...body]);
})();

/**
 * Byte position of the first SOS marker and whether a DHT precedes it, walking the marker segments from SOI; null
 * when the data is not a JPEG stream up to its first scan.
 */
export function scanMarkers(buf: Uint8Array): { sos: number; hasDht: boolean } | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let p = 2;
  let hasDht = false;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return null;
    const m = buf[p + 1];
    if (m === 0xff) {
      p++; // fill byte
      continue;
    }
    if (m === 0xda) return { sos: p, hasDht };
    if (m === 0xc4) hasDht = true;
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      p += 2;
      continue;
    }
    p += 2 + ((buf[p + 2] << 8) | buf[p + 3]);
  }
  return null;
}

/**
 * The frame with the standard Huffman tables inserted when it has none (a new buffer then, or the front of `scratch`
 * when that is large enough); else the input.
 */
export function withHuffmanTables(buf: Uint8Array, scratch?: Uint8Array): Uint8Array {
  return tablesFor(buf, scanMarkers(buf), scratch);
}

/** withHuffmanTables() for a frame whose markers the caller has scanned already. */
function tablesFor(buf: Uint8Array, s: ReturnType<typeof scanMarkers>, scratch?: Uint8Array): Uint8Array {
  if (!s || s.hasDht) return buf;
  const n = buf.length + STANDARD_DHT.length;
  const out = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Uint8Array(n);
  out.set(buf.subarray(0, s.sos), 0);
  out.set(STANDARD_DHT, s.sos);
  out.set(buf.subarray(s.sos), s.sos + STANDARD_DHT.length);
  return out;
}

export type MjpegDecoderName = 'libturbojpeg' | 'jpeg-js';

export interface MjpegDecoderOptions {
  /** 'auto' (default): libturbojpeg when it loads, else jpeg-js; 'js': jpeg-js. FLOWFPGA_JPEG=js forces 'js'. */
  prefer?: 'auto' | 'js';
  /** Tests: the TurboJPEG library to load (default libturbojpeg.so.0, found by the dynamic loader). */
  library?: string;
}

/** One MJPEG decoder, reused frame after frame; close() frees what it holds (a TurboJPEG handle). */
export interface MjpegDecoder {
  readonly name: MjpegDecoderName;
  /**
   * One MJPEG frame to RGB; throws Error (not UserError: the caller drops the frame) on corrupt data. `out` is where
   * libturbojpeg writes the pixels (the image's data is then a view of it; a frame that does not fit throws); jpeg-js
   * allocates its own.
   */
  decode(buf: Uint8Array, out?: Uint8Array): RgbImage;
  close(): void;
}

/** Which decoder createMjpegDecoder() picks and, for jpeg-js, why (the env override or the library's load error). */
export interface MjpegDecoderInfo {
  name: MjpegDecoderName;
  reason?: string;
  /** The library would not load (not an override): worth one line to the user. */
  fallback: boolean;
}

export function mjpegDecoderInfo(o: MjpegDecoderOptions = {}): MjpegDecoderInfo {
  if (process.env.FLOWFPGA_JPEG === 'js') return { name: 'jpeg-js', reason: 'FLOWFPGA_JPEG=js', fallback: false };
  if (o.prefer === 'js') return { name: 'jpeg-js', reason: 'asked for', fallback: false };
  try {
    loadTurboJpeg(o.library ?? TURBOJPEG_LIB);
    return { name: 'libturbojpeg', fallback: false };
  } catch (e) {
    return { name: 'jpeg-js', reason: (e as Error).message, fallback: true };
  }
}

/** The decoder MJPEG frames get here: 'libturbojpeg' or 'jpeg-js'. Loads the library (once) to find out. */
export function mjpegDecoderName(o: MjpegDecoderOptions = {}): MjpegDecoderName {
  return mjpegDecoderInfo(o).name;
}

/** The one line to show when MJPEG decoding falls back to jpeg-js because libturbojpeg would not load; else undefined. */
export function mjpegDecoderNote(o: MjpegDecoderOptions = {}): string | undefined {
  const i = mjpegDecoderInfo(o);
  if (!i.fallback) return undefined;
  return `MJPEG frames are decoded with jpeg-js, about 20x slower than libturbojpeg (${i.reason}); install it with apt-get install libturbojpeg0`;
}

const JS_OPTIONS = { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: MAX_RGB_BYTES >> 20 } as const;

class JsDecoder implements MjpegDecoder {
  readonly name = 'jpeg-js';
  decode(buf: Uint8Array): RgbImage {
    const s = scanMarkers(buf);
    if (!s) throw new Error('not a JPEG frame (no SOI … SOS)');
    const img = jpeg.decode(tablesFor(buf, s), JS_OPTIONS);
    return { width: img.width, height: img.height, data: img.data as Uint8Array };
  }
  close(): void {}
}

class TurboDecoder implements MjpegDecoder {
  readonly name = 'libturbojpeg';
  readonly #tj: TurboJpegDecoder;
  // The frame with tables inserted, reused (UVC frames without DHT would otherwise cost one allocation each).
  #scratch = new Uint8Array(0);
  constructor(tj: TurboJpegDecoder) {
    this.#tj = tj;
  }
  decode(buf: Uint8Array, out?: Uint8Array): RgbImage {
    const s = scanMarkers(buf);
    if (!s) throw new Error('not a JPEG frame (no SOI … SOS)');
    if (!s.hasDht && this.#scratch.length < buf.length + STANDARD_DHT.length) this.#scratch = new Uint8Array(2 * buf.length + STANDARD_DHT.length);
    return this.#tj.decode(tablesFor(buf, s, this.#scratch), out);
  }
  close(): void {
    this.#tj.close();
  }
}

/**
 * A decoder for a stream of frames: libturbojpeg (one handle, made here) when it loads, else jpeg-js — silently:
 * mjpegDecoderNote() is the line a caller shows about it.
 */
export function createMjpegDecoder(o: MjpegDecoderOptions = {}): MjpegDecoder {
  const info = mjpegDecoderInfo(o);
  if (info.name === 'jpeg-js') return new JsDecoder();
  try {
    return new TurboDecoder(new TurboJpegDecoder(loadTurboJpeg(o.library ?? TURBOJPEG_LIB)));
  } catch {
    return new JsDecoder(); // tjInitDecompress failed (out of memory): still decode
  }
}

// decodeMjpeg's decoder: made on first use, one for the process (its handle lives as long).
let shared: MjpegDecoder | undefined;

/**
 * Decodes one MJPEG frame to RGB with the process's shared decoder (libturbojpeg or jpeg-js); throws Error (not
 * UserError: the caller drops the frame) on corrupt data. `out`: see MjpegDecoder.decode.
 */
export function decodeMjpeg(buf: Uint8Array, out?: Uint8Array): RgbImage {
  shared ??= createMjpegDecoder();
  return shared.decode(buf, out);
}
