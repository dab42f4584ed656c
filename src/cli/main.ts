// flowfpga command line. Each subcommand lives in src/cli/commands/<name>.ts and is registered in commands/index.ts.
import { printable } from '../text.js';
import { Command, CommanderError } from 'commander';
import { registerAll } from './commands/index.js';
import { UserError } from '../errors.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('flowfpga')
    .description('Quantized FlowNetS optical flow on Xilinx Zynq / PYNQ boards (and on a virtual board)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerAll(program);
  return program;
}

/** Runs the CLI; user errors become one line with a hint and exit code 2 (1 for internal errors). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      // Messages quote file names and file contents: printable() keeps them one harmless line.
      process.stderr.write(`flowfpga: ${printable(err.message)}${err.hint ? ` (hint: ${printable(err.hint)})` : ''}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
