// `flowfpga bench host`: runs, reports every stage and the machine; the stages are real work (non-zero output).
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { runHostBench, formatHostBench } from '../src/cli/bench-host.js';
import { mjpegDecoderName } from '../src/camera/mjpeg.js';

t.test('bench host --json reports per-stage medians for 384x512', async (t) => {
  const r = await runCli(['bench', 'host', '--reps', '2', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same(j.net, [384, 512]);
  t.same(j.source, [384, 512]);
  t.same(Object.keys(j.median_ms), ['fit', 'to-ddr', 'flow', 'wheel', 'bookkeep', 'total']);
  t.ok(j.median_ms.total >= j.median_ms.wheel && j.median_ms.wheel > 0);
  t.ok(j.cpu_share > 0 && j.machine.cores >= 1);
  // CPU time per stage (process.cpuUsage), the figure that stays meaningful on a loaded machine
  t.same(Object.keys(j.cpu_median_ms), ['fit', 'to-ddr', 'flow', 'wheel', 'bookkeep', 'total']);
  t.ok(Object.values(j.cpu_median_ms).every((x) => typeof x === 'number' && x >= 0));
  t.ok(j.cpu_median_ms.total >= j.cpu_median_ms.wheel);
  t.ok(j.wheel_exact_median_ms > 0 && j.wheel_exact_cpu_median_ms >= 0, 'the exact wheel timed apart');
  const bad = await runCli(['bench', 'host', '--reps', 'x']);
  t.equal(bad.code, 2);
});

t.test('a resizing frame size and the text form', async (t) => {
  const r = runHostBench({ reps: 1, netH: 64, netW: 128, srcW: 100, srcH: 70 });
  t.same(r.source, [70, 100]);
  t.match(formatHostBench(r), /host work per pair, network 64x128, frames 100x70/);
  t.match(formatHostBench(r), /wheel .* ms .*cpu +\d+\.\d\d ms/);
  t.match(formatHostBench(r), /byte-exact Middlebury wheel of the written PNG files: \d+\.\d\d ms/);
  const v = await runCli(['bench', 'host', '--reps', '1', '--frame', '640x480']);
  t.match(v.stdout, /frames 640x480/);
});

t.test('--camera-format mjpeg: q85 frames decoded inside fit, the decoder named; FLOWFPGA_JPEG=js forces jpeg-js', async (t) => {
  const r = runHostBench({ reps: 2, netH: 64, netW: 64, srcW: 80, srcH: 60, format: 'mjpeg' });
  t.equal(r.format, 'mjpeg');
  t.equal(r.mjpeg?.decoder, mjpegDecoderName());
  t.ok(r.mjpeg!.decode_median_ms > 0 && r.mjpeg!.decode_cpu_median_ms >= 0 && r.mjpeg!.jpeg_bytes > 0);
  t.ok(r.median_ms.fit > 0);
  t.match(formatHostBench(r), new RegExp(`frames 80x60 MJPEG, .*\\n[^]*\\(MJPEG decoded by ${r.mjpeg!.decoder} inside fit: \\d+\\.\\d\\d ms a frame, cpu \\d+\\.\\d\\d ms; q85 frames of \\d+ kB\\)`));
  t.equal(runHostBench({ reps: 1, netH: 64, netW: 64, format: 'rgb' }).mjpeg, undefined, 'no MJPEG figures for other formats');
  const old = process.env.FLOWFPGA_JPEG;
  process.env.FLOWFPGA_JPEG = 'js';
  try {
    const j = await runCli(['bench', 'host', '--reps', '1', '--frame', '128x64', '--camera-format', 'mjpeg', '--json']);
    t.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout);
    t.equal(o.format, 'mjpeg');
    t.equal(o.mjpeg.decoder, 'jpeg-js');
  } finally {
    if (old === undefined) delete process.env.FLOWFPGA_JPEG;
    else process.env.FLOWFPGA_JPEG = old;
  }
});
