// bench/camera-convert.ts: host cost of capture conversion per frame — a 640x480 camera frame into the 384x512
// network input planes (resize, bilinear), the way a SourceFrame of src/camera does it: YUYV straight from the
// buffer (BT.601 row conversion inside the one pass) and MJPEG (decode by src/camera/mjpeg.ts' decoder — libturbojpeg
// where installed, else jpeg-js — then the one pass; where libturbojpeg decodes, jpeg-js' decode is timed beside it).
// The YUYV frame is a real picture (samples/00001_img1 scaled up) converted with the BT.601 inverse; the MJPEG frame is
// its JPEG at q85 (jpeg-js' encoder, 4:4:4). --frame WxH changes the frame size (default 640x480).
// Prints per variant the wall-clock median and best ms and the mean CPU ms (process.cpuUsage) per frame; on a
// shared machine the CPU figure is the stable one.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/camera-convert.ts [--json] [--frame WxH] [reps]
import path from 'node:path';
import { PlaneFitter, rgbRows, rgbToYuyv, toRgb, yuyvRows } from '../src/camera/convert.js';
import { createMjpegDecoder, decodeMjpeg, mjpegDecoderName } from '../src/camera/mjpeg.js';
import { encodeJpeg, readImage } from '../src/flow/image.js';
import { fitImage, planInput, resizeImage } from '../src/flow/netinput.js';
import { packageRoot } from '../src/paths.js';
import { measure as measureReps } from './measure.js';

const json = process.argv.includes('--json');
const reps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 60);
const frameArg = process.argv.indexOf('--frame');
const [W, H] = frameArg > 0 ? process.argv[frameArg + 1].split('x').map(Number) : [640, 480];
const img = resizeImage(await readImage(path.join(packageRoot(), 'samples', '00001_img1.ppm')), W, H);
const yuyv = rgbToYuyv(img);
const jpeg = new Uint8Array(encodeJpeg(img, 85));
const map = planInput(W, H, { mode: 'resize', height: 384, width: 512 });
const fitter = new PlaneFitter(map);
const dst = new Uint8Array(6 * 384 * 512);
const rgbOut = new Uint8Array(W * H * 3);
const measure = (f: () => void): ReturnType<typeof measureReps> => measureReps(f, reps);
const jsDecoder = mjpegDecoderName() === 'jpeg-js' ? undefined : createMjpegDecoder({ prefer: 'js' });

const results = {
  yuyv_fit_ms: measure(() => fitter.fit(yuyvRows(yuyv, W, H), dst, 0)),
  // For scale: the path with intermediate copies (YUYV -> RGB frame -> fitted RGB frame; planes not even written).
  yuyv_via_rgb_ms: measure(() => fitImage(toRgb(yuyvRows(yuyv, W, H)), map)),
  mjpeg_decode_ms: measure(() => decodeMjpeg(jpeg, rgbOut)),
  mjpeg_decode_fit_ms: measure(() => fitter.fit(rgbRows(decodeMjpeg(jpeg, rgbOut)), dst, 0)),
  ...(jsDecoder ? { mjpeg_decode_jpegjs_ms: measure(() => jsDecoder.decode(jpeg)) } : {}),
};
const meta = { frame: `${W}x${H}`, net: '384x512', reps, jpeg_bytes: jpeg.length, mjpeg_decoder: mjpegDecoderName(), node: process.version };
if (json) {
  process.stdout.write(JSON.stringify({ ...meta, ...results }) + '\n');
} else {
  console.log(`capture conversion ${meta.frame} -> ${meta.net}, ${reps} reps, MJPEG by ${meta.mjpeg_decoder} (${meta.jpeg_bytes} bytes; wall median / best, CPU mean; ms per frame)`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(20)} ${v.median.toFixed(2)} / ${v.best.toFixed(2)}  cpu ${v.cpu.toFixed(2)}`);
}
