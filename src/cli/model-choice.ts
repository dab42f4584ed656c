// --model of run and eval: a shipped name, an .ffq file, or (absent or 'default') the default model of the board the
// run is on. The board is known before the device opens only when named (--board NAME, or FLOWFPGA_BOARD under
// --board auto); an engine found without a name, the virtual board and the reference use the NAME line.
import { BOARDS, BOARD_NAMES, isBoardName, type BoardName } from '../driver/boards.js';
import { envBoard } from '../device/resolve.js';
import { modelsDir, readDefaults, resolveModel, type DefaultModels } from '../model/registry.js';
import type { QModel } from '../model/types.js';
import { UserError } from '../errors.js';

/** models/DEFAULT with its board lines checked against the boards this build knows. */
export function boardDefaults(dir = modelsDir()): DefaultModels {
  const d = readDefaults(dir);
  for (const b of Object.keys(d.boards)) {
    if (!isBoardName(b)) throw new UserError(`${dir}/DEFAULT names an unknown board '${b}'`, `board lines start with one of ${BOARD_NAMES.join(', ')}`);
  }
  return d;
}

/** The board whose default applies for `--board boardArg` (undefined: none named). */
export function defaultsBoard(boardArg: string, env: NodeJS.ProcessEnv = process.env): BoardName | undefined {
  if (boardArg === 'auto') return envBoard(env);
  return isBoardName(boardArg) ? boardArg : undefined;
}

export interface ModelChoice {
  model: QModel;
  /** The announcing line when a board's own default line chose the model. */
  note?: string;
}

export function chooseModel(modelArg: string | undefined, boardArg: string, env: NodeJS.ProcessEnv = process.env, dir = modelsDir()): ModelChoice {
  const byDefault = modelArg === undefined || modelArg === 'default';
  const board = byDefault ? defaultsBoard(boardArg, env) : undefined;
  const own = board ? boardDefaults(dir).boards[board] : undefined;
  const model = resolveModel(modelArg, dir, board);
  return { model, note: own ? `model ${own}: the default on ${BOARDS[board!].title} (models/DEFAULT; --model NAME chooses another)` : undefined };
}
