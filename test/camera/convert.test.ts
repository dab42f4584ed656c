// Capture conversion: BT.601 limited-range YUYV, and fitPlanes (one pass from the capture buffer into the network
// planes) equal to the planes of src/flow/netinput.ts fitImage(rgb) for every fit mode; MJPEG without Huffman tables.
import t from 'tap';
import { fitterFor, PlaneFitter, rgbRows, rgbToYuyv, toRgb, yuyvFrame, yuyvRowToRgb, yuyvRows } from '../../src/camera/convert.js';
import { runHostBench } from '../../src/cli/bench-host.js';
import { runCli } from '../helpers/cli.js';
import { createMjpegDecoder, decodeMjpeg, scanMarkers, STANDARD_DHT, withHuffmanTables } from '../../src/camera/mjpeg.js';
import { fitImage, planInput, stackPair, type InputMapping } from '../../src/flow/netinput.js';
import { sameBytes } from '../helpers/bytes.js';
import { decodeJpeg, encodeJpeg, type RgbImage } from '../../src/flow/image.js';

/** Deterministic test picture with gradients, edges and saturated colours. */
function picture(w: number, h: number, seed = 1): RgbImage {
  const d = new Uint8Array(w * h * 3);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const i = (y * w + x) * 3;
      d[i] = (x * 255) / (w - 1);
      d[i + 1] = ((x >> 3) + (y >> 3)) & 1 ? 230 : (y * 255) / (h - 1);
      d[i + 2] = s >>> 24;
    }
  }
  return { width: w, height: h, data: d };
}

/** The planes of fitImage, via stackPair's planar layout (first frame half). */
function planesOf(img: RgbImage): Uint8Array {
  return stackPair(img, img).subarray(0, 3 * img.width * img.height);
}

t.test('BT.601 limited range: black, white, grey and the primaries', async (t) => {
  const px = (y0: number, u: number, y1: number, v: number): number[] => {
    const out = new Uint8Array(6);
    yuyvRowToRgb(Uint8Array.from([y0, u, y1, v]), 0, 2, out);
    return [...out];
  };
  t.same(px(16, 128, 235, 128), [0, 0, 0, 255, 255, 255], 'Y 16 is black, 235 white');
  t.same(px(0, 128, 255, 128), [0, 0, 0, 255, 255, 255], 'footroom and headroom clamp');
  t.same(px(126, 128, 126, 128), [128, 128, 128, 128, 128, 128]);
  // BT.601 limited-range codes of 100 % red, green, blue (ITU-R BT.601 / the inverse below).
  t.same(px(81, 90, 81, 240).slice(0, 3), [255, 0, 0]);
  t.same(px(145, 54, 145, 34).slice(0, 3), [0, 255, 1]);
  t.same(px(41, 240, 41, 110).slice(0, 3), [0, 0, 255]);
  // Round trip of a smooth picture stays within the 4:2:2 chroma and fixed-point error.
  const img = picture(64, 32);
  for (let i = 0; i < img.data.length; i += 3) img.data[i + 2] = img.data[i]; // smooth chroma
  const back = toRgb(yuyvRows(rgbToYuyv(img), 64, 32));
  let worst = 0;
  for (let i = 0; i < img.data.length; i++) worst = Math.max(worst, Math.abs(back.data[i] - img.data[i]));
  t.ok(worst <= 12, `round trip within 12 codes (worst ${worst})`);
  t.throws(() => rgbToYuyv(picture(3, 2)), /odd/);
  t.throws(() => yuyvRows(new Uint8Array(10), 4, 2), /too small/);
  t.throws(() => yuyvRows(new Uint8Array(100), 5, 2), /odd/);
});

t.test('fitPlanes equals fitImage(rgb) exactly: resize, pad, crop, same size; YUYV and RGB sources', async (t) => {
  const cases: Array<[number, number, Parameters<typeof planInput>[2]]> = [
    [640, 480, { mode: 'resize', height: 384, width: 512 }], // the camera case: downscale
    [224, 160, { mode: 'resize', height: 192, width: 256 }], // the bundled sequence: upscale
    [224, 160, { mode: 'resize', height: 128, width: 320 }], // mixed
    [128, 64, { mode: 'resize', height: 64, width: 128 }], // same size
    [224, 160, { mode: 'pad' }],
    [224, 160, { mode: 'crop' }],
    [100, 70, { mode: 'pad', height: 128, width: 192 }],
  ];
  for (const [w, h, fit] of cases) {
    const img = picture(w, h, w * h);
    const map: InputMapping = planInput(w, h, fit);
    const want = planesOf(fitImage(img, map));
    const n = 3 * map.netWidth * map.netHeight;
    const fitter = new PlaneFitter(map);
    // RGB rows (decoded MJPEG), at a second-frame offset into a pair buffer.
    const dst = new Uint8Array(2 * n + 5).fill(7);
    fitter.fit(rgbRows(img), dst, n);
    sameBytes(t, dst.subarray(n, 2 * n), want, `${w}x${h} ${map.mode} -> ${map.netWidth}x${map.netHeight} from RGB`);
    t.equal(dst[0], 7, 'nothing written before the offset');
    t.equal(dst[2 * n], 7, 'nothing written after the planes');
    // YUYV with padded lines (bytesperline > 2·width), as some drivers align them.
    const bpl = 2 * w + 32;
    const packed = rgbToYuyv(img);
    const yuyv = new Uint8Array(bpl * h);
    for (let y = 0; y < h; y++) yuyv.set(packed.subarray(y * 2 * w, (y + 1) * 2 * w), y * bpl);
    const rows = yuyvRows(yuyv, w, h, bpl);
    const rgb = toRgb(rows);
    fitter.fit(rows, dst, 0);
    sameBytes(t, dst.subarray(0, n), planesOf(fitImage(rgb, map)), `${w}x${h} ${map.mode} from YUYV`);
  }
  const map = planInput(64, 64, { mode: 'resize' });
  t.throws(() => new PlaneFitter(map).fit(rgbRows(picture(32, 64)), new Uint8Array(3 * 64 * 64), 0), { name: 'UserError', message: /32x64, expected 64x64/ });
  t.throws(() => new PlaneFitter(map).fit(rgbRows(picture(64, 64)), new Uint8Array(100), 0), RangeError);
});

