// The CLI as a real subprocess (from src/, through the TypeScript loader the tests use), for signals and exit codes.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliProc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or 128 + signal number style name) once the process exited and its pipes closed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when `re` matches stdout (or stderr); rejects if the process ends first. */
  waitFor: (re: RegExp, stream?: 'stdout' | 'stderr') => Promise<void>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProc {
  const script = `import { main } from ${JSON.stringify(path.join(root, 'src/cli/main.ts'))};
    main(['node', 'flowfpga', ...process.argv.slice(1)]).catch((e) => { process.stderr.write('flowfpga: ' + (e && e.message ? e.message : String(e)) + '\\n'); process.exit(1); });`;
  const child = spawn(process.execPath, ['--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', '--input-type=module', '-e', script, ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const poke = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => ((out += s), poke()));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => ((err += s), poke()));
  let ended = false;
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('close', (code, signal) => ((ended = true), poke(), res({ code, signal }))));
  const waitFor = async (re: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> => {
    for (;;) {
      if (re.test(stream === 'stdout' ? out : err)) return;
      if (ended) throw new Error(`process ended before ${re} appeared; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, stdout: () => out, stderr: () => err, done, waitFor };
}

/** Direct children of `pid` whose command name is `comm` (scans /proc). */
export function childPids(pid: number, comm?: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === pid && (comm === undefined || name === comm)) out.push(Number(d));
  }
  return out;
}

/** Waits (bounded, by polling) until `f` returns a value. */
export async function until<T>(f: () => T | undefined, what: string, timeoutMs = 60_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
