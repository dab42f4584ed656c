// The host side of `flowfpga regress`: handshake (versions, engine identity, model and golden hashes), then each
// case: the board runs it and returns digests, the host computes the same digests with the TypeScript reference; on
// a mismatch it narrows the first failing tensor down (per-channel, then per-row digests) and fetches a tile to
// print a diff. Results are collected per case for the TAP / JUnit reports.
import { CONTRACT_VERSION } from '../model/arch.js';
import type { QModel } from '../model/types.js';
import { UserError } from '../errors.js';
import { crc32 } from '../crc32.js';
import { forward } from '../reference/forward.js';
import { goldenExpected, type GoldenFile } from '../reference/golden.js';
import { randomFrames } from '../reference/random.js';
import { goldenShape, type RegressCase } from './cases.js';
import { lineSeconds, type HostLink } from './link.js';
import {
  PROTOCOL_VERSION, digest, goldenHash, modelHash, sweepModel, tensorBytes,
  type ErrorAnswer, type GoldenAnswer, type HelloAnswer, type NetworkAnswer, type SumsAnswer, type TileAnswer,
} from './protocol.js';

export interface CaseResult {
  name: string;
  ok: boolean;
  /** One line: what passed, or what failed first. */
  message: string;
  /** Further lines on failure: the diff. */
  diag: string[];
  /** Wall time of the case's requests (link + board), the board's own time, and the reference's time on the host, ms. */
  ms: number;
  boardMs: number;
  refMs: number;
  /** Link bytes host → board and board → host, retransmissions. */
  bytesOut: number;
  bytesIn: number;
  retransmits: number;
  /** Seconds these bytes take on the line at `baud` (8N1). */
  linkS: number;
}

export interface RegressOptions {
  version: string;
  models: Array<{ name: string; load: () => QModel }>;
  golden: GoldenFile[];
  /** Baud for link-time figures: the serial line's, else 115200 (what the same bytes would take on a UART). */
  baud: number;
  onResult?: (r: CaseResult, index: number) => void;
}

const errLine = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function ask<T>(link: HostLink, msg: object): Promise<T> {
  const a = await link.request<T & Partial<ErrorAnswer>>(msg);
  if (a && typeof a === 'object' && typeof a.error === 'string') throw new Error(`board: ${a.error}`);
  return a;
}

/** Handshake; UserError (one line) when the two sides disagree on versions. */
export async function hello(link: HostLink, o: { version: string }): Promise<HelloAnswer> {
  const a = await ask<HelloAnswer>(link, { op: 'hello', protocol: PROTOCOL_VERSION, contract: CONTRACT_VERSION, version: o.version });
  const both = `(board flowfpga ${a.version ?? '?'}, host ${o.version})`;
  const hint = 'install the same flowfpga version on the board and the host';
  if (a.protocol !== PROTOCOL_VERSION) throw new UserError(`version disagreement: the board's agent speaks regress protocol ${a.protocol}, this host ${PROTOCOL_VERSION} ${both}`, hint);
  if (a.contract !== CONTRACT_VERSION) throw new UserError(`version disagreement: the board's runtime implements integer contract ${a.contract}, this host ${CONTRACT_VERSION} ${both}`, hint);
  if (a.engine.engineContract !== CONTRACT_VERSION) {
    throw new UserError(`version disagreement: the board's engine (${a.engine.description}) implements contract ${a.engine.engineContract}, this host ${CONTRACT_VERSION}`, 'load the bitstream that matches this flowfpga version');
  }
  return a;
}

