import type { Command } from 'commander';
import { register as agent } from './agent.js';
import { register as bench } from './bench.js';
import { register as emu } from './emu.js';
import { register as evalCmd } from './eval.js';
import { register as golden } from './golden.js';
import { register as info } from './info.js';
import { register as installService } from './install-service.js';
import { register as load } from './load.js';
import { register as models } from './models.js';
import { register as plan } from './plan.js';
import { register as regress } from './regress.js';
import { register as run } from './run.js';
import { register as selftest } from './selftest.js';

/** One import and one call per subcommand module (src/cli/commands/<name>.ts); keep alphabetical. */
export function registerAll(program: Command): void {
  agent(program);
  bench(program);
  emu(program);
  evalCmd(program);
  golden(program);
  info(program);
  installService(program);
  load(program);
  models(program);
  plan(program);
  regress(program);
  run(program);
  selftest(program);
}
