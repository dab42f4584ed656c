// Messages of the regression protocol (JSON payloads of REQ/RESP frames, docs/regress.md) and the digests both sides
// compute: CRC-32 of a tensor's little-endian bytes, a model's parameter hash, the golden set's hash.
import { crc32 } from '../crc32.js';
import { flownetsQ, type Decoder } from '../model/arch.js';
import type { QModel } from '../model/types.js';
import { formatGolden, type GoldenFile } from '../reference/golden.js';
import { randomModel } from '../reference/random.js';

/** Bumped on any change of message fields or their meaning; both sides must agree. */
export const PROTOCOL_VERSION = 1;

/** Bytes of an integer tensor as the board holds it (little-endian; every supported board and host is LE). */
export function tensorBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function digest(a: Uint8Array | Int16Array): number {
  return crc32(tensorBytes(a));
}

/** Hash of what decides a model's outputs: architecture (JSON) and every parameter array. */
export function modelHash(m: QModel): string {
  let c = crc32(new TextEncoder().encode(JSON.stringify(m.arch)));
  for (const p of m.params) {
    c = crc32(tensorBytes(p.weights), c);
    c = crc32(tensorBytes(p.mult), c);
    c = crc32(p.shift, c);
    c = crc32(tensorBytes(p.bias), c);
  }
  return c.toString(16).padStart(8, '0');
}

/** Hash of the golden vector set (its canonical text): host and board must hold the same vectors. */
export function goldenHash(files: GoldenFile[]): string {
  let c = 0;
  for (const f of files) c = crc32(new TextEncoder().encode(formatGolden(f)), c);
  return c.toString(16).padStart(8, '0');
}

/** A random model of the sweep: every field is sent to the board, which builds the identical model. */
export interface SweepSpec {
  seed: number;
  width: number;
  bitsW: number;
  bitsA: number;
  decoder: Decoder;
  h: number;
  w: number;
}

export function sweepModel(s: SweepSpec): QModel {
  return randomModel(flownetsQ({ width: s.width, decoder: s.decoder, bits: { w: s.bitsW, a: s.bitsA } }), s.seed);
}

// ------------------------------------------------------------------------------------------------------ messages

export interface HelloRequest {
  op: 'hello';
  protocol: number;
  contract: number;
  version: string;
}

export interface EngineIdentity {
  /** One line: board, engine version, PE array, clock. */
  description: string;
  board: string;
  engineVersion: number;
  /** Contract version the engine's VERSION register reports. */
  engineContract: number;
  peRows: number;
  peCols: number;
  clockMHz: number;
}

export interface HelloAnswer {
  protocol: number;
  contract: number;
  version: string;
  engine: EngineIdentity;
  models: Array<{ name: string; hash: string; size: [number, number] }>;
  golden: { hash: string; source: string; files: Array<{ op: string; cases: number }> };
}

/** Whole network on frames generated from `seed` (reference/random.ts randomFrames). */
export interface NetworkRequest {
  op: 'network';
  model: { shipped: string } | { random: SweepSpec };
  h: number;
  w: number;
  seed: number;
}

export interface LayerDigest {
  name: string;
  crc: number;
  bytes: number;
  cycles: number;
  us: number;
}

export interface NetworkAnswer {
  modelHash: string;
  layers: LayerDigest[];
  /** Board time of the run (engine jobs + reads + digests), ms; and the engine's modelled cycles. */
  boardMs: number;
  cycles: number;
}

export interface GoldenRequest {
  op: 'golden';
  file: string;
}

export interface GoldenAnswer {
  /** Per case, in file order: the output digest, or why the engine did not finish it. */
  results: Array<{ id: string; crc?: number; error?: string }>;
  boardMs: number;
}

/** Per-channel digests of a kept tensor (no `c`), or per-row digests of channel `c`. */
export interface SumsRequest {
  op: 'sums';
  key: string;
  c?: number;
}

export interface SumsAnswer {
  crcs: number[];
}

/** Rows y0..y1, columns x0..x1 of channel c of a kept tensor (base64 of its LE bytes, row-major). */
export interface TileRequest {
  op: 'tile';
  key: string;
  c: number;
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

export interface TileAnswer {
  esize: number;
  data: string;
}

/** Any answer may instead be an error the board reports. */
export interface ErrorAnswer {
  error: string;
  hint?: string;
}
