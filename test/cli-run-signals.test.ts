// Issue 10 item 6: SIGINT / SIGTERM stop `run` cleanly — the pair in flight completes, its outputs are whole, the
// source is closed, the virtual board is stopped and its files removed, exit 130 / 143. Real signals on a subprocess.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { createImage, encodePng, decodeFlo } from '../src/flow/index.js';
import { childPids, root, spawnCli, until } from './helpers/cli-proc.js';
import { tinyModelFile } from './helpers/tiny-model.js';

execFileSync('make', ['-s', '-C', join(root, 'hw'), 'emu'], { stdio: 'inherit' });
const { dir, modelPath } = tinyModelFile(t, 'ffrunsig-');
const frames = join(dir, 'frames');
fs.mkdirSync(frames);
for (let i = 0; i < 400; i++) {
  const img = createImage(64, 64);
  for (let k = 0; k < img.data.length; k++) img.data[k] = (k * 7 + i * 13) & 255;
  fs.writeFileSync(join(frames, `f${String(i).padStart(3, '0')}.png`), encodePng(img));
}

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  t.test(`${sig}: stop after the pair in flight, outputs complete, board gone, exit ${code}`, async (t) => {
    const out = join(dir, `out-${sig}`);
    const p = spawnCli(['run', '--board', 'emu', '--model', modelPath, '--input', frames, '--out', out]);
    try {
      await p.waitFor(/^f001: /m);
      const [emu] = await until(() => {
        const c = childPids(p.child.pid!, 'flowfpga-emu');
        return c.length ? c : undefined;
      }, 'the virtual board process');
      const argv = fs.readFileSync(`/proc/${emu}/cmdline`, 'utf8').split('\0');
      const emuDir = argv[argv.indexOf('--dir') + 1];
      t.ok(emuDir && fs.existsSync(emuDir), `board directory ${emuDir}`);
      p.child.kill(sig);
      const r = await p.done;
      t.equal(r.code, code, p.stderr());
      t.match(p.stderr(), new RegExp(`${sig}: stopping after the pair in flight`));
      const m2 = /^(\d+) pair\(s\) written to .*stopped by (\w+)/m.exec(p.stdout());
      t.ok(m2, `summary line: ${p.stdout().slice(-300)}`);
      t.equal(m2?.[2], sig);
      const n = Number(m2?.[1]);
      t.ok(n >= 1 && n < 399, `${n} pairs before the stop`);
      const flos = fs.readdirSync(out).filter((f) => f.endsWith('.flo'));
      t.equal(flos.length, n, 'every reported pair written, nothing more');
      for (const f of flos) t.equal(decodeFlo(fs.readFileSync(join(out, f))).width, 64, `${f} complete`);
      t.equal(fs.readdirSync(out).filter((f) => f.endsWith('.png')).length, n, 'PNGs complete too');
      await until(() => (fs.existsSync(`/proc/${emu}`) && !/^Z/m.test(procState(emu)) ? undefined : true), 'the board process to end', 10_000);
      t.notOk(fs.existsSync(emuDir), 'board directory removed');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
}

function procState(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '';
  } catch {
    return 'Z';
  }
}
