// MJPEG through libturbojpeg (src/camera/turbojpeg.ts) and the choice of decoder (src/camera/mjpeg.ts): its pixels
// against jpeg-js' on the bundled sequence and on produced frames, UVC frames without Huffman tables, the reused
// output buffer and handle, corrupt frames as Errors (the decoder goes on after them), FLOWFPGA_JPEG=js, and the silent
// fallback to jpeg-js (with its one line) when the library does not load — an injected path, so that part runs
// everywhere. Tests that need the real library skip where it is absent (the ARM lanes' qemu sysroots have none).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { loadTurboJpeg, TurboJpegDecoder, TURBOJPEG_LIB, type TurboJpegLib } from '../../src/camera/turbojpeg.js';
import { createMjpegDecoder, decodeMjpeg, mjpegDecoderInfo, mjpegDecoderName, mjpegDecoderNote, scanMarkers } from '../../src/camera/mjpeg.js';
import { defaultSequenceDir, openCameraSource } from '../../src/camera/index.js';
import { decodeJpeg, encodeJpeg, readImage, type RgbImage } from '../../src/flow/image.js';
import { resizeImage } from '../../src/flow/netinput.js';
import { packageRoot } from '../../src/paths.js';
import { sameBytes } from '../helpers/bytes.js';

let missing: string | undefined;
try {
  loadTurboJpeg();
} catch (e) {
  missing = (e as Error).message;
}
const needLib = missing === undefined
  ? {}
  : { skip: process.env.FLOWFPGA_ARM_LANE ? `ARM lane ${process.env.FLOWFPGA_ARM_LANE}: no libturbojpeg in the qemu sysroot (${missing})` : `libturbojpeg0 is not installed (${missing})` };

/** Runs f with FLOWFPGA_JPEG set to `value` (undefined: unset), restoring it afterwards. */
async function withJpegEnv<T>(value: string | undefined, f: () => T | Promise<T>): Promise<T> {
  const old = process.env.FLOWFPGA_JPEG;
  if (value === undefined) delete process.env.FLOWFPGA_JPEG;
  else process.env.FLOWFPGA_JPEG = value;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env.FLOWFPGA_JPEG;
    else process.env.FLOWFPGA_JPEG = old;
  }
}

const seqDir = defaultSequenceDir();
const sequence = fs.readdirSync(seqDir).filter((f) => f.endsWith('.jpg')).sort().map((f) => ({ name: f, jpeg: new Uint8Array(fs.readFileSync(path.join(seqDir, f))) }));

/** Real pictures (samples/*_img1) at 640x480 and JPEG at q85 with jpeg-js' encoder, as the bench makes them. */
async function produced(): Promise<{ name: string; img: RgbImage; jpeg: Uint8Array }[]> {
  const out = [];
  for (const s of ['00001_img1', '00002_img1', '00003_img1']) {
    const img = resizeImage(await readImage(path.join(packageRoot(), 'samples', `${s}.ppm`)), 640, 480);
    out.push({ name: `${s} 640x480 q85`, img, jpeg: new Uint8Array(encodeJpeg(img, 85)) });
  }
  return out;
}

