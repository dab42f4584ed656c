// FlowNetS-Q (and the original FlowNetS, for comparison tables) as data: the graph, per-layer bits, and shape/MAC
// arithmetic. Everything else (reference, scheduler, file format, training export) reads the network from here.

export const CONTRACT_VERSION = 1;

export type Decoder = 'upsample-conv' | 'conv-upsample';
/** conv: conv+BN+ReLU; upconv: up2 and conv (order per model decoder); flow: linear 3x3 head. */
export type LayerOp = 'conv' | 'upconv' | 'flow';

export interface LayerSpec {
  name: string;
  op: LayerOp;
  /** Producers, concatenated in this order. 'frames' is the 6-channel 8-bit input. */
  inputs: string[];
  cin: number;
  cout: number;
  k: number;
  stride: number;
  /** Weight bits nw (2..8). */
  bitsW: number;
  /** Output activation bits n (2..8); ignored for the flow head (int16 output). */
  bits: number;
  /** Weight range exponent e_w: weights cover [-2^e_w, 2^e_w). Not used by the integer path. */
  wExp: number;
}

export interface ArchSpec {
  arch: 'flownets-q';
  width: number;
  decoder: Decoder;
  flowFracBits: number;
  layers: LayerSpec[];
}

export const FRAMES = 'frames';
export const INPUT_CHANNELS = 6;
export const INPUT_BITS = 8;
/** H and W must be multiples of this (six stride-2 layers). */
export const SIZE_MULTIPLE = 64;

export type BitsSpec = number | { w?: number; a?: number; layers?: Record<string, { w?: number; a?: number }> };

export interface FlowNetSQOptions {
  width?: number;
  decoder?: Decoder;
  bits?: BitsSpec;
  flowFracBits?: number;
  wExp?: number;
}

const ENCODER: Array<[string, string, number, number, number]> = [
  // name, input, cout, k, stride
  ['conv1', FRAMES, 64, 7, 2],
  ['conv2', 'conv1', 128, 5, 2],
  ['conv3', 'conv2', 256, 5, 2],
  ['conv3_1', 'conv3', 256, 3, 1],
  ['conv4', 'conv3_1', 512, 3, 2],
  ['conv4_1', 'conv4', 512, 3, 1],
  ['conv5', 'conv4_1', 512, 3, 2],
  ['conv5_1', 'conv5', 512, 3, 1],
  ['conv6', 'conv5_1', 1024, 3, 2],
  ['conv6_1', 'conv6', 1024, 3, 1],
];

const DECODER: Array<[string, string[], number]> = [
  ['deconv5', ['conv6_1'], 512],
  ['deconv4', ['conv5_1', 'deconv5'], 256],
  ['deconv3', ['conv4_1', 'deconv4'], 128],
  ['deconv2', ['conv3_1', 'deconv3'], 64],
];
const FLOW_INPUTS = ['conv2', 'deconv2'];

/** Pairs whose outputs are concatenated and so must share activation bits (contract 2.5). */
export const CONCAT_PARTNERS: Array<[string, string]> = [
  ['conv5_1', 'deconv5'],
  ['conv4_1', 'deconv4'],
  ['conv3_1', 'deconv3'],
  ['conv2', 'deconv2'],
];

/** Contract 3: max(1, round(m·C)), round half away from zero. */
export function scaleChannels(c: number, width: number): number {
  return Math.max(1, Math.round(c * width + 1e-9));
}

function bitsFor(spec: BitsSpec | undefined, name: string): { w: number; a: number } {
  if (spec === undefined) return { w: 8, a: 8 };
  if (typeof spec === 'number') return { w: spec, a: spec };
  const base = { w: spec.w ?? 8, a: spec.a ?? 8 };
  const o = spec.layers?.[name];
  return { w: o?.w ?? base.w, a: o?.a ?? base.a };
}

