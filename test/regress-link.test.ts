// The regression link without hardware: framing and resynchronisation, the stop-and-wait exchange over an in-memory
// line that corrupts, drops and duplicates bytes, answers in parts, silence → LinkError, the handshake's version
// checks, --cases parsing and the report formats.
import t from 'tap';
import { crc32 } from '../src/crc32.js';
import { FLAG_MORE, FrameDecoder, FrameType, HEADER_BYTES, MAX_PAYLOAD, PART_BYTES, encodeFrame } from '../src/regress/frame.js';
import { AgentLink, HostLink, LinkError } from '../src/regress/link.js';
import type { Transport } from '../src/regress/transport.js';
import { hello, checkAgreement, type CaseResult } from '../src/regress/host.js';
import { parseCases, sweepSpec } from '../src/regress/cases.js';
import { junitXml, tapPoint } from '../src/regress/report.js';
import { PROTOCOL_VERSION, modelHash, sweepModel } from '../src/regress/protocol.js';
import { Prng } from '../src/reference/prng.js';
import { CONTRACT_VERSION } from '../src/model/arch.js';
import { UserError } from '../src/errors.js';

t.test('frames round-trip; the decoder skips garbage and rejects corrupted frames, then resynchronises', async (t) => {
  const payload = new TextEncoder().encode('{"op":"hello"}');
  const f = encodeFrame(FrameType.REQ, 0xbeef, payload, FLAG_MORE);
  t.equal(f.length, HEADER_BYTES + payload.length + 4);
  const d = new FrameDecoder();
  t.same(d.push(f.subarray(0, 5)), [], 'a partial frame waits');
  const [got] = d.push(f.subarray(5));
  t.match(got, { type: FrameType.REQ, seq: 0xbeef, flags: FLAG_MORE });
  t.same([...got!.payload], [...payload]);
  // garbage, a frame with a flipped payload bit, a frame with a corrupted length, then a good one
  const bad = f.slice();
  bad[HEADER_BYTES + 3] ^= 4;
  const badLen = f.slice();
  badLen[6] ^= 0x80;
  const good = encodeFrame(FrameType.RESP, 7, payload);
  const out = d.push(new Uint8Array([1, 2, 0xf1, 3, ...bad, ...badLen, ...good]));
  t.equal(out.length, 1);
  t.match(out[0], { type: FrameType.RESP, seq: 7 });
  t.ok(d.rejected >= 2 && d.skipped > 0, `rejected ${d.rejected}, skipped ${d.skipped}`);
  t.throws(() => encodeFrame(FrameType.RESP, 1, new Uint8Array(MAX_PAYLOAD + 1)), RangeError);
});

/** Two in-memory ends; bytes pass through `mangle` (per direction) on the next tick. */
function linePair(mangle: (d: Uint8Array, toBoard: boolean) => Uint8Array = (d) => d): { host: Transport; board: Transport; cut: () => void } {
  const listeners: Array<Array<(d: Uint8Array) => void>> = [[], []];
  const closers: Array<Array<(w: string) => void>> = [[], []];
  let cut = false;
  const end = (me: number): Transport => ({
    description: me === 0 ? 'memory host' : 'memory board',
    write: (d) => {
      if (cut) return;
      const m = mangle(d.slice(), me === 0);
      setImmediate(() => listeners[1 - me]!.forEach((cb) => cb(m)));
    },
    onData: (cb) => void listeners[me]!.push(cb),
    onClose: (cb) => void closers[me]!.push(cb),
    close: async () => undefined,
  });
  return { host: end(0), board: end(1), cut: () => void (cut = true) };
}

t.test('requests survive corrupted, dropped and duplicated bytes; long answers come in parts; no case runs twice', async (t) => {
  const rng = new Prng(3);
  const counts = { corrupt: 0, drop: 0, dup: 0 };
  const { host, board } = linePair((d) => {
    const out: number[] = [];
    for (const b of d) {
      const x = rng.next();
      if (x < 0.0002) { counts.drop++; continue; }
      if (x < 0.0004) { counts.corrupt++; out.push(b ^ 0x10); continue; }
      out.push(b);
      if (x < 0.0006) { counts.dup++; out.push(b); }
    }
    return new Uint8Array(out);
  });
  const ran: number[] = [];
  new AgentLink(board, async (m) => {
    ran.push(m.n as number);
    await new Promise((r) => setTimeout(r, 5));
    return { n: m.n, blob: 'x'.repeat(2 * PART_BYTES + 17), crc: crc32(new Uint8Array([m.n as number])) };
  }, 50);
  const link = new HostLink(host, { silenceMs: 20_000, keepAliveMs: 50 });
  for (let n = 0; n < 16; n++) {
    const a = await link.request<{ n: number; blob: string; crc: number }>({ op: 'x', n });
    t.equal(a.n, n);
    t.equal(a.blob.length, 2 * PART_BYTES + 17);
  }
  t.same(ran, [...Array(16).keys()], 'every request handled exactly once, in order');
  t.ok(counts.corrupt > 0 && counts.drop > 0 && counts.dup > 0, JSON.stringify(counts));
  t.ok(link.counters.retransmits > 0, `${link.counters.retransmits} retransmissions`);
});

