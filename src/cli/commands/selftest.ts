// flowfpga selftest [--board auto|emu|<board>] [--json] [--timeout MS] [--emu-fault SPEC]: the board-side check
// users run after installing the overlay. Opens the EngineDevice and runs the self-test primitives
// (src/device/selftest.ts): identity, a memory round trip through the engine, and per-operation bit-exact checks
// against the reference on the golden vectors. Exit 0 = all pass, 1 = a check failed, 2 = user error.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EngineDevice } from '../../device/engine-device.js';
import { resolveTarget } from '../../device/resolve.js';
import { checkIdentity, goldenOpChecks, memoryRoundTrip, type CheckResult } from '../../device/selftest.js';
import { EngineError } from '../../driver/engine.js';
import { parseFault, type EmuFaults } from '../../emu/control.js';
import { UserError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import { generateGolden, parseGolden, GOLDEN_DEFAULT_SEED, type GoldenFile } from '../../reference/golden.js';
import { addBoardOptions, loadOverlayOption, parseTimeout, type OverlayCliOptions } from '../device-options.js';

interface Opts extends OverlayCliOptions {
  board: string;
  json?: boolean;
  timeout: string;
  emuFault: string[];
}

export interface SelftestCheck {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
  /** Golden checks: cases run / bit-exact. */
  cases?: number;
  passed?: number;
  failures?: string[];
  /** Engine jobs the check ran and their mean host-side wall time (ap_start to completion). */
  jobs?: number;
  usPerJob?: number;
  /** The engine did not answer (a timeout after its retries): the self test stops here. */
  noAnswer?: true;
}

const GOLDEN_FILES = ['conv.gv', 'upconv.gv', 'flow.gv', 'up2.gv', 'up4.gv'];

/** The committed golden vectors when the package ships them, else the same set generated from the reference. */
export function loadGolden(dir = path.join(packageRoot(), 'test', 'golden')): { files: GoldenFile[]; source: string } {
  if (GOLDEN_FILES.every((f) => fs.existsSync(path.join(dir, f)))) {
    const files = GOLDEN_FILES.map((f) => parseGolden(fs.readFileSync(path.join(dir, f), 'utf8'), path.join(dir, f)));
    return { files, source: dir };
  }
  return { files: generateGolden(GOLDEN_DEFAULT_SEED).map((g) => parseGolden(g.text, g.file)), source: `generated in memory (seed ${GOLDEN_DEFAULT_SEED})` };
}

const errLine = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** A timeout after the device's retries: the engine is hung (or held in reset); every later check would wait too. */
const noAnswer = (e: unknown): { noAnswer?: true } => (e instanceof EngineError && e.code === 'ETIMEDOUT' ? { noAnswer: true } : {});

/** Runs `f` and adds the jobs it ran (device counters) to its result; an exception is a failed check, not a crash. */
async function measured(dev: EngineDevice, name: string, f: () => Promise<CheckResult | CheckResult[]>): Promise<SelftestCheck[]> {
  const s0 = dev.stats();
  const t0 = performance.now();
  let res: CheckResult[];
  try {
    const r = await f();
    res = Array.isArray(r) ? r : [r];
  } catch (e) {
    if (e instanceof UserError) throw e;
    return [{ name, ok: false, detail: errLine(e), ms: performance.now() - t0, ...noAnswer(e) }];
  }
  const s1 = dev.stats();
  const jobs = s1.jobs - s0.jobs;
  const out: SelftestCheck[] = res.map((r) => ({ name: r.name, ok: r.ok, detail: r.detail, ms: r.ms }));
  if (out.length === 1 && jobs > 0) Object.assign(out[0]!, { jobs, usPerJob: (s1.jobUs - s0.jobUs) / jobs });
  return out;
}

function fmtLine(c: SelftestCheck): string {
  const nums = [c.jobs !== undefined ? `${c.jobs} job${c.jobs === 1 ? '' : 's'}, ${c.usPerJob!.toFixed(0)} µs/job` : '', `${c.ms.toFixed(0)} ms`].filter(Boolean).join(', ');
  return `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(18)} ${c.detail} (${nums})`;
}

export function register(program: Command): void {
  const cmd = program
    .command('selftest')
    .description('check the engine on a board (or the virtual board): identity, memory round trip, bit-exact golden vectors');
  addBoardOptions(cmd, false)
    .option('--json', 'print one JSON object {ok, target, checks: [...], passed, failed, ms}')
    .option('--emu-fault <spec>', 'virtual board only, repeatable: inject a fault (hang, late=MS, flip[=MASK], corrupt[=MASK], bus-error[=ADDR], reset) to see the self test catch it', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (opts: Opts) => {
      const timeoutMs = parseTimeout(opts.timeout);
      const target = resolveTarget(opts.board);
      if (target.kind === 'ref') throw new UserError('--board ref has no engine to test', 'use --board emu, auto, or a board name');
      const faults: EmuFaults = {};
      for (const f of opts.emuFault) parseFault(f, faults);
      if (opts.emuFault.length && target.kind !== 'emu') {
        throw new UserError(`--emu-fault needs the virtual board, not ${target.board}`, 'add --board emu');
      }
      await loadOverlayOption(opts);
      const golden = loadGolden();
      const log = (line: string): void => void (opts.json ? undefined : process.stdout.write(line + '\n'));
      const t0 = performance.now();
      const checks: SelftestCheck[] = [];
      const notRun: string[] = [];
      const add = (cs: SelftestCheck[]): void => {
        for (const c of cs) {
          checks.push(c);
          log(fmtLine(c));
        }
      };
      let dev: EngineDevice | undefined;
      let restoreFaults: EmuFaults | undefined;
      try {
        try {
          dev = await EngineDevice.open({ board: target.board, timeoutMs });
        } catch (e) {
          if (e instanceof UserError) throw e;
          // The engine answered wrongly (or not at all) while being probed: that is the identity check failing.
          add([{ name: 'identity', ok: false, detail: `open: ${errLine(e)}`, ms: performance.now() - t0, ...noAnswer(e) }]);
        }
        if (dev) {
          const i = dev.info;
          log(`flowfpga selftest: ${target.title}, ${i.device}, ${i.irq ? 'interrupt' : 'polling'}, ${i.dma} pool ${(i.poolSize / 2 ** 20).toFixed(0)} MiB at 0x${i.poolPhys.toString(16)}; golden vectors: ${golden.source}`);
          // Faults go in after open so that a hang or held reset shows up as failed checks, not a failed open.
          if (dev.control && opts.emuFault.length) {
            restoreFaults = dev.control.faults();
            dev.control.setFaults(faults);
          }
          const d = dev;
          // Each check is a step; the first engine that does not answer ends the self test, so a hung board costs
          // one timeout with its retry (2 x --timeout), not one per check.
          const steps: Array<{ name: string; run: () => Promise<SelftestCheck[]> }> = [
            { name: 'identity', run: () => measured(d, 'identity', async () => {
              const t1 = performance.now();
              const caps = await d.probe({ timeoutMs });
              const r = checkIdentity(caps);
              return { ...r, ms: performance.now() - t1 };
            }) },
            { name: 'memory round trip', run: () => measured(d, 'memory round trip', () => memoryRoundTrip(d, { timeoutMs })) },
            ...golden.files.map((file) => ({ name: goldenName(file), run: () => goldenStep(d, file, timeoutMs) })),
          ];
          for (let i = 0; i < steps.length; i++) {
            const rs = await steps[i]!.run();
            add(rs);
            if (rs.some((c) => c.noAnswer)) {
              notRun.push(...steps.slice(i + 1).map((st) => st.name));
              break;
            }
          }
        }
      } finally {
        if (dev?.control && restoreFaults) dev.control.setFaults(restoreFaults);
        await dev?.close();
      }
      if (checks.length === 1 && checks[0]!.noAnswer && !dev) notRun.push('memory round trip', ...golden.files.map(goldenName));
      const failed = checks.filter((c) => !c.ok).length;
      const ms = performance.now() - t0;
      if (opts.json) {
        const i = dev?.info;
        process.stdout.write(JSON.stringify({
          ok: failed === 0 && notRun.length === 0,
          target: { kind: target.kind, board: target.board, title: target.title, device: i?.device, irq: i?.irq, dma: i?.dma },
          golden: golden.source,
          checks,
          passed: checks.length - failed,
          failed,
          notRun,
          ms,
        }) + '\n');
      } else {
        const stop = notRun.length ? `; the engine does not answer: ${notRun.length} check${notRun.length === 1 ? '' : 's'} not run` : '';
        log(`selftest: ${failed === 0 ? 'PASS' : 'FAIL'}, ${checks.length - failed}/${checks.length} checks passed in ${(ms / 1000).toFixed(1)} s${failed ? `; failed: ${checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}` : ''}${stop}`);
      }
      if (failed) process.exitCode = 1;
    });
}

/** A golden file's check name: its layer type. */
function goldenName(file: GoldenFile): string {
  return `golden ${file.cases[0]?.op ?? 'golden'}`;
}

/** One golden file's bit-exact check, with the jobs it ran; an engine error is a failed check. */
async function goldenStep(d: EngineDevice, file: GoldenFile, timeoutMs: number): Promise<SelftestCheck[]> {
  const s0 = d.stats();
  const tf = performance.now();
  try {
    const res = await goldenOpChecks(d, [file], { timeoutMs });
    const s1 = d.stats();
    const jobs = s1.jobs - s0.jobs;
    return res.map((r) => ({
      name: r.name, ok: r.ok, ms: r.ms, cases: r.cases, passed: r.passed, failures: r.failures,
      detail: r.ok ? `${r.passed}/${r.cases} cases bit-exact with the reference` : r.detail,
      ...(jobs > 0 ? { jobs, usPerJob: (s1.jobUs - s0.jobUs) / jobs } : {}),
    }));
  } catch (e) {
    if (e instanceof UserError) throw e;
    return [{ name: goldenName(file), ok: false, detail: errLine(e), ms: performance.now() - tf, cases: file.cases.length, passed: 0, ...noAnswer(e) }];
  }
}
