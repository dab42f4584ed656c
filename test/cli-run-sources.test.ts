// Issue 10 item 3: run over a folder of frames, a video file (ffmpeg) and the camera entry point; --frames;
// the missing-ffmpeg line. Needs the Debian package ffmpeg (CI installs it) for the video cases.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { openVideoSource } from '../src/flow/video-source.js';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'ffrunsrc-');
const run = (...args: string[]) => runCli(['run', '--board', 'ref', '--model', modelPath, ...args]);

// A moving test pattern: 8 frames of 96x72, lossless (ffv1 in .mkv) so PNG frames decode to the same pixels.
const clip = join(dir, 'clip.mkv');
execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=96x72:rate=10', '-frames:v', '8', '-c:v', 'ffv1', clip]);
const pngs = join(dir, 'pngs');
fs.mkdirSync(pngs);
execFileSync('ffmpeg', ['-v', 'error', '-i', clip, join(pngs, 'f%03d.png')]);

t.test('video file: pairs of consecutive frames, --frames N → N−1 pairs, same flow as the frames as PNGs', async (t) => {
  const v = await run('--input', clip, '--frames', '5', '--out', join(dir, 'ov'), '--json');
  t.equal(v.code, 0, v.stderr);
  const lines = v.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, 5, '4 pair lines + summary');
  t.same(lines.slice(0, 4).map((l) => l.id), ['000000', '000001', '000002', '000003']);
  t.equal(lines[0].width, 96);
  t.equal(lines.at(-1).pairs, 4);
  t.match(lines.at(-1).source, /clip\.mkv: 8 frames 96x72 \(ffmpeg\)/);
  const f = await run('--input', pngs, '--frames', '5', '--out', join(dir, 'of'));
  t.equal(f.code, 0, f.stderr);
  t.match(f.stdout, /4 pair\(s\) from .*pngs: 8 frames 96x72/);
  for (let i = 0; i < 4; i++) {
    const a = fs.readFileSync(join(dir, 'ov', `00000${i}.flo`));
    const b = fs.readFileSync(join(dir, 'of', `f00${i + 1}.flo`));
    t.ok(a.equals(b), `pair ${i}: video and PNG frames give identical flow`);
  }
  const all = await run('--input', clip, '--out', join(dir, 'ov-all'), '--limit', '100');
  t.equal(all.code, 0, all.stderr);
  t.match(all.stdout, /^7 pair\(s\) written/m, 'all 8 frames → 7 pairs');
});

t.test('video errors: missing ffmpeg names the package; a broken file is one line', async (t) => {
  const path = process.env.PATH;
  const empty = join(dir, 'emptybin');
  fs.mkdirSync(empty);
  process.env.PATH = empty;
  try {
    const r = await run('--input', clip, '--out', join(dir, 'o-noff'));
    t.equal(r.code, 2);
    t.match(r.stderr, /^flowfpga: video input needs ffmpeg, which is not installed \(hint: install the Debian package ffmpeg/);
    t.equal(r.stderr.trim().split('\n').length, 1);
  } finally {
    process.env.PATH = path;
  }
  const bad = join(dir, 'bad.mp4');
  fs.writeFileSync(bad, 'this is not a video');
  const r = await run('--input', bad, '--out', join(dir, 'o-bad'));
  t.equal(r.code, 2);
  t.match(r.stderr, /bad\.mp4: not a readable video/);
  t.equal(r.stderr.trim().split('\n').length, 1);
  const notVideo = join(dir, 'notes.txt');
  fs.writeFileSync(notVideo, 'x');
  t.match((await run('--input', notVideo, '--out', join(dir, 'o-txt'))).stderr, /not a known video type/);
});

t.test('video source: close() while frames are pending ends ffmpeg; next() after close is null', async (t) => {
  const src = await openVideoSource(clip);
  t.equal(src.length, 8);
  const f0 = await src.next();
  t.equal(f0?.rgb().data.length, 96 * 72 * 3);
  await src.close();
  t.equal(await src.next(), null);
  await src.close();
});

t.test('--camera goes through src/camera (a missing device is one line); inputs are exclusive', async (t) => {
  const r = await run('--camera', '/dev/video-flowfpga-none', '--out', join(dir, 'o-cam'));
  t.equal(r.code, 2);
  t.match(r.stderr, /^flowfpga: no camera at \/dev\/video-flowfpga-none \(ENOENT\) \(hint: /);
  const x = await run('--camera', '/dev/video0', '--input', pngs, '--out', join(dir, 'o-x'));
  t.equal(x.code, 2);
  t.match(x.stderr, /--input and --camera are exclusive/);
});

t.test('frame folder errors are one line', async (t) => {
  const mixed = join(dir, 'mixed');
  fs.mkdirSync(mixed);
  fs.copyFileSync(join(pngs, 'f001.png'), join(mixed, 'a1.png'));
  fs.copyFileSync(join(pngs, 'f002.png'), join(mixed, 'a2.png'));
  execFileSync('ffmpeg', ['-v', 'error', '-i', join(pngs, 'f003.png'), '-vf', 'scale=48:36', join(mixed, 'a3.png')]);
  const r = await run('--input', mixed, '--out', join(dir, 'o-mixed'));
  t.equal(r.code, 2);
  t.match(r.stderr, /a3\.png is 48x36 but .*a1\.png is 96x72 \(hint: all frames of a sequence must have one size\)/);
  t.equal(fs.readdirSync(join(dir, 'o-mixed')).filter((f) => f.endsWith('.flo')).length, 1, 'the pair before it was written');
  const one = join(dir, 'one');
  fs.mkdirSync(one);
  fs.copyFileSync(join(pngs, 'f001.png'), join(one, 'x.png'));
  const r1 = await run('--input', one, '--out', join(dir, 'o-one'));
  t.equal(r1.code, 2);
  t.match(r1.stderr, /no frame pairs in .*one \(1 image\)/);
  const r2 = await run('--input', join(dir, 'nothing-here'), '--out', join(dir, 'o-none'));
  t.equal(r2.code, 2);
  t.match(r2.stderr, /input not found/);
});

