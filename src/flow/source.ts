// Frame sequences for `run`: a camera (src/camera, V4L2), a video file (ffmpeg) or a folder of frames all look the
// same to the run loop. Consecutive frames are paired: pair i is (frame i, frame i+1).
//
// The copy rule (issue #10): a frame is copied at most once between its source buffer (a V4L2 mmap buffer, a decoded
// file) and the network input. So a frame does not hand out an intermediate RGB image; it writes itself, fitted, into
// the network input planes in one pass (`fitPlanes`) as the second frame of pair i-1; for pair i the run loop moves
// those planes to the first slot of the input (src/cli/runloop.ts) instead of fitting again — a frame is fitted again
// only when it did not come straight from the previous pair. The run loop holds a frame until both pairs that use it
// are done (observers may still read it), then `release()`s it (a camera re-queues its buffer then); a camera source
// needs at least three buffers.
import type { RgbImage } from './image.js';
import type { InputMapping } from './netinput.js';

/** A frame's own JPEG bytes and its size. */
export interface JpegFrame {
  width: number;
  height: number;
  jpeg: Uint8Array;
}

export interface SourceFrame {
  /** 0-based position in the sequence. */
  readonly index: number;
  readonly width: number;
  readonly height: number;
  /** Capture time (camera: the driver's timestamp, ms, monotonic) or presentation time (video), ms. */
  readonly timestampMs: number;
  /**
   * Writes the frame fitted by `map` (map.srcWidth/srcHeight equal this frame's size) as three planes R, G, B of
   * map.netHeight x map.netWidth bytes each, starting at dst[offset] — the contract's planar input layout, so offset 0
   * is the first frame of a pair and 3·netHeight·netWidth the second. One pass over the source buffer.
   */
  fitPlanes(map: InputMapping, dst: Uint8Array, offset: number): void;
  /** The frame as interleaved RGB at its own size (for the live page, or when a caller needs pixels); converts on demand. */
  rgb(): RgbImage;
  /**
   * The frame as the JPEG it arrived in (an MJPEG camera), so the live page can show it without encoding it again;
   * undefined for frames that did not arrive as JPEG. The bytes are valid until release().
   */
  jpeg?(): JpegFrame | undefined;
  /** Gives the frame's buffer back to its source; the frame must not be used afterwards. Idempotent. */
  release(): void;
}

export interface FrameSource {
  /** One line for the user, e.g. "/dev/video0: YUYV 640x480 (UVC Camera)" or "clip.mp4: 300 frames 1280x720". */
  readonly description: string;
  readonly width: number;
  readonly height: number;
  /** Frame count when known in advance (files); undefined for a live camera. */
  readonly length?: number;
  /** The next frame, or null at the end of the sequence. Rejects with a UserError on a device or decoding failure. */
  next(): Promise<SourceFrame | null>;
  /** Stops streaming, unmaps and closes everything the source holds; safe to call more than once and after errors. */
  close(): Promise<void>;
}
