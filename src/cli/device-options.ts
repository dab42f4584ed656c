// --board / --verify / --timeout options shared by commands that run the network, and opening the device they name.
import type { Command } from 'commander';
import { openFlowDevice, type FlowDevice } from '../device/index.js';
import { UserError } from '../errors.js';
import { engineFlowFactory } from './engine-flow.js';
import { parseIntOpt } from './parse.js';

export interface DeviceCliOptions {
  board: string;
  verify: string;
  timeout: string;
  onMismatch: string;
}

export const POLICIES = ['log', 'drop', 'rerun', 'stop'] as const;
export const VERIFY_MODES = ['off', 'sample', 'full'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** --board and --timeout: every command that talks to an engine. `withRef` offers the TypeScript reference too. */
export function addBoardOptions(cmd: Command, withRef = true): Command {
  return cmd
    .option('--board <name>', `auto | ${withRef ? 'ref | ' : ''}emu | pynq-z2 | ultra96v2 | zcu104 (auto: a real board when found, else the virtual board)`, 'auto')
    .option('--timeout <ms>', 'timeout for each wait on the engine', '10000');
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
