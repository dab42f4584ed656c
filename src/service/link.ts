// What a frame loop tells systemd: READY=1 once the device is open, the model loaded and the first frame done
// (Type=notify: the unit turns active only when the service really computes flow), then WATCHDOG=1 on frame progress
// (watchdog.ts), STATUS= lines, and STOPPING=1 at the end. Outside systemd (no NOTIFY_SOCKET) it does nothing.
import { Notifier } from './notify.js';
import { FrameWatchdog } from './watchdog.js';

export interface FrameInfo {
  /** Wall time of the frame, ms. */
  ms?: number;
  /** One line for `systemctl status` (device, model, size, where it is served). */
  what?: string;
}

export class ServiceLink {
  readonly notifier: Notifier;
  #watchdog: FrameWatchdog | undefined;
  #frames = 0;
  #ready = false;

  constructor(notifier: Notifier = new Notifier()) {
    this.notifier = notifier;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get frames(): number {
    return this.#frames;
  }

  get watchdog(): FrameWatchdog | undefined {
    return this.#watchdog;
  }

  /** A frame completed: the first one sends READY=1 and starts the watchdog; every one counts as progress. */
  frameDone(info: FrameInfo = {}): void {
    this.#frames++;
    if (!this.notifier.enabled) return;
    if (!this.#ready) {
      this.#ready = true;
      const ms = info.ms !== undefined ? ` in ${info.ms.toFixed(0)} ms` : '';
      this.notifier.ready(`first frame done${ms}${info.what ? `; ${info.what}` : ''}`);
      if (this.notifier.watchdogUsec) this.#watchdog = new FrameWatchdog(this.notifier, { watchdogUsec: this.notifier.watchdogUsec }).start();
    }
    this.#watchdog?.progress();
  }

  /** STOPPING=1 and no more pings (a clean exit is not a hang). */
  stopping(): void {
    this.#watchdog?.stop();
    if (this.#ready) this.notifier.stopping();
  }

  close(): void {
    this.#watchdog?.stop();
    this.notifier.close();
  }
}
