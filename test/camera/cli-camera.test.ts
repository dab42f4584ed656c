// `flowfpga run --camera sim:` end to end (issue #10 "done when"): the virtual board's 19 flows over the simulated
// camera's 20 frames are bit-identical to the reference's; SIGINT while streaming and an unplug mid-stream leave the
// camera with nothing mapped, streaming off and no handle open (the simulated driver reports its state).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mjpegDecoderName, mjpegDecoderNote, simCameras, type SimCamera } from '../../src/camera/index.js';
import { runCli } from '../helpers/cli.js';
import { root, until } from '../helpers/cli-proc.js';

execFileSync('make', ['-s', '-C', join(root, 'hw'), 'emu'], { stdio: 'inherit' });
const dir = fs.mkdtempSync(join(tmpdir(), 'ffcamcli-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The simulated camera a CLI run in this process creates (newer than `before`), once it delivered `frames`. */
function camAfter(before: SimCamera | undefined, frames: number): Promise<SimCamera> {
  return until(() => {
    const c = simCameras[simCameras.length - 1];
    return c && c !== before && c.state().delivered >= frames ? c : undefined;
  }, `a simulated camera with ${frames} frames delivered`, 300_000, 20);
}

t.test('run --camera sim: --frames 20: 19 flows, emu bit-identical to ref', async (t) => {
  // The shipped model at a small network size keeps this affordable on a shared machine; the camera path is the same.
  const args = (board: string) => ['run', '--camera', 'sim:', '--board', board, '--frames', '20', '--size', '64x128', '--no-png', '--out', join(dir, board)];
  const ref = await runCli(args('ref'));
  t.equal(ref.code, 0, ref.stderr);
  t.match(ref.stdout, /19 pair\(s\) from sim:: YUYV 224x160 \(asked 640x480\), 4 buffers \(Simulated camera \(sequence\)\)/);
  t.match(ref.stdout, /^19 pair\(s\) written to /m);
  t.same(simCameras[simCameras.length - 1].state().mapped, 0, 'ref run: nothing left mapped');
  const emu = await runCli(args('emu'));
  t.equal(emu.code, 0, emu.stderr);
  const flos = fs.readdirSync(join(dir, 'ref')).filter((f) => f.endsWith('.flo')).sort();
  t.equal(flos.length, 19);
  t.same(fs.readdirSync(join(dir, 'emu')).filter((f) => f.endsWith('.flo')).sort(), flos);
  for (const f of flos) t.ok(fs.readFileSync(join(dir, 'emu', f)).equals(fs.readFileSync(join(dir, 'ref', f))), `${f} identical`);
  const cam = simCameras[simCameras.length - 1];
  t.same({ ...cam.state(), delivered: 0 }, { open: 0, streaming: false, buffers: 0, queued: 0, done: 0, mapped: 0, delivered: 0, unplugged: false, format: 'yuyv' });
});

t.test('SIGINT while streaming: exit 130, streaming off, nothing mapped, device closed', async (t) => {
  const before = simCameras[simCameras.length - 1];
  const run = runCli(['run', '--camera', 'sim:', '--board', 'ref', '--size', '64x64', '--no-png', '--out', join(dir, 'sig')]);
  // No assertions while runCli captures stdout (tap writes there too): note, then check after the run.
  const cam = await camAfter(before, 3);
  const streaming = cam.state().streaming;
  // run installed its handler before the loop began taking frames; never signal this process without one.
  const handler = process.listenerCount('SIGINT') > 0;
  if (handler) process.kill(process.pid, 'SIGINT');
  else cam.unplug(); // end the run; the assertion below fails
  const r = await run;
  t.ok(streaming, 'streaming when the signal came');
  t.ok(handler, 'SIGINT handler installed');
  t.equal(r.code, 130, r.stderr);
  t.match(r.stderr, /SIGINT: stopping after the pair in flight/);
  t.match(r.stdout, /stopped by SIGINT/);
  t.same({ ...cam.state(), delivered: 0 }, { open: 0, streaming: false, buffers: 0, queued: 0, done: 0, mapped: 0, delivered: 0, unplugged: false, format: 'yuyv' });
});

t.test('camera unplugged mid-stream: one line with a hint, exit 2, nothing mapped', async (t) => {
  const before = simCameras[simCameras.length - 1];
  const run = runCli(['run', '--camera', 'sim:', '--board', 'ref', '--size', '64x64', '--no-png', '--out', join(dir, 'unplug')]);
  const cam = await camAfter(before, 3);
  cam.unplug();
  const r = await run;
  t.equal(r.code, 2);
  t.equal(r.stderr, 'flowfpga: sim:: camera disconnected (ENODEV) (hint: reconnect it and run again)\n');
  const st = cam.state();
  t.same([st.open, st.mapped, st.streaming], [0, 0, false]);
});

t.test('--camera-format mjpeg and --camera-size reach the camera', async (t) => {
  const r = await runCli(['run', '--camera', 'sim:', '--camera-format', 'mjpeg', '--camera-size', '224x160', '--board', 'ref',
    '--size', '64x64', '--frames', '3', '--no-png', '--out', join(dir, 'mj')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`2 pair\\(s\\) from sim:: MJPG 224x160 via ${mjpegDecoderName()}, 4 buffers`));
  // One line on stderr where libturbojpeg would not load (the ARM lanes' sysroots), none where it decodes.
  const note = mjpegDecoderNote();
  t.equal(r.stderr, note ? `flowfpga: ${note}\n` : '', 'the decoder\'s fallback line, once');
});

t.test('camera errors before any frame are one line, exit 2', async (t) => {
  for (const [args, line] of [
    [['--camera-format', 'rgb'], /^flowfpga: unknown --camera-format 'rgb' \(hint: use yuyv or mjpeg\)$/],
    [['--camera-size', '640'], /^flowfpga: bad --camera-size '640' \(hint: /],
  ] as const) {
    const b = await runCli(['run', '--camera', 'sim:', ...args, '--board', 'ref', '--out', join(dir, 'bad')]);
    t.equal(b.code, 2);
    t.match(b.stderr.trim(), line);
  }
  const r = await runCli(['run', '--camera', 'sim:/nonexistent', '--board', 'ref', '--out', join(dir, 'bad')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /^flowfpga: sim:\/nonexistent: no such folder \(hint: /);
  t.notOk(fs.existsSync(join(dir, 'bad')), 'no output folder made');
});
