// Strided window reads from a DMA buffer with the least cache maintenance: a read-only take of exactly the lines
// the window's rows touch (one backend call where the backend walks windows natively or takes a list of ranges),
// hand-back without a clean; in place (takeDmaWindow) or packed (readDmaWindow). EngineDevice.viewWindow /
// readWindow are these over its pool; the verifier's window reads land here on a board.
import type { DmaBuffer } from './allocator.js';
import type { DmaBackend } from './types.js';

/**
 * Default EngineDevice.syncCallBytes: one sync call (~1 µs: FFI or ioctl entry, barrier) ≈ maintenance of 4 KB of
 * lines (64 × 64 B at an assumed ~16 ns per `dc civac`); an estimate, as verify.ts READ_CALL_BYTES.
 */
export const SYNC_CALL_BYTES = 4096;

const LINE = 64;

/**
 * Whether a strided window (`planes` planes `planeStride` apart, each spanning `planeSpan` bytes) is cheaper to
 * sync plane by plane than in one sync over its covering range: cost = calls · syncCallBytes + bytes maintained.
 */
export function windowSyncPerPlane(planes: number, planeStride: number, planeSpan: number, syncCallBytes: number): boolean {
  const whole = syncCallBytes + (planes - 1) * planeStride + planeSpan;
  return planes > 1 && planes * (syncCallBytes + planeSpan) < whole;
}

/**
 * The cache lines a strided window's rows touch, as (offset, length) pairs in `out` (line-aligned relative to
 * offset 0 of the buffer, capped at `limit`; touching or overlapping rows merged). Returns the pair count; `out`
 * must hold 2 · planes · rows entries. With `perPlane`, one range per plane's span instead of per row.
 */
export function windowLineRanges(offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
  rowBytes: number, limit: number, out: Uint32Array, perPlane = false): number {
  // Int32 line arithmetic (o & ~63): a few ns per row, the verifier walks ~35 K rows per frame.
  if (limit > 0x7fffff00) throw new RangeError(`window line ranges: a ${limit}-byte buffer exceeds 2 GiB`);
  let n = 0;
  let curS = -1, curE = -1;
  const span = perPlane ? (rows - 1) * rowStride + rowBytes : rowBytes;
  const nr = perPlane ? 1 : rows;
  for (let p = 0; p < planes; p++) {
    let o = offset + p * planeStride;
    for (let r = 0; r < nr; r++, o += rowStride) {
      const s = o & ~(LINE - 1);
      let e = (o + span + LINE - 1) & ~(LINE - 1);
      if (e > limit) e = limit;
      if (s <= curE && s >= curS) {
        if (e > curE) curE = e;
        continue;
      }
      if (curE >= 0) {
        out[n << 1] = curS;
        out[(n << 1) + 1] = curE - curS;
        n++;
      }
      curS = s;
      curE = e;
    }
  }
  if (curE >= 0) {
    out[n << 1] = curS;
    out[(n << 1) + 1] = curE - curS;
    n++;
  }
  return n;
}

/** Bytes in the first `count` (offset, length) pairs. */
export function rangeBytes(ranges: Uint32Array, count: number): number {
  let b = 0;
  for (let i = 0; i < count; i++) b += ranges[2 * i + 1];
  return b;
}

/** How EngineDevice.readWindow takes a window to the CPU: the chosen ranges, their count, calls and bytes maintained. */
export interface WindowSync {
  ranges: Uint32Array;
  count: number;
  calls: number;
  bytes: number;
}

/**
 * Picks the cheapest way to invalidate a window before reading it (cost = calls · syncCallBytes + bytes
 * maintained): the lines of its rows, one range per plane, or its covering range. `listCall`: the backend takes a
 * list of ranges in one call (DmaBackend.syncRangesForCpu), else every range is a call. `scratch` is reused.
 */
