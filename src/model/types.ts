// The in-memory integer model: what src/model/format.ts loads and what the reference, scheduler and engine consume.
import type { ArchSpec } from './arch.js';

/** Integer parameters of one layer (contract 2.1/2.2), same order as ArchSpec.layers. */
export interface QLayerParams {
  /** Weight codes [Cout][Cin][k][k]. */
  weights: Int8Array;
  /** Per-output-channel requantization: t = acc*mult + bias; q = t >> shift. */
  mult: Int16Array;
  shift: Uint8Array;
  /** Exact integers with |bias| <= 2^50, held as doubles so the hot path needs no BigInt. */
  bias: Float64Array;
}

export interface QModel {
  name: string;
  arch: ArchSpec;
  /** [H, W] the model was trained/evaluated at. */
  nativeSize: [number, number];
  params: QLayerParams[];
  meta: Record<string, unknown>;
}
