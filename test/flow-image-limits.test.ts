// Image decoders against hostile and broken files: the pixel limit is applied from the header before allocation,
// image data must be complete, and no decoder's own error text reaches the user (issue 13 items 4, 5, 7).
import t from 'tap';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import pngjs from 'pngjs';
import { crc32 } from '../src/crc32.js';
import { decodeImage, decodeJpeg, decodePng, decodePpm, encodeJpeg, createImage } from '../src/flow/image.js';
import { DEFAULT_MAX_PIXELS, maxPixels } from '../src/flow/limits.js';
import { pngDataBytes } from '../src/flow/png-check.js';
import { decodeKittiFlowPng } from '../src/flow/kitti.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  Buffer.from(data).copy(b, 8);
  b.writeUInt32BE(crc32(b.subarray(8, 8 + data.length), crc32(b.subarray(4, 8))), 8 + data.length);
  return b;
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function png(w: number, h: number, idat: Uint8Array, o: { depth?: number; colorType?: number; interlace?: number } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = o.depth ?? 8;
  ihdr[9] = o.colorType ?? 2;
  ihdr[12] = o.interlace ?? 0;
  return Buffer.concat([SIG, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}
/** w x h RGB rows, filter 0, a gradient so that decoded bytes are checkable. */
function rows(w: number, h: number): Buffer {
  const r = Buffer.alloc((3 * w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < 3 * w; x++) r[y * (3 * w + 1) + 1 + x] = (x + y) & 0xff;
  return r;
}
const heap = (): number => process.memoryUsage().arrayBuffers;

t.test('a 69-byte PNG claiming 30000x30000 (and one claiming 20000²) is rejected from its header', async (t) => {
  for (const side of [30000, 20000]) {
    const bomb = png(side, side, zlib.deflateSync(Buffer.alloc(4)));
    t.equal(bomb.length, 69, 'the 69-byte file of the report');
    const before = heap();
    t.throws(() => decodeImage(bomb, 'bomb.png'), {
      name: 'UserError',
      message: `bomb.png: PNG of ${side}x${side} pixels exceeds the limit of ${DEFAULT_MAX_PIXELS} pixels`,
    });
    t.ok(heap() - before < 16 << 20, 'nothing image-sized was allocated');
  }
});

t.test('a PNG with too little image data is rejected, not padded with memory contents', async (t) => {
  const w = 64, h = 64;
  const full = rows(w, h);
  t.same(decodePng(png(w, h, zlib.deflateSync(full))).data.subarray(0, 6), [0, 1, 2, 3, 4, 5], 'the complete file decodes');
  const oneRow = png(w, h, zlib.deflateSync(full.subarray(0, 3 * w + 1)));
  // pngjs alone reads uninitialised memory for the missing rows here: it returns a whole image or fails on a garbage
  // filter byte, depending on what that memory held — so the check must come first.
  t.throws(() => decodePng(oneRow, 'short.png'), { name: 'UserError', message: `short.png: truncated PNG (image data holds 193 of the 12352 bytes 64x64 needs)` });
  t.throws(() => decodePng(png(w, h, zlib.deflateSync(full.subarray(0, full.length - 1))), 'short.png'), { message: /holds 12351 of the 12352 bytes/ });
  // A zlib stream cut off (no end block) and one that yields more than the image needs.
  const z = zlib.deflateSync(full);
  t.throws(() => decodePng(png(w, h, z.subarray(0, z.length >> 1)), 'cut.png'), { message: 'cut.png: truncated PNG (the image data stops before its end)' });
  t.throws(() => decodePng(png(w, h, zlib.deflateSync(Buffer.concat([full, full]))), 'long.png'), { message: 'long.png: corrupt PNG (more image data than 64x64 needs)' });
  // A deflate bomb inside a small image: inflation stops at the image's size.
  const zbomb = png(16, 16, zlib.deflateSync(Buffer.alloc(256 << 20)));
  t.ok(zbomb.length < 300_000, `a ${zbomb.length}-byte file inflating to 256 MiB`);
  const before = heap();
  t.throws(() => decodePng(zbomb, 'zbomb.png'), { message: /more image data than 16x16 needs/ });
  t.ok(heap() - before < 64 << 20, 'the bomb was not inflated');
  // Interlaced sizes follow the Adam7 passes.
  t.equal(pngDataBytes({ width: 1, height: 1, depth: 8, colorType: 2, interlace: 1 }), 4);
  // 9x9 at 1 bit: passes of 2x2, 1x2, 3x1, 2x3, 5x2, 4x5, 9x4 pixels; rows of 1 filter byte + 1 (pass 7: 2) bytes.
  t.equal(pngDataBytes({ width: 9, height: 9, depth: 1, colorType: 0, interlace: 1 }), 2 * 2 + 2 * 2 + 1 * 2 + 3 * 2 + 2 * 2 + 5 * 2 + 4 * 3);
  const p = new pngjs.PNG({ width: 9, height: 7 });
  p.data.fill(200);
  const il = pngjs.PNG.sync.write(p);
  t.equal(decodePng(il).width, 9, 'a real file round-trips through the check');
});

t.test('structural damage and decoder failures are one line naming the file, never the decoder text', async (t) => {
  const good = png(8, 8, zlib.deflateSync(rows(8, 8)));
  const flipped = Buffer.from(good);
  flipped[good.length - 20] ^= 0xff; // inside IDAT
  t.throws(() => decodePng(flipped, 'crc.png'), { message: /^crc\.png: corrupt PNG \(IDAT chunk at byte 33 fails its CRC\)$/ });
  const badFilter = rows(8, 8);
  badFilter[0] = 9;
  t.throws(() => decodePng(png(8, 8, zlib.deflateSync(badFilter)), 'f.png'), { name: 'UserError', message: 'f.png: corrupt PNG (its image data does not decode)' });
  t.throws(() => decodePng(png(8, 8, zlib.deflateSync(rows(8, 8)), { depth: 3 }), 'd.png'), { message: 'd.png: corrupt PNG (bit depth 3 with colour type 2)' });
  t.throws(() => decodePng(png(0, 8, new Uint8Array(0)), 'z.png'), { message: 'z.png: corrupt PNG (size 0x8)' });
  t.throws(() => decodePng(Buffer.concat([SIG, chunk('IEND', new Uint8Array(0))]), 'e.png'), { message: /first chunk is not a 13-byte IHDR/ });
  const noIdat = Buffer.concat([good.subarray(0, 33), chunk('IEND', new Uint8Array(0))]);
  t.throws(() => decodePng(noIdat, 'n.png'), { message: 'n.png: PNG has no image data (no IDAT chunk)' });
  const huge = Buffer.from(good);
  huge.writeUInt32BE(0xfffffff0, 33);
  t.throws(() => decodePng(huge, 'len.png'), { message: /^len\.png: truncated PNG \(IDAT chunk at byte 33 runs past the end of the file\)$/ });
  t.throws(() => decodeKittiFlowPng(png(30000, 30000, zlib.deflateSync(Buffer.alloc(4))), 'k.png'), { message: /k\.png: PNG of 30000x30000 pixels exceeds the limit/ });
  const jpg = encodeJpeg(createImage(16, 16));
  const junk = Buffer.from(jpg);
  for (let i = jpg.length - 40; i < jpg.length - 2; i++) junk[i] = 0xff;
  const e = (() => { try { decodeImage(junk, 'j.jpg'); } catch (x) { return x as Error; } })();
  if (e) t.match(e.message, /^j\.jpg: corrupt JPEG \(its data does not decode\)$/, 'jpeg-js text replaced');
  else t.pass('jpeg-js tolerated the damaged scan (tolerantDecoding)');
});

t.test('a JPEG header claiming 10000x10000 is rejected before jpeg-js runs', async (t) => {
  const sof = (w: number, h: number, m = 0xc0) => Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, m, 0x00, 0x11, 0x08, h >> 8, h & 0xff, w >> 8, w & 0xff, 0x03,
    0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]);
  const before = heap();
  t.throws(() => decodeImage(sof(10000, 10000), 'big.jpg'), { name: 'UserError', message: 'big.jpg: JPEG of 10000x10000 pixels exceeds the limit of 16777216 pixels' });
  t.ok(heap() - before < 16 << 20, 'nothing image-sized was allocated');
  t.throws(() => decodeJpeg(sof(10000, 10000, 0xc2), 'p.jpg'), { message: /JPEG of 10000x10000 pixels exceeds/ });
  t.throws(() => decodeJpeg(sof(64, 64, 0xc3), 'l.jpg'), { message: 'l.jpg: lossless JPEG is not supported' });
  t.throws(() => decodeJpeg(sof(64, 64, 0xc9), 'a.jpg'), { message: 'a.jpg: arithmetic-coded JPEG is not supported' });
  t.throws(() => decodeJpeg(sof(64, 0), 'dnl.jpg'), { message: /dnl\.jpg: JPEG without a size in its frame header \(64x0\)/ });
  t.throws(() => decodeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]), 's.jpg'), { message: 's.jpg: corrupt JPEG (scan data before a frame header)' });
  t.throws(() => decodeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x40, 0]), 'c.jpg'), { message: /^c\.jpg: truncated JPEG \(marker 0xFFE0 at byte 2 runs past the end\)$/ });
  const whole = encodeJpeg(createImage(40, 24));
  const ok = decodeJpeg(whole, 'ok.jpg');
  t.same([ok.width, ok.height], [40, 24]);
  t.equal(decodeJpeg(Buffer.concat([whole, Buffer.alloc(7)]), 'pad.jpg').width, 40, 'padding after EOI is fine');
  // Cut inside the scan: named as truncated (jpeg-js fails on some cuts with its own text and decodes others to grey).
  const photo = encodeJpeg(decodePpm(readFileSync(new URL('../samples/00001_img1.ppm', import.meta.url))));
  const cut = photo.subarray(0, Math.floor(photo.length * 0.6));
  t.throws(() => decodeJpeg(cut, 'cut.jpg'), { message: 'cut.jpg: truncated JPEG (no end-of-image marker: the file was cut short)' });
});

