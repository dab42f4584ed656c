import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { loadGolden } from '../src/cli/commands/selftest.js';
import { parseFault } from '../src/emu/control.js';
import { startEmu } from '../src/emu/process.js';

const OPS = ['conv', 'upconv', 'flow', 'up2', 'up4'];
const committedCases = (op: string): number =>
  fs.readFileSync(path.join(import.meta.dirname, 'golden', `${op}.gv`), 'utf8').split('\n').filter((l) => l.startsWith('case ')).length;

t.test('virtual board: every check passes, one line each with numbers, exit 0', async (t) => {
  const r = await runCli(['selftest', '--board', 'emu']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^flowfpga selftest: virtual board \(models Ultra96-V2\), .*uio\d+, interrupt, shm pool \d+ MiB at 0x[0-9a-f]+; golden vectors: .*test\/golden$/);
  t.match(lines[1], /^PASS  identity +FFQ1 engine v1, contract 1, \d+x\d+ PEs, .* MHz \(1 job, \d+ µs\/job, \d+ ms\)$/);
  t.match(lines[2], /^PASS  memory round trip +\d+ bytes through a 1x1 identity conv in \d+ command\(s\), \d+ cycles \(1 job, \d+ µs\/job/);
  OPS.forEach((op, i) => {
    const n = committedCases(op);
    t.match(lines[3 + i], new RegExp(`^PASS  golden ${op} +${n}/${n} cases bit-exact with the reference \\(\\d+ jobs, \\d+ µs/job, \\d+ ms\\)$`));
  });
  t.match(lines[8], /^selftest: PASS, 7\/7 checks passed in \d+\.\d s$/);
  t.equal(lines.length, 9);
});

t.test('--json prints one object', async (t) => {
  const r = await runCli(['selftest', '--board', 'emu', '--json', '--timeout', '5000']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim().split('\n').length, 1);
  const o = JSON.parse(r.stdout);
  t.match(o, { ok: true, target: { kind: 'emu', board: 'emu', irq: true, dma: 'shm' }, passed: 7, failed: 0 });
  t.same(o.checks.map((c: { name: string }) => c.name), ['identity', 'memory round trip', ...OPS.map((op) => `golden ${op}`)]);
  for (const c of o.checks.slice(2)) {
    t.equal(c.passed, c.cases);
    t.ok(c.cases > 0 && c.jobs >= c.cases && c.usPerJob > 0, `${c.name}: ${c.jobs} jobs, ${c.usPerJob} µs/job`);
  }
});

t.test('a corrupted-output fault fails the data checks (not identity), exit 1', async (t) => {
  const r = await runCli(['selftest', '--board', 'emu', '--emu-fault', 'corrupt=0x10']);
  t.equal(r.code, 1);
  t.match(r.stdout, /^PASS  identity /m);
  t.match(r.stdout, /^FAIL  memory round trip +byte 0 \(channel 0\) is 0x[0-9a-f]+, expected 0x[0-9a-f]+/m);
  t.match(r.stdout, /^FAIL  golden conv +\d+\/\d+ cases differ from the reference; first: case \S+: out\[\d+\] = -?\d+, reference -?\d+/m);
  t.match(r.stdout, /^selftest: FAIL, 1\/7 checks passed in [\d.]+ s; failed: memory round trip, golden conv, golden upconv, golden flow, golden up2, golden up4$/m);
});

t.test('a hung engine: the self test stops at the first check the engine does not answer, exit 1', async (t) => {
  const r = await runCli(['selftest', '--board', 'emu', '--emu-fault', 'hang', '--timeout', '40', '--json']);
  t.equal(r.code, 1);
  const o = JSON.parse(r.stdout);
  t.equal(o.ok, false);
  // One timeout with its retry (2 x --timeout), then nothing else waits: not 7 checks x 2 timeouts.
  t.equal(o.checks.length, 1, 'only the identity check ran');
  t.equal(o.failed, 1);
  t.match(o.checks[0], { name: 'identity', ok: false, noAnswer: true, detail: /^engine did not finish within 40 ms \(2 attempts; AP_CTRL 0x1, 0 commands done\)$/ });
  t.same(o.notRun, ['memory round trip', ...OPS.map((op) => `golden ${op}`)]);

  const text = await runCli(['selftest', '--board', 'emu', '--emu-fault', 'hang', '--timeout', '40']);
  t.equal(text.code, 1);
  const lines = text.stdout.trim().split('\n');
  t.equal(lines.length, 3, 'header, one FAIL line, summary');
  t.match(lines[1], /^FAIL  identity +engine did not finish within 40 ms \(2 attempts; AP_CTRL 0x1, 0 commands done\) \(\d+ ms\)$/);
  t.match(lines[2], /^selftest: FAIL, 0\/1 checks passed in [\d.]+ s; failed: identity; the engine does not answer: 6 checks not run$/);
});

t.test('a board hung before the self test starts: the open probe fails once, nothing else runs', async (t) => {
  const faults = {};
  parseFault('hang', faults);
  const emu = await startEmu({ ddrMb: 4, faults });
  t.teardown(() => emu.stop());
  const prev = process.env.FLOWFPGA_EMU_DIR;
  process.env.FLOWFPGA_EMU_DIR = emu.info.dir;
  t.teardown(() => {
    if (prev === undefined) delete process.env.FLOWFPGA_EMU_DIR;
    else process.env.FLOWFPGA_EMU_DIR = prev;
  });
  const r = await runCli(['selftest', '--board', 'emu', '--timeout', '40', '--json']);
  t.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout);
  t.equal(o.checks.length, 1);
  t.match(o.checks[0], { name: 'identity', ok: false, noAnswer: true, detail: /^open: engine did not finish within 40 ms \(2 attempts/ });
  t.equal(o.notRun.length, 6);
});

t.test('user errors: one line with a hint, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--board', 'ref'], /^flowfpga: --board ref has no engine to test \(hint: /],
    [['--board', 'nope'], /^flowfpga: unknown board 'nope' \(hint: /],
    [['--board', 'emu', '--emu-fault', 'bogus'], /^flowfpga: unknown fault 'bogus' \(hint: faults: /],
    [['--board', 'pynq-z2', '--emu-fault', 'hang'], /^flowfpga: --emu-fault needs the virtual board, not pynq-z2 \(hint: add --board emu\)/],
    [['--board', 'emu', '--timeout', '0'], /^flowfpga: bad --timeout '0' \(hint: /],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['selftest', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1);
    t.equal(r.stdout, '');
  }
});

t.test('golden vectors: the committed files, else the same set generated in memory', async (t) => {
  const committed = loadGolden();
  t.match(committed.source, /test\/golden$/);
  const gen = loadGolden(path.join(import.meta.dirname, 'no-such-dir'));
  t.equal(gen.source, 'generated in memory (seed 1)');
  t.same(gen.files.map((f) => f.cases.length), committed.files.map((f) => f.cases.length));
  t.same(gen.files.map((f) => f.cases.map((c) => c.id)), committed.files.map((f) => f.cases.map((c) => c.id)));
  t.same(gen.files[0]!.cases[0]!.tensors.out!.data, committed.files[0]!.cases[0]!.tensors.out!.data);
});
