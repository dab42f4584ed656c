// Layer-level entry points (conv / upconv in both decoder orders / flow head) and the whole-network forward pass.
import { FRAMES, INPUT_CHANNELS, SIZE_MULTIPLE, layerShapes } from '../model/arch.js';
import type { Decoder, LayerSpec } from '../model/arch.js';
import type { QLayerParams, QModel } from '../model/types.js';
import { UserError } from '../errors.js';
import { convOutSize, convTile, placeTile } from './conv.js';
import type { ConvSpec, OutPlacement, Tile } from './conv.js';
import { up4, upsampleRegion } from './upsample.js';

/** The conv of a layer as the kernel sees it (the fused up2 flag set for upsample-conv decoders). */
export function convSpecOf(layer: LayerSpec, decoder: Decoder): ConvSpec {
  return {
    cin: layer.cin,
    cout: layer.cout,
    k: layer.k,
    stride: layer.stride,
    mode: layer.op === 'flow' ? 'linear' : 'relu',
    bits: layer.bits,
    upsampleInput: layer.op === 'upconv' && decoder === 'upsample-conv',
  };
}

/** True when the layer is an upconv whose up2 follows the conv (conv-upsample decoder). */
function upsamplesAfter(layer: LayerSpec, decoder: Decoder): boolean {
  return layer.op === 'upconv' && decoder === 'conv-upsample';
}

/** Output size of a layer for an input tensor of inH × inW. */
export function layerOutSize(layer: LayerSpec, decoder: Decoder, inH: number, inW: number): [number, number] {
  const [h, w] = convOutSize(convSpecOf(layer, decoder), inH, inW);
  return upsamplesAfter(layer, decoder) ? [2 * h, 2 * w] : [h, w];
}

let midBuf = new Uint8Array(4096);

/**
 * Computes `tile` (in the layer's output coordinates) of any FlowNetS-Q layer from its whole input tensor and writes
 * it into `out` at `place` (see OutPlacement). conv / flow / upsample-conv go straight to convTile (up2 fused into the
 * input read); for conv-upsample, the conv rows/cols the tile's up2 taps need are computed into scratch first.
 */
export function layerTile(
  layer: LayerSpec, params: QLayerParams, decoder: Decoder,
  input: Uint8Array, inH: number, inW: number,
  tile: Tile, out: Uint8Array | Int16Array, place: OutPlacement = {},
): void {
  const spec = convSpecOf(layer, decoder);
  if (!upsamplesAfter(layer, decoder)) {
    convTile(spec, params, input, inH, inW, tile, out, place);
    return;
  }
  const [ch, cw] = convOutSize(spec, inH, inW);
  const Ho = 2 * ch;
  const Wo = 2 * cw;
  const outBase = placeTile('upconv', tile, spec.cout, Ho, Wo, out, place);
  const ow = place.w ?? Wo;
  const { y0, y1, x0, x1, m0, m1 } = tile;
  if (y0 === y1 || x0 === x1 || m0 === m1) return;
  if (!(out instanceof Uint8Array)) throw new TypeError('upconv output must be a Uint8Array');
  // up2 output row i reads conv rows ⌊i/2⌋−1 .. ⌊i/2⌋+1 (edge-clamped).
  const cr0 = Math.max(0, Math.floor(y0 / 2) - 1);
  const cr1 = Math.min(ch, Math.floor((y1 - 1) / 2) + 2);
  const cc0 = Math.max(0, Math.floor(x0 / 2) - 1);
  const cc1 = Math.min(cw, Math.floor((x1 - 1) / 2) + 2);
  const mh = cr1 - cr0;
  const mw = cc1 - cc0;
  const nm = m1 - m0;
  if (midBuf.length < nm * mh * mw) midBuf = new Uint8Array(Math.max(nm * mh * mw, midBuf.length * 2));
  const mid = midBuf;
  // Conv rows into a tile-local buffer whose plane 0 is output channel m0.
  convTile(spec, params, input, inH, inW, { y0: cr0, y1: cr1, x0: cc0, x1: cc1, m0, m1 }, mid,
    { channelsTotal: nm, channelOffset: -m0, h: mh, w: mw, originY: cr0, originX: cc0 });
  upsampleRegion(2, nm, { data: mid, base: 0, plane: mh * mw, row: mw, y0: cr0, x0: cc0, h: ch, w: cw },
    y0, y1, x0, x1, { data: out, base: outBase, plane: (place.h ?? Ho) * ow, row: ow });
}

/** Whole layer into `out` (allocated when omitted), optionally at a channel offset of a concatenation buffer. */
export function runLayer(
  layer: LayerSpec, params: QLayerParams, decoder: Decoder,
  input: Uint8Array, inH: number, inW: number,
  out?: Uint8Array | Int16Array, place: OutPlacement = {},
): Uint8Array | Int16Array {
  const [Ho, Wo] = layerOutSize(layer, decoder, inH, inW);
  const size = (place.channelsTotal ?? layer.cout) * (place.h ?? Ho) * (place.w ?? Wo);
  const dst = out ?? (layer.op === 'flow' ? new Int16Array(size) : new Uint8Array(size));
  layerTile(layer, params, decoder, input, inH, inW, { y0: 0, y1: Ho, x0: 0, x1: Wo, m0: 0, m1: layer.cout }, dst, place);
  return dst;
}

/** One layer's output as forward() reports it. `data` may be a view into a shared concatenation buffer. */
export interface LayerOutput {
  name: string;
  /** Codes (Uint8Array, `bits` bits) or, for the flow head, int16 flow. c × h × w, CHW. */
  data: Uint8Array | Int16Array;
  c: number;
  h: number;
  w: number;
  /** Activation bits, 16 for the flow head. */
  bits: number;
}

