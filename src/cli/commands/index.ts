import type { Command } from 'commander';

/** One import and one call per subcommand module (src/cli/commands/<name>.ts); keep alphabetical. */
export function registerAll(program: Command): void {
  void program;
}
