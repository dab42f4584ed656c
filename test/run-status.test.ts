// Issue 10 item 5: on a terminal one status line rewritten in place (pair, fps, engine ms, verify state) with
// anomalies printed as lines above it; --json one object per pair and a summary object.
import t from 'tap';
import { join } from 'node:path';
import { StatusLine, statusText } from '../src/cli/status-line.js';
import type { FrameEvent } from '../src/cli/runloop.js';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'ffstatus-');

const ev = (index: number, state: FrameEvent['verify']['state'], mismatches = 0): FrameEvent => ({
  index, timings: { fps: 4.25, engineMs: 180.25 }, verify: { mode: 'sample', state, mismatches, reruns: 0, regions: 60 },
} as unknown as FrameEvent);

t.test('status text and in-place rewriting', async (t) => {
  t.equal(statusText(ev(11, 'ok'), 100), 'pair 12/100  4.3 fps  engine 180.3 ms  verify sample ok');
  t.equal(statusText(ev(0, 'dropped', 2)), 'pair 1  4.3 fps  engine 180.3 ms  verify sample DROPPED (2 mismatches)');
  const out: string[] = [];
  const s = new StatusLine((x) => void out.push(x), 3);
  s.onFrame(ev(0, 'ok'));
  s.onFrame(ev(1, 'ok'));
  s.above('00002: mismatch');
  s.onFrame(ev(2, 'ok'));
  s.onEnd({} as never);
  const text = out.join('');
  t.equal(text.split('\n').length, 3, 'one permanent line, the final status line, and the trailing newline');
  t.match(text, /^\r\x1b\[Kpair 1\/3 .*\r\x1b\[Kpair 2\/3 .*\r\x1b\[K00002: mismatch\n\r\x1b\[Kpair 3\/3 .*\n$/);
});

t.test('run on a TTY shows the status line instead of per-pair lines', async (t) => {
  const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
  let r;
  try {
    r = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'o'), '--limit', '2']);
  } finally {
    if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
  }
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\r\x1b\[Kpair 1\/2 +[\d.]+ fps +engine [\d.]+ ms +verify off/);
  t.match(r.stdout, /\r\x1b\[Kpair 2\/2 /);
  t.notMatch(r.stdout, /^00001: /m, 'no per-pair line when all is well');
  t.match(r.stdout, /^2 pair\(s\) written/m);
});

t.test('--json: one object per pair and a summary', async (t) => {
  const r = await runCli(['run', '--board', 'ref', '--model', modelPath, '--out', join(dir, 'j'), '--limit', '2', '--json']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => l.type), ['frame', 'frame', 'summary']);
  t.same(Object.keys(lines[0].ms), ['source', 'fit', 'infer', 'engine', 'host', 'verify', 'recompute', 'refine', 'flow', 'total']);
  t.ok(lines[0].epe > 0);
  t.same(lines[0].refine_net, [128, 128], 'the refinement pass and its size');
  t.ok(lines[0].ms.refine > 0);
  t.match(r.stderr, /^refinement: every pair gets a second pass at 128x128/m, 'announced on stderr: stdout stays JSON');
  t.equal(lines[0].files.length, 2);
  t.equal(lines[2].pairs, 2);
  t.equal(lines[2].verdict, 'verification: no mismatches');
});
