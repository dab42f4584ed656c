// Shipped models (models/*.ffq) and architecture names, resolved from the --model argument: NAME | FILE | arch.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { packageRoot } from '../paths.js';
import { flownetsQ, layerShapes, type ArchSpec } from './arch.js';
import { loadModelFile } from './format.js';
import type { QModel } from './types.js';
import { UserError } from '../errors.js';

/** models/ beside package.json, found from this file whether it runs from src/ (tests) or dist/. */
export function modelsDir(): string {
  const env = process.env.FLOWFPGA_MODELS;
  if (env) return resolve(env);
  return join(packageRoot(), 'models');
}

export interface ModelEntry {
  name: string;
  path: string;
  bytes: number;
}

export function listModels(dir = modelsDir()): ModelEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ffq'))
    .sort()
    .map((f) => ({ name: basename(f, '.ffq'), path: join(dir, f), bytes: statSync(join(dir, f)).size }));
}

/** The shipped model called `name`, or undefined. */
function shippedEntry(name: string, dir: string): ModelEntry | undefined {
  return listModels(dir).find((m) => m.name === name);
}

/**
 * models/DEFAULT: a line `NAME` names the default model, and lines `BOARD NAME` override it on one board (the most
 * accurate model a board runs at a usable frame rate differs: docs/accuracy.md "Capacity vs cost"); `#` starts a
 * comment. Without the file, the first shipped model is the default.
 */
export interface DefaultModels {
  all?: string;
  /** Board name (src/driver/boards.ts; checked there, this layer does not know boards) → model name. */
  boards: Record<string, string>;
}

export function readDefaults(dir = modelsDir()): DefaultModels {
  const f = join(dir, 'DEFAULT');
  if (!existsSync(f)) return { all: listModels(dir)[0]?.name, boards: {} };
  const out: DefaultModels = { boards: {} };
  readFileSync(f, 'utf8').split('\n').forEach((raw, i) => {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 1 && out.all === undefined) out.all = words[0];
    else if (words.length === 2 && !(words[0] in out.boards)) out.boards[words[0]] = words[1];
    else if (words.length) throw new UserError(`${f}:${i + 1}: '${raw.trim()}' is not a first 'NAME' line or a new 'BOARD NAME' line`, 'models/DEFAULT: one line NAME (the default), then at most one line BOARD NAME per board');
  });
  return out;
}

/** The default model on `board` (undefined: the reference, or no board named): its own line, else the NAME line. */
export function defaultModelName(dir = modelsDir(), board?: string): string | undefined {
  const d = readDefaults(dir);
  return (board !== undefined && Object.hasOwn(d.boards, board) ? d.boards[board] : undefined) ?? d.all;
}

/** Architecture-only names accepted where weights don't matter (info, plan). */
export const ARCH_NAMES = ['flownets-q', 'flownets-q-convup'] as const;

export function archByName(name: string): ArchSpec | undefined {
  if (name === 'flownets-q') return flownetsQ();
  if (name === 'flownets-q-convup') return flownetsQ({ decoder: 'conv-upsample' });
  return undefined;
}

/** A path (contains a slash or ends in .ffq), a shipped model name, or the default (undefined or 'default') on `board`. */
export function resolveModel(arg: string | undefined, dir = modelsDir(), board?: string): QModel {
  const name = arg === undefined || arg === 'default' ? defaultModelName(dir, board) : arg;
  if (!name) throw new UserError('no model given and no shipped models found in ' + dir, 'pass --model FILE.ffq');
  if (name.includes('/') || name.endsWith('.ffq')) return loadModelFile(name);
  const hit = shippedEntry(name, dir);
  if (!hit) {
    const names = listModels(dir).map((m) => m.name);
    throw new UserError(`unknown model '${name}'`, names.length ? `shipped models: ${names.join(', ')}; or give a path to a .ffq file` : 'give a path to a .ffq file');
  }
  return loadModelFile(hit.path);
}

/** What a coarse-pass model file names in meta.coarse_for: the model whose refined runs it starts. */
export function coarseFor(m: QModel): string | undefined {
  return typeof m.meta.coarse_for === 'string' ? m.meta.coarse_for : undefined;
}

/** The coarse-pass partner a model names itself (meta.coarse_model): a partner trained for another model it reuses. */
export function coarseModelOf(m: QModel): string | undefined {
  return typeof m.meta.coarse_model === 'string' ? m.meta.coarse_model : undefined;
}

/**
 * The shipped coarse-pass partner of `model`: the shipped model its meta.coarse_model names, else
 * models/<name>-coarse.ffq when that file's meta.coarse_for names the model (train/heldout.py coarse_partner is the
 * Python twin). Refined pairs run their first pass on it.
 */
export function coarsePartner(model: QModel, dir = modelsDir()): QModel | undefined {
  return partner(model, dir, 'coarse', coarseModelOf(model), coarseFor, 'first pass', '--coarse-model same (one model for both passes)');
}

/** What a refinement model file names in meta.refine_for: the model whose refined pairs' second pass it runs. */
export function refineFor(m: QModel): string | undefined {
  return typeof m.meta.refine_for === 'string' ? m.meta.refine_for : undefined;
}

/** The refinement partner a model names itself (meta.refine_model): a partner trained for another model it reuses. */
export function refineModelOf(m: QModel): string | undefined {
  return typeof m.meta.refine_model === 'string' ? m.meta.refine_model : undefined;
}

/**
 * The shipped refinement partner of `model`: the shipped model its meta.refine_model names, else
 * models/<name>-refine.ffq when that file's meta.refine_for names the model (train/heldout.py refine_partner is the
 * Python twin). It was trained for the second pass of refined pairs (train/refinedata.py), so it runs that pass.
 */
export function refinePartner(model: QModel, dir = modelsDir()): QModel | undefined {
  return partner(model, dir, 'refine', refineModelOf(model), refineFor, 'refinement', '--refine-model same (the model itself)');
}

/** The partner `model` names (meta.<role>_model; it must be shipped), else models/<name>-<role>.ffq when that file's
 *  meta.<role>_for names the model. */
function partner(model: QModel, dir: string, role: 'coarse' | 'refine', named: string | undefined, forOf: (m: QModel) => string | undefined,
  what: string, same: string): QModel | undefined {
  if (named !== undefined) {
    const hit = shippedEntry(named, dir);
    if (!hit) throw new UserError(`model ${model.name} runs its refined pairs' ${what} on ${named} (meta.${role}_model), which is not in ${dir}`, `install that model, or pass ${same}`);
    return loadModelFile(hit.path);
  }
  const hit = shippedEntry(`${model.name}-${role}`, dir);
  if (!hit) return undefined;
  const p = loadModelFile(hit.path);
  return forOf(p) === model.name ? p : undefined;
}

/** Summary line data for `flowfpga models`. */
export function describeModel(m: QModel): { bits: string; macs: number; epe: number | undefined; size: [number, number] } {
  const ls = m.arch.layers;
  const as = new Set(ls.filter((l) => l.op !== 'flow').map((l) => l.bits));
  const ws = new Set(ls.map((l) => l.bitsW));
  const bits = as.size === 1 && ws.size === 1 && [...as][0] === [...ws][0] ? `${[...as][0]}` : `mixed a${[...as].sort().join('/')} w${[...ws].sort().join('/')}`;
  const macs = layerShapes(m.arch, m.nativeSize[0], m.nativeSize[1]).reduce((s, l) => s + l.macs, 0);
  const epe = typeof m.meta.epe === 'number' ? m.meta.epe : undefined;
  return { bits, macs, epe, size: m.nativeSize };
}
