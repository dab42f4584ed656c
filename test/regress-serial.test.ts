// `flowfpga regress --serial` against `flowfpga agent --serial … --board emu` end to end with real parts: the
// serialport package on every end, socat pseudo-terminal pairs, a relay that corrupts / drops / duplicates bytes or
// stops forwarding the board's answers, and the virtual board's bit-flip fault.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { Relay, haveSocat, ptyPair, startAgent } from './helpers/regress-link.js';
import { listModels } from '../src/model/registry.js';

if (!haveSocat()) {
  if (process.env.CI) t.fail('socat is missing (CI must install it: apt-get install socat)');
  else t.plan(0, 'socat is not installed (apt-get install socat)');
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ffregress-'));
  const procs: Array<{ kill: () => unknown }> = [];
  t.teardown(() => {
    for (const p of procs) p.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const hostPair = await ptyPair(dir, 'host', 'relay-h');
  const boardPair = await ptyPair(dir, 'relay-b', 'board');
  procs.push(hostPair.proc, boardPair.proc);
  const agent = await startAgent(['--serial', boardPair.b, '--board', 'emu', '--baud', '115200']);
  t.teardown(() => agent.stop());
  const relay = await Relay.open(hostPair.b, boardPair.a);
  t.teardown(() => relay.close());

  /** The numbers of every TAP test point's YAML block. */
  const points = (tap: string): Array<{ ok: boolean; name: string; nums: Record<string, number> }> =>
    [...tap.matchAll(/^(ok|not ok) \d+ - ([^#\n]+?)(?: #.*)?\n  ---\n([\s\S]*?)\n  \.\.\./gm)].map((m) => ({
      ok: m[1] === 'ok', name: m[2],
      nums: Object.fromEntries([...m[3].matchAll(/^  (\w+): (-?[\d.]+)$/gm)].map((x) => [x[1], Number(x[2])])),
    }));

  t.test('the default case list over the pty at a high baud: every case passes, ≤ 60 s of link time at 115200', async (t) => {
    const report = path.join(dir, 'default.xml');
    const r = await runCli(['regress', '--serial', hostPair.a, '--baud', '921600', '--report', report]);
    t.equal(r.code, 0, r.stderr + r.stdout);
    const models = listModels().map((m) => m.name);
    const ps = points(r.stdout);
    t.same(ps.map((p) => p.name), [...['conv', 'upconv', 'flow', 'up2', 'up4'].map((o) => `golden ${o}`), ...models.map((m) => `model ${m}`)]);
    t.ok(ps.every((p) => p.ok));
    t.match(r.stdout, new RegExp(`^TAP version 14\\n# flowfpga regress over serial .* at 921600 baud: virtual board .*\\n1\\.\\.${5 + models.length}\\n`));
    t.match(r.stdout, /^ok 6 - model \S+ # 16 layers bit-exact with the reference at 192x256 \(\d+ engine cycles\)$/m);
    const bytes = ps.reduce((s, p) => s + p.nums.bytes_to_board + p.nums.bytes_from_board, 0);
    const at115200 = (bytes * 10) / 115200;
    t.ok(at115200 <= 60, `default list: ${bytes} bytes = ${at115200.toFixed(2)} s at 115200 baud`);
    for (const p of ps) t.comment(`${p.name}: ${p.nums.bytes_to_board} + ${p.nums.bytes_from_board} bytes, board ${p.nums.board_ms} ms, wall ${p.nums.wall_ms} ms`);
    const xml = fs.readFileSync(report, 'utf8');
    t.match(xml, new RegExp(`<testsuite name="regress serial [^"]+" tests="${ps.length}" failures="0"`));
    t.equal(xml.match(/<testcase /g)?.length, ps.length);
    t.notMatch(xml, /<failure/);
  });

  t.test('corrupted, dropped and duplicated bytes in both directions are survived', async (t) => {
    relay.faults = { corrupt: 1 / 5000, drop: 1 / 5000, duplicate: 1 / 5000 };
    t.teardown(() => void (relay.faults = {}));
    const before = { ...relay.counts };
    const r = await runCli(['regress', '--serial', hostPair.a, '--cases', 'golden,sweep:2', '--timeout', '60']);
    t.equal(r.code, 0, r.stderr + r.stdout);
    const ps = points(r.stdout);
    t.equal(ps.length, 7);
    t.ok(ps.every((p) => p.ok));
    const injected = { corrupted: relay.counts.corrupted - before.corrupted, dropped: relay.counts.dropped - before.dropped, duplicated: relay.counts.duplicated - before.duplicated };
    t.ok(injected.corrupted > 0 && injected.dropped > 0 && injected.duplicated > 0, `injected ${JSON.stringify(injected)}`);
    t.ok(ps.reduce((s, p) => s + p.nums.retransmits, 0) > 0, 'the host retransmitted');
  });

  t.test('the default list paced at 115200 baud like a UART: link time measured', async (t) => {
    relay.faults = { bytesPerSecond: 11520 };
    t.teardown(() => void (relay.faults = {}));
    const t0 = performance.now();
    const r = await runCli(['regress', '--serial', hostPair.a]);
    const wall = (performance.now() - t0) / 1000;
    t.equal(r.code, 0, r.stderr + r.stdout);
    const ps = points(r.stdout);
    const link = ps.reduce((s, p) => s + p.nums.link_s, 0);
    const board = ps.reduce((s, p) => s + p.nums.board_ms, 0) / 1000;
    t.ok(link > 0);
    t.ok(link <= 60, `${link.toFixed(2)} s of link time`);
    t.comment(`default list over a 115200-baud paced pty: ${wall.toFixed(2)} s wall, ${link.toFixed(2)} s computed link time, ${board.toFixed(2)} s board time`);
  });

  t.test('a board that stops answering: one clear line and a non-zero exit within the timeout', async (t) => {
    relay.faults = { muteBoard: true };
    t.teardown(() => void (relay.faults = {}));
    const report = path.join(dir, 'mute.xml');
    const t0 = performance.now();
    const r = await runCli(['regress', '--serial', hostPair.a, '--cases', 'golden:up2', '--timeout', '3', '--report', report]);
    t.comment(`gave up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, r.stderr);
    t.match(lines[0], /^flowfpga: board stopped answering: (no valid frame for 3\.\d s|'hello' unanswered after \d+ retransmissions) .*\(hint: /);
    t.match(r.stdout, /^Bail out! board stopped answering/m);
    t.match(fs.readFileSync(report, 'utf8'), /<error message="board stopped answering/);
  });

  t.test('a board with the bit-flip fault fails and names the first failing layer', async (t) => {
    const pair = await ptyPair(dir, 'fhost', 'fboard');
    procs.push(pair.proc);
    const bad = await startAgent(['--serial', pair.b, '--board', 'emu', '--emu-fault', 'flip']);
    t.teardown(() => bad.stop());
    const report = path.join(dir, 'flip.xml');
    const model = listModels()[0]!.name;
    const r = await runCli(['regress', '--serial', pair.a, '--cases', `golden:flow,model:${model}`, '--report', report]);
    t.equal(r.code, 1, r.stderr);
    t.match(r.stdout, /^not ok 1 - golden flow\n  ---\n  message: "\d+ of \d+ cases differ; first: case \S+ at c\d+ y\d+ x\d+: expected -?\d+, got -?\d+/m);
    t.match(r.stdout, new RegExp(`^not ok 2 - model ${model}\\n  ---\\n  message: "first failing layer conv1 \\(\\d+ of 16 layers differ\\): c0 y0 x0: expected \\d+, got \\d+"`, 'm'));
    t.match(r.stdout, /^    - "tile c0 rows 0\.\.\d+ x 0\.\.\d+ of \d+x\d+x\d+: \d+ of \d+ elements differ"$/m);
    const xml = fs.readFileSync(report, 'utf8');
    t.match(xml, /tests="2" failures="2" errors="0"/);
    t.match(xml, /<failure message="first failing layer conv1 /);
  });
}
