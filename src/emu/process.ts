// Lifecycle of the virtual board process: temp dir, spawn, ready line with a timeout, stop, and no leftovers —
// the board is killed when this process exits (exit hook) or dies (PR_SET_PDEATHSIG in the board), and removes
// its directory itself when it is killed that way (--cleanup).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { requireEmuBinary } from './binary.js';
import { faultArgs, type EmuFaults } from './control.js';

/** What the board prints on its ready line (and writes to <dir>/board.json). */
export interface EmuInfo {
  pid: number;
  dir: string;
  sysfsRoot: string;
  devRoot: string;
  uioName: string;
  uioIndex: number;
  /** The register file (the fake /dev/uioN). */
  regs: string;
  regsPhys: string;
  regsSize: number;
  /** The interrupt socket. */
  irq: string;
  ddr: string;
  ddrBase: string;
  ddrSize: number;
  control: string;
  isr: 'tow' | 'cor';
  faults: number;
  caps: { magic: number; version: number; pe: number; ibuf: number; obuf: number; sbuf: number; feat: number; mhz: number };
}

export interface EmuStartOptions {
  /** Virtual DDR size in MiB (default 64). */
  ddrMb?: number;
  /** Physical address of the virtual DDR (default 0x10000000). */
  ddrBase?: bigint;
  /** ISR flavour (default tow, as Vitis 2023.1–2025.2 generate). */
  isr?: 'tow' | 'cor';
  faults?: EmuFaults;
  /** Directory for the board's files; default a fresh temp dir (removed on stop). */
  dir?: string;
  /** Ready-line timeout; default 10 s. */
  timeoutMs?: number;
  /** Where the board's stderr goes after it is up (default: forwarded to ours). */
  stderr?: 'inherit' | 'ignore';
}

const READY = 'FLOWFPGA-EMU READY ';
const live = new Set<EmuProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // Synchronous only: kill what is left and remove its files.
  process.on('exit', () => {
    for (const e of live) e.killNow();
  });
}

export class EmuProcess {
  #exited = false;
  readonly exited: Promise<number | null>;

  constructor(
    readonly info: EmuInfo,
    readonly child: ChildProcess,
    readonly ownDir: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#exited = true;
        resolve(child.exitCode);
        return;
      }
      child.once('exit', (code) => {
        this.#exited = true;
        live.delete(this);
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.info.pid;
  }
  get running(): boolean {
    return !this.#exited;
  }

  /** SIGTERM, wait up to `timeoutMs`, then SIGKILL; removes the directory if it was made for this board. */
  async stop(timeoutMs = 3000): Promise<void> {
    if (!this.#exited) {
      // The child is unref'd (a forgotten board must not keep us alive); awaiting its exit while unref'd lets the
      // event loop empty and the process exit 0 with the caller's pending error lost (a SIGSTOPped board). Ref it
      // for the wait.
      this.child.ref();
      this.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    live.delete(this);
    if (this.ownDir) fs.rmSync(this.info.dir, { recursive: true, force: true });
  }

  /** @internal exit hook */
  killNow(): void {
    if (!this.#exited) this.child.kill('SIGKILL');
    if (this.ownDir) fs.rmSync(this.info.dir, { recursive: true, force: true });
  }
}

export function emuArgs(o: EmuStartOptions, dir: string, cleanup: boolean): string[] {
  const args = ['--dir', dir];
  if (o.ddrMb !== undefined) args.push('--ddr-mb', String(o.ddrMb));
  if (o.ddrBase !== undefined) args.push('--ddr-base', `0x${o.ddrBase.toString(16)}`);
  if (o.isr) args.push('--isr', o.isr);
  for (const f of faultArgs(o.faults ?? {})) args.push('--fault', f);
  if (cleanup) args.push('--cleanup');
  return args;
}

/** Starts a virtual board and resolves once it printed its ready line. */
export async function startEmu(o: EmuStartOptions = {}): Promise<EmuProcess> {
  const bin = requireEmuBinary();
  if (o.ddrMb !== undefined && (!Number.isInteger(o.ddrMb) || o.ddrMb < 1 || o.ddrMb > 4096)) {
    throw new UserError(`--ddr-mb ${o.ddrMb} is out of range`, 'use 1..4096 MiB');
  }
  const ownDir = o.dir === undefined;
  // Short path: the interrupt socket's path must fit sockaddr_un (108 bytes).
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ffemu-'));
  const child = spawn(bin, emuArgs(o, dir, ownDir), { stdio: ['ignore', 'pipe', 'pipe'] });
  const timeoutMs = o.timeoutMs ?? 10_000;
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const onErr = (s: string): void => {
    stderr = (stderr + s).slice(-2000);
  };
  child.stderr!.on('data', onErr);
  const cleanupDir = (): void => {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  let info: EmuInfo;
  try {
    info = await new Promise<EmuInfo>((resolve, reject) => {
      let buf = '';
      const fail = (msg: string): void => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        reject(new UserError(msg, stderr.trim() ? `board said: ${stderr.trim().split('\n').pop()}` : "check 'make -C hw emu' built a working binary"));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`virtual board did not report ready within ${timeoutMs} ms`);
      }, timeoutMs);
      const onData = (chunk: Buffer): void => {
        buf += chunk.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        if (!line.startsWith(READY)) return fail(`virtual board printed '${line.slice(0, 120)}' instead of its ready line`);
        try {
          resolve(JSON.parse(line.slice(READY.length)) as EmuInfo);
        } catch {
          fail(`virtual board ready line is not JSON: '${line.slice(0, 120)}'`);
        }
      };
      const onExit = (code: number | null, sig: string | null): void => {
        // Let the stderr pipe drain so the board's own message is in the hint.
        setImmediate(() => fail(`virtual board exited during start (${sig ?? `exit code ${code}`})`));
      };
      child.stdout!.on('data', onData);
      child.once('exit', onExit);
      child.once('error', (e) => fail(`cannot run the virtual board ${bin}: ${e.message}`));
    });
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    cleanupDir();
    throw e;
  }
  child.stderr!.off('data', onErr);
  if (o.stderr === 'ignore') child.stderr!.resume();
  else child.stderr!.on('data', (s: string) => process.stderr.write(s));
  child.stdout!.resume();
  // A forgotten board must not keep the process alive; the exit hook kills it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const p = new EmuProcess(info, child, ownDir);
  live.add(p);
  hookExit();
  return p;
}

/** Reads <dir>/board.json of a board started elsewhere (flowfpga emu). */
export function readEmuInfo(dir: string): EmuInfo {
  const f = path.join(dir, 'board.json');
  let text: string;
  try {
    text = fs.readFileSync(f, 'utf8');
  } catch {
    throw new UserError(`no virtual board at ${dir} (${f} missing)`, "start one with 'flowfpga emu' and use the directory it prints");
  }
  try {
    return JSON.parse(text) as EmuInfo;
  } catch {
    throw new UserError(`${f} is not valid JSON`, 'restart the virtual board');
  }
}
