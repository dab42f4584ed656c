// Backward warping of a frame by a flow field: the second frame resampled at x + flow(x), so that it lines up with
// the first. The refinement pass (refine.ts) runs the network on (first frame, warped second frame) and adds the
// residual it finds to the coarse flow. train/refine.py is the Python twin (same formula, float64).
import { UserError } from '../errors.js';
import type { FlowField } from './flo.js';
import { createImage, type RgbImage } from './image.js';

/**
 * out(x, y) = img(x + u, y + v), bilinear, the sample point clamped to the frame (edge pixels repeat), each channel
 * rounded half up to uint8. flow must have img's size.
 */
export function warpImage(img: RgbImage, flow: FlowField, out: RgbImage = createImage(img.width, img.height)): RgbImage {
  const { width: w, height: h } = img;
  if (flow.width !== w || flow.height !== h || out.width !== w || out.height !== h) {
    throw new UserError(`flow is ${flow.width}x${flow.height}, frame ${w}x${h}`, 'warp with the flow of the same frame size');
  }
  for (let y = 0; y < h; y++) warpRow(img.data, flow.u, flow.v, w, h, y, out.data);
  return out;
}

/** One row of warpImage: a function of its own so V8 optimizes the loop whole (see colorwheel.ts). */
function warpRow(src: Uint8Array, u: Float32Array, v: Float32Array, w: number, h: number, y: number, d: Uint8Array): void {
  const xmax = w - 1;
  const ymax = h - 1;
  for (let x = 0, i = y * w; x < w; x++, i++) {
    let sx = x + u[i];
    let sy = y + v[i];
    // NaN (unknown flow) samples the pixel itself
    sx = sx >= 0 ? (sx <= xmax ? sx : xmax) : sx < 0 ? 0 : x;
    sy = sy >= 0 ? (sy <= ymax ? sy : ymax) : sy < 0 ? 0 : y;
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const ax = sx - x0;
    const ay = sy - y0;
    const x1 = x0 < xmax ? x0 + 1 : xmax;
    const y1 = y0 < ymax ? y0 + 1 : ymax;
    const r0 = 3 * y0 * w;
    const r1 = 3 * y1 * w;
    const p00 = r0 + 3 * x0, p01 = r0 + 3 * x1, p10 = r1 + 3 * x0, p11 = r1 + 3 * x1;
    const o = 3 * i;
    for (let c = 0; c < 3; c++) {
      const top = (1 - ax) * src[p00 + c] + ax * src[p01 + c];
      const bot = (1 - ax) * src[p10 + c] + ax * src[p11 + c];
      d[o + c] = Math.floor((1 - ay) * top + ay * bot + 0.5); // in [0, 255.5): no clamp needed
    }
  }
}
