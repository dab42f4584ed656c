// flowfpga command line. Each subcommand lives in src/cli/commands/<name>.ts and is registered in commands/index.ts.
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
  // Never exit 0 with the command unfinished: if the event loop empties while the command still awaits something
  // (a wait nobody will ever resolve), say so and fail instead of losing the pending result or error.
  const unfinished = (): void => {
    if (process.exitCode) return; // an explicit exit (e.g. a second SIGINT) already says it failed
    process.stderr.write('flowfpga: internal error: the command stopped with work unfinished (a wait was lost)\n');
    process.exitCode = 1;
  };
  process.once('exit', unfinished);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version exit 0; unknown options, missing arguments or required options are user errors.
      process.exitCode = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`flowfpga: ${err.message}${err.hint ? ` (hint: ${err.hint})` : ''}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  } finally {
    process.off('exit', unfinished);
  }
}
