// JPEG → RGB with the system's TurboJPEG library (libjpeg-turbo's libturbojpeg.so.0, Debian/Ubuntu package
// libturbojpeg0) through koffi: one decompressor handle, made once and reused frame after frame, decoding straight into
// caller-owned memory. The library is loaded on first use and once per process; src/camera/mjpeg.ts falls back to
// jpeg-js when it does not load. Decoding uses libjpeg-turbo's default for decompression, the accurate integer IDCT
// (no TJFLAG_FASTDCT) with smooth chroma upsampling (no TJFLAG_FASTUPSAMPLE). Every failure is an Error (the caller
// drops the frame); libjpeg's own errors never leave the library (TurboJPEG catches them). After a failure the handle
// is replaced: libjpeg-turbo 2.1.5's tjDecompressHeader3 returns from a header error without aborting the
// decompressor, and every later call on that handle then fails ("Bogus marker length"; test/camera/turbojpeg.test.ts).
import { createRequire } from 'node:module';
import type { RgbImage } from '../flow/image.js';

export const TURBOJPEG_LIB = 'libturbojpeg.so.0';

// turbojpeg.h (TurboJPEG API 2.0, libjpeg-turbo ≥ 2.0: tjGetErrorStr2 and TJFLAG_STOPONWARNING are from there).
const TJPF_RGB = 0;
/** A libjpeg warning (a truncated or damaged scan: grey blocks) ends the decode as an error: such a frame is dropped. */
const TJFLAG_STOPONWARNING = 8192;

/** Largest output a frame header may ask for (jpeg-js gets the same limit in mjpeg.ts). */
export const MAX_RGB_BYTES = 256 * 1024 * 1024;

/** A tjhandle: koffi 3 returns pointers as BigInt, NULL as null. */
type Handle = bigint | null;

/** The entry points used (injectable: tests drive every failure path without the library). */
export interface TurboJpegLib {
  tjInitDecompress(): Handle;
  tjDecompressHeader3(h: Handle, jpeg: Uint8Array, size: number, width: Int32Array, height: Int32Array, subsamp: Int32Array, colorspace: Int32Array): number;
  tjDecompress2(h: Handle, jpeg: Uint8Array, size: number, dst: Uint8Array, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
  tjGetErrorStr2(h: Handle): string;
  tjDestroy(h: Handle): number;
}

const loaded = new Map<string, TurboJpegLib | Error>();

/**
 * Binds `file` (default libturbojpeg.so.0, found by the dynamic loader) once per process; throws an Error naming the
 * reason when it cannot be loaded or lacks an entry point (libjpeg-turbo < 2.0). The outcome is cached, failures too.
 */
export function loadTurboJpeg(file = TURBOJPEG_LIB): TurboJpegLib {
  let r = loaded.get(file);
  if (!r) {
    r = bind(file);
    loaded.set(file, r);
  }
  if (r instanceof Error) throw r;
  return r;
}

function bind(file: string): TurboJpegLib | Error {
  const require = createRequire(import.meta.url);
  try {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const koffi = require('koffi') as any;
    let lib;
    try {
      lib = koffi.load(file);
    } catch (e) {
      return new Error(`cannot load ${file}: ${firstLine(e)}`);
    }
    const fn = (decl: string) => {
      try {
        return lib.func(decl);
      } catch (e) {
        throw new Error(`${file} is not a usable TurboJPEG 2.x library: ${firstLine(e)}`);
      }
    };
    return {
      tjInitDecompress: fn('void *tjInitDecompress()'),
      tjDecompressHeader3: fn('int tjDecompressHeader3(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, _Out_ int *width, _Out_ int *height, _Out_ int *jpegSubsamp, _Out_ int *jpegColorspace)'),
      tjDecompress2: fn('int tjDecompress2(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, _Out_ uint8_t *dstBuf, int width, int pitch, int height, int pixelFormat, int flags)'),
      tjGetErrorStr2: fn('const char *tjGetErrorStr2(void *handle)'),
      tjDestroy: fn('int tjDestroy(void *handle)'),
    };
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/** One TurboJPEG decompressor: decode() any number of frames, then close() (idempotent). */
export class TurboJpegDecoder {
  readonly #lib: TurboJpegLib;
  #handle: Handle;
  // Header outputs, reused: width, height, subsampling, colorspace.
  readonly #hdr = new Int32Array(4);
  readonly #w = this.#hdr.subarray(0, 1);
  readonly #h = this.#hdr.subarray(1, 2);
  readonly #ss = this.#hdr.subarray(2, 3);
  readonly #cs = this.#hdr.subarray(3, 4);

  constructor(lib: TurboJpegLib = loadTurboJpeg()) {
    this.#lib = lib;
    const h = lib.tjInitDecompress();
    if (!h) throw new Error(`tjInitDecompress failed: ${lib.tjGetErrorStr2(null)}`);
    this.#handle = h;
  }

  get closed(): boolean {
    return !this.#handle;
  }

  /**
   * Decodes a complete JPEG to interleaved RGB. With `out` the pixels are written into it (its first width·height·3
   * bytes; the image's data is that view) and a frame that does not fit throws; without, a new buffer is allocated.
   * Throws Error on anything but a clean decode.
   */
  decode(jpeg: Uint8Array, out?: Uint8Array): RgbImage {
    const h = this.#handle;
    if (!h) throw new Error('TurboJPEG decoder used after close()');
    const lib = this.#lib;
    this.#hdr.fill(0);
    // A stream without a frame header (tables only, or cut before SOF) "succeeds" without a size: checked below.
    if (lib.tjDecompressHeader3(h, jpeg, jpeg.length, this.#w, this.#h, this.#ss, this.#cs) !== 0) this.#fail(h);
    const width = this.#hdr[0];
    const height = this.#hdr[1];
    if (!(width > 0 && height > 0)) throw new Error('corrupt JPEG (no frame header)');
    const bytes = width * height * 3;
    if (bytes > MAX_RGB_BYTES) throw new Error(`JPEG frame of ${width}x${height} is too large to decode`);
    let data: Uint8Array;
    if (out) {
      if (out.length < bytes) throw new Error(`JPEG frame of ${width}x${height} does not fit a ${out.length}-byte buffer`);
      data = out.length === bytes ? out : out.subarray(0, bytes);
    } else data = new Uint8Array(bytes);
    if (lib.tjDecompress2(h, jpeg, jpeg.length, data, width, width * 3, height, TJPF_RGB, TJFLAG_STOPONWARNING) !== 0) this.#fail(h);
    return { width, height, data };
  }

  /** Throws the library's message for the failed call, after swapping the handle for a fresh one (see the top). */
  #fail(h: bigint): never {
    const lib = this.#lib;
    const message = `corrupt JPEG (${lib.tjGetErrorStr2(h)})`;
    lib.tjDestroy(h);
    this.#handle = lib.tjInitDecompress();
    // Out of memory for a new one: this decoder is closed (decode throws), its frames dropped.
    throw new Error(message);
  }

  close(): void {
    const h = this.#handle;
    if (!h) return;
    this.#handle = null;
    this.#lib.tjDestroy(h);
  }
}