export interface ForwardOptions {
  /** Called after each layer with its output (in graph order, then 'output' for the up4'd flow). */
  onLayer?: (out: LayerOutput) => void;
  /** Also return every layer's output in the result. */
  keepLayers?: boolean;
}

export interface ForwardResult {
  /** int16 flow codes 2 × h × w (u then v), F = model.arch.flowFracBits fractional bits. */
  flow: Int16Array;
  h: number;
  w: number;
  layers?: LayerOutput[];
}

/** Checks that the parameter arrays match the architecture (the loader does the full check; this guards the loops). */
export function checkParams(model: QModel): void {
  const { layers } = model.arch;
  if (model.params.length !== layers.length) {
    throw new UserError(`model '${model.name}' has ${model.params.length} parameter blocks for ${layers.length} layers`,
      'the model file is inconsistent; re-export it');
  }
  layers.forEach((l, i) => {
    const p = model.params[i];
    if (p.weights.length !== l.cout * l.cin * l.k * l.k || p.mult.length !== l.cout || p.shift.length !== l.cout ||
      p.bias.length !== l.cout) {
      throw new UserError(`model '${model.name}': layer ${l.name} parameter sizes do not match its shape`,
        'the model file is inconsistent; re-export it');
    }
  });
}

/**
 * The whole network (contract 3): frames (6 × h × w codes, R1 G1 B1 R2 G2 B2) → int16 flow 2 × h × w.
 * Concatenations are shared buffers written at channel offsets, exactly as an engine does it. Every call allocates
 * its own tensors, so LayerOutput views stay valid after the call.
 */
export function forward(model: QModel, frames: Uint8Array, h: number, w: number, opts: ForwardOptions = {}): ForwardResult {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h % SIZE_MULTIPLE || w % SIZE_MULTIPLE) {
    throw new UserError(`input size ${h}x${w} is not a positive multiple of ${SIZE_MULTIPLE}`,
      'resize or pad the frames to a multiple of 64 first');
  }
  if (frames.length !== INPUT_CHANNELS * h * w) {
    throw new UserError(`frames hold ${frames.length} codes, expected ${INPUT_CHANNELS}·${h}·${w}`,
      'pass two RGB frames as 6 planes, R1 G1 B1 R2 G2 B2');
  }
  checkParams(model);
  const { arch } = model;
  const shapes = layerShapes(arch, h, w);
  // Home of every tensor: its own buffer, or a channel range of the concatenation buffer that consumes it.
  interface Home { buf: Uint8Array | Int16Array; offset: number; total: number; h: number; w: number }
  const homes = new Map<string, Home>();
  homes.set(FRAMES, { buf: frames, offset: 0, total: INPUT_CHANNELS, h, w });
  const coutOf = new Map<string, number>([[FRAMES, INPUT_CHANNELS]]);
  for (const l of arch.layers) coutOf.set(l.name, l.cout);
  const concatOf = new Map<string, { buf: Uint8Array; offset: number; total: number }>();
  for (const s of shapes) {
    if (s.layer.inputs.length < 2) continue;
    const buf = new Uint8Array(s.layer.cin * s.inH * s.inW);
    let offset = 0;
    for (const name of s.layer.inputs) {
      if (concatOf.has(name) || name === FRAMES) throw new Error(`tensor '${name}' is concatenated twice; unsupported graph`);
      concatOf.set(name, { buf, offset, total: s.layer.cin });
      offset += coutOf.get(name) as number;
    }
  }
  const keep: LayerOutput[] = [];
  const report = (o: LayerOutput) => {
    if (opts.keepLayers) keep.push(o);
    opts.onLayer?.(o);
  };
  let flowLow: Int16Array | undefined;
  let flowH = 0;
  let flowW = 0;
  arch.layers.forEach((layer, li) => {
    const s = shapes[li];
    const first = homes.get(layer.inputs[0]) as Home;
    let input: Uint8Array;
    if (layer.inputs.length === 1) {
      input = first.buf.subarray(first.offset * first.h * first.w, (first.offset + layer.cin) * first.h * first.w) as Uint8Array;
    } else {
      input = first.buf as Uint8Array; // the concatenation buffer; every producer already wrote its channels
    }
    const params = model.params[li];
    const cat = concatOf.get(layer.name);
    let home: Home;
    if (cat) {
      home = { buf: cat.buf, offset: cat.offset, total: cat.total, h: s.outH, w: s.outW };
    } else {
      const size = layer.cout * s.outH * s.outW;
      home = { buf: layer.op === 'flow' ? new Int16Array(size) : new Uint8Array(size), offset: 0, total: layer.cout, h: s.outH, w: s.outW };
    }
    runLayer(layer, params, arch.decoder, input, s.inH, s.inW, home.buf, { channelsTotal: home.total, channelOffset: home.offset });
    homes.set(layer.name, home);
    const plane = s.outH * s.outW;
    const data = home.buf.subarray(home.offset * plane, (home.offset + layer.cout) * plane);
    report({ name: layer.name, data, c: layer.cout, h: s.outH, w: s.outW, bits: layer.op === 'flow' ? 16 : layer.bits });
    if (layer.op === 'flow') {
      flowLow = data as Int16Array;
      flowH = s.outH;
      flowW = s.outW;
    }
  });
  if (!flowLow) throw new Error('architecture has no flow head');
  const flow = up4(flowLow, 2, flowH, flowW);
  report({ name: 'output', data: flow, c: 2, h: flowH * 4, w: flowW * 4, bits: 16 });
  return opts.keepLayers ? { flow, h, w, layers: keep } : { flow, h, w };
}
