// `run --serve [PORT] [--host ADDR]`: the live page (src/serve) as one more observer of the run loop, and the wait
// after a finite run that keeps the page up until Ctrl-C.
import { UserError } from '../errors.js';
import { DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, LiveServer, type LiveFrameInfo } from '../serve/index.js';
import type { FrameEvent, RunObserver } from './runloop.js';
import { parseIntOpt } from './parse.js';

/** `--serve` alone is `true` (commander's optional value); a value is the port. */
export function servePort(v: string | boolean): number {
  return v === true ? DEFAULT_SERVE_PORT : parseIntOpt('--serve port', String(v), 0, 65535);
}

export async function startLive(serve: string | boolean | undefined, host: string | undefined): Promise<LiveServer | undefined> {
  if (serve === undefined || serve === false) {
    if (host !== undefined) throw new UserError('--host only applies to the live page', 'add --serve [PORT]');
    return undefined;
  }
  return LiveServer.start({ port: servePort(serve), host: host ?? DEFAULT_SERVE_HOST });
}

/** The loop's per-frame numbers as the page's stages. */
export function liveInfo(e: FrameEvent): LiveFrameInfo {
  const t = e.timings;
  const v = e.verify;
  return {
    index: e.index,
    timings: { captureMs: t.sourceMs + t.fitMs, engineMs: t.engineMs, verifyMs: t.verifyMs, colourMs: t.flowMs, totalMs: t.totalMs },
    hostMs: t.fitMs + t.hostMs + t.flowMs,
    verify: v.mode === 'off' ? undefined : { mode: v.mode, regions: v.regions, mismatches: v.mismatches, dropped: v.state === 'dropped' },
  };
}

export function liveObserver(srv: LiveServer): RunObserver {
  let pairs: number | undefined;
  return {
    onStart(s) {
      pairs = s.pairs;
      srv.setTitle(`model ${s.model} on ${s.device}; ${s.source}; network ${s.netSize[0]}x${s.netSize[1]}`);
    },
    onFrame(e) {
      const flow = e.flow;
      // Images are pulled only when the page wants one; rgb() and jpeg() are valid during onFrame, and publish copies
      // at once. An MJPEG camera's frame goes to the page as the JPEG it arrived in: no encoding on the board.
      const frame = () => e.second.jpeg?.() ?? e.second.rgb();
      srv.publish(liveInfo(e), flow ? () => ({ frame: frame(), flow }) : undefined, pairs !== undefined && e.index === pairs - 1);
    },
    onEnd(s) {
      const what = `${s.pairs} pair(s) written${s.dropped ? `, ${s.dropped} dropped` : ''}${s.mismatches ? `, ${s.mismatches} mismatch(es)` : ''}`;
      srv.setStatus(s.stoppedBy ? `stopped by ${s.stoppedBy}: ${what}` : `done: ${what}`, true);
    },
  };
}

/** After a finite run the page stays up (showing the last frame) until SIGINT or SIGTERM. */
export async function lingerUntilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
