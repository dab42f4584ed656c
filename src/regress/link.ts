// Stop-and-wait request/response over a Transport (docs/regress.md): the host sends REQ(seq), the board answers ACK
// at once, ACK again every keep-alive period while it works, then RESP(seq) — in parts of PART_BYTES that the host
// fetches with MORE(offset) when the answer is longer. The host retransmits REQ when it hears
// nothing for a retransmission period (bounded retries); the board answers a repeated REQ with an ACK (still working)
// or its cached RESP (done), so lost, corrupted and duplicated frames are all survived without running a case twice.
import { crc32 } from '../crc32.js';
import { UserError } from '../errors.js';
import { FLAG_MORE, FrameDecoder, FrameType, HEADER_BYTES, PART_BYTES, TRAILER_BYTES, encodeFrame, type Frame } from './frame.js';
import type { Transport } from './transport.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes moved in each direction and frames sent again. */
export interface LinkCounters {
  sent: number;
  received: number;
  retransmits: number;
  /** Garbage bytes skipped and frames rejected by a check (corruption the link survived). */
  skipped: number;
  rejected: number;
}

/** Seconds the given bytes take on a serial line (8N1: 10 bit times per byte). */
export function lineSeconds(bytes: number, baud: number): number {
  return (bytes * 10) / baud;
}

export interface HostLinkOptions {
  /** No valid frame from the board for this long → the board stopped answering (ms). */
  silenceMs: number;
  /** Board's ACK period (ms); the host retransmits after about twice this without a frame. */
  keepAliveMs?: number;
  /** Retransmissions of one frame before giving up (default: as many as fit into silenceMs, at least 10). */
  maxRetries?: number;
}

export class LinkError extends UserError {}

export class HostLink {
  readonly counters: LinkCounters = { sent: 0, received: 0, retransmits: 0, skipped: 0, rejected: 0 };
  #dec = new FrameDecoder();
  #seq: number;
  #waiting: ((f: Frame) => void) | undefined;
  #closedWhy: string | undefined;
  #onClosed: ((why: string) => void) | undefined;

  constructor(readonly transport: Transport, readonly opts: HostLinkOptions) {
    // A random first sequence number: a board still holding a previous session's last answer does not replay it.
    this.#seq = (Math.random() * 0x10000) | 0;
    transport.onData((d) => {
      this.counters.received += d.length;
      for (const f of this.#dec.push(d)) this.#waiting?.(f);
      this.counters.skipped = this.#dec.skipped;
      this.counters.rejected = this.#dec.rejected;
    });
    transport.onClose((why) => {
      this.#closedWhy = why;
      this.#onClosed?.(why);
    });
  }

  /** Frame time of n payload bytes on the line (0 without a baud rate), ms. */
  #frameMs(n: number): number {
    const b = this.transport.baud;
    return b ? lineSeconds(n + HEADER_BYTES + TRAILER_BYTES, b) * 1000 : 0;
  }

  /** Sends one request and resolves with the board's answer; LinkError when the board stops answering. */
  async request<T = unknown>(msg: object): Promise<T> {
    const what = (msg as { op?: string }).op ?? 'request';
    let f = await this.#exchange(FrameType.REQ, enc.encode(JSON.stringify(msg)), what, true);
    // Long answers come in parts of PART_BYTES: ask for the rest from the offset reached.
    const parts: Uint8Array[] = [f.payload];
    let have = f.payload.length;
    while (f.flags & FLAG_MORE) {
      const off = new Uint8Array(4);
      new DataView(off.buffer).setUint32(0, have, true);
      f = await this.#exchange(FrameType.MORE, off, `${what} (answer from byte ${have})`, false);
      parts.push(f.payload);
      have += f.payload.length;
    }
    const all = new Uint8Array(have);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    try {
      return JSON.parse(dec.decode(all)) as T;
    } catch {
      throw new Error(`board sent an answer that is not JSON (${all.length} bytes)`);
    }
  }

