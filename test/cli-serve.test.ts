// `flowfpga run --serve` end to end as a subprocess: the URL line, the page and its events during and after a finite
// run, the page's flow image equal to the written PNG of the last pair, Ctrl-C closing it, and option errors.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { decodeJpeg, decodePng, readImage } from '../src/flow/index.js';
import type { LiveState } from '../src/serve/index.js';
import { spawnCli } from './helpers/cli-proc.js';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'ffserve-');

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

/** Reads /events until a state satisfies `pred` (bounded). */
function waitState(url: string, pred: (s: LiveState) => boolean, timeoutMs = 240000): Promise<LiveState> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const req = request(url + 'events', (res) => {
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        buf += s;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const m = /^event: state\ndata: (.*)$/m.exec(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (m) {
            const st = JSON.parse(m[1]) as LiveState;
            if (pred(st)) {
              clearTimeout(timer);
              req.destroy();
              resolve(st);
            }
          }
        }
      });
    });
    const timer = setTimeout(() => (req.destroy(), reject(new Error('no matching state from /events'))), timeoutMs);
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
    req.end();
  });
}

t.test('run --serve 0: URL line, live page during and after the run, last flow image = written PNG, Ctrl-C quits', async (t) => {
  const out = join(dir, 'out');
  const p = spawnCli(['run', '--board', 'ref', '--model', modelPath, '--input', 'samples', '--limit', '3', '--out', out, '--serve', '0']);
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.waitFor(/live page: http:\/\/127\.0\.0\.1:\d+\/\n/);
  const url = /live page: (http:\S+)\n/.exec(p.stdout())![1];
  const page = await get(url);
  t.equal(page.status, 200);
  t.match(page.body.toString(), /<img id="flow"/);
  const done = await waitState(url, (s) => s.done && s.image?.index === 2 && s.stats.frames === 3);
  t.match(done.title, /^model tiny on reference/);
  t.match(done.status, /^done: 3 pair\(s\) written/);
  t.equal(done.stats.index, 2);
  t.equal(done.stats.verify, null, 'the reference is not verified');
  await p.waitFor(/live page stays up at http:\S+ \(Ctrl-C to quit\)/);
  t.match(p.stdout(), /3 pair\(s\) written to /);

  const flow = decodePng((await get(url + 'flow.png')).body);
  const written = decodePng(readFileSync(join(out, '00003.png')));
  t.same([flow.width, flow.height], [written.width, written.height]);
  // the page colours through the display table (flowToColorPreview): within 2 levels of the written exact wheel
  let worst = 0;
  for (let i = 0; i < flow.data.length; i++) worst = Math.max(worst, Math.abs(flow.data[i] - written.data[i]));
  t.ok(worst <= 2, `the page shows the last pair's flow as written, within 2 levels (worst ${worst})`);
  const frame = decodeJpeg((await get(url + 'frame.jpg')).body);
  const img2 = await readImage(join('samples', '00003_img2.ppm'));
  t.same([frame.width, frame.height], [img2.width, img2.height], 'the page shows the pair\'s second frame');
  let diff = 0;
  for (let i = 0; i < img2.data.length; i++) diff += Math.abs(frame.data[i] - img2.data[i]);
  t.ok(diff / img2.data.length < 8, `frame JPEG close to the frame (mean abs diff ${(diff / img2.data.length).toFixed(2)})`);

  p.child.kill('SIGINT');
  const end = await p.done;
  t.equal(end.code, 0, `Ctrl-C after a finished run exits with the run's status (stderr: ${p.stderr()})`);
  const gone = await get(url).catch((e: NodeJS.ErrnoException) => e.code);
  t.equal(gone, 'ECONNREFUSED', 'the page is gone');
});

t.test('run --camera sim: --camera-format mjpeg --serve: the page shows the camera\'s own JPEG, not a re-encoding', async (t) => {
  const out = join(dir, 'out-mjpeg');
  const p = spawnCli(['run', '--board', 'ref', '--model', modelPath, '--camera', 'sim:', '--camera-format', 'mjpeg', '--frames', '3', '--out', out, '--serve', '0']);
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.waitFor(/live page: http:\/\/127\.0\.0\.1:\d+\/\n/);
  const url = /live page: (http:\S+)\n/.exec(p.stdout())![1];
  await waitState(url, (s) => s.done && s.image?.index === 1);
  const jpg = (await get(url + 'frame.jpg')).body;
  // Three frames, two pairs: the last pair's second frame is the sequence's third JPEG, byte for byte.
  t.ok(jpg.equals(readFileSync(join('samples', 'sequence', '002.jpg'))), 'frame.jpg is samples/sequence/002.jpg');
  p.child.kill('SIGINT');
  t.equal((await p.done).code, 0);
});

t.test('run --serve: SIGTERM during a live run stops it and closes the page (143)', async (t) => {
  const out = join(dir, 'out-term');
  const p = spawnCli(['run', '--board', 'ref', '--model', modelPath, '--input', 'samples', '--out', out, '--serve', '0', '--json']);
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.waitFor(/"type":"live","url":"http:\/\/127\.0\.0\.1:\d+\/"/);
  const url = /"url":"(http:[^"]+)"/.exec(p.stdout())![1];
  await waitState(url, (s) => s.stats.frames >= 1);
  p.child.kill('SIGTERM');
  const end = await p.done;
  t.ok(end.code === 143 || end.code === 0, `exit ${end.code} (143 when stopped mid-run; 0 if the run had ended)`);
  for (const l of p.stdout().trim().split('\n')) JSON.parse(l); // --json: every stdout line stays JSON
  t.pass('stdout is JSON lines only');
});

t.test('--serve option errors are one line with a hint, exit 2, before any frame', async (t) => {
  const out = join(dir, 'out-bad');
  const hostOnly = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', out, '--limit', '1', '--host', '0.0.0.0']);
  t.equal(hostOnly.code, 2);
  t.match(hostOnly.stderr, /^flowfpga: --host only applies to the live page \(hint: add --serve \[PORT\]\)\n$/);
  const badPort = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', out, '--limit', '1', '--serve', 'http']);
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /^flowfpga: bad --serve port 'http' \(hint: expected an integer in 0\.\.65535\)\n$/);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const inUse = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', out, '--limit', '1', '--serve', String(port)]);
  t.equal(inUse.code, 2);
  t.match(inUse.stderr, new RegExp(`^flowfpga: cannot serve the live page: port ${port} on 127\\.0\\.0\\.1 is in use \\(hint: .*--serve 0`));
  t.same(readdirSync(out).filter((f) => f.endsWith('.flo')), [], 'no frame computed');
});
