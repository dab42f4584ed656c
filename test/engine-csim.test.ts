// The HLS engine's C simulation (make -C hw csim): bit-exact on every golden vector with two buffer/PE
// configurations, fault cases, and the register map / command layout in hw/hls/registers.json.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from './helpers/tmp.js';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const HW = join(ROOT, 'hw');

function goldenDir(): string {
  const dir = join(ROOT, 'test', 'golden');
  if (existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.gv'))) return dir;
  // Before the TypeScript reference's vectors exist: the independent numpy model's vectors.
  const out = tempDir(t, 'ff-devgv-');
  execFileSync('/usr/bin/python3', [join(HW, 'hls', 'tb', 'gen_dev_vectors.py'), out, '3']);
  return out;
}

function countCases(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.gv')) n += (readFileSync(join(dir, f), 'utf8').match(/^case /gm) ?? []).length;
  }
  return n;
}

function csim(golden: string): { rc: number; out: string } {
  const r = spawnSync('make', ['-s', '-C', HW, 'csim', `GOLDEN=${golden}`], { encoding: 'utf8', timeout: 300_000 });
  return { rc: r.status ?? -1, out: r.stdout + r.stderr };
}

/** Totals per configuration: [passed, failed, faultsPassed]. */
function totals(out: string): Array<[number, number, number]> {
  const res: Array<[number, number, number]> = [];
  let faults = -1;
  for (const line of out.split('\n')) {
    let m = /^faults: (\d+) passed, (\d+) failed$/.exec(line);
    if (m) faults = Number(m[1]);
    m = /^(\d+) passed, (\d+) failed$/.exec(line);
    if (m) res.push([Number(m[1]), Number(m[2]), faults]);
  }
  return res;
}

const golden = goldenDir();
const cases = countCases(golden);

t.test('csim is bit-exact on every golden vector and passes the fault cases', async (t) => {
  t.ok(cases > 0, `golden cases in ${golden}`);
  const { rc, out } = csim(golden);
  t.equal(rc, 0, out.split('\n').filter((l) => l.startsWith('FAIL')).join('\n') || 'csim exit code');
  const tot = totals(out);
  t.equal(tot.length, 4, 'default, small, wide and nopack builds all ran');
  t.match(out, /config: FF_TM=64 FF_TN=16 FF_IBUF=16384 FF_OBUF=2048 FF_SBUF=4096 FF_PACK2=1 FF_ACC_URAM=1/);
  t.match(out, /config: FF_TM=8 FF_TN=8 .* FF_PACK2=0/);
  // ff_mul2 exhaustive for n = 2..8 (7) and the extreme products through the engine (4), in every build.
  const packed = [...out.matchAll(/^packed products \(FF_PACK2=(\d)\): (\d+) passed, (\d+) failed$/gm)];
  t.same(packed.map((m) => [m[1], Number(m[2]), Number(m[3])]), [['1', 11, 0], ['1', 11, 0], ['1', 11, 0], ['0', 11, 0]]);
  for (const [passed, failed, faults] of tot) {
    t.equal(failed, 0);
    t.ok(faults >= 20, `fault cases: ${faults}`);
    t.equal(passed, cases + faults, 'every case counted once');
  }
  t.match(out, /config: FF_TM=3 FF_TN=5/);
});

t.test('csim is bit-exact with a 128-bit read port, wide store and up2 interpolation (the ZynqMP builds)', async (t) => {
  const exe = join(tempDir(t, 'ff-wide-'), 'csim');
  execFileSync('g++', ['-std=c++17', '-O2', '-w', '-DFF_TM=6', '-DFF_TN=4', '-DFF_IBUF=300', '-DFF_OBUF=64', '-DFF_SBUF=128',
    '-DFF_BUS_BYTES=16', '-DFF_WR_BYTES=8', '-DFF_UP_PAR=4', `-I${join(HW, 'hls')}`, '-o', exe,
    join(HW, 'hls', 'flowfpga_engine.cpp'), join(HW, 'hls', 'tb', 'csim_main.cpp')], { timeout: 120_000 });
  const r = spawnSync(exe, [golden], { encoding: 'utf8', timeout: 300_000 });
  const out = r.stdout + r.stderr;
  t.equal(r.status, 0, out.split('\n').filter((l) => l.startsWith('FAIL')).join('\n') || 'csim exit code');
  const tot = totals(out);
  t.equal(tot.length, 1);
  t.equal(tot[0]![1], 0);
  t.match(out, /^packed products \(FF_PACK2=1\): 11 passed, 0 failed$/m);
  t.equal(tot[0]![0], cases + tot[0]![2], 'every case counted once');
});