export function planWindowSync(offset: number, planes: number, planeStride: number, rows: number, rowStride: number,
  rowBytes: number, limit: number, syncCallBytes: number, listCall: boolean, scratch: { a: Uint32Array; b: Uint32Array }): WindowSync {
  const need = 2 * planes * rows;
  if (scratch.a.length < need) scratch.a = new Uint32Array(Math.max(need, 2 * scratch.a.length));
  if (scratch.b.length < 2 * planes) scratch.b = new Uint32Array(Math.max(2 * planes, 2 * scratch.b.length));
  const cost = (count: number, bytes: number) => (listCall ? 1 : count) * syncCallBytes + bytes;
  const nRow = windowLineRanges(offset, planes, planeStride, rows, rowStride, rowBytes, limit, scratch.a);
  const bRow = rangeBytes(scratch.a, nRow);
  let best: WindowSync = { ranges: scratch.a, count: nRow, calls: listCall ? 1 : nRow, bytes: bRow };
  let bestCost = cost(nRow, bRow);
  if (!listCall && rows > 1) {
    const nP = windowLineRanges(offset, planes, planeStride, rows, rowStride, rowBytes, limit, scratch.b, true);
    const bP = rangeBytes(scratch.b, nP);
    if (cost(nP, bP) < bestCost) {
      best = { ranges: scratch.b, count: nP, calls: nP, bytes: bP };
      bestCost = cost(nP, bP);
    }
  }
  const s = offset - (offset % LINE);
  const e = Math.min(limit, offset + (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes);
  const bW = Math.ceil((e - s) / LINE) * LINE;
  if (syncCallBytes + bW < bestCost) {
    scratch.b[0] = s;
    scratch.b[1] = Math.min(limit, s + bW) - s;
    best = { ranges: scratch.b, count: 1, calls: 1, bytes: scratch.b[1] };
  }
  return best;
}

export interface WindowSyncStats {
  windows: number;
  /** Calls into the backend's sync (a list in one call counts 1). */
  calls: number;
  /** Bytes of whole lines invalidated. */
  bytes: number;
}

/** Per-device state of readDmaWindow: the call-cost knob, reused range lists, counters. */
export interface WindowReadState {
  syncCallBytes: number;
  scratch: { a: Uint32Array; b: Uint32Array };
  stats: WindowSyncStats;
}

export function windowReadState(syncCallBytes = SYNC_CALL_BYTES): WindowReadState {
  return { syncCallBytes, scratch: { a: new Uint32Array(512), b: new Uint32Array(64) }, stats: { windows: 0, calls: 0, bytes: 0 } };
}

/**
 * Zero-copy take of a window of `buf` (`planes` × `rows` rows of `rowBytes` at offset + p·planeStride +
 * r·rowStride) for reading: invalidates the lines of the window's rows in one backend call where the backend walks
 * windows (syncWindowForCpu), else what planWindowSync picks (nothing on a coherent backend), and returns a view of
 * the window's covering span [offset, offset + span) — the rows at their strides, relative to its start. The buffer
 * stays the CPU's (read-only) until toDevice(), which needs no clean. The window is range-checked before any sync.
 */
export function takeDmaWindow(backend: DmaBackend, buf: DmaBuffer, offset: number, planes: number, planeStride: number,
  rows: number, rowStride: number, rowBytes: number, st: WindowReadState): Uint8Array {
  if (planes * rows * rowBytes === 0) return new Uint8Array(0);
  const span = (planes - 1) * planeStride + (rows - 1) * rowStride + rowBytes;
  if (!Number.isInteger(offset) || offset < 0 || offset + span > buf.size) {
    throw new RangeError(`readWindow: range [${offset}, ${offset + span}) outside the ${buf.size} bytes of '${buf.label}'`);
  }
  st.stats.windows++;
  if (backend.coherent) {
    buf.toCpu(offset, span, 'read');
  } else if (backend.syncWindowForCpu) {
    st.stats.bytes += buf.toCpuWindow(offset, planes, planeStride, rows, rowStride, rowBytes);
    st.stats.calls++;
  } else {
    const ws = planWindowSync(offset, planes, planeStride, rows, rowStride, rowBytes, buf.size, st.syncCallBytes,
      backend.syncRangesForCpu !== undefined, st.scratch);
    buf.toCpuRanges(ws.ranges, ws.count);
    st.stats.calls += ws.calls;
    st.stats.bytes += ws.bytes;
  }
  return buf.readView.subarray(offset, offset + span);
}

/**
 * Strided read of a window of `buf` packed plane-major into `out`: takeDmaWindow, copy the rows, hand the buffer
 * back to the device (no clean: the CPU wrote nothing).
 */
export function readDmaWindow(backend: DmaBackend, buf: DmaBuffer, offset: number, planes: number, planeStride: number,
  rows: number, rowStride: number, rowBytes: number, out: Uint8Array | undefined, st: WindowReadState): Uint8Array {
  const n = planes * rows * rowBytes;
  const dst = out ?? new Uint8Array(n);
  if (dst.length < n) throw new RangeError(`readWindow: output of ${dst.length} bytes for ${n}`);
  if (n === 0) return dst;
  const src = takeDmaWindow(backend, buf, offset, planes, planeStride, rows, rowStride, rowBytes, st);
  try {
    copyWindow(src, 0, planes, planeStride, rows, rowStride, rowBytes, dst);
  } finally {
    buf.toDevice(offset, src.length);
  }
  return dst;
}

/**
 * Copies `planes` × `rows` rows of `rowBytes` at o + p·planeStride + r·rowStride of `src` into `dst`, packed
 * plane-major (no range checks: callers check the window first). The verifier's windows are mostly 1–3 bytes wide
 * over hundreds of planes, so those widths have straight-line bodies (no inner loop per row); long rows use set().
 */
export function copyWindow(src: Uint8Array, o: number, planes: number, planeStride: number, rows: number, rowStride: number,
  rowBytes: number, dst: Uint8Array): void {
  let d = 0;
  if (rowBytes === 1) {
    for (let p = 0; p < planes; p++) for (let r = 0, s = o + p * planeStride; r < rows; r++, s += rowStride) dst[d++] = src[s];
  } else if (rowBytes === 2) {
    for (let p = 0; p < planes; p++) {
      for (let r = 0, s = o + p * planeStride; r < rows; r++, s += rowStride, d += 2) {
        dst[d] = src[s];
        dst[d + 1] = src[s + 1];
      }
    }
  } else if (rowBytes === 3) {
    for (let p = 0; p < planes; p++) {
      for (let r = 0, s = o + p * planeStride; r < rows; r++, s += rowStride, d += 3) {
        dst[d] = src[s];
        dst[d + 1] = src[s + 1];
        dst[d + 2] = src[s + 2];
      }
    }
  } else if (rowBytes <= 32) {
    for (let p = 0; p < planes; p++) {
      for (let r = 0, s = o + p * planeStride; r < rows; r++, s += rowStride, d += rowBytes) {
        for (let i = 0; i < rowBytes; i++) dst[d + i] = src[s + i];
      }
    }
  } else {
    for (let p = 0; p < planes; p++) {
      for (let r = 0, s = o + p * planeStride; r < rows; r++, s += rowStride, d += rowBytes) dst.set(src.subarray(s, s + rowBytes), d);
    }
  }
}
