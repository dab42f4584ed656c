// KITTI flow ground truth PNG (facts.md §6): 16-bit RGB, u = (R − 2^15)/64, v = (G − 2^15)/64, B = valid (0/1).
import pngjs from 'pngjs';
import { UserError } from '../errors.js';
import { createFlow, type FlowField } from './flo.js';
import { readPngChecked } from './image.js';
import { readInput, writeOutput } from './io.js';

const { PNG } = pngjs;

export interface KittiFlow {
  flow: FlowField;
  /** 1 where B != 0. Invalid pixels also get NaN flow, so metrics skip them without the mask. */
  valid: Uint8Array;
}

export function decodeKittiFlowPng(buf: Uint8Array, name = '<buffer>'): KittiFlow {
  // Checked first (pixel limit, complete image data): see readPngChecked.
  const png = readPngChecked(buf, name, { skipRescale: true });
  if (png.depth !== 16 || (png.colorType !== 2 && png.colorType !== 6)) {
    throw new UserError(`${name}: not a KITTI flow PNG (${png.depth}-bit, colour type ${png.colorType})`, 'expected 16-bit RGB as in flow_occ/ or flow_noc/');
  }
  const { width, height } = png;
  const n = width * height;
  const flow = createFlow(width, height);
  const valid = new Uint8Array(n);
  const d = png.data; // RGBA, one 16-bit sample per element after pngjs' expansion
  for (let i = 0, s = 0; i < n; i++, s += 4) {
    if (d[s + 2] !== 0) {
      valid[i] = 1;
      flow.u[i] = (d[s] - 32768) / 64;
      flow.v[i] = (d[s + 1] - 32768) / 64;
    } else {
      flow.u[i] = NaN;
      flow.v[i] = NaN;
    }
  }
  return { flow, valid };
}

/** Writer (for tests and exporting predictions): 64·u + 2^15 rounded and clamped to 16 bits; unknown -> invalid. */
export function encodeKittiFlowPng(flow: FlowField): Buffer {
  const n = flow.width * flow.height;
  const words = new Uint16Array(n * 3);
  const enc = (x: number): number => Math.min(65535, Math.max(0, Math.round(x * 64 + 32768)));
  for (let i = 0; i < n; i++) {
    const u = flow.u[i];
    const v = flow.v[i];
    if (Math.abs(u) <= 1e9 && Math.abs(v) <= 1e9) {
      words[3 * i] = enc(u);
      words[3 * i + 1] = enc(v);
      words[3 * i + 2] = 1;
    }
  }
  // pngjs takes 16-bit input as native-endian words in a byte buffer and swaps them to PNG's big-endian.
  return PNG.sync.write({ width: flow.width, height: flow.height, data: Buffer.from(words.buffer) } as never, {
    colorType: 2,
    inputColorType: 2,
    inputHasAlpha: false,
    bitDepth: 16,
    deflateLevel: 6,
  });
}

export async function readKittiFlow(path: string): Promise<KittiFlow> {
  return decodeKittiFlowPng(await readInput(path, 'KITTI flow PNG'), path);
}

export async function writeKittiFlow(path: string, flow: FlowField): Promise<void> {
  await writeOutput(path, encodeKittiFlowPng(flow));
}
