// flowfpga run: optical flow for frame pairs on a device (virtual board by default where no board is found), written
// as Middlebury .flo files and color-wheel PNGs; per-pair EPE where the input has ground truth. Inputs: a camera
// (--camera), a video file or a folder of frames (--input, consecutive frames paired), a FlyingChairs/Sintel folder
// or --pair (the bundled samples by default). The loop itself is runloop.ts; this file wires options, outputs and
// observers (status line, JSON lines; `--serve` and systemd notify push theirs onto `observers`).
//
// Exit status: 0 all pairs written and verified (or not verified), 2 user error, 3 verification mismatches (all
// pairs written; not with an explicit --on-mismatch log), 4 pairs dropped (--on-mismatch drop), 130 / 143 stopped
// by SIGINT / SIGTERM (outputs so far complete), 1 device or internal error.
import type { Command } from 'commander';
import { printable } from '../../text.js';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { filePair, openDataset, detectDataset, writeFlo, writeFlowPng, type FitMode } from '../../flow/index.js';
import { FRAME_FILE_RE, openFolderSource } from '../../flow/folder-source.js';
import { VIDEO_FILE_RE, openVideoSource } from '../../flow/video-source.js';
import { chooseModel } from '../model-choice.js';
import type { QModel } from '../../model/types.js';
import { networkSize } from '../flowjob.js';
import { refineLine, refineSetup, type RefineSetup } from '../refine.js';
import { openDevice, type DeviceCliOptions, addDeviceOptions } from '../device-options.js';
import { parseIntOpt, parseSize } from '../parse.js';
import { UserError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import { VerifyError } from '../../scheduler/index.js';
import { datasetFeed, runLoop, sequenceFeed, type MismatchPolicy, type PairFeed, type RunObserver, type RunSummary } from '../runloop.js';
import { prepareOutDir } from '../outdir.js';
import { StatusLine, frameJson } from '../status-line.js';
import { lingerUntilSignal, liveObserver, startLive } from '../live.js';
import type { LiveServer } from '../../serve/index.js';
import { ServiceLink } from '../../service/link.js';

interface RunOpts extends DeviceCliOptions {
  model?: string;
  input?: string;
  pair?: string[];
  camera?: string;
  cameraFormat?: string;
  cameraSize?: string;
  out: string;
  size?: string;
  fit: string;
  refine?: string;
  coarseModel?: string;
  refineModel?: string;
  refinePasses?: string;
  limit?: string;
  frames?: string;
  json?: boolean;
  png: boolean;
  serve?: string | boolean;
  host?: string;
}

export const EXIT_MISMATCH = 3;
export const EXIT_DROPPED = 4;
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('compute optical flow for frame pairs and write .flo + color-coded PNG files')
    .option('--model <name|file>', 'shipped model name or .ffq file (default: the board\'s default model, `flowfpga models`)')
    .option('--input <dir|video>', 'FlyingChairs or Sintel folder, a folder of frames, or a video file (default: the bundled samples/)')
    .option('--pair <images...>', 'two image files (and optionally a ground-truth .flo)')
    .option('--camera <device>', 'V4L2 camera, e.g. /dev/video0, or sim: / sim:DIR, the simulated camera (consecutive frames are paired)')
    .option('--camera-format <fmt>', 'camera pixel format: yuyv | mjpeg (default: YUYV when offered)')
    .option('--camera-size <WxH>', 'capture size to ask the camera for (it may choose another)', '640x480')
    .option('--out <dir>', 'output folder', 'out')
    .option('--size <HxW>', 'network input size (multiple of 64; default: the model\'s trained resolution)')
    .option('--fit <mode>', 'how frames are fitted to the network size: resize | pad | crop', 'resize')
    .option('--refine <mode>', 'second pass on frames warped by the first: auto (at twice the network size) | off | HxW', 'auto')
    .option('--coarse-model <name|file>', 'first pass of refined pairs: auto (the model\'s shipped coarse-pass partner, if any) | same | a shipped name or .ffq file', 'auto')
    .option('--refine-model <name|file>', 'second pass of refined pairs: auto (the model\'s shipped refinement partner, if any) | same | a shipped name or .ffq file', 'auto')
    .option('--refine-passes <n>', 'refinement passes per refined pair, 1 to 4: auto (2 on a refinement partner, 1 on the model itself)', 'auto')
    .option('--limit <n>', 'process at most n pairs')
    .option('--frames <n>', 'take at most n frames of a camera, video or frame folder (n-1 pairs)')
    .option('--no-png', 'do not write color-wheel PNGs')
    .option('--json', 'one JSON line per pair and a final summary line')
    .option('--serve [port]', 'live page (frame, flow, fps, latencies) on http://127.0.0.1:PORT/; default port 8640, 0 = any free port')
    .option('--host <addr>', 'address the live page listens on (default 127.0.0.1, this machine only; 0.0.0.0 = all interfaces)');
  addDeviceOptions(cmd);
  cmd.action(async (opts: RunOpts, command: Command) => {
    const limit = opts.limit !== undefined ? parseIntOpt('--limit', opts.limit, 1, 1e9) : undefined;
    const maxFrames = opts.frames !== undefined ? parseIntOpt('--frames', opts.frames, 2, 1e9) : undefined;
    if (!['resize', 'pad', 'crop'].includes(opts.fit)) throw new UserError(`unknown --fit mode '${opts.fit}'`, 'use resize, pad or crop');
    const policyExplicit = command.getOptionValueSource('onMismatch') === 'cli';
    const { model, note } = chooseModel(opts.model, opts.board);
    if (note) process.stderr.write(`flowfpga: ${note}\n`);
    const net = networkSize(model, opts.size ? parseSize(opts.size) : undefined);
    const refine = refineSetup(opts.refine, opts.coarseModel, model, opts.fit as FitMode, opts.refineModel, opts.refinePasses);
    const input = await openInput(opts, limit, maxFrames);
    let device;
    let live: LiveServer | undefined;
    try {
      // Before any frame: the output folder, and no output name equal to an input file.
      const names = (input.feed.ids ?? []).flatMap((id) => [`${safeId(id)}.flo`, ...(opts.png ? [`${safeId(id)}.png`] : [])]);
      const outDir = prepareOutDir(opts.out, names, input.files);
      live = await startLive(opts.serve, opts.host);
      if (live) process.stdout.write(opts.json ? JSON.stringify({ type: 'live', url: live.url }) + '\n' : `live page: ${live.url}\n`);
      device = await openDevice(opts);
      await runOn(device, input.feed, outDir, input.files, opts, model, net, refine, policyExplicit, live);
    } finally {
      try {
        await input.feed.close();
      } finally {
        try {
          await device?.close();
        } finally {
          await live?.close();
        }
      }
    }
  });
}

