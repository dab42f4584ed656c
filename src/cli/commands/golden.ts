// flowfpga golden --out DIR [--seed N]: write the golden vectors (docs/golden-vectors.md) from the TS reference.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import { GOLDEN_DEFAULT_SEED, generateGolden } from '../../reference/golden.js';
import { parseIntOpt } from '../parse.js';

export function register(program: Command): void {
  program
    .command('golden')
    .description('generate the golden vectors (conv, upconv, flow, up2, up4 .gv files) from the TypeScript reference')
    .requiredOption('--out <dir>', 'output directory (created if missing); the committed set lives in test/golden')
    .option('--seed <n>', `generator seed (default ${GOLDEN_DEFAULT_SEED}, the committed set)`)
    .action((opts: { out: string; seed?: string }) => {
      const seed = opts.seed === undefined ? GOLDEN_DEFAULT_SEED : parseIntOpt('--seed', opts.seed, 0, 4294967295);
      const files = generateGolden(seed);
      try {
        mkdirSync(opts.out, { recursive: true });
        for (const f of files) writeFileSync(join(opts.out, f.file), f.text);
      } catch (err) {
        throw new UserError(`cannot write golden vectors to ${opts.out}: ${(err as Error).message}`,
          'pick a writable directory with --out');
      }
      for (const f of files) {
        process.stdout.write(`${join(opts.out, f.file)}: ${f.cases} cases, ${f.text.length} bytes\n`);
      }
    });
}
