// The systemd watchdog tied to frame progress: WATCHDOG=1 goes out only when at least one frame completed since the
// previous ping. A timer alone would keep pinging from a process whose engine hung (the event loop stays alive while
// a job waits on the engine), so systemd would never restart it; gated on progress, a hung engine, a stalled
// camera or a wedged loop all go silent, and after WatchdogSec systemd kills the service and Restart=on-failure
// starts it again (with a PL reset on the next open).

export interface WatchdogPinger {
  watchdog(): boolean;
  status?(text: string): boolean;
}

export interface FrameWatchdogOptions {
  /** WatchdogSec in µs (WATCHDOG_USEC); pings are considered every half of it, as sd_watchdog_enabled(3) advises. */
  watchdogUsec: number;
  /** Called after each check without progress, with the time since the last frame (tests, logs). */
  onStall?: (msSinceProgress: number) => void;
  now?: () => number;
}

export class FrameWatchdog {
  readonly periodMs: number;
  readonly #pinger: WatchdogPinger;
  readonly #o: FrameWatchdogOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #frames = 0;
  #pingedAt = 0;
  #lastProgress = 0;
  #lastPing = -Infinity;
  #stalled = false;
  /** Pings sent and checks that found no progress. */
  pings = 0;
  stalls = 0;

  constructor(pinger: WatchdogPinger, o: FrameWatchdogOptions) {
    if (!(o.watchdogUsec > 0)) throw new RangeError(`watchdog period ${o.watchdogUsec} µs`);
    this.#pinger = pinger;
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    this.periodMs = Math.max(1, o.watchdogUsec / 2000);
    this.#lastProgress = this.#now();
  }

  /** Starts the periodic check (unref'd: it never keeps the process alive by itself). */
  start(): this {
    if (!this.#timer) {
      this.#timer = setInterval(() => this.check(), this.periodMs);
      this.#timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get frames(): number {
    return this.#frames;
  }

  /** One frame completed. Pings at once when the last ping is older than the period (slow frames stay covered). */
  progress(): void {
    this.#frames++;
    this.#lastProgress = this.#now();
    if (this.#lastProgress - this.#lastPing >= this.periodMs) this.#ping();
  }

  /** The periodic decision: ping when frames completed since the last ping, else count a stall (no ping). */
  check(): boolean {
    if (this.#frames > this.#pingedAt) return this.#ping();
    this.stalls++;
    this.#stalled = true;
    const since = this.#now() - this.#lastProgress;
    this.#pinger.status?.(`no frame completed for ${(since / 1000).toFixed(1)} s (watchdog ${(this.periodMs * 2) / 1000} s)`);
    this.#o.onStall?.(since);
    return false;
  }

  #ping(): boolean {
    this.#pingedAt = this.#frames;
    this.#lastPing = this.#now();
    this.pings++;
    const ok = this.#pinger.watchdog();
    if (this.#stalled) {
      this.#stalled = false;
      this.#pinger.status?.(`frames completing again (${this.#frames} so far)`);
    }
    return ok;
  }
}
