// bench/png-check.ts: what the PNG structure/size check (src/flow/png-check.ts) adds to decoding a frame, on a
// sample frame at 384x512 (and 1024x436, Sintel's size). Median of 25 runs each.
// Run: node --import @tapjs/typescript/import bench/png-check.ts   (or any TS loader)
import { readFileSync } from 'node:fs';
import { decodePpm, encodePng, decodePng, createImage, type RgbImage } from '../src/flow/image.js';
import { checkPng } from '../src/flow/png-check.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
function time(f: () => void, n = 25): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
/** The sample frame tiled/cropped to h x w (photographic content compresses like a real frame). */
function fit(src: RgbImage, h: number, w: number): RgbImage {
  const out = createImage(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = ((y % src.height) * src.width + (x % src.width)) * 3;
      out.data.set(src.data.subarray(s, s + 3), (y * w + x) * 3);
    }
  }
  return out;
}
const frame = decodePpm(readFileSync(new URL('../samples/00001_img1.ppm', import.meta.url)));
const rows: string[] = [];
for (const [h, w] of [[384, 512], [436, 1024]] as const) {
  const png = encodePng(fit(frame, h, w));
  const check = time(() => checkPng(png, 'bench.png', 1 << 24));
  const full = time(() => decodePng(png, 'bench.png'));
  rows.push(`${h}x${w} (${(png.length / 1024).toFixed(0)} KiB PNG): check ${check.toFixed(2)} ms of ${full.toFixed(2)} ms decode (${((100 * check) / full).toFixed(0)} %)`);
}
console.log(rows.join('\n'));
