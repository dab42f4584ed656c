// flowfpga run: optical flow for image pairs on a device (virtual board by default where no board is found),
// written as Middlebury .flo files and color-wheel PNGs; per-pair EPE where the input has ground truth.
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { filePair, openDataset, writeFlo, writeFlowPng, type PairDataset } from '../../flow/index.js';
import { resolveModel } from '../../model/registry.js';
import { networkSize, runFlowJob } from '../flowjob.js';
import { openDevice, type DeviceCliOptions, addDeviceOptions } from '../device-options.js';
import { parseSize } from '../parse.js';
import { UserError } from '../../errors.js';
import { packageRoot } from '../../paths.js';

interface RunOpts extends DeviceCliOptions {
  model?: string;
  input?: string;
  pair?: string[];
  out: string;
  size?: string;
  fit: string;
  limit?: string;
  json?: boolean;
  png: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('compute optical flow for image pairs and write .flo + color-coded PNG files')
    .option('--model <name|file>', 'shipped model name or .ffq file (default: the default shipped model)')
    .option('--input <dir>', 'FlyingChairs or Sintel folder, or a folder of frames (default: the bundled samples/)')
    .option('--pair <images...>', 'two image files (and optionally a ground-truth .flo)')
    .option('--out <dir>', 'output folder', 'out')
    .option('--size <HxW>', 'network input size (multiple of 64; default: the model\'s trained resolution)')
    .option('--fit <mode>', 'how frames are fitted to the network size: resize | pad | crop', 'resize')
    .option('--limit <n>', 'process at most n pairs')
    .option('--no-png', 'do not write color-wheel PNGs')
    .option('--json', 'print one JSON object instead of lines');
  addDeviceOptions(cmd);
  cmd.action(async (opts: RunOpts) => {
    const model = resolveModel(opts.model);
    const net = networkSize(model, opts.size ? parseSize(opts.size) : undefined);
    const data = await openInput(opts);
    const outDir = resolve(opts.out);
    mkdirSync(outDir, { recursive: true });
    const device = await openDevice(opts);
    const lines: string[] = [];
    const log = (l: string) => (opts.json ? lines.push(l) : process.stdout.write(l + '\n'));
    try {
      if (!opts.json) log(`model ${printable(model.name)} on ${device.caps.description}; ${data.length} pair(s) from ${printable(data.name)}; ${net.line}`);
      const files: Array<{ id: string; flo: string; png?: string; epe?: number }> = [];
      const summary = await runFlowJob(device, model, data, {
        fit: opts.fit as 'resize' | 'pad' | 'crop',
        size: net.size,
        limit: opts.limit ? Number(opts.limit) : undefined,
        onPair: async (o) => {
          const id = o.pair.id.replace(/[^\w.-]+/g, '_');
          const flo = join(outDir, `${id}.flo`);
          await writeFlo(flo, o.flow);
          let png: string | undefined;
          if (opts.png) {
            png = join(outDir, `${id}.png`);
            await writeFlowPng(png, o.flow);
          }
          files.push({ id: o.pair.id, flo, png, epe: o.errors?.epe });
          const epe = o.errors ? `  EPE ${o.errors.epe.toFixed(3)}` : '';
          const v = o.infer.verify;
          const verify = v && v.mode !== 'off' ? `  verify ${v.mode}: ${v.regions} regions, ${v.mismatches} mismatch(es)${v.dropped ? ', DROPPED' : ''}` : '';
          log(`${o.pair.id}: ${o.pair.img1.width}x${o.pair.img1.height} (net ${o.netSize[0]}x${o.netSize[1]})  ${o.infer.timings.totalMs.toFixed(1)} ms${epe}${verify}  -> ${png ?? flo}`);
        },
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify({
          model: model.name, device: device.caps.description, pairs: summary.pairs, mean_infer_ms: summary.meanInferMs,
          epe: summary.errors?.epe ?? null, fl_all: summary.errors?.fl ?? null, files,
        }) + '\n');
      } else if (summary.errors) {
        log(`mean EPE ${summary.errors.epe.toFixed(3)} px, Fl-all ${summary.errors.fl.toFixed(2)} % over ${summary.errors.pairs} pair(s); ${summary.meanInferMs.toFixed(1)} ms per pair`);
      }
    } finally {
      await device.close();
    }
  });
}

async function openInput(opts: RunOpts): Promise<PairDataset> {
  if (opts.pair) {
    if (opts.pair.length < 2 || opts.pair.length > 3) {
      throw new UserError(`--pair takes 2 images (and optionally a .flo), got ${opts.pair.length} argument(s)`, 'e.g. --pair a.png b.png [gt.flo]');
    }
    if (opts.input) throw new UserError('--pair and --input are exclusive', 'give one of them');
    return filePair(opts.pair[0], opts.pair[1], opts.pair[2]);
  }
  return openDataset(opts.input ?? join(packageRoot(), 'samples'));
}
