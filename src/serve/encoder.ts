// Host side of the live page's image encoder: one worker thread, at most one job in flight and one waiting (the
// newest snapshot replaces an older waiting one), so a slow encoder drops frames instead of queueing them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FlowField } from '../flow/flo.js';
import type { RgbImage } from '../flow/image.js';
import type { JpegFrame } from '../flow/source.js';

export interface EncodeJob {
  seq: number;
  /** The loop's frame index the images belong to. */
  index: number;
  /** The frame, interleaved RGB, or the JPEG it arrived in (shown as it is); a private copy, its buffer transferred. */
  frame: RgbImage | JpegFrame;
  /** The colour-wheel image when the loop already made one; else `flow` is coded on the worker. */
  colour?: RgbImage;
  flow?: FlowField;
  /** Normalisation radius of `colour` (px), when given. */
  maxRadius?: number;
  quality: number;
}

export interface EncodeResult {
  seq: number;
  index: number;
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
  private worker: Worker;
  /** The worker has loaded its module (jobs are posted only then: a job posted to a worker that failed to load would
   * take its transferred buffers with it). */
  private ready = false;
  private busy = false;
  private waiting: EncodeJob | undefined;
  private closed = false;
  private readonly pool: ArrayBuffer[] = [];
  /** Duration of the last encode (ms), for the caller's duty-cycle limit. */
  lastEncodeMs = 0;
  /** Jobs replaced while waiting (frames the page never showed because the encoder was behind). */
  dropped = 0;

  constructor(private readonly onResult: (r: EncodeResult) => void, private readonly onError: (msg: string) => void) {
    this.worker = this.start(false);
  }

  /**
   * The worker from its file (dist/, and TypeScript loaders that handle a .ts worker entry); if that fails to load —
   * some loaders (e.g. under `node --import <loader> -e`) load a .ts entry as CommonJS — once more through an eval'd
   * import(), which goes through the ESM loader.
   */
  private start(viaImport: boolean): Worker {
    const url = workerUrl();
    const w = viaImport ? new Worker(`import(${JSON.stringify(url.href)})`, { eval: true }) : new Worker(url);
    w.unref(); // never keeps the process alive on its own
    w.on('message', (m: 'ready' | EncodeResult | { seq: number; error: string; buffers?: ArrayBuffer[] }) => {
      if (m === 'ready') {
        this.ready = true;
        this.pump();
        return;
      }
      this.busy = false;
      if ('buffers' in m && m.buffers) this.recycle(m.buffers);
      if ('error' in m) this.onError(m.error);
      else {
        this.lastEncodeMs = m.encodeMs;
        this.onResult(m);
      }
      this.pump();
    });
    w.on('error', (e) => {
      if (!this.ready && !viaImport && !this.closed) {
        void w.terminate();
        this.worker = this.start(true);
        return;
      }
      this.closed = true;
      this.onError(e.message);
    });
    return w;
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
      this.recycle(inputs(this.waiting, true));
    }
    this.waiting = job;
    this.pump();
  }

  private pump(): void {
    if (!this.ready || this.busy || !this.waiting || this.closed) return;
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

export function isJpegFrame(f: RgbImage | JpegFrame): f is JpegFrame {
  return 'jpeg' in f;
}

/**
 * The job's own buffers (each input is a whole private ArrayBuffer, so it can be transferred). A JPEG frame's buffer
 * is left out with `reusable`: its size changes every frame, so it would only crowd the pool.
 */
export function inputs(job: EncodeJob, reusable = false): ArrayBuffer[] {
  const b: ArrayBuffer[] = [];
  if (!isJpegFrame(job.frame)) b.push(job.frame.data.buffer as ArrayBuffer);
  else if (!reusable) b.push(job.frame.jpeg.buffer as ArrayBuffer);
  if (job.colour) b.push(job.colour.data.buffer as ArrayBuffer);
  if (job.flow) b.push(job.flow.u.buffer as ArrayBuffer, job.flow.v.buffer as ArrayBuffer);
  return b;
}
