// Placeholder until the V4L2 capture (branch `camera`) is merged: `run --camera` is wired to this signature.
import { UserError } from '../errors.js';
import type { FrameSource } from '../flow/source.js';

export interface CameraOptions {
  width?: number;
  height?: number;
  format?: 'yuyv' | 'mjpeg';
  buffers?: number;
}

export async function openCameraSource(device: string, opts: CameraOptions = {}): Promise<FrameSource> {
  void device;
  void opts;
  throw new UserError('camera support is not built yet', 'use --input with a folder of frames or a video file');
}
