// flowfpga plan --board B [--model NAME|FILE|flownets-q] [--size HxW] [--bits n] [--json]: the scheduler's tiling
// and cost model for a model on a board's engine build (docs/performance.md "Scheduler").
import { printable } from '../../text.js';
import type { Command } from 'commander';
import { flownetsQ, type ArchSpec } from '../../model/arch.js';
import { archByName, coarseFor, coarsePartner, refineFor, refinePartner, resolveModel } from '../../model/registry.js';
import type { QModel } from '../../model/types.js';
import { secondPass } from '../refine.js';
import { getBoard } from '../../driver/boards.js';
import { configFromBoard } from '../../scheduler/config.js';
import { planNetwork } from '../../scheduler/plan.js';
import { costReport, type CostReport } from '../../scheduler/cost.js';
import { fmtInt, parseIntOpt, parseSize } from '../parse.js';
import { UserError } from '../../errors.js';

interface PlanOpts { board?: string; model?: string; size?: string; bits?: string; json?: boolean }

/** What a pair costs under run/eval's defaults (refine.ts): the first pass (on the coarse partner, if any), then
 *  the refinement passes at twice the trained size (on the refinement partner, if any). */
export interface PairCost {
  first: { model: string; size: [number, number]; est_ms: number };
  refine: { model: string; size: [number, number]; passes: number; est_ms: number };
  est_ms: number;
  fps: number;
  /** The same pair with --refine-passes 1, and with --refine off (one pass on the model itself). */
  one_refine_ms: number;
  off_ms: number;
}

type PlanReport = CostReport & { board: string; model: string; pair?: PairCost };

export function register(program: Command): void {
  program
    .command('plan')
    .description('tile a model onto a board\'s engine: per-layer tiles, commands, cycles, DDR traffic and roofline')
    .requiredOption('--board <name>', 'pynq-z2, ultra96v2, zcu104 (or emu)')
    .option('--model <name|file>', 'shipped model, .ffq file, or flownets-q / flownets-q-convup (full width, architecture only)', 'flownets-q')
    .option('--size <HxW>', 'input size (default 384x512 for architectures, else the model native size)')
    .option('--bits <n>', 'activation and weight bits for an architecture (2..8; default 8)')
    .option('--json', 'print JSON')
    .action((opts: PlanOpts) => {
      const r = planReport(opts);
      process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : formatPlan(r));
    });
}

export function planReport(opts: PlanOpts): PlanReport {
  const board = getBoard(opts.board ?? '');
  const name = opts.model ?? 'flownets-q';
  let arch: ArchSpec;
  let size: [number, number];
  let model: QModel | undefined;
  const named = archByName(name);
  if (named) {
    const bits = opts.bits ? parseIntOpt('--bits', opts.bits, 2, 8) : 8;
    arch = flownetsQ({ decoder: named.decoder, bits });
    size = opts.size ? parseSize(opts.size) : [384, 512];
  } else {
    if (opts.bits) throw new UserError('--bits applies to architecture names only', 'a model file carries its own bits');
    model = resolveModel(name);
    arch = model.arch;
    size = opts.size ? parseSize(opts.size) : model.nativeSize;
  }
  // Weights do not change the plan or its cost; the random-weight image is only built when frames run.
  const cfg = configFromBoard(board);
  const report = costReport(planNetwork(arch, size[0], size[1], cfg));
  const pair = model && !opts.size ? pairCost(model, report.total.est_ms, (m, s) => costReport(planNetwork(m.arch, s[0], s[1], cfg)).total.est_ms) : undefined;
  return { board: board.name, model: name, ...report, ...(pair ? { pair } : {}) };
}

/** A pair of frames under run/eval's defaults for a model at its trained size (`ms` plans one pass); none for a
 *  partner file. */