/** Max and mean absolute difference of two equal-length byte arrays. */
function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** The frame without its DHT segments, as UVC cameras send it. */
function stripDht(full: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [full.subarray(0, 2)];
  let p = 2;
  while (full[p + 1] !== 0xda) {
    const len = (full[p + 2] << 8) | full[p + 3];
    if (full[p + 1] !== 0xc4) parts.push(full.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  parts.push(full.subarray(p));
  return new Uint8Array(Buffer.concat(parts));
}

// 4:4:4 frames (jpeg-js' encoder). Measured (libjpeg-turbo 2.1.5, x86-64): max 3 levels on the frames here (4 on the
// noise texture of bench host), mean 0.50–0.57. Both IDCTs are accurate
// integer ones; the mean is mostly jpeg-js' colour conversion truncating where libjpeg rounds (libturbojpeg − jpeg-js
// averages +0.36 to +0.49), so libturbojpeg is the closer of the two to the encoded picture.
const MAX_DIFF = 4;
const MEAN_DIFF = 0.65;

t.test('libturbojpeg vs jpeg-js: the bundled sequence and produced frames agree within the IDCTs\' difference', needLib, async (t) => {
  const tj = await withJpegEnv(undefined, () => createMjpegDecoder());
  const js = createMjpegDecoder({ prefer: 'js' });
  t.equal(tj.name, 'libturbojpeg');
  t.equal(js.name, 'jpeg-js');
  t.equal(sequence.length, 20);
  for (const f of sequence) {
    const a = tj.decode(f.jpeg);
    const b = js.decode(f.jpeg);
    t.same([a.width, a.height], [b.width, b.height]);
    const d = diff(a.data, b.data);
    t.ok(d.max <= MAX_DIFF && d.mean < MEAN_DIFF, `${f.name}: max ${d.max}, mean ${d.mean.toFixed(3)}`);
  }
  for (const f of await produced()) {
    const a = tj.decode(f.jpeg);
    const b = js.decode(f.jpeg);
    const d = diff(a.data, b.data);
    t.ok(d.max <= MAX_DIFF && d.mean < MEAN_DIFF, `${f.name}: max ${d.max}, mean ${d.mean.toFixed(3)}`);
    const ea = diff(a.data, f.img.data).mean;
    const eb = diff(b.data, f.img.data).mean;
    t.ok(ea <= eb, `${f.name}: libturbojpeg ${ea.toFixed(3)} from the picture, jpeg-js ${eb.toFixed(3)}`);
  }
  tj.close();
  tj.close();
  t.throws(() => tj.decode(sequence[0].jpeg), /used after close/);
});

t.test('a UVC frame without Huffman tables decodes like the full frame', needLib, async (t) => {
  const [f] = await produced();
  const bare = stripDht(f.jpeg);
  t.notOk(scanMarkers(bare)!.hasDht, 'stripped');
  const tj = new TurboJpegDecoder();
  const dec = await withJpegEnv(undefined, () => createMjpegDecoder({ prefer: 'auto', library: TURBOJPEG_LIB }));
  t.equal(dec.name, 'libturbojpeg');
  const ref = tj.decode(f.jpeg);
  // Twice: the tables are inserted into the decoder's reused scratch buffer.
  sameBytes(t, dec.decode(bare).data, ref.data, 'standard tables inserted: same pixels');
  sameBytes(t, dec.decode(bare).data, ref.data, 'again');
  sameBytes(t, dec.decode(f.jpeg).data, ref.data, 'with tables');
  const d = diff(dec.decode(bare).data, decodeJpeg(f.jpeg).data);
  t.ok(d.max <= MAX_DIFF && d.mean < MEAN_DIFF, `vs jpeg-js: max ${d.max}, mean ${d.mean.toFixed(3)}`);
  dec.close();
  tj.close();
});

// A frame as a UVC camera sends it: 4:2:2 (luma 2x1, chroma 1x1), the standard Huffman tables left out. Made once from
// samples/00001_img1.ppm with libturbojpeg's own compressor (tjCompress2, TJSAMP_422, quality 85), DHT segments removed.
const UVC_422 = new Uint8Array(fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'uvc-422-nodht.jpg')));

t.test('a 4:2:2 UVC frame without tables: both decoders, chroma upsampling apart', async (t) => {
  const s = scanMarkers(UVC_422)!;
  t.notOk(s.hasDht, 'no DHT');
  const pic = await readImage(path.join(packageRoot(), 'samples', '00001_img1.ppm'));
  const js = createMjpegDecoder({ prefer: 'js' }).decode(UVC_422);
  t.same([js.width, js.height], [256, 192]);
  t.ok(diff(js.data, pic.data).mean < 2.5, 'jpeg-js: the picture');
  if (missing !== undefined) return;
  const dec = await withJpegEnv(undefined, () => createMjpegDecoder());
  const tj = dec.decode(UVC_422);
  const d = diff(tj.data, js.data);
  let over = 0;
  for (let i = 0; i < tj.data.length; i++) if (Math.abs(tj.data[i] - js.data[i]) > MAX_DIFF) over++;
  // Measured: mean 0.95, 2.6 % of the samples more than 4 apart, at most 51 — libjpeg's smooth ("fancy") chroma
  // upsampling against jpeg-js' replication, at sharp colour edges. libturbojpeg is the closer to the picture.
  t.ok(d.mean < 1.2 && over / tj.data.length < 0.04, `mean ${d.mean.toFixed(3)}, ${((100 * over) / tj.data.length).toFixed(2)} % over ${MAX_DIFF}, max ${d.max}`);
  t.ok(diff(tj.data, pic.data).mean <= diff(js.data, pic.data).mean, 'libturbojpeg the closer to the picture');
  dec.close();
});

