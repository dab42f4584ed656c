// flowfpga models [--json]: the shipped models with bits, MACs at native size and measured EPE.
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { coarseFor, coarseModelOf, describeModel, listModels, refineFor, refineModelOf } from '../../model/registry.js';
import { BOARDS, type BoardName } from '../../driver/boards.js';
import { boardDefaults } from '../model-choice.js';
import { loadModelFile } from '../../model/format.js';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the shipped models (bits, MACs at native size, measured EPE); * marks the default, "default on" a board\'s own')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const defs = boardDefaults();
      const rows = listModels().map((e) => {
        const m = loadModelFile(e.path);
        const d = describeModel(m);
        const on = Object.keys(defs.boards).filter((b) => defs.boards[b] === e.name) as BoardName[];
        return { name: e.name, default: e.name === defs.all, default_on: on, bits: d.bits, size: d.size, macs: d.macs, epe: d.epe ?? null, bytes: e.bytes, coarse_for: coarseFor(m) ?? null, coarse_model: coarseModelOf(m) ?? null, refine_for: refineFor(m) ?? null, refine_model: refineModelOf(m) ?? null };
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
            `${r.default_on.length ? `  (default on ${r.default_on.map((b) => BOARDS[b].title).join(', ')})` : ''}` +
            `${r.coarse_for ? `  (first pass of ${printable(r.coarse_for)}'s refined pairs)` : ''}` +
            `${r.coarse_model ? `  (refined pairs start on ${printable(r.coarse_model)})` : ''}` +
            `${r.refine_for ? `  (second pass of ${printable(r.refine_for)}'s refined pairs)` : ''}` +
            `${r.refine_model ? `  (refined pairs end on ${printable(r.refine_model)})` : ''}\n`,
        );
      }
    });
}