  /** One frame out, its RESP back: retransmits on silence (bounded), gives up after silenceMs without a frame. */
  #exchange(type: number, payload: Uint8Array, what: string, slow: boolean): Promise<Frame> {
    const seq = (this.#seq = (this.#seq + 1) & 0xffff);
    const frame = encodeFrame(type, seq, payload);
    const keepAlive = this.opts.keepAliveMs ?? 1000;
    // Retransmit when the frame and the answer's frame time have passed without a frame from the board, plus (for a
    // request that runs a case) a keep-alive gap; MORE is answered at once.
    const rto = (slow ? 2 * keepAlive : 0) + this.#frameMs(payload.length) + this.#frameMs(PART_BYTES) + 250;
    // Bounded: by default as many as fit into the silence timeout (an agent that starts slowly still gets its hello).
    const maxRetries = this.opts.maxRetries ?? Math.max(10, Math.ceil(this.opts.silenceMs / rto));
    return new Promise<Frame>((resolve, reject) => {
      let retries = 0;
      let lastHeard = Date.now();
      let lastSent = lastHeard;
      const started = lastHeard;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Error | undefined, value?: Frame): void => {
        clearTimeout(timer);
        this.#waiting = undefined;
        this.#onClosed = undefined;
        if (err) reject(err);
        else resolve(value!);
      };
      const send = (): void => {
        lastSent = Date.now();
        this.counters.sent += frame.length;
        this.transport.write(frame);
      };
      const arm = (): void => {
        clearTimeout(timer);
        const now = Date.now();
        const toSilence = this.opts.silenceMs - (now - lastHeard);
        const toRetransmit = rto - (now - Math.max(lastHeard, lastSent));
        timer = setTimeout(tick, Math.max(1, Math.min(toSilence, toRetransmit)));
      };
      const tick = (): void => {
        const now = Date.now();
        const silentFor = now - lastHeard;
        if (silentFor >= this.opts.silenceMs) {
          finish(new LinkError(`board stopped answering: no valid frame for ${(silentFor / 1000).toFixed(1)} s during '${what}' (${retries} retransmissions)`,
            'check the cable/connection and that `flowfpga agent` runs on the board; raise --timeout for slow boards'));
          return;
        }
        if (now - Math.max(lastHeard, lastSent) >= rto) {
          if (retries >= maxRetries) {
            finish(new LinkError(`board stopped answering: '${what}' unanswered after ${retries} retransmissions (${((now - started) / 1000).toFixed(1)} s)`,
              'check the cable/connection and that `flowfpga agent` runs on the board'));
            return;
          }
          retries++;
          this.counters.retransmits++;
          send();
        }
        arm();
      };
      this.#waiting = (f) => {
        if (f.seq !== seq) return; // an old request's duplicate answer
        lastHeard = Date.now();
        if (f.type === FrameType.RESP) finish(undefined, f);
        else arm();
      };
      this.#onClosed = (why) => finish(new LinkError(`link to the board closed during '${what}': ${why}`, 'check that `flowfpga agent` can run on the board'));
      if (this.#closedWhy !== undefined) {
        this.#onClosed(this.#closedWhy);
        return;
      }
      send();
      arm();
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

export type Handler = (msg: Record<string, unknown>) => Promise<object>;

/** The board side: answers requests one at a time through `handler`, with ACKs, keep-alives and a reply cache. */
export class AgentLink {
  readonly counters: LinkCounters = { sent: 0, received: 0, retransmits: 0, skipped: 0, rejected: 0 };
  #dec = new FrameDecoder();
  /** The request being worked on, and the last one answered (seq + payload CRC → its RESP frame). */
  #busy: { seq: number; crc: number } | undefined;
  #last: { seq: number; crc: number; frame: Uint8Array } | undefined;
  /** The last answer's bytes, served in parts by MORE. */
  #answer: Uint8Array | undefined;

  constructor(readonly transport: Transport, readonly handler: Handler, readonly keepAliveMs = 1000) {
    transport.onData((d) => {
      this.counters.received += d.length;
      for (const f of this.#dec.push(d)) this.#onFrame(f);
      this.counters.skipped = this.#dec.skipped;
      this.counters.rejected = this.#dec.rejected;
    });
  }

  #send(frame: Uint8Array): void {
    this.counters.sent += frame.length;
    this.transport.write(frame);
  }

  #onFrame(f: Frame): void {
    if (f.type === FrameType.MORE) {
      // A part of the last answer: stateless (any repeat gets the same bytes), answered at once.
      if (!this.#answer || f.payload.length !== 4) return;
      const off = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0, true);
      const end = Math.min(this.#answer.length, off + PART_BYTES);
      this.#send(encodeFrame(FrameType.RESP, f.seq, this.#answer.subarray(Math.min(off, end), end), end < this.#answer.length ? FLAG_MORE : 0));
      return;
    }
    if (f.type !== FrameType.REQ) return;
    const crc = crc32(f.payload);
    if (this.#last && this.#last.seq === f.seq && this.#last.crc === crc) {
      this.counters.retransmits++;
      this.#send(this.#last.frame);
      return;
    }
    if (this.#busy) {
      // Still working: a repeat of the current request gets an ACK; a new one waits (the host retransmits it).
      if (this.#busy.seq === f.seq && this.#busy.crc === crc) this.#send(encodeFrame(FrameType.ACK, f.seq, new Uint8Array(0)));
      return;
    }
    this.#busy = { seq: f.seq, crc };
    const ack = encodeFrame(FrameType.ACK, f.seq, new Uint8Array(0));
    this.#send(ack);
    const keep = setInterval(() => this.#send(ack), this.keepAliveMs);
    void (async () => {
      let answer: object;
      try {
        answer = await this.handler(JSON.parse(dec.decode(f.payload)) as Record<string, unknown>);
      } catch (e) {
        answer = { error: e instanceof Error ? e.message : String(e), ...(e instanceof UserError && e.hint ? { hint: e.hint } : {}) };
      }
      clearInterval(keep);
      const bytes = enc.encode(JSON.stringify(answer));
      this.#answer = bytes;
      const n = Math.min(bytes.length, PART_BYTES);
      const frame = encodeFrame(FrameType.RESP, f.seq, bytes.subarray(0, n), n < bytes.length ? FLAG_MORE : 0);
      this.#last = { seq: f.seq, crc, frame };
      this.#busy = undefined;
      this.#send(frame);
    })();
  }
}
