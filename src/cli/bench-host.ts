// flowfpga bench host: the host's work per frame pair at the network size 384x512, engine time excluded — what the
// ARM core must do beside the engine for every pair of a live camera stream (docs/performance.md, issue 10).
// Stages, timed separately and as one total per pair, median over the repetitions:
//   fit       the new frame (RGB, 512x384 by default = the network size; --frame 640x480 for a VGA camera, resized)
//             written into its input planes, plus moving the previous frame's planes to the first slot (runloop.ts);
//             with --camera-format mjpeg the frame's decode (libturbojpeg or jpeg-js, src/camera/mjpeg.ts) too;
//   to-ddr    the 6x384x512 input written to device memory (the runner's slot write; a memcpy into the DMA buffer);
//   flow      int16 flow at 384x512 → pixels at the frame size (flowFromFixedToSource: one pass into the last pair's
//             planes, as the run loop does once its observers have returned);
//   wheel     colour-wheel image of that flow as the live page makes it (flowToColorPreview into the encoder's reused
//             image; a smooth field on the engine's 1/32 px grid); the byte-exact flowToColor that files use is timed
//             apart (wheel_exact_*);
//   bookkeep  the loop's per-pair record: verification outcome, status line, JSON line.
// Command lists are bound per input slot once at load (scheduler/runner.ts), so no per-frame command patching exists
// to time. The sampled verification's reference compute runs beside the engine and is costed in docs/verification.md.
import os from 'node:os';
import { createImage, flowFromFixedToSource, flowToColor, flowToColorPreview, planInput, type RgbImage } from '../flow/index.js';
import { fitPlanesFromRgb, imageFrame } from '../flow/fit.js';
import type { SourceFrame } from '../flow/source.js';
import { rgbToYuyv, yuyvFrame } from '../camera/convert.js';
import { createMjpegDecoder, type MjpegDecoder, type MjpegDecoderName } from '../camera/mjpeg.js';
import { encodeJpeg } from '../flow/image.js';
import { Prng } from '../reference/prng.js';
import type { FrameEvent } from './runloop.js';
import { frameJson, statusText } from './status-line.js';

export interface HostBenchResult {
  net: [number, number];
  source: [number, number];
  /** Pixel format of the frames: decoded RGB (files), YUYV from a camera buffer, or MJPEG (decoded in the fit stage). */
  format: BenchFormat;
  /** MJPEG: the decoder, the median wall / CPU ms of one frame's decode (inside `fit`) and the mean frame's bytes. */
  mjpeg?: { decoder: MjpegDecoderName; decode_median_ms: number; decode_cpu_median_ms: number; jpeg_bytes: number };
  reps: number;
  /** Per stage and total: median / p90 ms per pair (wall clock). */
  median_ms: Record<string, number>;
  p90_ms: Record<string, number>;
  /** Per stage and total: median ms of this process's CPU time (user + system) per pair — the figure that counts on a
   *  loaded machine, where wall time includes waiting for a core. */
  cpu_median_ms: Record<string, number>;
  /** For comparison: fitting both frames of a pair from their source buffers (no plane move). */
  fit_both_median_ms: number;
  /** For comparison, not in the total: the byte-exact Middlebury wheel (flowToColor) that `run --png` writes. */
  wheel_exact_median_ms: number;
  wheel_exact_cpu_median_ms: number;
  /** Process CPU time over the whole bench / wall time: the share of a core this process got (1 = unloaded). */
  cpu_share: number;
  machine: { cpus: string; cores: number; loadavg: number[]; node: string };
}

function texture(w: number, h: number, seed: number): RgbImage {
  const img = createImage(w, h);
  const r = new Prng(seed);
  const d = img.data;
  for (let y = 0, o = 0; y < h; y++) for (let x = 0; x < w; x++, o += 3) {
    const n = r.int(0, 31);
    d[o] = (x + n) & 255;
    d[o + 1] = (y * 2 + n) & 255;
    d[o + 2] = (x ^ y) & 255;
  }
  return img;
}

export type BenchFormat = 'rgb' | 'yuyv' | 'mjpeg';

/**
 * An MJPEG camera's frame without the driver: decoded on first use (so inside the timed fitPlanes), into `out` where
 * the decoder writes into caller memory. Decode times (wall, CPU ms) are appended to `times`.
 */
