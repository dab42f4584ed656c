// sd_notify(3) from the runtime itself: one AF_UNIX datagram of newline-separated KEY=value lines to
// $NOTIFY_SOCKET ('@' = abstract namespace), through Sys.socketDgram/sendto (koffi; Node has no datagram sockets
// on AF_UNIX). The main process sends, so NotifyAccess=main holds (a forked systemd-notify may not be attributed).
// Without NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op.
import { libcSys } from '../sys/libc.js';
import type { Sys } from '../sys/types.js';

export interface NotifyOptions {
  env?: NodeJS.ProcessEnv;
  sys?: Sys;
  /** Where a failed send is reported, once (default stderr). */
  warn?: (line: string) => void;
  /** Process id to compare with WATCHDOG_PID (default process.pid). */
  pid?: number;
}

export class Notifier {
  readonly socket: string | undefined;
  /** WatchdogSec as systemd exported it (WATCHDOG_USEC), when it is meant for this process; else undefined. */
  readonly watchdogUsec: number | undefined;
  readonly #sys: Sys | undefined;
  readonly #warn: (line: string) => void;
  #fd = -1;
  #warned = false;
  /** Datagrams sent (tests and status). */
  sent = 0;

  constructor(o: NotifyOptions = {}) {
    const env = o.env ?? process.env;
    const sock = env.NOTIFY_SOCKET?.trim();
    this.socket = sock ? sock : undefined;
    this.#sys = this.socket ? (o.sys ?? libcSys()) : undefined;
    this.#warn = o.warn ?? ((l) => process.stderr.write(l + '\n'));
    const usec = Number(env.WATCHDOG_USEC);
    const pid = env.WATCHDOG_PID === undefined ? undefined : Number(env.WATCHDOG_PID);
    const mine = pid === undefined || pid === (o.pid ?? process.pid);
    this.watchdogUsec = this.socket && mine && Number.isInteger(usec) && usec > 0 ? usec : undefined;
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /**
   * Sends one message (lines "KEY=value"). False when not under systemd or the send failed; a failure is reported
   * once and never thrown — the service keeps running, and systemd's start timeout or watchdog acts on silence.
   */
  notify(state: string): boolean {
    if (!this.socket || !this.#sys) return false;
    try {
      if (this.#fd < 0) this.#fd = this.#sys.socketDgram();
      this.#sys.sendto(this.#fd, Buffer.from(state, 'utf8'), this.socket);
      this.sent++;
      return true;
    } catch (e) {
      if (!this.#warned) {
        this.#warned = true;
        this.#warn(`flowfpga: cannot notify systemd at ${this.socket}: ${(e as Error).message}`);
      }
      return false;
    }
  }

  /** READY=1 (Type=notify: the unit becomes active), with a status line. */
  ready(status?: string): boolean {
    return this.notify(`READY=1${status ? `\nSTATUS=${oneLine(status)}` : ''}`);
  }

  watchdog(): boolean {
    return this.notify('WATCHDOG=1');
  }

  status(text: string): boolean {
    return this.notify(`STATUS=${oneLine(text)}`);
  }

  stopping(): boolean {
    return this.notify('STOPPING=1');
  }

  close(): void {
    if (this.#fd >= 0 && this.#sys) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#sys.close(fd);
    }
  }
}

/** STATUS= must stay on its line: a newline would start a new KEY=value. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}