t.test('into a reused output buffer, with one handle', needLib, async (t) => {
  const tj = new TurboJpegDecoder();
  const out = new Uint8Array(224 * 160 * 3);
  const a = tj.decode(sequence[0].jpeg, out);
  t.equal(a.data, out, 'the output buffer itself');
  const b = tj.decode(sequence[1].jpeg, out);
  t.equal(b.data, out, 'again');
  sameBytes(t, out, tj.decode(sequence[1].jpeg).data, 'the same pixels as into a new buffer');
  const big = new Uint8Array(out.length + 30);
  const c = tj.decode(sequence[2].jpeg, big);
  t.equal(c.data.buffer, big.buffer, 'a larger buffer: its front');
  t.equal(c.data.length, out.length);
  t.throws(() => tj.decode(sequence[0].jpeg, new Uint8Array(100)), { name: 'Error', message: 'JPEG frame of 224x160 does not fit a 100-byte buffer' });
  t.equal(tj.decode(sequence[3].jpeg, out).width, 224, 'still decoding');
  t.notOk(tj.closed);
  tj.close();
  t.ok(tj.closed);
  // decodeMjpeg takes the same buffer (jpeg-js, forced or as the fallback, allocates its own).
  const d = decodeMjpeg(sequence[4].jpeg, out);
  if (mjpegDecoderName() === 'libturbojpeg') t.equal(d.data, out);
  t.same([d.width, d.height], [224, 160]);
});

t.test('corrupt frames throw Error and the decoder goes on', needLib, async (t) => {
  const dec = await withJpegEnv(undefined, () => createMjpegDecoder());
  t.equal(dec.name, 'libturbojpeg');
  const [f] = await produced();
  const full = f.jpeg;
  const sos = scanMarkers(full)!.sos;
  let sof = 2;
  while (full[sof + 1] !== 0xc0) sof += 2 + ((full[sof + 2] << 8) | full[sof + 3]);
  const patched = (at: number, bytes: number[]): Uint8Array => {
    const c = full.slice();
    c.set(bytes, at);
    return c;
  };
  const bad: [string, Uint8Array, RegExp][] = [
    ['not JPEG', Uint8Array.from([1, 2, 3, 4]), /^not a JPEG frame/],
    ['cut before the scan', full.slice(0, sos - 10), /^not a JPEG frame/],
    ['cut inside the scan', full.slice(0, Math.floor(full.length * 0.6)), /^corrupt JPEG \(Premature end of JPEG file\)$/],
    ['cut inside the scan header', full.slice(0, sos + 6), /^corrupt JPEG \(.+\)$/],
    ['a marker inside the scan', patched(sos + 1000, [0xff, 0xd3]), /^corrupt JPEG \(Corrupt JPEG data: premature end of data segment\)$/],
    ['a frame header of 0x0', patched(sof + 5, [0, 0, 0, 0]), /^corrupt JPEG \(.+\)$/],
    ['a frame header of 65535x65535', patched(sof + 5, [0xff, 0xff, 0xff, 0xff]), /^corrupt JPEG \(.+\)$/],
    ['no end of image', full.slice(0, full.length - 2), /^corrupt JPEG \(Premature end of JPEG file\)$/],
  ];
  const ok = dec.decode(full);
  for (const [what, buf, re] of bad) {
    t.throws(() => dec.decode(buf), re, `${dec.name}: ${what}`);
    try {
      dec.decode(buf);
    } catch (e) {
      t.equal((e as Error).name, 'Error', `${what}: a plain Error (the caller drops the frame)`);
    }
    // libjpeg-turbo 2.1.5 leaves a handle unusable after a header error: the decoder replaces it.
    sameBytes(t, dec.decode(full).data, ok.data, `${what}: the next frame decodes`);
  }
  dec.close();
});

