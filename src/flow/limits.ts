// The pixel limit every image decoder applies to the size a file's header claims, before allocating anything for it:
// a 69-byte PNG can claim 30000x30000 and a JPEG header 10000x10000 (docs/images.md).
import { UserError } from '../errors.js';

/** 4096 x 4096: above 4K UHD (8.3 MP) and phone photos (12 MP); a decoded RGB frame of it is 48 MiB. */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;
export const MAX_PIXELS_ENV = 'FLOWFPGA_MAX_PIXELS';

/** The limit in force: `FLOWFPGA_MAX_PIXELS` when set (a positive integer), else DEFAULT_MAX_PIXELS. */
export function maxPixels(env: NodeJS.ProcessEnv = process.env): number {
  const v = env[MAX_PIXELS_ENV];
  if (v === undefined || v === '') return DEFAULT_MAX_PIXELS;
  const n = /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UserError(`${MAX_PIXELS_ENV}=${JSON.stringify(v).slice(0, 40)} is not a positive whole number of pixels`, `unset it (default ${DEFAULT_MAX_PIXELS}) or set e.g. ${MAX_PIXELS_ENV}=50000000`);
  }
  return n;
}

/** Throws the one-line UserError when width x height exceeds `limit`. */
export function checkPixels(name: string, kind: string, width: number, height: number, limit: number): void {
  if (width * height > limit) {
    throw new UserError(
      `${name}: ${kind} of ${width}x${height} pixels exceeds the limit of ${limit} pixels`,
      `a corrupt or hostile header, or a really large image: scale it down, or raise the limit with ${MAX_PIXELS_ENV}=N`,
    );
  }
}
