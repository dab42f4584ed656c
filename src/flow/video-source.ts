// A video file as a FrameSource: ffprobe reads the stream's size and frame count, ffmpeg decodes to raw RGB24 on a
// pipe (one child process, never detached from the event loop: its exit is awaited by close()). Each frame is
// assembled from the pipe into one buffer; fitPlanes then reads that buffer once per pair (source.ts copy rule).
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { imageFrame } from './fit.js';
import type { FrameSource, SourceFrame } from './source.js';

export const VIDEO_FILE_RE = /\.(mp4|m4v|mov|avi|mkv|webm|mpe?g|ogv|flv|wmv|ts|y4m)$/i;

export interface VideoOptions {
  /** Decode at most this many frames (ffmpeg stops early). */
  maxFrames?: number;
  /** Program names or paths (default `ffmpeg`, `ffprobe` from PATH). */
  ffmpeg?: string;
  ffprobe?: string;
  /** Injected for tests. */
  spawn?: (cmd: string, args: string[], o: SpawnOptions) => ChildProcess;
}

const MISSING = (): UserError =>
  new UserError('video input needs ffmpeg, which is not installed', 'install the Debian package ffmpeg (apt-get install ffmpeg), or give a folder of frames');

/** Runs a program to completion and returns its stdout; ENOENT → the "install ffmpeg" error. */
function capture(spawn: NonNullable<VideoOptions['spawn']>, cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res, rej) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return rej((e as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING() : e);
    }
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
    child.once('error', (e: NodeJS.ErrnoException) => rej(e.code === 'ENOENT' ? MISSING() : e));
    child.once('close', (code) => res({ code, out, err }));
  });
}

const lastLine = (s: string): string => s.trim().split('\n').pop()?.trim() ?? '';

export async function openVideoSource(file: string, o: VideoOptions = {}): Promise<FrameSource> {
  const path = resolve(file);
  const spawn = o.spawn ?? ((cmd, args, so) => nodeSpawn(cmd, args, so));
  try {
    if (!(await stat(path)).isFile()) throw new UserError(`not a video file: ${path}`, 'give a video file or a folder of frames');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`video file not found: ${path}`, 'check the path');
  }
  const probe = await capture(spawn, o.ffprobe ?? 'ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=width,height,r_frame_rate,nb_read_packets,nb_frames', '-of', 'json', path,
  ]);
  let stream: { width?: number; height?: number; r_frame_rate?: string; nb_frames?: string; nb_read_packets?: string } | undefined;
  try {
    stream = (JSON.parse(probe.out) as { streams?: Array<typeof stream> }).streams?.[0];
  } catch {
    stream = undefined;
  }
  if (probe.code !== 0 || !stream?.width || !stream.height) {
    throw new UserError(`${path}: not a readable video${lastLine(probe.err) ? ` (ffprobe: ${lastLine(probe.err)})` : ' (no video stream)'}`, 'give a video file ffmpeg can decode, or a folder of frames');
  }
  const width = stream.width;
  const height = stream.height;
  const counted = Number(stream.nb_read_packets ?? stream.nb_frames);
  const known = Number.isInteger(counted) && counted > 0 ? counted : undefined;
  const length = known !== undefined && o.maxFrames !== undefined ? Math.min(known, o.maxFrames) : known;
  const args = ['-v', 'error', '-nostdin', '-i', path, '-map', '0:v:0'];
  if (o.maxFrames !== undefined) args.push('-frames:v', String(o.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1');
  let child: ChildProcess;
  try {
    child = spawn(o.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING() : e;
  }
  const [num, den] = (stream.r_frame_rate ?? '0/1').split('/').map(Number);
  const frameMs = num > 0 && den > 0 ? (1000 * den) / num : 0;
  const frameBytes = width * height * 3;
  const queue: Uint8Array[] = [];
  let cur = new Uint8Array(frameBytes);
  let fill = 0;
  let ended = false;
  let failure: Error | undefined;
  let stderr = '';
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const exited = new Promise<void>((res) => {
    child.once('close', () => res());
    child.once('error', () => res());
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  child.once('error', (e: NodeJS.ErrnoException) => {
    failure = e.code === 'ENOENT' ? MISSING() : new UserError(`cannot run ffmpeg: ${e.message}`, 'check the ffmpeg installation');
    ended = true;
    notify();
  });
  let closing = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    // After close() the rest is drained unread: pausing again would keep the pipe open, and 'close' (which close()
    // awaits) never came when ffmpeg had already written its last frame.
    if (closing) return;
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, frameBytes - fill);
      cur.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === frameBytes) {
        queue.push(cur);
        cur = new Uint8Array(frameBytes);
        fill = 0;
      }
    }
    // Back-pressure: keep a couple of decoded frames ready, not the whole video.
    if (queue.length >= 3) child.stdout!.pause();
    notify();
  });
  child.once('close', (code, sig) => {
    if (!closing && !failure && code !== 0) {
      failure = new UserError(`${basename(path)}: ffmpeg failed (${sig ?? `exit code ${code}`})${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}`, 'check that the file is a complete video ffmpeg can decode');
    }
    ended = true;
    notify();
  });
  let index = 0;
  return {
    description: `${path}: ${known !== undefined ? `${known} frames ` : ''}${width}x${height} (ffmpeg)`,
    width,
    height,
    length,
    async next(): Promise<SourceFrame | null> {
      for (;;) {
        if (closing) return null;
        const data = queue.shift();
        if (data) {
          if (queue.length < 3) child.stdout!.resume();
          const i = index++;
          return imageFrame({ width, height, data }, i, i * frameMs);
        }
        if (failure) throw failure;
        if (ended) return null; // a partial trailing frame (truncated file) is not a frame
        await new Promise<void>((r) => (wake = r));
      }
    },
    async close(): Promise<void> {
      if (closing) return exited;
      closing = true;
      notify();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      child.stdout!.resume();
      await exited;
    },
  };
}
