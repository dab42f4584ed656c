// flowfpga install-service [--dry-run] [--root DIR] [--prefix DIR] [--node PATH]: installs systemd/ (unit, udev
// rules, environment file, service user) so that the board runs flowfpga as a service (docs/service.md).
import type { Command } from 'commander';
import { packageRoot } from '../../paths.js';
import { applyInstall, planInstall } from '../../service/install.js';

interface Opts {
  dryRun?: boolean;
  root: string;
  prefix: string;
  node?: string;
}

export function register(program: Command): void {
  program
    .command('install-service')
    .description('install the systemd service: unit, udev rules, environment file and the flowfpga user')
    .option('--dry-run', 'print what would be written and run, change nothing')
    .option('--root <dir>', 'install into this directory instead of / (an image, a test)', '/')
    .option('--prefix <dir>', 'the flowfpga installation the service runs (default: this one)', packageRoot())
    .option('--node <path>', 'the Node binary the service runs (default: the one running now)')
    .action((opts: Opts) => {
      const plan = planInstall({ root: opts.root, prefix: opts.prefix, node: opts.node });
      for (const l of applyInstall(plan, { dryRun: opts.dryRun })) process.stdout.write(l + '\n');
    });
}
