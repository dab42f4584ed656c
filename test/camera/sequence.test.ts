// The bundled sequence is exactly what makeSequence() makes from the samples (so its motion is known), and sequence
// folders load or fail with one line; corrupt MJPEG frames from a camera are dropped, not fatal.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeMjpeg, defaultSequenceDir, loadSequence, openCameraSource, SimCamera } from '../../src/camera/index.js';
import { makeSequence } from '../../src/camera/sim/sequence.js';
import { encodePng, readImage, writePpm, type RgbImage } from '../../src/flow/image.js';
import { packageRoot } from '../../src/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfpga-seq-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('samples/sequence is makeSequence(samples 00001, 00002) byte for byte', async (t) => {
  const made = makeSequence({
    background: await readImage(path.join(packageRoot(), 'samples', '00001_img1.ppm')),
    foreground: await readImage(path.join(packageRoot(), 'samples', '00002_img1.ppm')),
  });
  const seqDir = defaultSequenceDir();
  t.same(JSON.parse(fs.readFileSync(path.join(seqDir, 'sequence.json'), 'utf8')), made.info);
  for (const [f, b] of made.files) t.ok(fs.readFileSync(path.join(seqDir, f)).equals(b), f);
  // The known motion: the background of frame 1 is frame 0's shifted by (0.75, 0.5) — check one integer step
  // (frames 0 and 4 differ by exactly (3, 2) px) far from the foreground patch.
  const [f0, f4] = [made.frames[0], made.frames[4]];
  for (const [x, y] of [[10, 100], [50, 130], [200, 150]]) {
    for (let c = 0; c < 3; c++) t.equal(f4.data[((y + 2) * 224 + x + 3) * 3 + c], f0.data[(y * 224 + x) * 3 + c]);
  }
});

const frame = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });

t.test('a folder of images without sequence.json; load errors are one line', async (t) => {
  const d = path.join(dir, 'plain');
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'b.png'), encodePng(frame(8, 4, 50)));
  await writePpm(path.join(d, 'a.ppm'), frame(8, 4, 200));
  fs.writeFileSync(path.join(d, 'notes.txt'), 'not a frame');
  const s = loadSequence(d);
  t.same([s.width, s.height, s.fps, s.jpeg.length, s.info.frames], [8, 4, 30, 2, ['a.ppm', 'b.png']]);
  t.equal(s.yuyv(0)[0], ((66 * 200 + 129 * 200 + 25 * 200 + 128) >> 8) + 16, 'YUYV of frame 0');
  t.equal(s.yuyv(0), s.yuyv(0), 'converted once');
  const one = path.join(dir, 'one');
  fs.mkdirSync(one);
  await writePpm(path.join(one, 'a.ppm'), frame(8, 4, 1));
  t.throws(() => loadSequence(one), { name: 'UserError', message: /has 1 frame\(s\)/ });
  await writePpm(path.join(one, 'b.ppm'), frame(6, 4, 1));
  t.throws(() => loadSequence(one), { name: 'UserError', message: /b\.ppm is 6x4, the first frame 8x4/ });
  const odd = path.join(dir, 'odd');
  fs.mkdirSync(odd);
  await writePpm(path.join(odd, 'a.ppm'), frame(7, 4, 1));
  await writePpm(path.join(odd, 'b.ppm'), frame(7, 4, 1));
  t.throws(() => loadSequence(odd), { name: 'UserError', message: /7 pixels wide/ });
  const bad = path.join(dir, 'badjson');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'sequence.json'), '{');
  t.throws(() => loadSequence(bad), { name: 'UserError', message: /sequence\.json: / });
  fs.writeFileSync(path.join(bad, 'sequence.json'), JSON.stringify({ frames: ['x.jpg', 'y.jpg'] }));
  t.throws(() => loadSequence(bad), { name: 'UserError', message: /cannot read x\.jpg \(ENOENT\)/ });
});

t.test('MJPEG camera: a corrupt frame is dropped and counted, the stream goes on', async (t) => {
  const base = loadSequence(defaultSequenceDir());
  const jpeg = base.jpeg.slice(0, 4);
  jpeg[1] = jpeg[1].subarray(0, 200); // truncated in transfer
  jpeg[2] = Uint8Array.from([1, 2, 3, 4]); // not JPEG at all
  const cam = new SimCamera({ path: 'cam', fps: 0, formats: ['mjpeg'], sequence: { ...base, jpeg } });
  const src = await openCameraSource('cam', { sys: cam.sys });
  const a = (await src.next())!;
  const b = (await src.next())!;
  t.same([a.index, b.index], [0, 1], 'frames are numbered as delivered');
  t.equal((src as unknown as { dropped: number }).dropped, 2);
  // Decoded as this machine decodes MJPEG (libturbojpeg where installed, else jpeg-js).
  t.same(b.rgb().data.subarray(0, 30), decodeMjpeg(base.jpeg[3]).data.subarray(0, 30));
  a.release();
  b.release();
  await src.close();
  t.equal(cam.state().mapped, 0);
});