t.test('MJPEG: frames without Huffman tables (UVC) decode like the full JPEG', async (t) => {
  const img = picture(64, 48);
  const full = new Uint8Array(encodeJpeg(img, 85));
  const s = scanMarkers(full);
  t.ok(s && s.hasDht, 'jpeg-js writes the standard tables');
  // Strip every DHT segment, as UVC cameras send them.
  const parts: Uint8Array[] = [];
  let p = 2;
  parts.push(full.subarray(0, 2));
  while (full[p + 1] !== 0xda) {
    const len = (full[p + 2] << 8) | full[p + 3];
    if (full[p + 1] !== 0xc4) parts.push(full.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  parts.push(full.subarray(p));
  const bare = Buffer.concat(parts);
  t.notOk(scanMarkers(bare)!.hasDht, 'stripped');
  t.ok(bare.length < full.length - STANDARD_DHT.length + 200);
  t.equal(withHuffmanTables(full), full, 'a frame with tables is used as is');
  const scratch = new Uint8Array(bare.length + STANDARD_DHT.length + 10);
  const into = withHuffmanTables(bare, scratch);
  t.equal(into.buffer, scratch.buffer, 'tables inserted into the scratch buffer when it is large enough');
  sameBytes(t, into, withHuffmanTables(bare), 'same bytes either way');
  t.not(withHuffmanTables(bare, new Uint8Array(10)).buffer, scratch.buffer, 'a new buffer when it is not');
  // jpeg-js here (libturbojpeg, the default where installed, is compared in turbojpeg.test.ts).
  const js = createMjpegDecoder({ prefer: 'js' });
  t.equal(js.name, 'jpeg-js');
  const ref = decodeJpeg(full);
  sameBytes(t, js.decode(bare).data, ref.data, 'standard tables inserted: same pixels');
  sameBytes(t, js.decode(full).data, ref.data, 'with tables');
  t.throws(() => js.decode(Uint8Array.from([1, 2, 3, 4])), /not a JPEG/);
  t.throws(() => js.decode(full.subarray(0, 300)));
  js.close();
  // decodeMjpeg: the process's decoder, whichever it is.
  t.same([decodeMjpeg(bare).width, decodeMjpeg(bare).height], [64, 48]);
  t.throws(() => decodeMjpeg(Uint8Array.from([1, 2, 3, 4])), /not a JPEG/);
  t.throws(() => decodeMjpeg(full.subarray(0, 300)));
  t.equal(scanMarkers(Uint8Array.from([0xff, 0xd8, 0x00, 0x00])), null);
});

t.test('yuyvFrame: a YUYV buffer as a SourceFrame (bench host --camera-format yuyv)', async (t) => {
  const img = picture(80, 60, 5);
  const f = yuyvFrame(rgbToYuyv(img), 80, 60, 7);
  const map = planInput(80, 60, { mode: 'resize', height: 64, width: 64 });
  const dst = new Uint8Array(3 * 64 * 64);
  f.fitPlanes(map, dst, 0);
  sameBytes(t, dst, planesOf(fitImage(f.rgb(), map)), 'fitPlanes = fitImage(rgb)');
  t.equal(fitterFor(map), fitterFor(map), 'one fitter per mapping');
  f.release();
  t.throws(() => f.rgb(), /frame 7 used after release/);
  const r = runHostBench({ reps: 2, netH: 64, netW: 64, srcW: 80, srcH: 60, format: 'yuyv' });
  t.equal(r.format, 'yuyv');
  t.ok(r.median_ms.fit >= 0);
});

t.test('bench host --camera-format: yuyv frames, a bad value is one line', async (t) => {
  const r = await runCli(['bench', 'host', '--reps', '1', '--frame', '128x64', '--camera-format', 'yuyv', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).format, 'yuyv');
  const bad = await runCli(['bench', 'host', '--camera-format', 'bgr']);
  t.equal(bad.code, 2);
  t.equal(bad.stderr, "flowfpga: unknown --camera-format 'bgr' (hint: use rgb, yuyv or mjpeg)\n");
});