export function flownetsQ(opts: FlowNetSQOptions = {}): ArchSpec {
  const width = opts.width ?? 1;
  if (!(width > 0 && width <= 4)) throw new Error(`width multiplier ${width} is out of range (0, 4]`);
  const wExp = opts.wExp ?? -3;
  const couts = new Map<string, number>([[FRAMES, INPUT_CHANNELS]]);
  const layers: LayerSpec[] = [];
  const add = (name: string, op: LayerOp, inputs: string[], cout: number, k: number, stride: number) => {
    const cin = inputs.reduce((s, i) => s + (couts.get(i) as number), 0);
    const b = bitsFor(opts.bits, name);
    layers.push({ name, op, inputs, cin, cout, k, stride, bitsW: b.w, bits: b.a, wExp });
    couts.set(name, cout);
  };
  for (const [name, input, cout, k, s] of ENCODER) add(name, 'conv', [input], scaleChannels(cout, width), k, s);
  for (const [name, inputs, cout] of DECODER) add(name, 'upconv', inputs, scaleChannels(cout, width), 3, 1);
  add('predict_flow2', 'flow', FLOW_INPUTS, 2, 3, 1);
  const arch: ArchSpec = {
    arch: 'flownets-q',
    width,
    decoder: opts.decoder ?? 'upsample-conv',
    flowFracBits: opts.flowFracBits ?? 5,
    layers,
  };
  // Concat partners share bits: a partner-specific override wins over the uniform default.
  const byName = new Map(layers.map((l) => [l.name, l]));
  const overridden = (n: string) => typeof opts.bits === 'object' && opts.bits.layers?.[n]?.a !== undefined;
  for (const [a, b] of CONCAT_PARTNERS) {
    const la = byName.get(a) as LayerSpec;
    const lb = byName.get(b) as LayerSpec;
    if (la.bits !== lb.bits) {
      if (overridden(a) && !overridden(b)) lb.bits = la.bits;
      else if (overridden(b) && !overridden(a)) la.bits = lb.bits;
    }
  }
  return arch;
}

export interface LayerShape {
  layer: LayerSpec;
  /** Input tensor size (concatenated producers). */
  inH: number;
  inW: number;
  /** Size at which the conv runs (after up2 for upsample-conv). */
  convH: number;
  convW: number;
  /** Output tensor size. */
  outH: number;
  outW: number;
  /** Input bits (of every producer; equal by construction). */
  bitsIn: number;
  macs: number;
  weights: number;
}

export function convOut(size: number, k: number, s: number): number {
  const p = (k - 1) >> 1;
  return Math.floor((size + 2 * p - k) / s) + 1;
}

export function checkSize(h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h % SIZE_MULTIPLE || w % SIZE_MULTIPLE) {
    throw new Error(`input size ${h}x${w} is not a positive multiple of ${SIZE_MULTIPLE} in both dimensions`);
  }
}

/** Per-layer shapes, MACs and weight counts at input size h x w. */
export function layerShapes(arch: ArchSpec, h: number, w: number): LayerShape[] {
  checkSize(h, w);
  const sizes = new Map<string, [number, number, number]>([[FRAMES, [h, w, INPUT_BITS]]]);
  const out: LayerShape[] = [];
  for (const layer of arch.layers) {
    const [inH, inW, bitsIn] = sizes.get(layer.inputs[0]) as [number, number, number];
    for (const i of layer.inputs) {
      const s = sizes.get(i);
      if (!s) throw new Error(`layer ${layer.name} reads '${i}', which is not produced before it`);
      if (s[0] !== inH || s[1] !== inW) throw new Error(`layer ${layer.name}: inputs have different sizes`);
    }
    let convH = inH;
    let convW = inW;
    let outH: number;
    let outW: number;
    if (layer.op === 'upconv' && arch.decoder === 'upsample-conv') {
      convH = inH * 2;
      convW = inW * 2;
      outH = convH;
      outW = convW;
    } else if (layer.op === 'upconv') {
      outH = inH * 2;
      outW = inW * 2;
    } else {
      outH = convOut(inH, layer.k, layer.stride);
      outW = convOut(inW, layer.k, layer.stride);
    }
    const convOutH = layer.op === 'upconv' && arch.decoder === 'conv-upsample' ? inH : outH;
    const convOutW = layer.op === 'upconv' && arch.decoder === 'conv-upsample' ? inW : outW;
    const weights = layer.cout * layer.cin * layer.k * layer.k;
    const macs = layer.cout * convOutH * convOutW * layer.cin * layer.k * layer.k;
    out.push({ layer, inH, inW, convH, convW, outH, outW, bitsIn, macs, weights });
    sizes.set(layer.name, [outH, outW, layer.bits]);
  }
  return out;
}

