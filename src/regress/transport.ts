// Byte transports of the regression link: a serial port (serialport), this process's stdin/stdout (the agent under
// SSH), and an `ssh … flowfpga agent --stdio` child process (the host). All have the same shape; the link (link.ts)
// does framing, sequence numbers and retransmission on top.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors.js';

export interface Transport {
  /** One line for logs: "serial /dev/ttyUSB0 at 115200 baud", "ssh root@board". */
  readonly description: string;
  /** Line rate in bits per second where there is one (serial); link time is computed from it. */
  readonly baud?: number;
  write(data: Uint8Array): void;
  /** Receives every chunk read from the link. */
  onData(cb: (data: Uint8Array) => void): void;
  /** Called once when the far end goes away (EOF, port closed, child exited), with a reason. */
  onClose(cb: (why: string) => void): void;
  close(): Promise<void>;
}

/** Over a readable + writable pair (stdin/stdout, a child's pipes). */
export class StreamTransport implements Transport {
  #closeCbs: Array<(why: string) => void> = [];
  #closed = false;

  /**
   * `child`: the streams are a child process's pipes; its exit (reported by the owner through fail()) is the close,
   * not EOF or EPIPE, which only race it with a less useful reason.
   */
  constructor(readonly description: string, private readonly input: Readable, private readonly output: Writable,
    private readonly onCloseExtra?: () => Promise<void>, child = false) {
    if (!child) input.on('end', () => this.fail('end of input'));
    input.on('error', (e) => (child ? undefined : this.fail(e.message)));
    output.on('error', (e) => (child ? undefined : this.fail(e.message)));
  }

  /** The far end went away: tell every onClose listener (once). */
  fail(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cb of this.#closeCbs) cb(why);
  }

  write(data: Uint8Array): void {
    if (!this.output.writableEnded && !this.output.destroyed) this.output.write(data);
  }

  onData(cb: (data: Uint8Array) => void): void {
    this.input.on('data', (d: Buffer) => cb(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  }

  onClose(cb: (why: string) => void): void {
    this.#closeCbs.push(cb);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.input.pause();
    const out = this.output;
    // end()'s callback never comes on a pipe whose reader is gone (EPIPE): also settle on error / close.
    if (!out.writableEnded && !out.destroyed) {
      await new Promise<void>((r) => {
        out.once('error', () => r());
        out.once('close', () => r());
        out.end(() => r());
      });
    }
    await this.onCloseExtra?.();
  }
}

/** This process's stdin/stdout: `flowfpga agent --stdio` (nothing else may write to stdout meanwhile). */
export function stdioTransport(): Transport {
  return new StreamTransport('stdio', process.stdin, process.stdout);
}

export interface SshOptions {
  /** user@host or host. */
  target: string;
  port?: number;
  identity?: string;
  /** Extra `-o` options, e.g. UserKnownHostsFile=… */
  options?: string[];
  /** The remote command (default `flowfpga agent --stdio`). */
  command?: string;
  /** The ssh client binary (default `ssh` on PATH). */
  ssh?: string;
  /** Receives the child's stderr lines (the agent's and ssh's messages). */
  onStderr?: (line: string) => void;
}

/** The ssh client as a child process running the agent on the board; its stdin/stdout are the link. */
export function sshTransport(o: SshOptions): Transport {
  const args = ['-T', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
  if (o.port !== undefined) args.push('-p', String(o.port));
  if (o.identity) args.push('-i', o.identity, '-o', 'IdentitiesOnly=yes');
  for (const opt of o.options ?? []) args.push('-o', opt);
  args.push('--', o.target, o.command ?? 'flowfpga agent --stdio');
  const bin = o.ssh ?? 'ssh';
  const child: ChildProcess = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderrTail = (stderrTail + s).slice(-2000);
    const lines = s.split('\n');
    for (const l of lines) if (l.trim()) o.onStderr?.(l.trim());
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const t = new StreamTransport(`ssh ${o.target}${o.port ? ` port ${o.port}` : ''}`, child.stdout!, child.stdin!, async () => {
    const killer = setTimeout(() => child.kill('SIGTERM'), 3000);
    await exited;
    clearTimeout(killer);
  }, true);
  child.once('error', (e: NodeJS.ErrnoException) => t.fail(e.code === 'ENOENT' ? `cannot run '${bin}': not found` : e.message));
  // The reason the far end went away: the exit status and ssh's (or the agent's) last stderr line.
  child.once('close', (code, sig) => {
    const last = stderrTail.trim().split('\n').pop() ?? '';
    t.fail(`ssh exited with ${sig ?? `code ${code}`}${last ? `: ${last}` : ''}`);
  });
  return t;
}

/** A serial port through the `serialport` package (loaded on first use: the host-only SSH path does not need it). */
export async function serialTransport(path: string, baud: number): Promise<Transport> {
  let SerialPort: typeof import('serialport').SerialPort;
  try {
    ({ SerialPort } = await import('serialport'));
  } catch (e) {
    throw new UserError(`cannot load the serialport package: ${(e as Error).message.split('\n')[0]}`, 'reinstall flowfpga (npm install) on this machine');
  }
  const port = new SerialPort({ path, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
    .catch((e: Error) => {
      throw new UserError(`cannot open serial port ${path}: ${e.message.replace(/^Error: /, '')}`, 'check the device name (ls /dev/tty*) and that you may use it (group dialout)');
    });
  const closeCbs: Array<(why: string) => void> = [];
  let closed = false;
  const fire = (why: string): void => {
    if (closed) return;
    closed = true;
    for (const cb of closeCbs) cb(why);
  };
  port.on('close', () => fire(`serial port ${path} closed`));
  port.on('error', (e: Error) => fire(`serial port ${path}: ${e.message}`));
  return {
    description: `serial ${path} at ${baud} baud`,
    baud,
    write: (d) => void port.write(Buffer.from(d.buffer, d.byteOffset, d.length)),
    onData: (cb) => void port.on('data', (d: Buffer) => cb(new Uint8Array(d.buffer, d.byteOffset, d.length))),
    onClose: (cb) => void closeCbs.push(cb),
    close: async () => {
      closed = true;
      if (!port.isOpen) return;
      await new Promise<void>((r) => port.drain(() => r()));
      await new Promise<void>((r) => port.close(() => r()));
    },
  };
}
