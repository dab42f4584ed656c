// Host-side overhead per engine job on the virtual board (or a board: FLOWFPGA_BOARD=<name>).
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/job-overhead.ts [jobs] [--poll]
// Every job is a cmd_count = 0 run (the engine does no work). Per job it records, from the host's clock:
//   start  = sync check + argument registers + ISR clear + IRQ arm (a write(2)) + ap_start
//   wait   = until the host has seen completion (board latency + interrupt delivery + poll wake-up + ISR/AP_CTRL reads)
//   result = status, err_index, cmds_done, cycles reads
//   wall   = start + wait + result (nothing subtracted)
// and the process CPU time (all threads, incl. the poll worker) per job. Median and p99 of each.
import os from 'node:os';
import { EngineDevice } from '../src/device/engine-device.js';
import type { BoardName } from '../src/driver/boards.js';

const args = process.argv.slice(2);
const jobs = Number(args.find((a) => /^\d+$/.test(a)) ?? 5000);
const poll = args.includes('--poll');
const board = (process.env.FLOWFPGA_BOARD as BoardName | undefined) ?? 'emu';

function pct(a: Float64Array, p: number): number {
  const s = Float64Array.from(a).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const dev = await EngineDevice.open({ board, ddrMb: 4, irq: !poll });
try {
  for (let i = 0; i < 500; i++) await dev.run(0n, 0); // JIT and board warm-up
  const start = new Float64Array(jobs);
  const wait = new Float64Array(jobs);
  const result = new Float64Array(jobs);
  const wall = new Float64Array(jobs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < jobs; i++) {
    const r = await dev.run(0n, 0);
    if (r.status !== 0) throw new Error(`job ${i}: status ${r.status}`);
    const tm = dev.lastTiming;
    start[i] = tm.startUs;
    wait[i] = tm.waitUs;
    result[i] = tm.resultUs;
    wall[i] = tm.startUs + tm.waitUs + tm.resultUs;
  }
  const elapsed = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const row = (name: string, a: Float64Array) => `| ${name} | ${pct(a, 50).toFixed(1)} | ${pct(a, 99).toFixed(1)} |`;
  const host = new Float64Array(jobs);
  for (let i = 0; i < jobs; i++) host[i] = start[i]! + result[i]!;
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  const out = [
    `${jobs} empty jobs on ${dev.info.kind === 'emu' ? 'the virtual board' : board}, ${poll ? 'polling ap_done' : 'interrupt'} mode; ${cpuModel}, ${os.cpus().length} CPUs, Node ${process.version}`,
    '',
    '| per job (µs) | median | p99 |',
    '|---|---|---|',
    row('start: registers, ISR clear, IRQ arm, ap_start', start),
    row('wait: until completion seen (incl. board latency)', wait),
    row('result: status/err_index/cmds_done/cycles reads', result),
    row('host register work (start + result)', host),
    row('wall (start + wait + result)', wall),
    `| wall, mean | ${(wall.reduce((a, b) => a + b, 0) / jobs).toFixed(1)} | |`,
    `| loop throughput (incl. promise hops between jobs) | ${(elapsed / jobs).toFixed(1)} µs/job | |`,
    `| process CPU (user+sys, all threads) | ${((cpu.user + cpu.system) / jobs).toFixed(1)} µs/job (mean) | |`,
  ].join('\n');
  process.stdout.write(out + '\n');
} finally {
  await dev.close();
}