function mjpegFrame(jpeg: Uint8Array, width: number, height: number, index: number, dec: MjpegDecoder, out: Uint8Array, times: number[][]): SourceFrame {
  let img: RgbImage | undefined;
  const decoded = (): RgbImage => {
    if (img) return img;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    img = dec.decode(jpeg, out);
    const c = process.cpuUsage(c0);
    times[0].push(performance.now() - t0);
    times[1].push((c.user + c.system) / 1000);
    return img;
  };
  return {
    index,
    width,
    height,
    timestampMs: 0,
    fitPlanes: (map, dst, offset) => fitPlanesFromRgb(decoded(), map, dst, offset),
    rgb: () => ({ width, height, data: decoded().data.slice() }),
    release: () => {},
  };
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const p90 = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * 0.9))];

export function runHostBench(o: { reps?: number; netH?: number; netW?: number; srcW?: number; srcH?: number; format?: BenchFormat } = {}): HostBenchResult {
  const reps = o.reps ?? 40;
  const nh = o.netH ?? 384, nw = o.netW ?? 512, sw = o.srcW ?? nw, sh = o.srcH ?? nh;
  const frames = [0, 1, 2, 3].map((i) => texture(sw, sh, 1 + i));
  // A YUYV camera's frames: fitting converts BT.601 inside the pass, straight from the buffer (src/camera).
  const yuyv = o.format === 'yuyv' ? frames.map((f) => rgbToYuyv(f)) : undefined;
  // An MJPEG camera's frames: JPEG at q85 (jpeg-js' encoder, once), decoded frame by frame into per-buffer memory.
  const jpegs = o.format === 'mjpeg' ? frames.map((f) => new Uint8Array(encodeJpeg(f, 85))) : undefined;
  const decoder = jpegs ? createMjpegDecoder() : undefined;
  const rgbOut = jpegs ? frames.map(() => new Uint8Array(sw * sh * 3)) : [];
  const decodeTimes: number[][] = [[], []];
  const frame = (k: number): SourceFrame =>
    yuyv ? yuyvFrame(yuyv[k & 3], sw, sh, k) : jpegs ? mjpegFrame(jpegs[k & 3], sw, sh, k, decoder!, rgbOut[k & 3], decodeTimes) : imageFrame(frames[k & 3], k);
  const map = planInput(sw, sh, { mode: 'resize', height: nh, width: nw });
  const input = new Uint8Array(6 * nh * nw);
  const ddr = new Uint8Array(8 * nh * nw);
  const fixed = new Int16Array(2 * nh * nw);
  // A smooth field on the engine's 2^-5 px grid (what FlowNetS outputs look like): translation + rotation + ripple.
  for (let y = 0, i = 0; y < nh; y++) for (let x = 0; x < nw; x++, i++) {
    fixed[i] = Math.round(32 * (4 + 0.01 * (y - nh / 2) + 3 * Math.sin(x / 70)));
    fixed[nh * nw + i] = Math.round(32 * (-2 - 0.01 * (x - nw / 2) + 2 * Math.cos(y / 55)));
  }
  // Stage i lies between marks i and i+1 of a pair; total spans all of them.
  const STAGES = ['fit', 'to-ddr', 'flow', 'wheel', 'bookkeep'] as const;
  const newStages = (): Record<string, number[]> => Object.fromEntries([...STAGES, 'total'].map((k) => [k, [] as number[]]));
  const stages = newStages();
  const cpuStages = newStages();
  const record = (into: Record<string, number[]>, marks: number[]): void => {
    STAGES.forEach((k, i) => into[k].push(marks[i + 1] - marks[i]));
    into.total.push(marks[marks.length - 1] - marks[0]);
  };
  const both: number[] = [];
  const exact: number[] = [];
  const exactCpu: number[] = [];
  const cpuMs = (): number => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  let sink = 0;
  let spare: ReturnType<typeof flowFromFixedToSource> | undefined;
  let colour: RgbImage | undefined;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  for (let k = 0; k < reps + 3; k++) {
    const f1 = frame(k);
    const f2 = frame(k + 1);
    const u0 = cpuMs();
    const t0 = performance.now();
    input.copyWithin(0, 3 * nh * nw, 6 * nh * nw);
    f2.fitPlanes(map, input, 3 * nh * nw);
    const t1 = performance.now();
    const u1 = cpuMs();
    ddr.set(input, 64);
    const t2 = performance.now();
    const u2 = cpuMs();
    const flow = (spare = flowFromFixedToSource(fixed, nw, nh, 5, map, { out: spare }));
    const t3 = performance.now();
    const u3 = cpuMs();
    const wheel = flowToColorPreview(flow, { into: colour });
    colour = wheel.image;
    const t4 = performance.now();
    const u4 = cpuMs();
    const e = {
      index: k, id: String(k), first: f1, second: f2, netSize: [nh, nw], mapping: map, flow, files: [],
      timings: { fitMs: t1 - t0, inferMs: 0, engineMs: 0, hostMs: 0, verifyMs: 0, recomputeMs: 0, refineMs: 0, flowMs: t3 - t2, sourceMs: 0, totalMs: t4 - t0, fps: 10 },
      verify: { mode: 'sample', state: 'ok', mismatches: 0, reruns: 0, regions: 23 },
    } as unknown as FrameEvent;
    sink += statusText(e, 100).length + JSON.stringify(frameJson(e)).length;
    const t5 = performance.now();
    const u5 = cpuMs();
    f1.fitPlanes(map, input, 0);
    f2.fitPlanes(map, input, 3 * nh * nw);
    const t6 = performance.now();
    const u6 = cpuMs();
    sink += flowToColor(flow).image.data[k];
    const t7 = performance.now();
    const u7 = cpuMs();
    sink += wheel.image.data[k] + ddr[k];
    if (k < 3) continue; // warm-up
    record(stages, [t0, t1, t2, t3, t4, t5]);
    record(cpuStages, [u0, u1, u2, u3, u4, u5]);
    both.push(t6 - t5);
    exact.push(t7 - t6);
    exactCpu.push(u7 - u6);
  }
  if (sink === -1) console.log(sink);
  decoder?.close();
  const cpu = process.cpuUsage(c0);
  const share = (cpu.user + cpu.system) / 1000 / (performance.now() - w0);
  const med: Record<string, number> = {};
  const p9: Record<string, number> = {};
  const cmed: Record<string, number> = {};
  for (const [k, v] of Object.entries(stages)) {
    med[k] = Math.round(median(v) * 1000) / 1000;
    p9[k] = Math.round(p90(v) * 1000) / 1000;
    cmed[k] = Math.round(median(cpuStages[k]) * 1000) / 1000;
  }
  const cpus = os.cpus();
  const ms3 = (v: number): number => Math.round(v * 1000) / 1000;
  const mjpeg = jpegs && {
    decoder: decoder!.name,
    decode_median_ms: ms3(median(decodeTimes[0])),
    decode_cpu_median_ms: ms3(median(decodeTimes[1])),
    jpeg_bytes: Math.round(jpegs.reduce((a, j) => a + j.length, 0) / jpegs.length),
  };
  return {
    net: [nh, nw], source: [sh, sw], format: o.format ?? 'rgb', ...(mjpeg ? { mjpeg } : {}), reps, median_ms: med, p90_ms: p9, cpu_median_ms: cmed, fit_both_median_ms: Math.round(median(both) * 1000) / 1000,
    wheel_exact_median_ms: Math.round(median(exact) * 1000) / 1000, wheel_exact_cpu_median_ms: Math.round(median(exactCpu) * 1000) / 1000,
    cpu_share: Math.round(share * 100) / 100,
    machine: { cpus: cpus[0]?.model ?? 'unknown', cores: cpus.length, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
  };
}

export function formatHostBench(r: HostBenchResult): string {
  const rows = Object.keys(r.median_ms).map(
    (k) => `  ${k.padEnd(9)} ${r.median_ms[k].toFixed(2).padStart(7)} ms  (p90 ${r.p90_ms[k].toFixed(2)})  cpu ${r.cpu_median_ms[k].toFixed(2).padStart(6)} ms`,
  );
  return [
    `host work per pair, network ${r.net[0]}x${r.net[1]}, frames ${r.source[1]}x${r.source[0]} ${r.format.toUpperCase()}, engine excluded; median of ${r.reps} (wall, and CPU time of this process):`,
    ...rows,
    ...(r.mjpeg
      ? [`  (MJPEG decoded by ${r.mjpeg.decoder} inside fit: ${r.mjpeg.decode_median_ms.toFixed(2)} ms a frame, cpu ${r.mjpeg.decode_cpu_median_ms.toFixed(2)} ms; q85 frames of ${(r.mjpeg.jpeg_bytes / 1024).toFixed(0)} kB)`]
      : []),
    `  (fitting both frames from their buffers instead of moving planes: ${r.fit_both_median_ms.toFixed(2)} ms)`,
    `  (wheel: the live page's display table; the byte-exact Middlebury wheel of the written PNG files: ${r.wheel_exact_median_ms.toFixed(2)} ms, cpu ${r.wheel_exact_cpu_median_ms.toFixed(2)} ms)`,
    `  machine: ${r.machine.cpus}, ${r.machine.cores} cores, load average ${r.machine.loadavg.join(' ')}, node ${r.machine.node}; this process got ${Math.round(r.cpu_share * 100)} % of a core`,
  ].join('\n');
}