export function pairCost(model: QModel, ownMs: number, ms: (m: QModel, size: [number, number]) => number): PairCost | undefined {
  if (coarseFor(model) || refineFor(model)) return undefined; // a partner runs inside its model's pairs
  const net = model.nativeSize;
  const rs = secondPass('auto', [net[0], net[1]], 'resize', model, refinePartner(model));
  if (!rs) return undefined;
  const coarse = coarsePartner(model) ?? model;
  const first = coarse === model || sameArch(coarse, model) ? ownMs : ms(coarse, net);
  const refine = ms(rs.model, rs.size);
  const total = first + rs.passes * refine;
  return {
    first: { model: coarse.name, size: [net[0], net[1]], est_ms: first },
    refine: { model: rs.model.name, size: rs.size, passes: rs.passes, est_ms: refine },
    est_ms: total, fps: 1000 / total, one_refine_ms: first + refine, off_ms: ownMs,
  };
}

// A partner with the same layers as the model costs what it does (weights do not change a plan).
const sameArch = (a: QModel, b: QModel): boolean => JSON.stringify(a.arch) === JSON.stringify(b.arch);

export function formatPlan(r: PlanReport): string {
  const c = r.config;
  const lines = [
    `${printable(r.model)} at ${r.size[0]}x${r.size[1]} on ${r.board}: Tm=${c.tm} Tn=${c.tn} IBUF=${c.ibuf} OBUF=${c.obuf} SBUF=${c.sbuf}, ` +
      `${c.clock_mhz} MHz, DDR ${c.memory_gbps} GB/s (75% of peak, HP-port capped); planned in ${r.plan_ms.toFixed(0)} ms`,
    '',
  ];
  const head = ['layer', 'op', 'MMAC', 'tile', 'co/cmd', 'order', 'cmds', 'kcycles', 'engine ms', 'DDR MB', 'min MB', 'DDR ms', 'est ms', 'roof ms', 'bound', 'limit', 'eff'];
  const rows = r.layers.map((l) => [
    l.name, l.op, (l.macs / 1e6).toFixed(0), l.tile, String(l.co_chunk), l.order === '-' ? '-' : l.order === 'weight-stationary' ? 'WS' : 'IS',
    String(l.commands), fmtInt(l.cycles / 1e3), l.engine_ms.toFixed(2), (l.ddr_bytes / 1e6).toFixed(2), (l.min_ddr_bytes / 1e6).toFixed(2),
    l.ddr_ms.toFixed(2), l.est_ms.toFixed(2), l.roofline_ms.toFixed(2), l.bound, l.limiter, l.efficiency.toFixed(2),
  ]);
  const t = r.total;
  rows.push(['total', '', (t.macs / 1e6).toFixed(0), '', '', '', String(t.commands), fmtInt(t.cycles / 1e3), '', (t.ddr_bytes / 1e6).toFixed(2),
    (t.min_ddr_bytes / 1e6).toFixed(2), '', t.est_ms.toFixed(2), t.roofline_ms.toFixed(2), '', '', t.efficiency.toFixed(2)]);
  const wid = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((v, i) => (i < 2 || i === 3 || i === 5 ? v.padEnd(wid[i]) : v.padStart(wid[i]))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt), '');
  lines.push(`estimated ${t.est_ms.toFixed(1)} ms/frame (${t.fps.toFixed(2)} fps), roofline ${t.roofline_ms.toFixed(1)} ms, ` +
    `efficiency ${t.efficiency.toFixed(3)}; DDR ${(t.ddr_bytes / 1e6).toFixed(1)} MB = ${t.ddr_ratio.toFixed(2)}x the compulsory ${(t.min_ddr_bytes / 1e6).toFixed(1)} MB`);
  const p = r.pair;
  if (p) {
    const f = p.first, q = p.refine;
    lines.push(`a pair under run/eval defaults: first pass ${f.est_ms.toFixed(1)} ms (${printable(f.model)} at ${f.size[0]}x${f.size[1]}) + ` +
      `${q.passes} x ${q.est_ms.toFixed(1)} ms (${printable(q.model)} at ${q.size[0]}x${q.size[1]}) = ${p.est_ms.toFixed(1)} ms (${p.fps.toFixed(2)} pairs/s); ` +
      `--refine-passes 1: ${p.one_refine_ms.toFixed(1)} ms, --refine off: ${p.off_ms.toFixed(1)} ms`);
  }
  return lines.join('\n') + '\n';
}
