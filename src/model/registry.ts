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

/** The default model for `flowfpga run`: the name in models/DEFAULT, else the first shipped model. */
export function defaultModelName(dir = modelsDir()): string | undefined {
  const f = join(dir, 'DEFAULT');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  return listModels(dir)[0]?.name;
}

/** Architecture-only names accepted where weights don't matter (info, plan). */
export const ARCH_NAMES = ['flownets-q', 'flownets-q-convup'] as const;

export function archByName(name: string): ArchSpec | undefined {
  if (name === 'flownets-q') return flownetsQ();
  if (name === 'flownets-q-convup') return flownetsQ({ decoder: 'conv-upsample' });
  return undefined;
}

/** A path (contains a slash or ends in .ffq) or a shipped model name. */
export function resolveModel(arg: string | undefined, dir = modelsDir()): QModel {
  const name = arg ?? defaultModelName(dir);
  if (!name) throw new UserError('no model given and no shipped models found in ' + dir, 'pass --model FILE.ffq');
  if (name.includes('/') || name.endsWith('.ffq')) return loadModelFile(name);
  const hit = listModels(dir).find((m) => m.name === name);
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

/**
 * The shipped coarse-pass partner of `model`: models/<name>-coarse.ffq when its meta.coarse_for names the model
 * (train/heldout.py coarse_partner is the Python twin). Refined pairs run their first pass on it.
 */
export function coarsePartner(model: QModel, dir = modelsDir()): QModel | undefined {
  const hit = listModels(dir).find((m) => m.name === `${model.name}-coarse`);
  if (!hit) return undefined;
  const c = loadModelFile(hit.path);
  return coarseFor(c) === model.name ? c : undefined;
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
