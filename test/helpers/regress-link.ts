// Real parts for the regression tests: pseudo-terminal pairs from socat, a relay between two of them (serialport on
// both ends) that corrupts, drops, duplicates or withholds bytes, and `flowfpga agent` as its own process from src/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { Prng } from '../../src/reference/prng.js';

export const root = path.resolve(import.meta.dirname, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function haveSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Polls `cond` every 20 ms up to `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A socat-made pty pair: bytes written to one end come out of the other. */
export async function ptyPair(dir: string, a: string, b: string): Promise<{ a: string; b: string; proc: ChildProcess }> {
  const pa = path.join(dir, a);
  const pb = path.join(dir, b);
  const proc = spawn('socat', [`pty,raw,echo=0,link=${pa}`, `pty,raw,echo=0,link=${pb}`], { stdio: 'ignore' });
  await waitFor(() => fs.existsSync(pa) && fs.existsSync(pb), 10_000, 'socat ptys');
  return { a: pa, b: pb, proc };
}

export interface RelayFaults {
  /** Per-byte probability of each fault kind. */
  corrupt?: number;
  drop?: number;
  duplicate?: number;
  /** Forward nothing from the board any more (the board "stops answering"). */
  muteBoard?: boolean;
  /** Pace forwarding to this many bytes per second per direction (a real UART's rate); 0 = as fast as the pty. */
  bytesPerSecond?: number;
}

/** Forwards host ↔ board between two pty ends, injecting faults from a seeded PRNG; counts what it did. */
export class Relay {
  readonly counts = { corrupted: 0, dropped: 0, duplicated: 0, bytes: 0 };
  faults: RelayFaults;
  #rng: Prng;
  #ports: SerialPort[] = [];

  private constructor(faults: RelayFaults, seed: number) {
    this.faults = faults;
    this.#rng = new Prng(seed);
  }

  static async open(hostSide: string, boardSide: string, faults: RelayFaults = {}, seed = 7): Promise<Relay> {
    const r = new Relay(faults, seed);
    const open = (p: string) => new Promise<SerialPort>((res, rej) => {
      const s = new SerialPort({ path: p, baudRate: 115200 }, (e) => (e ? rej(e) : res(s)));
    });
    const h = await open(hostSide);
    const b = await open(boardSide);
    r.#ports = [h, b];
    r.#pipe(h, b, false);
    r.#pipe(b, h, true);
    return r;
  }

  #pipe(from: SerialPort, to: SerialPort, fromBoard: boolean): void {
    let queue = Promise.resolve();
    from.on('data', (d: Buffer) => {
      if (fromBoard && this.faults.muteBoard) return;
      const out: number[] = [];
      const f = this.faults;
      for (const byte of d) {
        this.counts.bytes++;
        const x = this.#rng.next();
        if (f.drop && x < f.drop) {
          this.counts.dropped++;
          continue;
        }
        if (f.corrupt && x < (f.drop ?? 0) + f.corrupt) {
          this.counts.corrupted++;
          out.push(byte ^ (1 << this.#rng.int(0, 7)));
          continue;
        }
        out.push(byte);
        if (f.duplicate && x < (f.drop ?? 0) + (f.corrupt ?? 0) + f.duplicate) {
          this.counts.duplicated++;
          out.push(byte);
        }
      }
      const bps = f.bytesPerSecond ?? 0;
      // Paced: each chunk leaves after the time its bytes take on the line (chunks queue in order).
      queue = queue.then(async () => {
        if (bps) await sleep((out.length / bps) * 1000);
        to.write(Buffer.from(out));
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#ports.map((p) => new Promise<void>((r) => (p.isOpen ? p.close(() => r()) : r()))));
  }
}

/** `flowfpga agent …` from src/ as a child process; resolves when it serves (its "serving on" log line). */
export async function startAgent(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ proc: ChildProcess; log: () => string; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, ['--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', path.join(root, 'test/helpers/flowfpga-src.ts'), 'agent', ...args],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env } });
  let log = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => (log += s));
  let exited = false;
  proc.once('exit', () => (exited = true));
  await waitFor(() => log.includes('serving on') || exited, 180_000, 'the agent to serve');
  if (exited) throw new Error(`agent exited: ${log}`);
  return {
    proc,
    log: () => log,
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      await waitFor(() => exited, 20_000, 'the agent to exit');
    },
  };
}
