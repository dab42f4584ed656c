// --board resolution: ref, emu, a named board, or auto = a real board when one is found, else the virtual board.
import { BOARD_NAMES, BOARDS, getBoard, isBoardName, type BoardName } from '../driver/boards.js';
import { listUio, type UioPaths } from '../driver/uio.js';
import { UserError } from '../errors.js';

export type Target =
  | { kind: 'ref' }
  | { kind: 'emu' | 'board'; board: BoardName; title: string };

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  uio?: UioPaths;
  /** Receives the one-line notice when auto falls back to the virtual board (default: stderr). */
  notice?: (line: string) => void;
}

/** The engine's UIO name is the same on every board (src/driver/boards.ts). */
const ENGINE_UIO = BOARDS['pynq-z2'].uioName;

/** Board named by FLOWFPGA_BOARD, or undefined; an invalid name is a UserError. */
export function envBoard(env: NodeJS.ProcessEnv = process.env): BoardName | undefined {
  const v = env.FLOWFPGA_BOARD?.trim();
  if (!v) return undefined;
  if (!isBoardName(v) || BOARDS[v].virtual) {
    throw new UserError(`FLOWFPGA_BOARD='${v}' is not a board`, `set it to one of ${BOARD_NAMES.filter((n) => !BOARDS[n].virtual).join(', ')}, or unset it`);
  }
  return v;
}

export function resolveTarget(name: string, o: ResolveOptions = {}): Target {
  if (name === 'ref') return { kind: 'ref' };
  if (name === 'auto') {
    const fromEnv = envBoard(o.env);
    if (fromEnv) return { kind: 'board', board: fromEnv, title: BOARDS[fromEnv].title };
    const root = o.uio?.sysfsRoot ?? '/sys/class/uio';
    if (listUio(o.uio).some((u) => u.name === ENGINE_UIO)) {
      // Found an engine but no board name: every board shares the driver; the capability registers say the rest.
      return { kind: 'board', board: 'ultra96v2', title: `FPGA board (engine at ${root})` };
    }
    (o.notice ?? ((l: string) => process.stderr.write(l + '\n')))(
      `flowfpga: no FPGA board found (no ${ENGINE_UIO} under ${root}, FLOWFPGA_BOARD unset); using the virtual board (--board emu)`,
    );
    return { kind: 'emu', board: 'emu', title: BOARDS.emu.title };
  }
  if (name === 'emu') return { kind: 'emu', board: 'emu', title: BOARDS.emu.title };
  const b = isBoardName(name) ? BOARDS[name] : undefined;
  if (!b) throw new UserError(`unknown board '${name}'`, `use ref, auto, emu or one of ${BOARD_NAMES.filter((n) => !BOARDS[n].virtual).join(', ')}`);
  return { kind: 'board', board: getBoard(name).name, title: b.title };
}
