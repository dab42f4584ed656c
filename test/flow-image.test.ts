import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import {
  createImage, decodeImage, decodeJpeg, decodePng, decodePngGray, decodePpm, encodeJpeg, encodePng, encodePngGray,
  encodePpm, readImage, sniffImageFormat, writePng, writePpm,
} from '../src/flow/image.js';

const { PNG } = pngjs;
const dir = mkdtempSync(join(tmpdir(), 'flow-image-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function gradient(w: number, h: number) {
  const img = createImage(w, h);
  for (let i = 0; i < w * h * 3; i++) img.data[i] = (i * 37 + 11) & 255;
  return img;
}

t.test('PNG round trip (RGB, via a file) and sniffing', async (t) => {
  const img = gradient(7, 5);
  const p = join(dir, 'g.png');
  await writePng(p, img);
  const back = await readImage(p);
  t.same([back.width, back.height], [7, 5]);
  t.same(Buffer.from(back.data), Buffer.from(img.data));
  t.equal(sniffImageFormat(encodePng(img)), 'png');
  const fast = decodePng(encodePng(img, { fast: true }));
  t.same(Buffer.from(fast.data), Buffer.from(img.data), 'one-filter (fast) PNG holds the same pixels');
  t.equal(sniffImageFormat(encodePpm(img)), 'ppm');
  t.equal(sniffImageFormat(Buffer.from('hello')), undefined);
  t.throws(() => decodeImage(Buffer.from('hello'), 'h.bin'), { name: 'UserError', message: /h\.bin: unrecognized image format/ });
});

t.test('PNG variants become 8-bit RGB', async (t) => {
  // grey 8-bit
  const grey = encodePngGray({ width: 3, height: 1, data: Uint8Array.from([0, 128, 255]) });
  t.same([...decodePng(grey).data], [0, 0, 0, 128, 128, 128, 255, 255, 255]);
  t.same([...decodePngGray(grey).data], [0, 128, 255]);
  // RGBA: alpha is dropped, colour kept
  const rgba = PNG.sync.write({ width: 2, height: 1, data: Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]) } as never);
  t.same([...decodePng(rgba).data], [10, 20, 30, 40, 50, 60]);
  // 16-bit RGB: 257*k -> k, 0x8080 -> 128
  const s16 = Buffer.alloc(2 * 3 * 2);
  [257 * 3, 257 * 200, 65535, 0x8080, 0, 257].forEach((v, i) => s16.writeUInt16LE(v, 2 * i));
  const p16 = PNG.sync.write({ width: 2, height: 1, data: s16 } as never, { colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 16 });
  t.equal(p16[24], 16, 'really a 16-bit file');
  t.same([...decodePng(p16).data], [3, 200, 255, 128, 0, 1]);
  t.throws(() => decodePng(p16.subarray(0, 40), 'cut.png'), { name: 'UserError', message: /^cut\.png: truncated PNG \(no IEND chunk; file ends at byte 40\)$/ });
});

t.test('PPM: P6 with comments, P3, P5, P2, maxval scaling', async (t) => {
  const p6 = Buffer.concat([Buffer.from('P6\n# made by hand\n2 1 # width height\n255\n'), Buffer.from([1, 2, 3, 250, 251, 252])]);
  t.same(decodePpm(p6), { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 250, 251, 252]) });
  t.same([...decodePpm(Buffer.from('P3 2 1 255\n 1 2 3\n4 5 6\n')).data], [1, 2, 3, 4, 5, 6]);
  t.same([...decodePpm(Buffer.concat([Buffer.from('P5 2 1 255\n'), Buffer.from([9, 200])])).data], [9, 9, 9, 200, 200, 200]);
  // maxval 15: v*255/15 = 17v
  t.same([...decodePpm(Buffer.from('P2 3 1 15\n0 1 15\n')).data], [0, 0, 0, 17, 17, 17, 255, 255, 255]);
  // a raster byte that is itself whitespace (10) right after the header's single separator
  const ws = Buffer.concat([Buffer.from('P6 1 1 255\n'), Buffer.from([10, 32, 9])]);
  t.same([...decodePpm(ws).data], [10, 32, 9]);
  const img = gradient(4, 3);
  const p = join(dir, 'g.ppm');
  await writePpm(p, img);
  t.same(Buffer.from((await readImage(p)).data), Buffer.from(img.data));
});

t.test('PPM errors', async (t) => {
  t.throws(() => decodePpm(Buffer.from('P6 2 2 65535\n'), 'deep.ppm'), { name: 'UserError', message: /deep\.ppm: 16-bit PPM \(maxval 65535\) is not supported/ });
  t.throws(() => decodePpm(Buffer.concat([Buffer.from('P6 2 2 255\n'), Buffer.alloc(11)]), 'cut.ppm'), { message: /cut\.ppm: truncated PPM \(11 of 12 raster bytes\)/ });
  t.throws(() => decodePpm(Buffer.from('P6 2 x 255\n')), { message: /height is not a number/ });
  t.throws(() => decodePpm(Buffer.from('P6 0 2 255\n')), { message: /bad PPM size 0x2/ });
  t.throws(() => decodePpm(Buffer.from('P4 1 1\n\0')), { message: /not a supported PPM/ });
  t.throws(() => decodePpm(Buffer.from('P3 1 1 255\n1 2')), { message: /truncated PPM \(4 bytes cannot hold 3 samples\)/ });
  t.throws(() => decodePpm(Buffer.from('P3 1 1 255\n1 2      ')), { message: /truncated PPM \(2 of 3 samples\)/ });
  // a corrupt header asking for 30 GB is caught before any allocation
  t.throws(() => decodePpm(Buffer.from('P6 99999 99999 255\n\0\0\0')), { message: /PPM of 99999x99999 pixels exceeds the limit of 16777216 pixels/ });
  t.throws(() => decodePpm(Buffer.from('P6 99999999999 1 255\n')), { message: /width 99999999999 too large/ });
  t.throws(() => decodePpm(Buffer.from('P3 1 1 100\n1 2 101')), { message: /sample 101 exceeds maxval 100/ });
  t.throws(() => decodePpm(Buffer.concat([Buffer.from('P5 1 1 7\n'), Buffer.from([8])])), { message: /sample 8 exceeds maxval 7/ });
  await t.rejects(readImage(join(dir, 'nope.png')), { name: 'UserError', message: /image not found/ });
});

t.test('JPEG decode (jpeg-js) to RGB', async (t) => {
  const img = createImage(16, 16);
  for (let i = 0; i < 256; i++) img.data.set([200, 40, 90], 3 * i);
  const jpg = encodeJpeg(img, 100);
  t.equal(sniffImageFormat(jpg), 'jpeg');
  const p = join(dir, 'flat.jpg');
  writeFileSync(p, jpg);
  const back = await readImage(p);
  t.same([back.width, back.height, back.data.length], [16, 16, 768]);
  let maxErr = 0;
  for (let i = 0; i < 768; i++) maxErr = Math.max(maxErr, Math.abs(back.data[i] - img.data[i]));
  t.ok(maxErr <= 3, `flat colour survives q100 JPEG (max error ${maxErr})`);
  t.throws(() => decodeJpeg(jpg.subarray(0, 20), 'cut.jpg'), { name: 'UserError', message: /^cut\.jpg: truncated JPEG/ });
});
