// The live page's image encoder, on a worker thread: colour-wheel coding and JPEG/PNG encoding cost tens of ms per
// frame at 384x512 (jpeg-js, pngjs are pure JS), far above the run loop's host budget, so none of it runs on the loop's
// thread. The loop only copies the frame (and flow) into fresh buffers and transfers them here.
import { parentPort } from 'node:worker_threads';
import { flowToColorPreview } from '../flow/colorwheel.js';
import { createImage, encodeJpeg, encodePng, type RgbImage } from '../flow/image.js';
import { inputs, isJpegFrame, type EncodeJob, type EncodeResult } from './encoder.js';

const port = parentPort;
// The colour image is encoded to PNG before the next job arrives: one image per flow size is reused (no fresh 0.6 MB
// per 384x512 frame).
let colourImage: RgbImage | undefined;
if (!port) throw new Error('encode-worker must run on a worker thread');

port.on('message', (job: EncodeJob) => {
  const t0 = performance.now();
  try {
    let colour = job.colour;
    let maxRadius = job.maxRadius;
    if (!colour) {
      // the display table: within 2 levels of the exact Middlebury bytes, ≈ 5x cheaper (colorwheel.ts)
      const { width, height, u, v } = job.flow!;
      if (colourImage?.width !== width || colourImage.height !== height) colourImage = createImage(width, height);
      const c = flowToColorPreview({ width, height, u, v }, { into: colourImage });
      colour = c.image;
      maxRadius = c.maxRadius;
    }
    const result: EncodeResult = {
      seq: job.seq,
      index: job.index,
      frame: isJpegFrame(job.frame) ? job.frame.jpeg : encodeJpeg(job.frame, job.quality),
      flow: encodePng(colour, { fast: true }),
      frameSize: [job.frame.width, job.frame.height],
      flowSize: [colour.width, colour.height],
      maxRadius,
      encodeMs: performance.now() - t0,
      buffers: inputs(job, true),
    };
    port.postMessage(result, result.buffers);
  } catch (e) {
    const buffers = inputs(job, true);
    port.postMessage({ seq: job.seq, error: (e as Error).message, buffers }, buffers);
  }
});
port.postMessage('ready');
