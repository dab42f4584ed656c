// Camera frame sources for `flowfpga run --camera DEV`: a V4L2 device (/dev/videoN) through libc, or the simulated
// camera "sim:" (the bundled samples/sequence) / "sim:DIR" (another sequence folder) through the same capture code.
import path from 'node:path';
import type { FrameSource } from '../flow/source.js';
import { packageRoot } from '../paths.js';
import { libcSys } from '../sys/libc.js';
import type { Sys } from '../sys/types.js';
import { openCapture, type CaptureFormat } from './capture.js';
import { abiFor, v4l2Layout, type Abi } from './layout.js';
import type { MjpegDecoderOptions } from './mjpeg.js';
import { SimCamera, type SimCameraOptions } from './sim/device.js';
import { loadSequence } from './sim/sequence.js';

export interface CameraOptions {
  width?: number;
  height?: number;
  format?: CaptureFormat;
  /** Capture buffers, ≥ 3 (default 4). */
  buffers?: number;
  /** Longest wait for one frame, ms (default 5000). */
  frameTimeoutMs?: number;
  /** Tests: the libc seam (default: libc, or the simulated camera for "sim:"). */
  sys?: Sys;
  /** Tests: struct layouts of another ABI (default: this process's). */
  abi?: Abi;
  /** "sim:" devices: options of the simulated camera (frame rate, unplug, formats). */
  sim?: Partial<Omit<SimCameraOptions, 'path' | 'sequence'>>;
  /** MJPEG: the decoder's options (tests: a library path). */
  mjpeg?: MjpegDecoderOptions;
  /** Called at most once with a line worth showing the user: MJPEG decoding fell back to jpeg-js (no libturbojpeg). */
  onNote?: (line: string) => void;
}

export const SIM_PREFIX = 'sim:';

/** The bundled sequence the "sim:" camera plays. */
export function defaultSequenceDir(): string {
  return path.join(packageRoot(), 'samples', 'sequence');
}

export async function openCameraSource(device: string, opts: CameraOptions = {}): Promise<FrameSource> {
  const abi = opts.abi ?? opts.sim?.abi ?? abiFor();
  let sys = opts.sys;
  if (!sys && device.startsWith(SIM_PREFIX)) {
    const dir = device.slice(SIM_PREFIX.length) || defaultSequenceDir();
    sys = new SimCamera({ ...opts.sim, abi, path: device, sequence: loadSequence(dir) }).sys;
  }
  return openCapture(sys ?? libcSys(), device, v4l2Layout(abi), opts);
}

export { openCapture, type CaptureFormat, type CaptureOptions } from './capture.js';
export { SimCamera, simCameras, type SimCameraOptions, type SimCameraState } from './sim/device.js';
export { loadSequence, type Sequence } from './sim/sequence.js';
export { ABIS, abiFor, v4l2Layout, type Abi, type V4l2Layout } from './layout.js';
export { createMjpegDecoder, decodeMjpeg, mjpegDecoderName, mjpegDecoderNote, type MjpegDecoder, type MjpegDecoderName, type MjpegDecoderOptions } from './mjpeg.js';
