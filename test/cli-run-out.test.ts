// Issue 10 item 7: run never destroys or silently drops user data. --out problems are one line with a hint and exit
// 2 before any frame is computed; outputs never overwrite an input; numeric options are checked; the header states
// the pairs actually processed; unknown / missing options exit 2.
import t from 'tap';
import fs from 'node:fs';
import { join } from 'node:path';
import { createImage, encodePng } from '../src/flow/index.js';
import { prepareOutDir } from '../src/cli/outdir.js';
import { runCli } from './helpers/cli.js';
import { tinyModelFile } from './helpers/tiny-model.js';

const { dir, modelPath } = tinyModelFile(t, 'ffrunout-');
const run = (...args: string[]) => runCli(['run', '--board', 'ref', '--model', modelPath, ...args]);

/** One line on stderr, exit 2, and no frame computed (no header, no pair line). */
function oneLineExit2(t: Tap.Test, r: { code: number; stderr: string; stdout: string }, re: RegExp): void {
  t.equal(r.code, 2, r.stderr);
  t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  t.match(r.stderr, re);
  t.match(r.stderr, /\(hint: .+\)/);
  t.equal(r.stdout, '', 'nothing computed');
}

t.test('--out exists as a file', async (t) => {
  const f = join(dir, 'afile');
  fs.writeFileSync(f, 'keep me');
  oneLineExit2(t, await run('--out', f), /--out .*afile exists and is not a folder/);
  t.equal(fs.readFileSync(f, 'utf8'), 'keep me');
});

t.test('--out not creatable (a part of the path is a file)', async (t) => {
  const f = join(dir, 'afile2');
  fs.writeFileSync(f, 'x');
  oneLineExit2(t, await run('--out', join(f, 'sub')), /cannot create --out .*afile2 is a file/);
});

t.test('--out inside /proc, /sys, /dev', async (t) => {
  oneLineExit2(t, await run('--out', '/proc/x'), /--out \/proc\/x is inside proc/);
  oneLineExit2(t, await run('--out', '/sys/x'), /--out \/sys\/x is inside sysfs/);
  oneLineExit2(t, await run('--out', '/dev/shm/../x'), /under \/dev/);
});

t.test('--out read-only: permission (non-root) and EROFS (injected: root writes anywhere else)', async (t) => {
  if (process.geteuid?.() !== 0) {
    const ro = join(dir, 'ro');
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o555);
    oneLineExit2(t, await run('--out', join(ro, 'o')), /cannot write to --out .*: permission denied/);
    oneLineExit2(t, await run('--out', ro), /cannot write to --out .*: permission denied/);
    fs.chmodSync(ro, 0o755);
  }
  const erofs = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
  const roFs = { ...fs, openSync: () => { throw erofs; } } as unknown as typeof fs;
  const target = join(dir, 'ro2');
  t.throws(() => prepareOutDir(target, [], [], roFs), { name: 'UserError', message: `cannot write to --out ${target}: read-only filesystem` });
  const mkFail = { ...fs, mkdirSync: () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); } } as unknown as typeof fs;
  t.throws(() => prepareOutDir(join(dir, 'nope', 'x'), [], [], mkFail), /cannot write to --out .*: permission denied/);
});

t.test('outputs never overwrite an input: --out = the folder of PNG frames', async (t) => {
  const frames = join(dir, 'frames');
  fs.mkdirSync(frames);
  for (let i = 0; i < 3; i++) {
    const img = createImage(64, 64);
    img.data.fill(40 * i);
    fs.writeFileSync(join(frames, `f${i}.png`), encodePng(img));
  }
  const before = fs.readFileSync(join(frames, 'f0.png'));
  oneLineExit2(t, await run('--input', frames, '--out', frames), /would overwrite the input file .*f0\.png/);
  t.ok(fs.readFileSync(join(frames, 'f0.png')).equals(before), 'input untouched');
  // The same with a path that reaches the folder through a symlink.
  fs.symlinkSync(frames, join(dir, 'link'));
  oneLineExit2(t, await run('--input', frames, '--out', join(dir, 'link')), /would overwrite the input file/);
  // --no-png: the .flo names do not collide, so it runs.
  const ok = await run('--input', frames, '--out', frames, '--no-png');
  t.equal(ok.code, 0, ok.stderr);
  t.ok(fs.existsSync(join(frames, 'f0.flo')));
  t.ok(fs.readFileSync(join(frames, 'f0.png')).equals(before));
});

t.test('--limit / --frames reject bad values like eval', async (t) => {
  const out = join(dir, 'o-num');
  for (const [opt, v] of [['--limit', 'abc'], ['--limit', '0'], ['--limit', '1.5'], ['--limit', '-1'], ['--frames', '1'], ['--frames', 'x']]) {
    oneLineExit2(t, await run('--out', out, opt, v), new RegExp(`bad ${opt} '${v.replace('.', '\\.')}'`));
  }
  oneLineExit2(t, await run('--out', out, '--frames', '3'), /--frames counts frames of a camera, video or frame folder/);
});

t.test('the header states the pairs actually processed', async (t) => {
  const r = await run('--out', join(dir, 'o-hdr'), '--limit', '2');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^model tiny on reference .*; 2 pair\(s\) from FlyingChairs;/);
  t.match(r.stdout, /^2 pair\(s\) written to /m);
});

t.test('unknown options and missing arguments exit 2', async (t) => {
  const a = await run('--out', join(dir, 'o-x'), '--bogus');
  t.equal(a.code, 2);
  t.match(a.stderr, /unknown option '--bogus'/);
  const b = await run('--out');
  t.equal(b.code, 2);
  t.match(b.stderr, /argument missing/);
  const c = await runCli(['eval']);
  t.equal(c.code, 2);
  t.match(c.stderr, /required option '--dataset/);
  const h = await runCli(['run', '--help']);
  t.equal(h.code, 0, '--help is not an error');
});