const safeId = (id: string): string => id.replace(/[^\w.-]+/g, '_');

async function runOn(device: Awaited<ReturnType<typeof openDevice>>, feed: PairFeed, outDir: string, inputFiles: string[], opts: RunOpts,
  model: QModel, net: ReturnType<typeof networkSize>, refine: RefineSetup, policyExplicit: boolean, live?: LiveServer): Promise<void> {
  const policy = opts.onMismatch as MismatchPolicy;
  const out = (l: string): void => void process.stdout.write(l + '\n');
  const tty = !opts.json && process.stdout.isTTY === true;
  const status = tty ? new StatusLine((s) => void process.stdout.write(s), feed.pairs) : undefined;
  const line = (l: string): void => (status ? status.above(l) : out(l));
  const inputs = new Set(inputFiles);
  const writer: RunObserver = {
    async onFrame(e) {
      if (!e.flow) return; // dropped: not written
      const id = safeId(e.id);
      const flo = join(outDir, `${id}.flo`);
      // Checked before the run for known ids; a live source's names are checked here.
      if (inputs.has(flo)) throw new UserError(`refusing to overwrite the input file ${flo}`, 'choose another --out folder');
      await writeFlo(flo, e.flow);
      e.files.push(flo);
      if (opts.png) {
        const png = join(outDir, `${id}.png`);
        if (inputs.has(png)) throw new UserError(`refusing to overwrite the input file ${png}`, 'choose another --out folder');
        await writeFlowPng(png, e.flow);
        e.files.push(png);
      }
    },
  };
  const report: RunObserver = opts.json
    ? { onFrame: (e) => out(JSON.stringify(frameJson(e))) }
    : {
      onStart: (s) =>
        out(`model ${printable(s.model)} on ${s.device}; ${s.pairs !== undefined ? `${s.pairs} pair(s)` : 'pairs until stopped'} from ${printable(s.source)}; ${net.line}`),
      onFrame: (e) => {
        const v = e.verify;
        const anomaly = v.state === 'mismatch' || v.state === 'dropped' || v.state === 'recomputed';
        if (status && !anomaly) return; // the status line shows it
        const epe = e.errors ? `  EPE ${e.errors.epe.toFixed(3)}` : '';
        const verify = v.mode !== 'off' ? `  verify ${v.mode}: ${v.regions} regions, ${v.mismatches} mismatch(es)${v.state === 'dropped' ? ', DROPPED (not written)' : v.state === 'recomputed' ? ', RECOMPUTED' : ''}` : '';
        const dest = e.files.length ? `  -> ${e.files[e.files.length - 1]}` : '';
        const nets = `net ${e.netSize[0]}x${e.netSize[1]}${e.refine ? ` + ${e.refine.netSize[0]}x${e.refine.netSize[1]}${e.refine.passes > 1 ? ` ×${e.refine.passes}` : ''}` : ''}`;
        const ms = e.infer.timings.totalMs + (e.refine?.infer.timings.totalMs ?? 0);
        line(`${e.id}: ${e.first.width}x${e.first.height} (${nets})  ${ms.toFixed(1)} ms${epe}${verify}${dest}`);
      },
    };
  // The refinement setting is announced after the header; under --json on stderr: stdout stays JSON lines.
  const fit = opts.fit as FitMode;
  const announce = refineLine(refine.spec, net.size, fit, refine.coarse?.name, refine.second, refine.passes);
  const announceSetting: RunObserver = { onStart: () => (opts.json ? void process.stderr.write(announce + '\n') : line(announce)) };
  // Extra observers (live page, service notify) go here, after the writer so that e.files is complete.
  const observers: RunObserver[] = [writer, report, announceSetting];
  if (status) observers.push(status);
  if (live) observers.push(liveObserver(live));
  // Under systemd (Type=notify): READY=1 once the first frame is written, WATCHDOG=1 only as frames complete.
  const service = new ServiceLink();
  let serving = '';
  observers.push({
    onStart: (st) => void (serving = `${st.model} on ${st.device}, ${st.source}, net ${st.netSize[0]}x${st.netSize[1]}`),
    onFrame: (e) => service.frameDone({ ms: e.infer.timings.totalMs, what: serving }),
    onEnd: () => service.stopping(),
  });

  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(SIGNAL_EXIT[sig] ?? 1); // a second signal: stop now (exit hooks still clean up)
    process.stderr.write(`\nflowfpga: ${sig}: stopping after the pair in flight\n`);
    ac.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let s: RunSummary;
  try {
    s = await runLoop(device, model, feed, { fit, size: net.size, refine: refine.spec, coarse: refine.coarse, second: refine.second, passes: refine.passes, policy, observers, signal: ac.signal });
  } catch (e) {
    if (e instanceof VerifyError) {
      process.stderr.write(`flowfpga: verification failed (--on-mismatch stop): ${e.message}\n`);
      process.exitCode = EXIT_MISMATCH;
      return;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    service.close();
  }
  const verdict = verdictLine(s, policy, policyExplicit);
  if (opts.json) {
    out(JSON.stringify({
      type: 'summary', model: model.name, coarse_model: refine.coarse?.name ?? null, refine_model: refine.second?.name ?? null, device: device.caps.description, source: feed.description, out: outDir,
      pairs: s.pairs, computed: s.computed, dropped: s.dropped, recomputed: s.recomputed, mismatch_pairs: s.mismatchPairs,
      mismatches: s.mismatches, epe: s.errors?.epe ?? null, fl_all: s.errors?.fl ?? null, mean_infer_ms: s.meanInferMs,
      stopped_by: s.stoppedBy ?? null, verdict: verdict.text,
    }));
  } else {
    const epe = s.errors ? `; mean EPE ${s.errors.epe.toFixed(3)} px, Fl-all ${s.errors.fl.toFixed(2)} % over ${s.errors.pairs} pair(s)` : '';
    out(`${s.pairs} pair(s) written to ${outDir}${epe}; ${s.meanInferMs.toFixed(1)} ms per pair${s.stoppedBy ? `; stopped by ${s.stoppedBy}` : ''}`);
  }
  if (s.mismatchPairs) process.stderr.write(`flowfpga: ${verdict.text}\n`);
  if (verdict.code) process.exitCode = verdict.code;
  if (s.stoppedBy) process.exitCode = SIGNAL_EXIT[s.stoppedBy] ?? 1;
  else if (live) {
    // A finite run is over; its last frame stays on the page until the user closes it (exit status: the run's).
    if (!opts.json) process.stdout.write(`live page stays up at ${live.url} (Ctrl-C to quit)\n`);
    await lingerUntilSignal();
  }
}

/** The verification outcome in one line and the exit status it gives (0: nothing to report). */
export function verdictLine(s: RunSummary, policy: MismatchPolicy, policyExplicit: boolean): { text: string; code: number } {
  if (!s.mismatchPairs) return { text: 'verification: no mismatches', code: 0 };
  const base = `verification found ${s.mismatches} mismatch(es) in ${s.mismatchPairs} of ${s.computed} pair(s)`;
  if (s.dropped) {
    return { text: `${base}; ${s.dropped} pair(s) DROPPED (not written, not counted) (hint: --on-mismatch rerun recomputes them on the reference)`, code: EXIT_DROPPED };
  }
  if (policy === 'rerun') return { text: `${base}; ${s.recomputed} pair(s) recomputed, all outputs verified (the engine is faulty: run 'flowfpga selftest')`, code: EXIT_MISMATCH };
  if (policy === 'log' && policyExplicit) return { text: `${base}; kept as computed (--on-mismatch log)`, code: 0 };
  return { text: `${base}; the outputs of those pairs are the engine's and may be wrong (hint: --on-mismatch rerun recomputes them, drop leaves them out, log accepts them)`, code: EXIT_MISMATCH };
}

interface OpenedInput {
  feed: PairFeed;
  /** Input files (never overwritten). */
  files: string[];
}

async function openInput(opts: RunOpts, limit: number | undefined, maxFrames: number | undefined): Promise<OpenedInput> {
  const given = [opts.pair && '--pair', opts.input && '--input', opts.camera && '--camera'].filter(Boolean);
  if (given.length > 1) throw new UserError(`${given.join(' and ')} are exclusive`, 'give one input');
  if (opts.camera) {
    const { openCameraSource } = await import('../../camera/index.js');
    const m = /^(\d+)x(\d+)$/i.exec(opts.cameraSize ?? '640x480');
    if (!m) throw new UserError(`bad --camera-size '${opts.cameraSize}'`, 'write it as WxH, e.g. --camera-size 640x480');
    const format = opts.cameraFormat;
    if (format !== undefined && format !== 'yuyv' && format !== 'mjpeg') throw new UserError(`unknown --camera-format '${format}'`, 'use yuyv or mjpeg');
    // An MJPEG camera names its decoder in the source's description; falling back to jpeg-js is one line on stderr.
    const onNote = (l: string): void => void process.stderr.write(`flowfpga: ${l}\n`);
    const src = await openCameraSource(opts.camera, { buffers: 4, width: Number(m[1]), height: Number(m[2]), format, onNote });
    return { feed: sequenceFeed(src, { maxFrames, maxPairs: limit }), files: [] };
  }
  if (opts.pair) {
    if (opts.pair.length < 2 || opts.pair.length > 3) {
      throw new UserError(`--pair takes 2 images (and optionally a .flo), got ${opts.pair.length} argument(s)`, 'e.g. --pair a.png b.png [gt.flo]');
    }
    if (maxFrames !== undefined) throw new UserError('--frames counts frames of a camera, video or frame folder', 'leave it out with --pair');
    const data = await filePair(opts.pair[0], opts.pair[1], opts.pair[2]);
    return { feed: datasetFeed(data, limit), files: data.entries.flatMap((e) => [e.img1, e.img2, e.flow ?? '']).filter(Boolean) };
  }
  const path = opts.input ?? join(packageRoot(), 'samples');
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UserError(`input not found: ${path}`, 'give a folder of frames, a dataset folder or a video file');
  if (st.isFile()) {
    if (FRAME_FILE_RE.test(path)) throw new UserError(`${path} is a single image`, 'use --pair A B for two images, or give their folder');
    if (!VIDEO_FILE_RE.test(path)) throw new UserError(`${path}: not a known video type`, 'video files: .mp4, .avi, .mkv, .mov, .webm …; or give a folder of frames');
    const cap = Math.min(maxFrames ?? Infinity, limit !== undefined ? limit + 1 : Infinity);
    const src = await openVideoSource(path, { maxFrames: Number.isFinite(cap) ? cap : undefined });
    return { feed: sequenceFeed(src, { maxFrames, maxPairs: limit }), files: [path] };
  }
  if ((await detectDataset(path)) === 'frames') {
    const src = await openFolderSource(path);
    const ids = src.files.map((f) => basename(f).replace(FRAME_FILE_RE, ''));
    return { feed: sequenceFeed(src, { maxFrames, maxPairs: limit, idOf: (i) => ids[i] }), files: [...src.files] };
  }
  if (maxFrames !== undefined) throw new UserError('--frames counts frames of a camera, video or frame folder', 'use --limit for the pairs of a dataset');
  const data = await openDataset(path);
  const n = Math.min(data.length, limit ?? Infinity);
  return {
    feed: datasetFeed(data, limit),
    files: data.entries.slice(0, n).flatMap((e) => [e.img1, e.img2, e.flow, e.invalid, e.occlusion]).filter((f): f is string => !!f),
  };
}
