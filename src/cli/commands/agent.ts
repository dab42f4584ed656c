// flowfpga agent --serial DEV [--baud N] | --stdio [--board …]: the board side of `flowfpga regress`. Serves the
// host's requests (src/regress) on a serial line or on stdin/stdout (under SSH) with the board's engine, until the
// link closes or a signal. Logs go to stderr: under --stdio, stdout is the link.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EngineDevice } from '../../device/engine-device.js';
import { resolveTarget } from '../../device/resolve.js';
import { parseFault, type EmuFaults } from '../../emu/control.js';
import { UserError } from '../../errors.js';
import { listModels, resolveModel } from '../../model/registry.js';
import { packageRoot } from '../../paths.js';
import { Agent } from '../../regress/agent.js';
import { AgentLink } from '../../regress/link.js';
import { serialTransport, stdioTransport, type Transport } from '../../regress/transport.js';
import { addBoardOptions, parseTimeout } from '../device-options.js';
import { parseIntOpt } from '../parse.js';
import { EngineRegressBoard } from '../regress-board.js';
import { loadGolden } from './selftest.js';

interface Opts {
  serial?: string;
  stdio?: boolean;
  baud: string;
  board: string;
  timeout: string;
  emuFault: string[];
  quiet?: boolean;
}

/** The installed flowfpga's version (package.json), exchanged in the handshake. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description('board side of `flowfpga regress`: answer regression requests on a serial line or on stdin/stdout (SSH)')
    .option('--serial <dev>', 'serve on this serial device, e.g. /dev/ttyPS0')
    .option('--stdio', 'serve on stdin/stdout (what `flowfpga regress --ssh` starts)')
    .option('--baud <n>', 'serial line rate', '115200');
  addBoardOptions(cmd, false)
    .option('--emu-fault <spec>', 'virtual board only, repeatable: inject a fault (flip[=MASK], corrupt[=MASK], hang, …) to see regress catch it', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--quiet', 'no log lines on stderr')
    .action(async (opts: Opts) => {
      if (!!opts.serial === !!opts.stdio) throw new UserError('give exactly one of --serial DEV and --stdio', 'e.g. flowfpga agent --serial /dev/ttyPS0');
      const baud = parseIntOpt('--baud', opts.baud, 50, 4_000_000);
      const timeoutMs = parseTimeout(opts.timeout);
      const log = (line: string): void => void (opts.quiet ? undefined : process.stderr.write(`flowfpga agent: ${line}\n`));
      const target = resolveTarget(opts.board, { notice: (l) => log(l.replace(/^flowfpga: /, '')) });
      if (target.kind === 'ref') throw new UserError('--board ref has no engine', 'use --board emu, auto, or a board name');
      const faults: EmuFaults = {};
      for (const f of opts.emuFault) parseFault(f, faults);
      if (opts.emuFault.length && target.kind !== 'emu') throw new UserError(`--emu-fault needs the virtual board, not ${target.board}`, 'add --board emu');
      const golden = loadGolden();
      const engine = await EngineDevice.open({ board: target.board, timeoutMs });
      let transport: Transport | undefined;
      try {
        if (engine.control && opts.emuFault.length) engine.control.setFaults(faults);
        const board = new EngineRegressBoard(engine, target.kind, target.title, timeoutMs);
        const agent = new Agent(board, {
          version: packageVersion(),
          golden,
          models: listModels().map((m) => ({ name: m.name, load: () => resolveModel(m.path) })),
          log,
        });
        transport = opts.serial ? await serialTransport(opts.serial, baud) : stdioTransport();
        new AgentLink(transport, (m) => agent.handle(m));
        log(`serving on ${transport.description}: ${board.identity().description}${opts.emuFault.length ? `, faults ${opts.emuFault.join(' ')}` : ''}`);
        const t = transport;
        await new Promise<void>((resolve) => {
          t.onClose((why) => {
            log(`link closed (${why})`);
            resolve();
          });
          const stop = (sig: string) => () => {
            log(`${sig}: stopping`);
            resolve();
          };
          process.once('SIGINT', stop('SIGINT'));
          process.once('SIGTERM', stop('SIGTERM'));
          process.once('SIGHUP', stop('SIGHUP'));
        });
      } finally {
        await transport?.close().catch(() => undefined);
        await engine.close();
      }
    });
}