t.test('an MJPEG camera with libturbojpeg: frames decode into per-buffer memory and stay valid while held', needLib, async (t) => {
  const notes: string[] = [];
  const src = await withJpegEnv(undefined, () => openCameraSource('sim:', { format: 'mjpeg', sim: { fps: 0 }, buffers: 3, onNote: (l) => notes.push(l) }));
  t.match(src.description, /^sim:: MJPG 224x160 \(asked 640x480\) via libturbojpeg, 3 buffers/);
  t.same(notes, [], 'no line: the fast decoder is in use');
  const ref = new TurboJpegDecoder();
  const want = (i: number): Uint8Array => ref.decode(sequence[i].jpeg).data;
  const held = [(await src.next())!, (await src.next())!];
  const first = held[0].rgb();
  held[0].release();
  const third = (await src.next())!;
  const fourth = (await src.next())!;
  sameBytes(t, held[1].rgb().data, want(1), 'a held frame keeps its pixels while others decode');
  sameBytes(t, first.data, want(0), 'rgb() is a copy');
  sameBytes(t, third.rgb().data, want(2));
  sameBytes(t, fourth.rgb().data, want(3), 'the first frame\'s buffer, decoded again');
  held[1].release();
  third.release();
  fourth.release();
  await src.close();
  ref.close();
});

t.test('FLOWFPGA_JPEG=js forces jpeg-js', async (t) => {
  await withJpegEnv('js', async () => {
    t.equal(mjpegDecoderName(), 'jpeg-js');
    t.same(mjpegDecoderInfo(), { name: 'jpeg-js', reason: 'FLOWFPGA_JPEG=js', fallback: false });
    t.equal(mjpegDecoderNote(), undefined, 'asked for: no line');
    const dec = createMjpegDecoder();
    t.equal(dec.name, 'jpeg-js');
    sameBytes(t, dec.decode(sequence[0].jpeg).data, decodeJpeg(sequence[0].jpeg).data, 'jpeg-js\' pixels');
    dec.close();
    const notes: string[] = [];
    const src = await openCameraSource('sim:', { format: 'mjpeg', sim: { fps: 0 }, onNote: (l) => notes.push(l) });
    t.match(src.description, /MJPG 224x160 \(asked 640x480\) via jpeg-js, /);
    const f = (await src.next())!;
    sameBytes(t, f.rgb().data, decodeJpeg(sequence[0].jpeg).data);
    f.release();
    await src.close();
    t.same(notes, []);
  });
  await withJpegEnv(undefined, () => t.equal(mjpegDecoderName(), missing === undefined ? 'libturbojpeg' : 'jpeg-js', 'unset: the library decides'));
});

t.test('library not found: jpeg-js, silently but for one line', async (t) => {
  const library = '/nonexistent/flowfpga/libturbojpeg.so.0';
  t.throws(() => loadTurboJpeg(library), { message: new RegExp(`^cannot load ${library}: `) });
  let again: unknown;
  try {
    loadTurboJpeg(library);
  } catch (e) {
    again = e;
  }
  t.throws(() => loadTurboJpeg(library), again as Error, 'tried once: the same Error from the cache');
  await withJpegEnv(undefined, async () => {
    const info = mjpegDecoderInfo({ library });
    t.equal(info.name, 'jpeg-js');
    t.ok(info.fallback);
    t.equal(mjpegDecoderName({ library }), 'jpeg-js');
    const note = mjpegDecoderNote({ library })!;
    t.match(note, /^MJPEG frames are decoded with jpeg-js, .* slower than libturbojpeg \(cannot load \/nonexistent\/flowfpga\/libturbojpeg\.so\.0: .*\); install it with apt-get install libturbojpeg0$/);
    t.notMatch(note, /\n/, 'one line');
    const dec = createMjpegDecoder({ library });
    t.equal(dec.name, 'jpeg-js');
    sameBytes(t, dec.decode(sequence[0].jpeg).data, decodeJpeg(sequence[0].jpeg).data);
    t.throws(() => dec.decode(sequence[0].jpeg.subarray(0, 300)), Error);
    // The camera: the line once, through onNote; frames decode with jpeg-js.
    const notes: string[] = [];
    const src = await openCameraSource('sim:', { format: 'mjpeg', sim: { fps: 0 }, mjpeg: { library }, onNote: (l) => notes.push(l) });
    t.match(src.description, /MJPG 224x160 \(asked 640x480\) via jpeg-js, /);
    t.same(notes, [note]);
    for (let i = 0; i < 3; i++) {
      const f = (await src.next())!;
      sameBytes(t, f.rgb().data, decodeJpeg(sequence[i].jpeg).data, `frame ${i}`);
      f.release();
    }
    await src.close();
    // A YUYV camera decodes nothing: no line.
    const yuyv = await openCameraSource('sim:', { sim: { fps: 0 }, mjpeg: { library }, onNote: (l) => notes.push(l) });
    t.match(yuyv.description, /YUYV 224x160 \(asked 640x480\), /);
    await yuyv.close();
    t.equal(notes.length, 1);
  });
  // A library that loads but is no TurboJPEG 2.x (libjpeg-turbo 1.5 lacks tjGetErrorStr2; here: libc).
  t.match(mjpegDecoderInfo({ library: 'libc.so.6' }), { name: 'jpeg-js', fallback: true, reason: /^libc\.so\.6 is not a usable TurboJPEG 2\.x library: / });
  t.same(mjpegDecoderInfo({ prefer: 'js' }), process.env.FLOWFPGA_JPEG === 'js'
    ? { name: 'jpeg-js', reason: 'FLOWFPGA_JPEG=js', fallback: false }
    : { name: 'jpeg-js', reason: 'asked for', fallback: false });
});

