import type { Command } from 'commander';
import { register as info } from './info.js';
import { register as models } from './models.js';

/** One import and one call per subcommand module (src/cli/commands/<name>.ts); keep alphabetical. */
export function registerAll(program: Command): void {
  info(program);
  models(program);
}
