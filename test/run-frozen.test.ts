// Issue 13 item 1: a frozen board (the virtual board process SIGSTOPped mid-run) must end `run` and `selftest` with
// an error and a non-zero exit, never exit 0 with work unfinished. Before the fix both exited 0 silently: the board
// child is unref'd and its exit was awaited during cleanup, so the event loop emptied and the error was lost.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childPids, root, spawnCli, until } from './helpers/cli-proc.js';

execFileSync('make', ['-s', '-C', path.join(root, 'hw'), 'emu'], { stdio: 'inherit' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ffrun-frozen-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function freezeBoardOnce(args: string[], started: RegExp): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const p = spawnCli(args);
  const stopped: number[] = [];
  try {
    await p.waitFor(started);
    const [emu] = await until(() => {
      const c = childPids(p.child.pid!, 'flowfpga-emu');
      return c.length ? c : undefined;
    }, 'the virtual board process');
    process.kill(emu, 'SIGSTOP');
    stopped.push(emu);
    const r = await p.done;
    return { code: r.code, stderr: p.stderr(), stdout: p.stdout() };
  } finally {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone (the CLI killed it) */
      }
    }
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
}

t.test('run: board frozen mid-run → one error line, non-zero exit, unfinished pairs not claimed', async (t) => {
  const out = path.join(tmp, 'run');
  const r = await freezeBoardOnce(['run', '--board', 'emu', '--out', out, '--timeout', '1000', '--verify', 'off'], /pair\(s\) from/);
  t.not(r.code, 0, `exit status ${r.code}; stderr: ${r.stderr}`);
  t.match(r.stderr, /^flowfpga: .+/m, 'an error is printed');
  t.notMatch(r.stderr, /work unfinished/, 'the error itself arrives (not only the lost-wait guard)');
  const flos = fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.endsWith('.flo')) : [];
  t.ok(flos.length < 3, `${flos.length} of 3 pairs written`);
  t.notMatch(r.stdout, /3 pair\(s\) written/);
});

t.test('selftest: board frozen mid-run → non-zero exit with an error', async (t) => {
  const r = await freezeBoardOnce(['selftest', '--board', 'emu', '--timeout', '1000'], /flowfpga selftest:/);
  t.not(r.code, 0, `exit status ${r.code}; stderr: ${r.stderr}`);
  t.match(r.stderr + r.stdout, /FAIL|flowfpga: /);
  t.notMatch(r.stderr, /work unfinished/);
});
