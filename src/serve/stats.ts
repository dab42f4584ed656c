// Rolling statistics for the live page: frame counter, fps and per-stage latency over the last frames, and the
// verification tally. O(1) per frame (a ring of the last WINDOW frames), no allocation in `add`.

export interface StageTimes {
  /** Capture/fit: reading the source and fitting both frames into the network input. */
  captureMs: number;
  /** Device time (engine run, or the reference on --board ref). */
  engineMs: number;
  /** Per-frame verification (recomputing sampled regions with the TS reference). */
  verifyMs: number;
  /** Flow to source resolution and colour-wheel coding. */
  colourMs: number;
  /** Whole frame as the loop saw it. */
  totalMs: number;
}

export interface LiveVerify {
  mode: string;
  regions: number;
  mismatches: number;
  dropped?: boolean;
}

/** What the run loop reports per frame (cheap: numbers only; images are pulled separately and only when needed). */
export interface LiveFrameInfo {
  /** 0-based frame (pair) index in the run. */
  index: number;
  timings: StageTimes;
  /** The frame's host work (ms) when the loop knows it exactly; else total − engine. Earns the image credit. */
  hostMs?: number;
  verify?: LiveVerify;
}

export const STAGES = ['captureMs', 'engineMs', 'verifyMs', 'colourMs', 'totalMs'] as const;
const WINDOW = 30;

export interface StatsSnapshot {
  /** Frames published so far. */
  frames: number;
  /** Index of the last frame, or -1. */
  index: number;
  /** Frames per second over the last frames (decays while no frame arrives); 0 before two frames. */
  fps: number;
  /** Per stage: the last frame's time and the mean over the window, ms. */
  stages: Record<(typeof STAGES)[number], { last: number; mean: number }>;
  verify: { mode: string; regions: number; mismatches: number; totalMismatches: number; framesWithMismatch: number; dropped: number } | null;
}

export class LiveStats {
  private readonly t = new Float64Array(WINDOW);
  private readonly st = new Float64Array(WINDOW * STAGES.length);
  private n = 0;
  private index = -1;
  private verify: StatsSnapshot['verify'] = null;

  add(info: LiveFrameInfo, nowMs: number): void {
    const slot = this.n % WINDOW;
    this.t[slot] = nowMs;
    const tm = info.timings;
    const o = slot * STAGES.length;
    for (let s = 0; s < STAGES.length; s++) this.st[o + s] = tm[STAGES[s]] ?? 0;
    this.n++;
    this.index = info.index;
    const v = info.verify;
    if (v) {
      const prev = this.verify;
      this.verify = {
        mode: v.mode,
        regions: v.regions,
        mismatches: v.mismatches,
        totalMismatches: (prev?.totalMismatches ?? 0) + v.mismatches,
        framesWithMismatch: (prev?.framesWithMismatch ?? 0) + (v.mismatches > 0 ? 1 : 0),
        dropped: (prev?.dropped ?? 0) + (v.dropped ? 1 : 0),
      };
    }
  }

  snapshot(nowMs: number): StatsSnapshot {
    const k = Math.min(this.n, WINDOW);
    const stages = {} as StatsSnapshot['stages'];
    const last = (this.n - 1) % WINDOW;
    for (let s = 0; s < STAGES.length; s++) {
      let sum = 0;
      for (let i = 0; i < k; i++) sum += this.st[i * STAGES.length + s];
      stages[STAGES[s]] = { last: k ? this.st[last * STAGES.length + s] : 0, mean: k ? sum / k : 0 };
    }
    let fps = 0;
    if (k >= 2) {
      const first = (this.n - k) % WINDOW;
      const span = this.t[last] - this.t[first];
      fps = span > 0 ? ((k - 1) * 1000) / span : 0;
      // A stalled source (unplugged camera, end of input) must not keep showing its old rate.
      const since = nowMs - this.t[last];
      if (since > 0 && fps > 0 && since > 1000 / fps) fps = Math.min(fps, 1000 / since);
    }
    return { frames: this.n, index: this.index, fps, stages, verify: this.verify };
  }
}