t.test('every failure path of the binding, with an injected library', async (t) => {
  const calls: string[] = [];
  let handles = 0;
  const fake = (o: { init?: boolean; header?: number; size?: [number, number]; decompress?: number } = {}): TurboJpegLib => ({
    tjInitDecompress: () => (o.init === false ? null : BigInt(0x1000 + ++handles)),
    tjDecompressHeader3: (h, _j, _n, w, hh) => {
      calls.push(`header ${h}`);
      [w[0], hh[0]] = o.size ?? [4, 2];
      return o.header ?? 0;
    },
    tjDecompress2: (h, _j, _n, dst, width, pitch, height, pf, flags) => {
      calls.push(`decompress ${h} ${width} ${pitch} ${height} ${pf} ${flags}`);
      dst.fill(7);
      return o.decompress ?? 0;
    },
    tjGetErrorStr2: (h) => (h === null ? 'no memory' : 'Bogus marker length'),
    tjDestroy: (h) => (calls.push(`destroy ${h}`), 0),
  });
  t.throws(() => new TurboJpegDecoder(fake({ init: false })), { message: 'tjInitDecompress failed: no memory' });
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]);
  const ok = new TurboJpegDecoder(fake());
  const img = ok.decode(jpeg);
  t.same([img.width, img.height, img.data.length, img.data[23]], [4, 2, 24, 7]);
  t.same(calls.splice(0), ['header 4097', 'decompress 4097 4 12 2 0 8192'], 'TJPF_RGB, TJFLAG_STOPONWARNING only (accurate IDCT, smooth upsampling)');
  ok.close();
  ok.close();
  t.same(calls.splice(0), ['destroy 4097'], 'destroyed once');
  handles = 0;
  const h = new TurboJpegDecoder(fake({ header: -1 }));
  t.throws(() => h.decode(jpeg), { name: 'Error', message: 'corrupt JPEG (Bogus marker length)' });
  t.same(calls.splice(0), ['header 4097', 'destroy 4097'], 'the failed handle is replaced');
  t.throws(() => h.decode(jpeg), { message: 'corrupt JPEG (Bogus marker length)' });
  t.same(calls.splice(0), ['header 4098', 'destroy 4098'], 'by a fresh one');
  t.throws(() => new TurboJpegDecoder(fake({ size: [0, 0] })).decode(jpeg), { message: 'corrupt JPEG (no frame header)' });
  t.throws(() => new TurboJpegDecoder(fake({ size: [20000, 20000] })).decode(jpeg), { message: 'JPEG frame of 20000x20000 is too large to decode' });
  calls.length = 0;
  handles = 0;
  const d = new TurboJpegDecoder(fake({ decompress: -1 }));
  t.throws(() => d.decode(jpeg, new Uint8Array(24)), { message: 'corrupt JPEG (Bogus marker length)' });
  t.same(calls.splice(0), ['header 4097', 'decompress 4097 4 12 2 0 8192', 'destroy 4097']);
  t.notOk(d.closed, 'a fresh handle');
  // No memory for the fresh handle: the decoder is closed and says so.
  const lib = fake({ decompress: -1 });
  const e = new TurboJpegDecoder(lib);
  lib.tjInitDecompress = () => null;
  t.throws(() => e.decode(jpeg), { message: 'corrupt JPEG (Bogus marker length)' });
  t.ok(e.closed);
  t.throws(() => e.decode(jpeg), { message: 'TurboJPEG decoder used after close()' });
});
