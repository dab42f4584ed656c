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
    const x0 = sx | 0; // sx, sy >= 0 here: truncation is floor
    const y0 = sy | 0;
    const ax = sx - x0;
    const ay = sy - y0;
    const bx = 1 - ax;
    const by = 1 - ay;
    const p00 = 3 * (y0 * w + x0);
    const p01 = x0 < xmax ? p00 + 3 : p00;
    const p10 = y0 < ymax ? p00 + 3 * w : p00;
    const p11 = x0 < xmax ? p10 + 3 : p10;
    const o = 3 * i;
    // (1 - ay) * top + ay * bottom, each row bilinear in x; + 0.5 then truncation rounds half up (values >= 0)
    d[o] = (by * (bx * src[p00] + ax * src[p01]) + ay * (bx * src[p10] + ax * src[p11]) + 0.5) | 0;
    d[o + 1] = (by * (bx * src[p00 + 1] + ax * src[p01 + 1]) + ay * (bx * src[p10 + 1] + ax * src[p11 + 1]) + 0.5) | 0;
    d[o + 2] = (by * (bx * src[p00 + 2] + ax * src[p01 + 2]) + ay * (bx * src[p10 + 2] + ax * src[p11 + 2]) + 0.5) | 0;
  }
}
