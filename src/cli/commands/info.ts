// flowfpga info --model NAME|FILE [--size HxW] [--json]: per-layer shapes, MACs and weight bytes.
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { checkSize, flownetsOriginal, layerShapes, type ArchSpec } from '../../model/arch.js';
import { archByName, resolveModel } from '../../model/registry.js';
import { fmtInt, parseSize } from '../parse.js';
import { UserError } from '../../errors.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('per-layer shapes, bits, MACs and weight bytes of a model (or of flownets-q / flownets for comparison)')
    .option('--model <name|file>', 'shipped model name, .ffq file, flownets-q, flownets-q-convup or flownets (original float)')
    .option('--size <HxW>', 'input size (default: the model native size, or 384x512 for architectures)')
    .option('--json', 'print JSON')
    .action((opts: { model?: string; size?: string; json?: boolean }) => {
      const out = infoReport(opts.model, opts.size);
      process.stdout.write(opts.json ? JSON.stringify(out.json) + '\n' : out.text);
    });
}

interface Row { name: string; op: string; cin: number; cout: number; k: number; stride: number; bitsW: number | string; bits: number | string; inHW: string; outHW: string; macs: number; weightBytes: number }

export function infoReport(modelArg: string | undefined, sizeArg: string | undefined): { text: string; json: unknown } {
  let title: string;
  let rows: Row[];
  let size: [number, number];
  if (modelArg === 'flownets') {
    size = sizeArg ? parseSize(sizeArg) : [384, 512];
    guardSize(size);
    title = `FlowNetS (original, float32 weights) at ${size[0]}x${size[1]}`;
    rows = flownetsOriginal(size[0], size[1]).map((l) => ({
      name: l.name, op: l.transposed ? 'deconv' : 'conv', cin: l.cin, cout: l.cout, k: l.k, stride: l.stride,
      bitsW: 'f32', bits: 'f32', inHW: '', outHW: `${l.outH}x${l.outW}`, macs: l.macs, weightBytes: l.params * 4,
    }));
  } else {
    let arch: ArchSpec;
    const named = modelArg ? archByName(modelArg) : undefined;
    if (named) {
      arch = named;
      size = sizeArg ? parseSize(sizeArg) : [384, 512];
      title = `${printable(modelArg!)} (width ${arch.width}, ${arch.decoder}, 8-bit) at ${size[0]}x${size[1]}`;
    } else {
      const m = resolveModel(modelArg);
      arch = m.arch;
      size = sizeArg ? parseSize(sizeArg) : m.nativeSize;
      title = `${printable(m.name)} (flownets-q width ${arch.width}, ${arch.decoder}) at ${size[0]}x${size[1]}`;
    }
    guardSize(size);
    rows = layerShapes(arch, size[0], size[1]).map((s) => ({
      name: s.layer.name, op: s.layer.op, cin: s.layer.cin, cout: s.layer.cout, k: s.layer.k, stride: s.layer.stride,
      bitsW: s.layer.bitsW, bits: s.layer.op === 'flow' ? 'i16' : s.layer.bits, inHW: `${s.inH}x${s.inW}`,
      outHW: `${s.outH}x${s.outW}`, macs: s.macs, weightBytes: Math.ceil((s.weights * s.layer.bitsW) / 8),
    }));
  }
  const totalMacs = rows.reduce((s, r) => s + r.macs, 0);
  const totalBytes = rows.reduce((s, r) => s + r.weightBytes, 0);
  const head = ['layer', 'op', 'cin->cout', 'k/s', 'w/a bits', 'in', 'out', 'MACs', 'weight bytes'];
  const body = rows.map((r) => [r.name, r.op, `${r.cin}->${r.cout}`, `${r.k}/${r.stride}`, `${r.bitsW}/${r.bits}`, r.inHW, r.outHW, fmtInt(r.macs), fmtInt(r.weightBytes)]);
  body.push(['total', '', '', '', '', '', '', fmtInt(totalMacs), fmtInt(totalBytes)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const text = `${title}\n${line(head)}\n${body.map(line).join('\n')}\n${(totalMacs / 1e9).toFixed(2)} GMAC per frame; weight bytes at packed bit width\n`;
  return { text, json: { title, size, layers: rows, total: { macs: totalMacs, weight_bytes: totalBytes } } };
}

function guardSize(size: [number, number]): void {
  try {
    checkSize(size[0], size[1]);
  } catch (e) {
    throw new UserError((e as Error).message, 'FlowNetS-Q needs H and W divisible by 64, e.g. --size 384x512');
  }
}