export function totalMacs(arch: ArchSpec, h: number, w: number): number {
  return layerShapes(arch, h, w).reduce((s, l) => s + l.macs, 0);
}

/** Original float FlowNetS (flownet2-pytorch FlowNetS, 6 inputs): per-layer MACs and parameters, for comparison. */
export interface FloatLayer {
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  transposed: boolean;
  outH: number;
  outW: number;
  macs: number;
  params: number;
}

export function flownetsOriginal(h: number, w: number, width = 1): FloatLayer[] {
  checkSize(h, w);
  const c = (x: number) => scaleChannels(x, width);
  const layers: FloatLayer[] = [];
  let H = h;
  let W = w;
  const conv = (name: string, cin: number, cout: number, k: number, s: number) => {
    const oh = convOut(H, k, s);
    const ow = convOut(W, k, s);
    layers.push({ name, cin, cout, k, stride: s, transposed: false, outH: oh, outW: ow,
      macs: cout * oh * ow * cin * k * k, params: cout * cin * k * k + cout });
    H = oh;
    W = ow;
  };
  conv('conv1', 6, c(64), 7, 2);
  conv('conv2', c(64), c(128), 5, 2);
  conv('conv3', c(128), c(256), 5, 2);
  conv('conv3_1', c(256), c(256), 3, 1);
  conv('conv4', c(256), c(512), 3, 2);
  conv('conv4_1', c(512), c(512), 3, 1);
  conv('conv5', c(512), c(512), 3, 2);
  conv('conv5_1', c(512), c(512), 3, 1);
  conv('conv6', c(512), c(1024), 3, 2);
  conv('conv6_1', c(1024), c(1024), 3, 1);
  // Decoder: at each level predict_flow (3x3 -> 2), deconv (4x4 s2 transposed), upsampled_flow (4x4 s2, 2->2, no bias).
  const skips = [c(512), c(512), c(256), c(128)];
  const decOut = [c(512), c(256), c(128), c(64)];
  let cin = c(1024);
  const levels = ['6', '5', '4', '3'];
  for (let i = 0; i < 4; i++) {
    const hh = H;
    const ww = W;
    layers.push({ name: `predict_flow${levels[i]}`, cin, cout: 2, k: 3, stride: 1, transposed: false, outH: hh, outW: ww,
      macs: 2 * hh * ww * cin * 9, params: 2 * cin * 9 + 2 });
    // Transposed conv MACs: Cin·Hin·Win·Cout·k².
    layers.push({ name: `deconv${levels[i + 1] ?? '2'}`, cin, cout: decOut[i], k: 4, stride: 2,
      transposed: true, outH: hh * 2, outW: ww * 2, macs: cin * hh * ww * decOut[i] * 16, params: cin * decOut[i] * 16 + decOut[i] });
    layers.push({ name: `upsampled_flow${levels[i]}_to_${Number(levels[i]) - 1}`, cin: 2, cout: 2, k: 4, stride: 2,
      transposed: true, outH: hh * 2, outW: ww * 2, macs: 2 * hh * ww * 2 * 16, params: 2 * 2 * 16 });
    H = hh * 2;
    W = ww * 2;
    cin = skips[i] + decOut[i] + 2;
  }
  layers.push({ name: 'predict_flow2', cin, cout: 2, k: 3, stride: 1, transposed: false, outH: H, outW: W,
    macs: 2 * H * W * cin * 9, params: 2 * cin * 9 + 2 });
  return layers;
}