t.test('the limit: FLOWFPGA_MAX_PIXELS or an option overrides it; PPM too', async (t) => {
  t.equal(maxPixels({}), 4096 * 4096);
  t.equal(maxPixels({ FLOWFPGA_MAX_PIXELS: '100000000' }), 1e8);
  for (const bad of ['0', '-5', 'lots', '1e9', '12.5']) {
    t.throws(() => maxPixels({ FLOWFPGA_MAX_PIXELS: bad }), { name: 'UserError', message: /^FLOWFPGA_MAX_PIXELS=".*" is not a positive whole number of pixels$/ }, bad);
  }
  const small = png(64, 64, zlib.deflateSync(rows(64, 64)));
  t.throws(() => decodeImage(small, 's.png', { maxPixels: 4095 }), { message: 's.png: PNG of 64x64 pixels exceeds the limit of 4095 pixels' });
  t.equal(decodeImage(small, 's.png', { maxPixels: 4096 }).width, 64);
  const prev = process.env.FLOWFPGA_MAX_PIXELS;
  process.env.FLOWFPGA_MAX_PIXELS = '1000';
  try {
    t.throws(() => decodeImage(small, 's.png'), { message: /exceeds the limit of 1000 pixels/ });
    t.throws(() => decodePpm(Buffer.concat([Buffer.from('P6 40 40 255\n'), Buffer.alloc(4800)]), 'p.ppm'), { message: 'p.ppm: PPM of 40x40 pixels exceeds the limit of 1000 pixels' });
  } finally {
    if (prev === undefined) delete process.env.FLOWFPGA_MAX_PIXELS;
    else process.env.FLOWFPGA_MAX_PIXELS = prev;
  }
  t.equal(decodeImage(small, 's.png').width, 64);
});

t.test('trailing data after a PPM raster is rejected (a header that shrinks the image)', async (t) => {
  const raster = Buffer.alloc(4 * 4 * 3, 7);
  t.equal(decodePpm(Buffer.concat([Buffer.from('P6 4 4 255\n'), raster])).width, 4);
  t.throws(() => decodePpm(Buffer.concat([Buffer.from('P6 4 3 255\n'), raster]), 'shrunk.ppm'), {
    name: 'UserError', message: 'shrunk.ppm: 12 unexpected bytes after the 4x3 PPM data',
  });
  t.throws(() => decodePpm(Buffer.concat([Buffer.from('P5 2 2 255\n'), Buffer.alloc(5)]), 'g.pgm'), { message: 'g.pgm: 1 unexpected byte after the 2x2 PPM data' });
  t.equal(decodePpm(Buffer.from('P3 1 1 255\n1 2 3\n# done\n  ')).data[2], 3, 'ASCII: trailing whitespace and comments are fine');
  t.throws(() => decodePpm(Buffer.from('P3 1 1 255\n1 2 3 4\n'), 'a.ppm'), { message: 'a.ppm: 2 unexpected bytes after the 1x1 PPM data' });
});
