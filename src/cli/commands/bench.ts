// flowfpga bench reference [--json]: throughput of the TS reference conv vs the same loops in C++ (g++ -O2).
import { Command, Option } from 'commander';
import { formatBench, runReferenceBench } from '../../reference/bench.js';

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
}
