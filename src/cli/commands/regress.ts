// flowfpga regress --serial DEV | --ssh user@host [--cases …] [--report FILE]: the host side of the board regression
// (src/regress). Talks to `flowfpga agent` on the board, runs every case, prints TAP on stdout, writes JUnit XML.
// Exit 0 = every case passed, 1 = a case failed or the board stopped answering, 2 = user error (incl. versions).
import fs from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import { listModels, resolveModel } from '../../model/registry.js';
import type { QModel } from '../../model/types.js';
import { parseCases, CASES_HELP, DEFAULT_CASES } from '../../regress/cases.js';
import { checkAgreement, hello, runCases, type CaseResult } from '../../regress/host.js';
import { HostLink, LinkError } from '../../regress/link.js';
import { junitXml, tapHeader, tapPoint, tapSummary } from '../../regress/report.js';
import { serialTransport, sshTransport, type Transport } from '../../regress/transport.js';
import { parseIntOpt } from '../parse.js';
import { packageVersion } from './agent.js';
import { loadGolden } from './selftest.js';

interface Opts {
  serial?: string;
  ssh?: string;
  sshPort?: string;
  identity?: string;
  sshOption: string[];
  agentCommand: string;
  report?: string;
  cases: string;
  baud: string;
  timeout: string;
}

export function register(program: Command): void {
  program
    .command('regress')
    .description('check a board against the reference over a serial line or SSH (runs `flowfpga agent` there); TAP on stdout')
    .option('--serial <dev>', 'the board\'s serial console, e.g. /dev/ttyUSB0 (the board runs `flowfpga agent --serial …`)')
    .option('--ssh <user@host>', 'run `flowfpga agent --stdio` on the board over ssh')
    .option('--ssh-port <n>', 'ssh port')
    .option('--identity <file>', 'ssh private key')
    .option('--ssh-option <opt>', 'extra ssh -o option, repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--agent-command <cmd>', 'the command ssh runs on the board', 'flowfpga agent --stdio')
    .option('--cases <list>', CASES_HELP, DEFAULT_CASES)
    .option('--report <file>', 'also write a JUnit XML report')
    .option('--baud <n>', 'serial line rate', '115200')
    .option('--timeout <s>', 'seconds without an answer from the board before giving up', '30')
    .action(async (opts: Opts) => {
      if (!!opts.serial === !!opts.ssh) throw new UserError('give exactly one of --serial DEV and --ssh user@host', 'e.g. flowfpga regress --serial /dev/ttyUSB0');
      const baud = parseIntOpt('--baud', opts.baud, 50, 4_000_000);
      const timeoutS = parseIntOpt('--timeout', opts.timeout, 1, 86_400);
      const sshPort = opts.sshPort === undefined ? undefined : parseIntOpt('--ssh-port', opts.sshPort, 1, 65535);
      if (opts.identity && !fs.existsSync(opts.identity)) throw new UserError(`--identity ${opts.identity}: no such file`, 'give the private key file');
      const cache = new Map<string, QModel>();
      const models = listModels().map((m) => ({ name: m.name, load: (): QModel => cache.get(m.name) ?? cache.set(m.name, resolveModel(m.path)).get(m.name)! }));
      const cases = parseCases(opts.cases, models.map((m) => m.name));
      const golden = loadGolden().files;
      const version = packageVersion();
      const out = (s: string): void => void process.stdout.write(s);
      let transport: Transport;
      if (opts.serial) transport = await serialTransport(opts.serial, baud);
      else {
        transport = sshTransport({ target: opts.ssh!, port: sshPort, identity: opts.identity, options: opts.sshOption, command: opts.agentCommand,
          onStderr: (l) => process.stderr.write(`board: ${l}\n`) });
      }
      const link = new HostLink(transport, { silenceMs: timeoutS * 1000 });
      const results: CaseResult[] = [];
      let bail: string | undefined;
      try {
        const a = await hello(link, { version });
        checkAgreement(a, cases, { version, models, golden, baud });
        out(tapHeader(cases.length, `flowfpga regress over ${transport.description}: ${a.engine.description}, flowfpga ${a.version}`));
        await runCases(link, cases, {
          version, models, golden, baud: transport.baud ?? baud,
          onResult: (r, i) => {
            results.push(r);
            out(tapPoint(r, i + 1));
          },
        });
        await link.request({ op: 'bye' }).catch(() => undefined);
        out(tapSummary(results));
      } catch (e) {
        if (!(e instanceof LinkError)) throw e;
        bail = e.message;
        out(`Bail out! ${e.message}\n`);
        process.stderr.write(`flowfpga: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}\n`);
      } finally {
        await link.close().catch(() => undefined);
        if (opts.report) fs.writeFileSync(opts.report, junitXml(results, `regress ${transport.description}`, { bailOut: bail }));
      }
      if (bail || results.some((r) => !r.ok) || results.length !== cases.length) process.exitCode = 1;
    });
}
