// flowfpga models [--json]: the shipped models with bits, MACs at native size and measured EPE.
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { coarseFor, defaultModelName, describeModel, listModels } from '../../model/registry.js';
import { loadModelFile } from '../../model/format.js';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the shipped models (bits, MACs at native size, measured EPE); * marks the default')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const def = defaultModelName();
      const rows = listModels().map((e) => {
        const m = loadModelFile(e.path);
        const d = describeModel(m);
        return { name: e.name, default: e.name === def, bits: d.bits, size: d.size, macs: d.macs, epe: d.epe ?? null, bytes: e.bytes, coarse_for: coarseFor(m) ?? null };
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ models: rows }) + '\n');
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no shipped models (models/*.ffq)\n');
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${r.default ? '*' : ' '} ${printable(r.name).padEnd(28)} bits ${r.bits.padEnd(14)} ${r.size[0]}x${r.size[1]}  ` +
            `${(r.macs / 1e9).toFixed(3)} GMAC  EPE ${r.epe === null ? 'n/a' : r.epe.toFixed(2)}  ${(r.bytes / 1024).toFixed(0)} KiB` +
            `${r.coarse_for ? `  (first pass of ${printable(r.coarse_for)}'s refined pairs)` : ''}\n`,
        );
      }
    });
}