/** Checks that what the selected cases need is the same on both sides (models, golden vectors). */
export function checkAgreement(a: HelloAnswer, cases: RegressCase[], o: RegressOptions): void {
  const hint = 'install the same flowfpga version (models/ and test/golden/) on the board and the host';
  if (cases.some((c) => c.kind === 'golden')) {
    const mine = goldenHash(o.golden);
    if (a.golden.hash !== mine) throw new UserError(`version disagreement: the board's golden vectors (${a.golden.source}, hash ${a.golden.hash}) differ from the host's (hash ${mine})`, hint);
  }
  for (const c of cases) {
    if (c.kind !== 'model') continue;
    const theirs = a.models.find((m) => m.name === c.model);
    if (!theirs) throw new UserError(`model '${c.model}' is not installed on the board (board has ${a.models.map((m) => m.name).join(', ') || 'none'})`, hint);
    const mine = o.models.find((m) => m.name === c.model);
    const h = mine ? modelHash(mine.load()) : '';
    if (theirs.hash !== h) throw new UserError(`version disagreement: model '${c.model}' differs between board (hash ${theirs.hash}) and host (hash ${h})`, hint);
  }
}

/** Narrows a differing tensor down to its first differing element and fetches a tile around it: diff lines. */
async function locate(link: HostLink, key: string, exp: Uint8Array | Int16Array, [C, H, W]: [number, number, number]): Promise<{ first: string; diag: string[] }> {
  const eb = tensorBytes(exp);
  const es = exp.BYTES_PER_ELEMENT;
  const plane = H * W * es;
  const ch = await ask<SumsAnswer>(link, { op: 'sums', key });
  let c = -1;
  for (let i = 0; i < C && c < 0; i++) if (ch.crcs[i] !== crc32(eb.subarray(i * plane, (i + 1) * plane))) c = i;
  if (c < 0) return { first: 'every channel digest agrees (the tensor digest does not: a size disagreement)', diag: [] };
  const rows = await ask<SumsAnswer>(link, { op: 'sums', key, c });
  const row = W * es;
  let y = -1;
  for (let i = 0; i < H && y < 0; i++) if (rows.crcs[i] !== crc32(eb.subarray(c * plane + i * row, c * plane + (i + 1) * row))) y = i;
  if (y < 0) return { first: `channel ${c} digest differs, but none of its rows (a size disagreement)`, diag: [] };
  const nRows = Math.max(1, Math.min(4, H - y, Math.floor(8192 / row)));
  const t = await ask<TileAnswer>(link, { op: 'tile', key, c, y0: y, y1: y + nRows, x0: 0, x1: W });
  const raw = Buffer.from(t.data, 'base64');
  const got = es === 2 ? new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)) : new Uint8Array(raw);
  const diag: string[] = [];
  let diffs = 0;
  let first = '';
  for (let yy = 0; yy < nRows; yy++) {
    for (let x = 0; x < W; x++) {
      const e = exp[(c * H + y + yy) * W + x];
      const g = got[yy * W + x];
      if (e === g) continue;
      const pos = `c${c} y${y + yy} x${x}: expected ${e}, got ${g}`;
      if (!diffs) first = pos;
      if (diffs < 8) diag.push(pos);
      diffs++;
    }
  }
  diag.unshift(`tile c${c} rows ${y}..${y + nRows - 1} x 0..${W - 1} of ${C}x${H}x${W}: ${diffs} of ${nRows * W} elements differ${diffs > 8 ? ' (first 8 below)' : ''}`);
  return { first, diag };
}

