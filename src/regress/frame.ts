// Link framing (docs/regress.md): magic, type, sequence number and length in a 10-byte header with its own 16-bit
// check (so a corrupted length is rejected at once instead of swallowing the next frames), the payload, and a CRC-32
// over header + payload. The decoder resynchronises on the next magic after any bad byte.
import { crc32 } from '../crc32.js';

export const MAGIC0 = 0xf1;
export const MAGIC1 = 0x0f;
export const HEADER_BYTES = 10;
export const TRAILER_BYTES = 4;
/** Largest payload: keeps one frame under ~6 s at 115200 baud and bounds what a corrupted length can claim. */
export const MAX_PAYLOAD = 65535;

export const FrameType = {
  /** Host → board: a request (JSON). */
  REQ: 1,
  /** Board → host: request `seq` received, being worked on (sent again every keep-alive period). */
  ACK: 2,
  /** Board → host: the answer to request `seq` (JSON), or one part of it (FLAG_MORE: further parts follow). */
  RESP: 3,
  /** Host → board: the next part of the last answer, from the u32 LE byte offset in the payload. */
  MORE: 4,
} as const;
/** RESP flag: the answer continues; the host asks for the rest with MORE. */
export const FLAG_MORE = 1;
/** Answer bytes per RESP frame: a frame is ~0.09 s at 115200 baud, so a corrupted byte costs little to resend. */
export const PART_BYTES = 1024;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  type: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

const headerCheck = (h: Uint8Array): number => crc32(h.subarray(0, 8)) & 0xffff;

/** One frame's bytes. */
export function encodeFrame(type: number, seq: number, payload: Uint8Array, flags = 0): Uint8Array {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const f = new Uint8Array(HEADER_BYTES + payload.length + TRAILER_BYTES);
  const dv = new DataView(f.buffer);
  f[0] = MAGIC0;
  f[1] = MAGIC1;
  f[2] = type;
  f[3] = flags;
  dv.setUint16(4, seq & 0xffff, true);
  dv.setUint16(6, payload.length, true);
  dv.setUint16(8, headerCheck(f), true);
  f.set(payload, HEADER_BYTES);
  dv.setUint32(HEADER_BYTES + payload.length, crc32(f.subarray(0, HEADER_BYTES + payload.length)), true);
  return f;
}

/** Stream decoder: push() bytes as they arrive, get whole valid frames back; garbage is counted and skipped. */
export class FrameDecoder {
  #buf = new Uint8Array(4096);
  #len = 0;
  /** Bytes discarded while resynchronising, and frames rejected by a check. */
  skipped = 0;
  rejected = 0;

  push(data: Uint8Array): Frame[] {
    if (this.#len + data.length > this.#buf.length) {
      const nb = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + data.length));
      nb.set(this.#buf.subarray(0, this.#len));
      this.#buf = nb;
    }
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    const out: Frame[] = [];
    let p = 0;
    const b = this.#buf;
    while (this.#len - p >= 2) {
      if (b[p] !== MAGIC0 || b[p + 1] !== MAGIC1) {
        p++;
        this.skipped++;
        continue;
      }
      if (this.#len - p < HEADER_BYTES) break;
      const dv = new DataView(b.buffer, b.byteOffset + p);
      const n = dv.getUint16(6, true);
      if (dv.getUint16(8, true) !== headerCheck(b.subarray(p, p + 8))) {
        this.rejected++;
        p++;
        continue;
      }
      const total = HEADER_BYTES + n + TRAILER_BYTES;
      if (this.#len - p < total) break;
      if (dv.getUint32(HEADER_BYTES + n, true) !== crc32(b.subarray(p, p + HEADER_BYTES + n))) {
        this.rejected++;
        p++;
        continue;
      }
      out.push({ type: b[p + 2], flags: b[p + 3], seq: dv.getUint16(4, true), payload: b.slice(p + HEADER_BYTES, p + HEADER_BYTES + n) });
      p += total;
    }
    b.copyWithin(0, p, this.#len);
    this.#len -= p;
    return out;
  }
}
