// Host side of the live page's image encoder: one worker thread, at most one job in flight and one waiting (the
// newest snapshot replaces an older waiting one), so a slow encoder drops frames instead of queueing them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FlowField } from '../flow/flo.js';
import type { RgbImage } from '../flow/image.js';

export interface EncodeJob {
  seq: number;
  /** The frame, interleaved RGB (a private copy; its buffer is transferred). */
  frame: RgbImage;
  /** The colour-wheel image when the loop already made one; else `flow` is coded on the worker. */
  colour?: RgbImage;
  flow?: FlowField;
  /** Normalisation radius of `colour` (px), when given. */
  maxRadius?: number;
  quality: number;
}

export interface EncodeResult {
  seq: number;
  /** JPEG of the frame (lossy is fine for a preview). */
  frame: Uint8Array;
  /** PNG of the colour-wheel flow: lossless, so the page shows exactly the wheel's colours. */
  flow: Uint8Array;
  frameSize: [number, number];
  flowSize: [number, number];
  maxRadius?: number;
  encodeMs: number;
  /** The job's input buffers, transferred back for reuse (fresh multi-MB buffers cost page faults on every copy). */
  buffers?: ArrayBuffer[];
}

/** Input buffers kept for reuse: two jobs' worth (one in flight, one waiting) of frame + u + v. */
const POOL_MAX = 6;

/** Resolves the worker's file next to this one: .js when running from dist/, .ts from src/ (tests, ts loader). */
function workerUrl(): URL {
  const js = new URL('./encode-worker.js', import.meta.url);
  return existsSync(fileURLToPath(js)) ? js : new URL('./encode-worker.ts', import.meta.url);
}

export class FrameEncoder {
  private readonly worker: Worker;
  private busy = false;
  private waiting: EncodeJob | undefined;
  private closed = false;
  private readonly pool: ArrayBuffer[] = [];
  /** Duration of the last encode (ms), for the caller's duty-cycle limit. */
  lastEncodeMs = 0;
  /** Jobs replaced while waiting (frames the page never showed because the encoder was behind). */
  dropped = 0;

  constructor(private readonly onResult: (r: EncodeResult) => void, private readonly onError: (msg: string) => void) {
    // Started through import() so that the worker's module goes through the same ESM loader as ours (a TypeScript
    // loader under test, `node -e` parents); a plain file entry is loaded by some of those as CommonJS.
    this.worker = new Worker(`import(${JSON.stringify(workerUrl().href)})`, { eval: true });
    this.worker.unref(); // never keeps the process alive on its own
    this.worker.on('message', (m: EncodeResult | { seq: number; error: string }) => {
      this.busy = false;
      if ('buffers' in m && m.buffers) this.recycle(m.buffers);
      if ('error' in m) this.onError(m.error);
      else {
        this.lastEncodeMs = m.encodeMs;
        this.onResult(m);
      }
      this.pump();
    });
    this.worker.on('error', (e) => {
      this.closed = true;
      this.onError(e.message);
    });
  }

  get idle(): boolean {
    return !this.busy && !this.waiting;
  }

  /** A buffer of exactly `bytes` bytes for the next job, reused when one is free. */
  take(bytes: number): ArrayBuffer {
    const i = this.pool.findIndex((b) => b.byteLength === bytes);
    return i >= 0 ? this.pool.splice(i, 1)[0] : new ArrayBuffer(bytes);
  }

  private recycle(buffers: ArrayBuffer[]): void {
    for (const b of buffers) if (this.pool.length < POOL_MAX) this.pool.push(b);
  }

  submit(job: EncodeJob): void {
    if (this.closed) return;
    if (this.waiting) {
      this.dropped++;
      this.recycle(inputs(this.waiting));
    }
    this.waiting = job;
    this.pump();
  }

  private pump(): void {
    if (this.busy || !this.waiting || this.closed) return;
    const job = this.waiting;
    this.waiting = undefined;
    this.busy = true;
    this.worker.postMessage(job, inputs(job));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiting = undefined;
    await this.worker.terminate();
  }
}

/** The job's own buffers (each input is a whole private ArrayBuffer, so it can be transferred). */
export function inputs(job: EncodeJob): ArrayBuffer[] {
  const b: ArrayBuffer[] = [job.frame.data.buffer as ArrayBuffer];
  if (job.colour) b.push(job.colour.data.buffer as ArrayBuffer);
  if (job.flow) b.push(job.flow.u.buffer as ArrayBuffer, job.flow.v.buffer as ArrayBuffer);
  return b;
}