t.test('a board that goes silent: LinkError naming the request, after the silence timeout', async (t) => {
  const { host, board, cut } = linePair();
  new AgentLink(board, async () => ({ ok: true }));
  const link = new HostLink(host, { silenceMs: 300, keepAliveMs: 20 });
  t.same(await link.request({ op: 'hello' }), { ok: true });
  cut();
  await t.rejects(link.request({ op: 'golden' }), { name: 'UserError', message: /^board stopped answering: (no valid frame for 0\.\d s during 'golden'|'golden' unanswered after \d+ retransmissions)/ });
  const quiet = new HostLink(linePair().host, { silenceMs: 10_000, keepAliveMs: 10, maxRetries: 2 });
  await t.rejects(quiet.request({ op: 'hello' }), { message: /^board stopped answering: 'hello' unanswered after 2 retransmissions/ });
  t.ok(new LinkError('x') instanceof UserError);
});

t.test('an agent error comes back as an answer; a closed link is one line', async (t) => {
  const { host, board } = linePair();
  new AgentLink(board, async () => {
    throw new UserError('model zz is not installed', 'install it');
  });
  const link = new HostLink(host, { silenceMs: 5000 });
  t.same(await link.request({ op: 'network' }), { error: 'model zz is not installed', hint: 'install it' });
  let close: (w: string) => void = () => undefined;
  const dead: Transport = { description: 'dead', write: () => undefined, onData: () => undefined, onClose: (cb) => void (close = cb), close: async () => undefined };
  const l2 = new HostLink(dead, { silenceMs: 5000 });
  const p = l2.request({ op: 'hello' });
  close('ssh exited with code 255: Permission denied (publickey).');
  await t.rejects(p, { message: "link to the board closed during 'hello': ssh exited with code 255: Permission denied (publickey)." });
});

const identity = { description: 'virtual board', board: 'emu', engineVersion: 1, engineContract: CONTRACT_VERSION, peRows: 8, peCols: 8, clockMHz: 100 };
const helloAnswer = (o: object = {}) => ({
  protocol: PROTOCOL_VERSION, contract: CONTRACT_VERSION, version: '0.1.0', engine: identity, models: [], golden: { hash: '0', source: 's', files: [] }, ...o,
});

t.test('handshake: versions that disagree are one clear line', async (t) => {
  for (const [answer, msg] of [
    [helloAnswer({ protocol: PROTOCOL_VERSION + 1, version: '9.0.0' }), `version disagreement: the board's agent speaks regress protocol ${PROTOCOL_VERSION + 1}, this host ${PROTOCOL_VERSION} (board flowfpga 9.0.0, host 0.1.0)`],
    [helloAnswer({ contract: CONTRACT_VERSION + 1 }), `version disagreement: the board's runtime implements integer contract ${CONTRACT_VERSION + 1}, this host ${CONTRACT_VERSION}`],
    [helloAnswer({ engine: { ...identity, engineContract: 7 } }), 'version disagreement: the board\'s engine (virtual board) implements contract 7'],
  ] as const) {
    const { host, board } = linePair();
    new AgentLink(board, async () => answer);
    await t.rejects(hello(new HostLink(host, { silenceMs: 5000 }), { version: '0.1.0' }), { name: 'UserError', message: msg });
  }
  const { host, board } = linePair();
  new AgentLink(board, async () => helloAnswer());
  t.match(await hello(new HostLink(host, { silenceMs: 5000 }), { version: '0.1.0' }), { engine: identity });
  // Models and golden vectors must agree too.
  const m = sweepModel(sweepSpec(0));
  const opts = { version: '0.1.0', models: [{ name: 'm', load: () => m }], golden: [], baud: 115200 };
  const cases = parseCases('model:m', ['m']);
  t.throws(() => checkAgreement(helloAnswer({ models: [{ name: 'm', hash: 'deadbeef', size: [64, 64] }] }), cases, opts),
    { message: `version disagreement: model 'm' differs between board (hash deadbeef) and host (hash ${modelHash(m)})` });
  t.throws(() => checkAgreement(helloAnswer(), cases, opts), { message: /^model 'm' is not installed on the board \(board has none\)/ });
  t.doesNotThrow(() => checkAgreement(helloAnswer({ models: [{ name: 'm', hash: modelHash(m), size: [64, 64] }] }), cases, opts));
  t.throws(() => checkAgreement(helloAnswer(), parseCases('golden:up2', []), opts), { message: /^version disagreement: the board's golden vectors \(s, hash 0\) differ from the host's/ });
});

