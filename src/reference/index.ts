/**
 * The TypeScript integer reference of FlowNetS-Q (docs/quantization.md, contract version 1).
 *
 * - conv.ts: `conv` (a whole conv / flow-head layer) and `convTile` (rows × cols × output channels of it, into a
 *   caller-provided buffer at any channel offset / tile origin; the up2 of upsample-conv fused into the input read);
 *   `convTileWindow` computes a tile from just the input window it reads (`convInputWindow`).
 * - upsample.ts: `up2` (activations), `up4` (flow), and `upsampleRegion` for tiles.
 * - forward.ts: layer-level `layerTile` / `runLayer` for conv, upconv (both decoder orders) and flow, and `forward`
 *   for the whole network (optionally reporting every layer's output).
 * - random.ts: `randomModel(arch, seed)`, `randomFrames`, `foldRequant` (contract section 4).
 * - golden.ts: golden-vector generator, parser, writer and checker (docs/golden-vectors.md).
 * - naive.ts: slow literal oracle used by tests.
 * - bench.ts: `flowfpga bench reference` (TS vs g++ -O2 of the same loops).
 *
 * All entry points are synchronous and reuse module-level scratch, so they allocate nothing per call once warm
 * (except where they return a freshly allocated output because none was passed).
 */
export { conv, convTile, convTileWindow, convInputWindow, convOutSize, convInputSize, accumulatorBound } from './conv.js';
export type { ConvSpec, Tile, OutPlacement, OutputMode, InputWindow } from './conv.js';
export { up2, up4, upsampleRegion } from './upsample.js';
export type { SrcPatch, DstRegion } from './upsample.js';
export { forward, layerTile, runLayer, layerOutSize, convSpecOf, checkParams } from './forward.js';
export type { ForwardOptions, ForwardResult, LayerOutput } from './forward.js';
export { randomModel, randomFrames, foldRequant, roundHalfAway } from './random.js';
export { Prng } from './prng.js';
export { naiveConv, naiveAccumulators, naiveUpsample, naiveForward } from './naive.js';
export type { NaiveConvArgs } from './naive.js';
