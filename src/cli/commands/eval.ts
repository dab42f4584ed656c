// flowfpga eval --dataset chairs:DIR|sintel:DIR: mean EPE, L1 and Fl-all of a model over a dataset folder.
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { flyingChairs, mpiSintel, type PairDataset } from '../../flow/index.js';
import { chooseModel } from '../model-choice.js';
import { networkSize, runFlowJob } from '../flowjob.js';
import { refineLine, refineSetup } from '../refine.js';
import { addDeviceOptions, openDevice, type DeviceCliOptions } from '../device-options.js';
import { parseIntOpt, parseSize } from '../parse.js';
import { UserError } from '../../errors.js';

interface EvalOpts extends DeviceCliOptions {
  dataset: string;
  model?: string;
  limit?: string;
  size?: string;
  fit: string;
  refine?: string;
  coarseModel?: string;
  refineModel?: string;
  refinePasses?: string;
  pass: string;
  split: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('mean EPE, L1 and Fl-all of a model over a FlyingChairs- or Sintel-layout folder')
    .requiredOption('--dataset <kind:dir>', 'chairs:DIR or sintel:DIR')
    .option('--model <name|file>', 'shipped model name or .ffq file (default: the board\'s default model, `flowfpga models`)')
    .option('--limit <n>', 'evaluate at most n pairs')
    .option('--size <HxW>', 'network input size (multiple of 64; default: the model\'s trained resolution)')
    .option('--fit <mode>', 'resize | pad | crop (flow is always scaled back to the folder resolution)', 'resize')
    .option('--refine <mode>', 'second pass on frames warped by the first: auto (at twice the network size) | off | HxW', 'auto')
    .option('--coarse-model <name|file>', 'first pass of refined pairs: auto (the model\'s shipped coarse-pass partner, if any) | same | a shipped name or .ffq file', 'auto')
    .option('--refine-model <name|file>', 'second pass of refined pairs: auto (the model\'s shipped refinement partner, if any) | same | a shipped name or .ffq file', 'auto')
    .option('--refine-passes <n>', 'refinement passes per refined pair, 1 to 4: auto (2 on a refinement partner, 1 on the model itself)', 'auto')
    .option('--pass <pass>', 'Sintel pass: clean | final', 'clean')
    .option('--split <split>', 'FlyingChairs split when FlyingChairs_train_val.txt is present: all | train | val', 'all')
    .option('--json', 'print one JSON object');
  addDeviceOptions(cmd);
  cmd.action(async (opts: EvalOpts) => {
    const data = await openEvalDataset(opts);
    const { model, note } = chooseModel(opts.model, opts.board);
    if (note) process.stderr.write(`eval: ${note}\n`);
    const net = networkSize(model, opts.size ? parseSize(opts.size) : undefined);
    const fit = opts.fit as 'resize' | 'pad' | 'crop';
    const refine = refineSetup(opts.refine, opts.coarseModel, model, fit, opts.refineModel, opts.refinePasses);
    process.stderr.write(`eval: ${net.line}\n`);
    process.stderr.write(`eval: ${refineLine(refine.spec, net.size, fit, refine.coarse?.name, refine.second, refine.passes)}\n`);
    const limit = opts.limit ? parseIntOpt('--limit', opts.limit, 1, 1e9) : undefined;
    const total = Math.min(data.length, limit ?? Infinity);
    const device = await openDevice(opts);
    const t0 = performance.now();
    let lastReport = 0;
    try {
      const s = await runFlowJob(device, model, data, {
        fit,
        size: net.size,
        refine: refine.spec,
        coarse: refine.coarse,
        second: refine.second,
        passes: refine.passes,
        limit,
        onPair: (o) => {
          const now = performance.now();
          // Progress on stderr at most twice a second, with an ETA from the mean time per pair so far.
          if (now - lastReport > 500 || o.index + 1 === total) {
            lastReport = now;
            const per = (now - t0) / (o.index + 1);
            const eta = ((total - o.index - 1) * per) / 1000;
            process.stderr.write(`eval: ${o.index + 1}/${total} pairs, last EPE ${o.errors ? o.errors.epe.toFixed(3) : 'n/a'}, ETA ${eta.toFixed(0)} s\n`);
          }
        },
      });
      if (!s.errors) throw new UserError(`no ground truth flow in ${data.name} at ${data.root}`, 'eval needs .flo ground truth for each pair');
      const e = s.errors;
      if (opts.json) {
        process.stdout.write(JSON.stringify({
          epe: e.epe, l1: e.l1, fl_all: e.fl, pairs: e.pairs, epe_pixel: e.epePixel, dataset: data.name, root: data.root,
          model: model.name, device: device.caps.description, mean_infer_ms: s.meanInferMs, refined_pairs: s.refined, refine_passes: s.refinePasses ?? null, coarse_model: refine.coarse?.name ?? null, refine_model: refine.second?.name ?? null,
        }) + '\n');
      } else {
        process.stdout.write(
          `${printable(data.name)}: ${e.pairs} pair(s), model ${printable(model.name)} on ${device.caps.description}\n` +
            `EPE ${e.epe.toFixed(3)} px   L1 ${e.l1.toFixed(3)}   Fl-all ${e.fl.toFixed(2)} %   (${s.meanInferMs.toFixed(1)} ms per pair${s.refined ? `, ${s.refined} refined` : ''})\n`,
        );
      }
    } finally {
      await device.close();
    }
  });
}

async function openEvalDataset(opts: EvalOpts): Promise<PairDataset> {
  const m = /^(chairs|sintel):(.+)$/.exec(opts.dataset);
  if (!m) throw new UserError(`bad --dataset '${opts.dataset}'`, 'write chairs:DIR or sintel:DIR');
  if (m[1] === 'chairs') {
    return flyingChairs(m[2], { split: opts.split as 'all' | 'train' | 'val' });
  }
  if (opts.pass !== 'clean' && opts.pass !== 'final') throw new UserError(`bad --pass '${opts.pass}'`, 'use clean or final');
  return mpiSintel(m[2], { pass: opts.pass });
}