t.test('--cases', async (t) => {
  const names = (s: string) => parseCases(s, ['a', 'b']).map((c) => c.name);
  t.same(names('golden,models'), ['golden conv', 'golden upconv', 'golden flow', 'golden up2', 'golden up4', 'model a', 'model b']);
  t.same(names('golden:up4, model:b,golden:up4'), ['golden up4', 'model b']);
  const sweep = parseCases('sweep', []);
  t.equal(sweep.length, 7);
  const specs = sweep.map((c) => (c.kind === 'random' ? c.spec : undefined)!);
  t.same(specs.map((s) => s.bitsA).sort(), [2, 3, 4, 5, 6, 7, 8], 'every activation width 2..8');
  t.same(specs.map((s) => s.bitsW).sort(), [2, 3, 4, 5, 6, 7, 8], 'every weight width 2..8');
  t.same(sweepSpec(3), sweepSpec(3), 'deterministic');
  t.equal(parseCases('sweep:3', []).length, 3);
  for (const bad of ['golden:nope', 'model:c', 'sweep:0', 'frobnicate', '', 'golden:a:b']) t.throws(() => parseCases(bad, ['a']), UserError, bad);
});

t.test('reports: TAP point with numbers and diff, JUnit XML escaped', async (t) => {
  const r: CaseResult = {
    name: 'model <x>', ok: false, message: 'first failing layer conv1 (2 of 16 layers differ): c0 y0 x0: expected 3, got "2"',
    diag: ['c0 y0 x0: expected 3, got 2'], ms: 1234, boardMs: 1000, refMs: 5, bytesOut: 100, bytesIn: 2000, retransmits: 1, linkS: 0.182,
  };
  const tap = tapPoint(r, 3);
  t.match(tap, /^not ok 3 - model <x>\n  ---\n  message: "first failing layer conv1 .*got \\"2\\""\n  wall_ms: 1234\n  board_ms: 1000\n/);
  t.match(tap, /\n  diff:\n    - "c0 y0 x0: expected 3, got 2"\n  \.\.\.\n$/);
  const ok = { ...r, name: 'golden up2', ok: true, message: '24 cases bit-exact', diag: [] };
  t.match(tapPoint(ok, 1), /^ok 1 - golden up2 # 24 cases bit-exact\n/);
  const xml = junitXml([ok, r], 'suite & co', { bailOut: 'board stopped answering' });
  t.match(xml, /<testsuite name="suite &amp; co" tests="3" failures="1" errors="1"/);
  t.match(xml, /<testcase classname="flowfpga.regress" name="model &lt;x&gt;" time="1.234">\n      <failure message="first failing layer conv1 .*got &quot;2&quot;"/);
  t.match(xml, /<error message="board stopped answering" type="link">/);
});

t.test('command-line errors are one line with a hint, exit 2', async (t) => {
  const { runCli } = await import('./helpers/cli.js');
  for (const [args, msg] of [
    [['regress'], /^flowfpga: give exactly one of --serial DEV and --ssh user@host \(hint: /],
    [['regress', '--serial', '/dev/x', '--ssh', 'a@b'], /^flowfpga: give exactly one of --serial/],
    [['regress', '--ssh', 'a@b', '--cases', 'bogus'], /^flowfpga: --cases: unknown case 'bogus' \(hint: a comma list of: golden, /],
    [['regress', '--ssh', 'a@b', '--identity', '/no/such/key'], /^flowfpga: --identity \/no\/such\/key: no such file/],
    [['regress', '--serial', '/dev/ff-no-such-tty'], /^flowfpga: cannot open serial port \/dev\/ff-no-such-tty: .*\(hint: check the device name/],
    [['regress', '--serial', '/dev/x', '--timeout', '0'], /^flowfpga: bad --timeout '0'/],
    [['agent'], /^flowfpga: give exactly one of --serial DEV and --stdio/],
    [['agent', '--stdio', '--board', 'ref'], /^flowfpga: --board ref has no engine/],
    [['agent', '--stdio', '--board', 'zcu104', '--emu-fault', 'flip'], /^flowfpga: --emu-fault needs the virtual board, not zcu104/],
  ] as const) {
    const r = await runCli([...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg);
    t.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
