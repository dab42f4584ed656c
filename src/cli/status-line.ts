// Live one-line status on a terminal (rewritten in place) and one JSON line per pair for --json: both are
// run-loop observers (runloop.ts).
import type { FrameEvent, RunObserver, RunSummary } from './runloop.js';

/** "frame 12/100  4.8 fps  engine 180.2 ms  verify ok" — what the status line and logs show for a pair. */
export function statusText(e: FrameEvent, total?: number): string {
  const v = e.verify;
  const verify = v.mode === 'off' ? 'verify off' : v.state === 'ok' ? `verify ${v.mode} ok` : `verify ${v.mode} ${v.state.toUpperCase()} (${v.mismatches} mismatch${v.mismatches === 1 ? '' : 'es'})`;
  return `pair ${e.index + 1}${total !== undefined ? `/${total}` : ''}  ${e.timings.fps.toFixed(1)} fps  engine ${e.timings.engineMs.toFixed(1)} ms  ${verify}`;
}

/** A terminal status line: `\r` + erase-line each pair, a newline at the end; lines printed by `above` stay. */
export class StatusLine implements RunObserver {
  #shown = false;
  constructor(readonly write: (s: string) => void, readonly total?: number) {}

  onFrame(e: FrameEvent): void {
    this.write(`\r\x1b[K${statusText(e, this.total)}`);
    this.#shown = true;
  }

  /** Prints a permanent line above the status line. */
  above(line: string): void {
    this.write(`${this.#shown ? '\r\x1b[K' : ''}${line}\n`);
    this.#shown = false;
  }

  onEnd(_s: RunSummary): void {
    if (this.#shown) this.write('\n');
    this.#shown = false;
  }
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** One JSON object per pair (`"type":"frame"`). */
export function frameJson(e: FrameEvent): Record<string, unknown> {
  const t = e.timings;
  return {
    type: 'frame', index: e.index, id: e.id, width: e.first.width, height: e.first.height, net: e.netSize, refine_net: e.refine?.netSize ?? null, refine_passes: e.refine?.passes ?? null, coarse_model: e.refine?.coarseModel ?? null, refine_model: e.refine?.refineModel ?? null,
    ms: { source: r3(t.sourceMs), fit: r3(t.fitMs), infer: r3(t.inferMs), engine: r3(t.engineMs), host: r3(t.hostMs), verify: r3(t.verifyMs), recompute: r3(t.recomputeMs), refine: r3(t.refineMs), flow: r3(t.flowMs), total: r3(t.totalMs) },
    fps: r3(t.fps), verify: e.verify, epe: e.errors ? r3(e.errors.epe) : null, files: e.files,
  };
}
