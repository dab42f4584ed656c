// --board / --verify / --timeout options shared by commands that run the network, and opening the device they name.
import type { Command } from 'commander';
import { openFlowDevice, type FlowDevice } from '../device/index.js';
import { bringUpOverlay, registersFor, type BringUp } from '../device/bringup.js';
import { systemPaths } from '../device/sysroot.js';
import { libcSys } from '../sys/libc.js';
import { UserError } from '../errors.js';
import { engineFlowFactory } from './engine-flow.js';
import { parseIntOpt } from './parse.js';

export interface OverlayCliOptions {
  overlay?: string;
  hwh?: string;
  engineInstance?: string;
  force?: boolean;
}

export interface DeviceCliOptions extends OverlayCliOptions {
  board: string;
  verify: string;
  timeout: string;
  onMismatch: string;
}

export const POLICIES = ['log', 'drop', 'rerun', 'stop'] as const;
export const VERIFY_MODES = ['off', 'sample', 'full'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** --hwh, --engine-instance, --force: how `flowfpga load` and `--overlay` pick and load a design. */
export function addLoadOptions(cmd: Command): Command {
  return cmd
    .option('--hwh <file>', "the design's .hwh (default: the bitstream's path with .hwh)")
    .option('--engine-instance <name>', 'instance name of the engine in the .hwh when the design has several')
    .option('--force', 'download even when the same bitstream is recorded as loaded');
}

/** --board, --timeout and --overlay: every command that talks to an engine. `withRef` offers the TypeScript reference too. */
export function addBoardOptions(cmd: Command, withRef = true): Command {
  cmd
    .option('--board <name>', `auto | ${withRef ? 'ref | ' : ''}emu | pynq-z2 | ultra96v2 | zcu104 (auto: a real board when found, else the virtual board)`, 'auto')
    .option('--timeout <ms>', 'timeout for each wait on the engine', '10000')
    .option('--overlay <bit>', 'load this bitstream first (as flowfpga load does: fpga_manager, PL clocks, PL reset, engine identity)');
  return addLoadOptions(cmd);
}

/** Loads `bit` and checks the engine (flowfpga load, --overlay); says what it found in one line on `log`. */
export async function loadOverlay(bit: string, o: OverlayCliOptions & { timeout: string }, log: (line: string) => void): Promise<BringUp> {
  const paths = systemPaths();
  const sys = libcSys();
  const r = await bringUpOverlay(bit, {
    hwh: o.hwh, instance: o.engineInstance, force: o.force, timeoutMs: parseTimeout(o.timeout), paths, sys, registers: registersFor(paths, sys),
  });
  log(`flowfpga: ${r.line}`);
  return r;
}

/** --overlay given: bring the overlay up before the device is opened (progress line on stderr: stdout may be JSON). */
export async function loadOverlayOption(o: OverlayCliOptions & { timeout: string; board: string }): Promise<void> {
  if (o.overlay !== undefined && o.board === 'ref') {
    throw new UserError('--overlay loads a bitstream for an engine, but --board ref runs no engine', 'drop --overlay, or use --board auto or a board name');
  }
  if (o.overlay === undefined) {
    if (o.hwh !== undefined || o.engineInstance !== undefined || o.force) {
      throw new UserError('--hwh, --engine-instance and --force only apply with --overlay BIT', 'add --overlay BIT, or use flowfpga load BIT');
    }
    return;
  }
  await loadOverlay(o.overlay, o, (l) => process.stderr.write(l + '\n'));
}

export function parseTimeout(s: string): number {
  return parseIntOpt('--timeout', s, 1, 3_600_000);
}

/** Board options plus per-frame verification: commands that run the network. */
export function addDeviceOptions(cmd: Command): Command {
  return addBoardOptions(cmd)
    .option('--verify <mode>', 'per-frame check against the reference: off | sample | full', 'sample')
    .option('--on-mismatch <policy>', 'when verification finds a mismatch: log | drop | rerun | stop', 'log');
}

export async function openDevice(o: DeviceCliOptions): Promise<FlowDevice> {
  if (!(VERIFY_MODES as readonly string[]).includes(o.verify)) {
    throw new UserError(`unknown --verify mode '${o.verify}'`, `use ${VERIFY_MODES.join(', ')}`);
  }
  const timeoutMs = parseTimeout(o.timeout);
  if (!(POLICIES as readonly string[]).includes(o.onMismatch)) {
    throw new UserError(`unknown --on-mismatch policy '${o.onMismatch}'`, `use ${POLICIES.join(', ')}`);
  }
  await loadOverlayOption(o);
  return openFlowDevice({
    board: o.board,
    timeoutMs,
    engineFlow: engineFlowFactory({
      verify: o.verify as VerifyMode,
      policy: o.onMismatch as (typeof POLICIES)[number],
      timeoutMs,
      onMismatch: (m, frame) =>
        process.stderr.write(`flowfpga: verify: frame ${frame}: ${m.step} command ${m.cmd} differs at c${m.at.c} y${m.at.y} x${m.at.x} (expected ${m.expected}, got ${m.got})\n`),
    }),
  });
}
