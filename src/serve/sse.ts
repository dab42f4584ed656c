// One Server-Sent Events client with a drop-not-queue policy. Every message the live page gets is a complete state
// snapshot, so when a client's socket backs up the server skips messages for it and, once the socket drains, sends
// only the newest one: a slow or stalled browser costs at most `maxBuffered` bytes plus one message, never a queue.
import type { Writable } from 'node:stream';

export class SseClient {
  /** Messages not written because the socket was backed up. */
  dropped = 0;
  private stale = false;
  private closed = false;

  constructor(
    private readonly out: Writable,
    private readonly maxBuffered: number,
    /** The newest message, for catching up after a drain. */
    private readonly latest: () => string,
  ) {
    out.on('drain', () => {
      if (this.stale && !this.closed) {
        this.stale = false;
        this.write(this.latest());
      }
    });
    out.on('close', () => (this.closed = true));
  }

  get buffered(): number {
    return this.out.writableLength;
  }

  /** Sends one complete SSE frame (already formatted) unless the socket is backed up. */
  send(frame: string): void {
    if (this.closed) return;
    if (this.out.writableLength > this.maxBuffered) {
      this.stale = true;
      this.dropped++;
      return;
    }
    this.write(frame);
  }

  private write(frame: string): void {
    this.out.write(frame);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.end();
  }
}

/** Formats one SSE event; `data` must not contain newlines (JSON.stringify output never does). */
export function sseEvent(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}