/** Runs the cases in order; a failing case never stops the others (a dead link does: LinkError propagates). */
export async function runCases(link: HostLink, cases: RegressCase[], o: RegressOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const s0 = { ...link.counters };
    const t0 = performance.now();
    let boardMs = 0;
    let refMs = 0;
    let wallMs = 0;
    let ok = false;
    let message = '';
    let diag: string[] = [];
    const timed = async <T>(f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        wallMs += performance.now() - t;
      }
    };
    try {
      if (c.kind === 'golden') {
        const file = o.golden.find((f) => f.cases[0]?.op === c.op);
        if (!file) throw new Error(`no golden file for '${c.op}' on the host`);
        const a = await timed(() => ask<GoldenAnswer>(link, { op: 'golden', file: c.op }));
        boardMs = a.boardMs;
        const tr = performance.now();
        const bad: string[] = [];
        let firstBad: { idx: number; exp: Uint8Array | Int16Array } | undefined;
        file.cases.forEach((gc, idx) => {
          const r = a.results[idx];
          if (!r || r.id !== gc.id) {
            bad.push(`case ${gc.id}: missing from the board's answer`);
            return;
          }
          if (r.error) {
            bad.push(`case ${gc.id}: ${r.error}`);
            return;
          }
          const exp = goldenExpected(gc) as Uint8Array | Int16Array;
          if (r.crc !== digest(exp)) {
            bad.push(`case ${gc.id}: output digest 0x${(r.crc! >>> 0).toString(16)}, reference 0x${digest(exp).toString(16)}`);
            firstBad ??= { idx, exp };
          }
        });
        refMs = performance.now() - tr;
        if (!bad.length) {
          ok = true;
          message = `${file.cases.length} cases bit-exact with the reference`;
        } else {
          message = `${bad.length} of ${file.cases.length} cases differ; first: ${bad[0]}`;
          diag = bad.slice(0, 5);
          if (firstBad) {
            const gc = file.cases[firstBad.idx];
            const l = await timed(() => locate(link, gc.id, firstBad!.exp, goldenShape(gc)));
            message = `${bad.length} of ${file.cases.length} cases differ; first: case ${gc.id} at ${l.first}`;
            diag.push(...l.diag);
          }
        }
      } else {
        const model = c.kind === 'model' ? o.models.find((m) => m.name === c.model)!.load() : sweepModel(c.spec);
        const [h, w] = c.kind === 'model' ? model.nativeSize : [c.spec.h, c.spec.w];
        const req = { op: 'network', model: c.kind === 'model' ? { shipped: c.model } : { random: c.spec }, h, w, seed: c.seed };
        const a = await timed(() => ask<NetworkAnswer>(link, req));
        boardMs = a.boardMs;
        const mine = modelHash(model);
        if (a.modelHash !== mine) {
          throw new Error(`the board built a different model (hash ${a.modelHash}, host ${mine}): the two sides' generators disagree`);
        }
        const tr = performance.now();
        const ref = forward(model, randomFrames(h, w, c.seed), h, w, { keepLayers: true });
        refMs = performance.now() - tr;
        const theirs = new Map(a.layers.map((l) => [l.name, l]));
        const bad = ref.layers!.filter((l) => theirs.get(l.name)?.crc !== digest(l.data));
        if (!bad.length) {
          ok = true;
          message = `${ref.layers!.length} layers bit-exact with the reference at ${h}x${w} (${a.cycles} engine cycles)`;
        } else {
          const l = bad[0];
          if (!theirs.has(l.name)) {
            message = `first failing layer ${l.name}: missing from the board's answer`;
          } else {
            const loc = await timed(() => locate(link, l.name, l.data, [l.c, l.h, l.w]));
            message = `first failing layer ${l.name} (${bad.length} of ${ref.layers!.length} layers differ): ${loc.first}`;
            diag = [`failing layers: ${bad.map((b) => b.name).join(', ')}`, ...loc.diag];
          }
        }
      }
    } catch (e) {
      if (e instanceof UserError) throw e; // the link died or the sides disagree: no further case can run
      message = errLine(e);
    }
    const r: CaseResult = {
      name: c.name, ok, message, diag, ms: wallMs || performance.now() - t0, boardMs, refMs,
      bytesOut: link.counters.sent - s0.sent, bytesIn: link.counters.received - s0.received,
      retransmits: link.counters.retransmits - s0.retransmits, linkS: 0,
    };
    r.linkS = lineSeconds(r.bytesOut + r.bytesIn, o.baud);
    results.push(r);
    o.onResult?.(r, i);
  }
  return results;
}