t.test('the packed-product check fails on a packing that drops the 25th bit of the packed weight', async (t) => {
  // w_hi = -128 with w_lo < 0 needs 25 bits (below -2^23): a 24-bit packed weight must be caught, by ff_mul2's
  // exhaustive check and by the engine's extreme-product command alike.
  const dir = tempDir(t, 'ff-pack24-');
  const hdr = readFileSync(join(HW, 'hls', 'flowfpga_engine.h'), 'utf8');
  const bad = hdr.replace('ap_int<9 + FF_PACK_S> wp', 'ap_int<8 + FF_PACK_S> wp');
  t.not(bad, hdr, 'the packed weight declaration is where the test expects it');
  // A quoted include looks beside the including file first: the engine source moves next to the bad header.
  writeFileSync(join(dir, 'flowfpga_engine.h'), bad);
  writeFileSync(join(dir, 'flowfpga_engine.cpp'), readFileSync(join(HW, 'hls', 'flowfpga_engine.cpp')));
  const exe = join(dir, 'csim');
  execFileSync('g++', ['-std=c++17', '-O1', '-w', `-I${dir}`, `-I${join(HW, 'hls')}`, '-o', exe,
    join(dir, 'flowfpga_engine.cpp'), join(HW, 'hls', 'tb', 'csim_main.cpp')], { timeout: 120_000 });
  const gv = readdirSync(golden).filter((f) => f.endsWith('.gv')).sort()[0]!;
  const r = spawnSync(exe, [join(golden, gv)], { encoding: 'utf8', timeout: 120_000 });
  t.not(r.status, 0);
  t.match(r.stdout, /^FAIL ff_mul2 n=8: x=1 w_lo=-128 w_hi=-128/m);
  t.match(r.stdout, /^FAIL packed extremes n=8/m);
  t.match(r.stdout, /^packed products \(FF_PACK2=1\): \d+ passed, [1-9]\d* failed$/m);
});

t.test('csim fails on a vector whose expected output is wrong', async (t) => {
  const src = readdirSync(golden).filter((f) => f.endsWith('.gv')).sort()[0]!;
  const lines = readFileSync(join(golden, src), 'utf8').split('\n');
  // Keep the header and the first case only, and change one expected value.
  const end = lines.indexOf('end');
  const caseLines = lines.slice(0, end + 1);
  const outIdx = caseLines.findIndex((l) => l.startsWith('tensor out '));
  const toks = caseLines[outIdx]!.split(' ');
  const last = toks.length - 1;
  toks[last] = String(Number(toks[last]) === 0 ? 1 : Number(toks[last]) - 1);
  caseLines[outIdx] = toks.join(' ');
  const dir = tempDir(t, 'ff-badgv-');
  writeFileSync(join(dir, src), caseLines.join('\n') + '\n');
  const { rc, out } = csim(dir);
  t.not(rc, 0);
  t.match(out, /^FAIL .* case /m);
  t.match(out, /\n\d+ passed, 1 failed\n/);
});

t.test('csim with no vectors is an error, not a pass', async (t) => {
  const { rc, out } = csim(tempDir(t, 'ff-nogv-'));
  t.not(rc, 0);
  t.match(out, /no golden vectors/);
});

t.test('registers.json matches the engine header and the Vitis HLS offset rules', async (t) => {
  const reg = JSON.parse(readFileSync(join(HW, 'hls', 'registers.json'), 'utf8'));
  const layout = JSON.parse(execFileSync(join(HW, 'build', 'csim'), ['--layout'], { encoding: 'utf8' }));
  t.same(reg.command.fields, layout.fields, 'command fields');
  t.equal(reg.command.bytes, 128);
  t.same(reg.status, layout.status, 'status codes');
  t.equal(reg.magic, layout.magic);
  t.equal(reg.version, layout.version);
  // Recompute argument offsets: from 0x10, <=32-bit takes 8 bytes, 64-bit 12; outputs have ap_vld after the data.
  let off = 0x10;
  for (const r of reg.registers.filter((x: { kind: string }) => x.kind !== 'control')) {
    t.equal(r.offset, off, `${r.name} offset`);
    if (r.dir === 'out') t.equal(r.vld_offset, off + (r.width > 32 ? 8 : 4), `${r.name} ap_vld offset`);
    off += r.width > 32 ? 12 : 8;
  }
  t.ok(off <= reg.range_bytes);
  const names = reg.registers.map((r: { name: string }) => r.name);
  t.same(names.slice(0, 4), ['AP_CTRL', 'GIE', 'IER', 'ISR']);
  // Argument order of the top function is the register order.
  const hdr = readFileSync(join(HW, 'hls', 'flowfpga_engine.h'), 'utf8');
  const sig = /void flowfpga_engine\(([^)]*)\)/.exec(hdr)![1]!;
  const args = sig.split(',').map((a) => a.trim().split(/[\s*&]+/).pop());
  t.same(args, names.slice(4));
});
