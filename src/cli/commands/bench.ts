// flowfpga bench reference [--json]: throughput of the TS reference conv vs the same loops in C++ (g++ -O2).
import { Command, Option } from 'commander';
import { formatBench, runReferenceBench } from '../../reference/bench.js';
import { formatHostBench, runHostBench } from '../bench-host.js';
import { parseIntOpt, parseSize } from '../parse.js';
import { UserError } from '../../errors.js';

export function register(program: Command): void {
  const bench = program.command('bench').description('micro-benchmarks');
  bench
    .command('reference')
    .description('MAC/s of the TypeScript reference conv on FlowNetS-Q layer shapes vs the same loops compiled with g++ -O2')
    .option('--json', 'print one JSON object {ts_macs_per_s, cpp_macs_per_s, ratio, layers: [...], ...}')
    .addOption(new Option('--tiny', 'tiny shapes and one repetition (for tests)').hideHelp())
    .action((opts: { json?: boolean; tiny?: boolean }) => {
      const log = opts.json ? undefined : (line: string) => process.stderr.write(`  ${line}\n`);
      const r = runReferenceBench(opts.tiny ? { width: 1 / 16, h: 64, w: 64, minSeconds: 0, log } : { log });
      process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : formatBench(r) + '\n');
    });
  bench
    .command('host')
    .description('host work per frame pair at 384x512 with the engine excluded: fitting, input to device memory, flow conversion, colour wheel (the live page\'s), bookkeeping')
    .option('--json', 'print one JSON object {median_ms: {fit, to-ddr, flow, wheel, bookkeep, total}, p90_ms, cpu_median_ms, wheel_exact_median_ms, mjpeg, machine, ...}')
    .option('--reps <n>', 'pairs to time', '40')
    .option('--frame <WxH>', 'camera frame size (default 512x384, the network size; e.g. 640x480 adds a resize)')
    .option('--camera-format <fmt>', 'frame pixels: rgb (decoded files), yuyv (converted inside the fitting pass, as from a YUYV camera) or mjpeg (q85 JPEG decoded inside the fit stage by libturbojpeg, else jpeg-js; FLOWFPGA_JPEG=js forces jpeg-js)', 'rgb')
    .action((opts: { json?: boolean; reps: string; frame?: string; cameraFormat: string }) => {
      const [fh, fw] = opts.frame ? parseSize(opts.frame.replace(/^(\d+)x(\d+)$/i, '$2x$1')) : [384, 512];
      const format = opts.cameraFormat;
      if (format !== 'rgb' && format !== 'yuyv' && format !== 'mjpeg') throw new UserError(`unknown --camera-format '${format}'`, 'use rgb, yuyv or mjpeg');
      const r = runHostBench({ reps: parseIntOpt('--reps', opts.reps, 1, 100000), srcW: fw, srcH: fh, format });
      process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : formatHostBench(r) + '\n');
    });
}
