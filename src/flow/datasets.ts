// Dataset readers (facts.md §6): FlyingChairs, MPI-Sintel, a plain image sequence and single file pairs, all behind
// one lazily loading "pairs" interface. Listing happens up front (cheap, catches layout errors early); pixels are
// read only when a pair is loaded.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readFlo, type FlowField } from './flo.js';
import { decodePngGray, readImage, type RgbImage } from './image.js';
import { fsError, readInput } from './io.js';

export interface FlowPair {
  id: string;
  img1: RgbImage;
  img2: RgbImage;
  /** Ground truth, frame 1 -> frame 2, when the dataset has it. */
  flow?: FlowField;
  /**
   * Per pixel 1 = evaluate, 0 = excluded (Sintel `invalid` masks inverted). Absent = all pixels. Published Sintel
   * EPEs (FlowNet, flownet2, RAFT) use all pixels: pass this to the metrics only for a masked evaluation.
   */
  valid?: Uint8Array;
  /** Per pixel 1 = occluded in frame 2 (Sintel `occlusions`). */
  occluded?: Uint8Array;
}

/** Where one pair's files are. */
export interface PairEntry {
  id: string;
  img1: string;
  img2: string;
  flow?: string;
  /** Grey PNG, nonzero (>= 128) = invalid pixel. */
  invalid?: string;
  /** Grey PNG, nonzero (>= 128) = occluded pixel. */
  occlusion?: string;
}

export interface PairDataset extends AsyncIterable<FlowPair> {
  /** e.g. "FlyingChairs (val)", "MPI-Sintel training/final". */
  readonly name: string;
  readonly root: string;
  readonly entries: readonly PairEntry[];
  readonly length: number;
  load(index: number): Promise<FlowPair>;
}

/** Load one pair's files (in parallel) and check that their sizes agree. */
export async function loadPair(e: PairEntry): Promise<FlowPair> {
  const [img1, img2, flow, invalid, occluded] = await Promise.all([
    readImage(e.img1),
    readImage(e.img2),
    e.flow ? readFlo(e.flow) : undefined,
    e.invalid ? readMask(e.invalid) : undefined,
    e.occlusion ? readMask(e.occlusion) : undefined,
  ]);
  const w = img1.width;
  const h = img1.height;
  const check = (what: string, path: string, ow: number, oh: number): void => {
    if (ow !== w || oh !== h) {
      throw new UserError(`${path}: ${what} is ${ow}x${oh} but ${e.img1} is ${w}x${h}`, 'files of one pair must have the same size');
    }
  };
  check('frame 2', e.img2, img2.width, img2.height);
  if (flow) check('flow', e.flow!, flow.width, flow.height);
  let valid: Uint8Array | undefined;
  if (invalid) {
    check('invalid mask', e.invalid!, invalid.width, invalid.height);
    valid = invalid.data;
    for (let i = 0; i < valid.length; i++) valid[i] ^= 1;
  }
  if (occluded) check('occlusion mask', e.occlusion!, occluded.width, occluded.height);
  const pair: FlowPair = { id: e.id, img1, img2 };
  if (flow) pair.flow = flow;
  if (valid) pair.valid = valid;
  if (occluded) pair.occluded = occluded.data;
  return pair;
}

/** A grey (or colour) PNG mask as 0/1 per pixel: 1 where the first channel is >= 128. */
export async function readMask(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const g = decodePngGray(await readInput(path, 'mask'), path);
  const d = g.data;
  for (let i = 0; i < d.length; i++) d[i] = d[i] >= 128 ? 1 : 0;
  return g;
}

class FileDataset implements PairDataset {
  constructor(
    readonly name: string,
    readonly root: string,
    readonly entries: readonly PairEntry[],
  ) {}

  get length(): number {
    return this.entries.length;
  }

  load(index: number): Promise<FlowPair> {
    const e = this.entries[index];
    if (!e) return Promise.reject(new RangeError(`pair index ${index} out of range 0..${this.entries.length - 1}`));
    return loadPair(e);
  }

  /** Sequential, with the next pair's files read while the caller works on the current one. */
  async *[Symbol.asyncIterator](): AsyncGenerator<FlowPair> {
    if (this.entries.length === 0) return;
    let next = this.load(0);
    for (let i = 0; i < this.entries.length; i++) {
      const cur = await next;
      if (i + 1 < this.entries.length) {
        next = this.load(i + 1);
        // Mark handled: if the caller stops early, an abandoned prefetch must not become an unhandled rejection.
        next.catch(() => undefined);
      }
      yield cur;
    }
  }
}

/** A dataset from explicit entries (e.g. a list file parsed elsewhere). */
export function pairsFromEntries(name: string, root: string, entries: PairEntry[]): PairDataset {
  return new FileDataset(name, root, entries);
}

// ------------------------------------------------------------------------------------------------------- helpers

async function listDir(dir: string, what: string, hint: string): Promise<{ files: string[]; dirs: string[] }> {
  let ents;
  try {
    ents = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') throw new UserError(`${what} not found: ${dir}`, hint);
    if (code === 'ENOTDIR') throw new UserError(`${what} is not a directory: ${dir}`, hint);
    throw fsError(e, dir, what);
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const d of ents) {
    let isDirectory = d.isDirectory();
    let isRegular = d.isFile();
    if (d.isSymbolicLink()) {
      // Datasets are often assembled from links (e.g. scenes shared between passes): classify by target.
      const st = await stat(join(dir, d.name)).catch(() => undefined);
      isDirectory = st?.isDirectory() ?? false;
      isRegular = st?.isFile() ?? false;
    }
    if (isDirectory) dirs.push(d.name);
    else if (isRegular) files.push(d.name);
  }
  return { files, dirs };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

const natural = new Intl.Collator('en', { numeric: true }).compare;

// -------------------------------------------------------------------------------------------------- FlyingChairs

export const CHAIRS_LAYOUT =
  'expected FlyingChairs_release/data/ with NNNNN_img1.ppm, NNNNN_img2.ppm, NNNNN_flow.flo (and FlyingChairs_train_val.txt for --split)';

export interface ChairsOptions {
  /** 'train' (split value 1), 'val' (2) or 'all' (default; ignores the split file, as flownet2's reader does). */
  split?: 'train' | 'val' | 'all';
  /** FlyingChairs_train_val.txt; default: looked for in the data folder and its parent. */
  splitFile?: string;
}

/** FlyingChairs. `root` may be FlyingChairs_release or its data/ folder. */
export async function flyingChairs(root: string, opts: ChairsOptions = {}): Promise<PairDataset> {
  const split = opts.split ?? 'all';
  if (split !== 'all' && split !== 'train' && split !== 'val') {
    throw new UserError(`unknown FlyingChairs split "${String(split)}"`, 'use train, val or all');
  }
  let dir = resolve(root);
  let { files, dirs } = await listDir(dir, 'FlyingChairs folder', CHAIRS_LAYOUT);
  const re = /^(\d+)_img1\.ppm$/;
  if (!files.some((f) => re.test(f)) && dirs.includes('data')) {
    dir = join(dir, 'data');
    ({ files } = await listDir(dir, 'FlyingChairs folder', CHAIRS_LAYOUT));
  }
  const have = new Set(files);
  const ids = files
    .map((f) => re.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .sort((a, b) => Number(a) - Number(b) || natural(a, b));
  if (ids.length === 0) throw new UserError(`no FlyingChairs pairs in ${dir}`, CHAIRS_LAYOUT);
  const entries: PairEntry[] = [];
  for (const id of ids) {
    for (const suffix of ['_img2.ppm', '_flow.flo']) {
      if (!have.has(id + suffix)) {
        throw new UserError(`FlyingChairs pair ${id} is incomplete: ${join(dir, id + suffix)} is missing`, CHAIRS_LAYOUT);
      }
    }
    entries.push({ id, img1: join(dir, `${id}_img1.ppm`), img2: join(dir, `${id}_img2.ppm`), flow: join(dir, `${id}_flow.flo`) });
  }
  if (split === 'all') return new FileDataset('FlyingChairs', dir, entries);

  const candidates = opts.splitFile
    ? [resolve(opts.splitFile)]
    : [join(dir, 'FlyingChairs_train_val.txt'), join(dirname(dir), 'FlyingChairs_train_val.txt')];
  let splitPath: string | undefined;
  for (const c of candidates) if (await isFile(c)) splitPath = splitPath ?? c;
  if (!splitPath) {
    throw new UserError(
      opts.splitFile ? `split file not found: ${candidates[0]}` : `FlyingChairs_train_val.txt not found next to ${dir}`,
      'download it from the FlyingChairs page, pass its path, or use split "all"',
    );
  }
  const text = (await readInput(splitPath, 'split file')).toString('latin1');
  const labels = text.split(/\s+/).filter((s) => s.length > 0);
  const bad = labels.findIndex((s) => s !== '1' && s !== '2');
  if (bad >= 0) throw new UserError(`${splitPath}: line ${bad + 1} is "${labels[bad].slice(0, 20)}", expected 1 or 2`, 'not a FlyingChairs split file');
  if (labels.length !== entries.length) {
    throw new UserError(
      `${splitPath} has ${labels.length} entries but ${dir} has ${entries.length} pairs`,
      'the split file labels every pair in sorted order; the folder is incomplete or the file belongs to another copy',
    );
  }
  const want = split === 'train' ? '1' : '2';
  const picked = entries.filter((_, i) => labels[i] === want);
  if (picked.length === 0) throw new UserError(`no FlyingChairs ${split} pairs in ${dir} per ${splitPath}`, 'check the split file');
  return new FileDataset(`FlyingChairs (${split})`, dir, picked);
}

// ---------------------------------------------------------------------------------------------------- MPI-Sintel

export const SINTEL_LAYOUT =
  'expected MPI-Sintel-complete/training/{clean,final}/<scene>/frame_NNNN.png and training/flow/<scene>/frame_NNNN.flo';

export interface SintelOptions {
  /** Rendering pass, default 'clean'. */
  pass?: 'clean' | 'final';
  /** Default 'training'; 'test' has no ground truth. */
  split?: 'training' | 'test';
  /** Only these scenes (folder names such as "alley_1"). */
  scenes?: string[];
  /** Attach the invalid/occlusion masks when their folders exist (default true). */
  masks?: boolean;
}

/**
 * MPI-Sintel. `root` may be the MPI-Sintel-complete folder or its training/ (or test/) folder. Pairs are consecutive
 * frames of each scene; frame_NNNN.flo maps frame NNNN to the next one.
 */
export async function mpiSintel(root: string, opts: SintelOptions = {}): Promise<PairDataset> {
  const pass = opts.pass ?? 'clean';
  const split = opts.split ?? 'training';
  if (pass !== 'clean' && pass !== 'final') throw new UserError(`unknown Sintel pass "${String(pass)}"`, 'use clean or final');
  if (split !== 'training' && split !== 'test') throw new UserError(`unknown Sintel split "${String(split)}"`, 'use training or test');
  const top = resolve(root);
  const { dirs: topDirs } = await listDir(top, 'MPI-Sintel folder', SINTEL_LAYOUT);
  let base: string;
  if (topDirs.includes(split)) base = join(top, split);
  else if (topDirs.includes(pass)) base = top; // given the training/ (or test/) folder itself
  else throw new UserError(`no MPI-Sintel ${split}/ or ${pass}/ folder in ${top}`, SINTEL_LAYOUT);
  const passDir = join(base, pass);
  const { dirs: allScenes } = await listDir(passDir, `MPI-Sintel ${pass} folder`, SINTEL_LAYOUT);
  let scenes = allScenes.sort(natural);
  if (opts.scenes) {
    const missing = opts.scenes.filter((s) => !allScenes.includes(s));
    if (missing.length) {
      throw new UserError(`MPI-Sintel scene(s) not in ${passDir}: ${missing.join(', ')}`, `available: ${scenes.join(', ') || 'none'}`);
    }
    scenes = scenes.filter((s) => opts.scenes!.includes(s));
  }
  const flowRoot = join(base, 'flow');
  const hasFlow = await isDir(flowRoot);
  const withMasks = opts.masks ?? true;
  const invalidRoot = join(base, 'invalid');
  const occRoot = join(base, 'occlusions');
  const hasInvalid = withMasks && hasFlow && (await isDir(invalidRoot));
  const hasOcc = withMasks && hasFlow && (await isDir(occRoot));
  const re = /^frame_(\d+)\.png$/;
  const entries: PairEntry[] = [];
  for (const scene of scenes) {
    const { files } = await listDir(join(passDir, scene), 'MPI-Sintel scene folder', SINTEL_LAYOUT);
    const frames = files.filter((f) => re.test(f)).sort(natural);
    const flowFiles = hasFlow ? new Set((await listDir(join(flowRoot, scene), 'MPI-Sintel flow folder', SINTEL_LAYOUT)).files) : undefined;
    const invFiles = hasInvalid ? new Set((await listDir(join(invalidRoot, scene), 'MPI-Sintel invalid folder', SINTEL_LAYOUT)).files) : undefined;
    const occFiles = hasOcc ? new Set((await listDir(join(occRoot, scene), 'MPI-Sintel occlusions folder', SINTEL_LAYOUT)).files) : undefined;
    for (let i = 0; i + 1 < frames.length; i++) {
      const stem = frames[i].slice(0, -4);
      const e: PairEntry = { id: `${scene}/${stem}`, img1: join(passDir, scene, frames[i]), img2: join(passDir, scene, frames[i + 1]) };
      if (flowFiles) {
        if (!flowFiles.has(`${stem}.flo`)) {
          throw new UserError(`MPI-Sintel ground truth missing: ${join(flowRoot, scene, stem + '.flo')}`, 'the flow folder is incomplete; re-extract the dataset');
        }
        e.flow = join(flowRoot, scene, `${stem}.flo`);
      }
      if (invFiles?.has(frames[i])) e.invalid = join(invalidRoot, scene, frames[i]);
      if (occFiles?.has(frames[i])) e.occlusion = join(occRoot, scene, frames[i]);
      entries.push(e);
    }
  }
  if (entries.length === 0) throw new UserError(`no MPI-Sintel pairs in ${passDir}`, SINTEL_LAYOUT);
  return new FileDataset(`MPI-Sintel ${split}/${pass}`, base, entries);
}

// ------------------------------------------------------------------------------------------ generic image folders

const IMAGE_RE = /\.(png|jpe?g|ppm|pgm)$/i;

/** Consecutive frames of one folder (natural name order) as pairs without ground truth: (f0,f1), (f1,f2), ... */
export async function imageSequence(dir: string): Promise<PairDataset> {
  const d = resolve(dir);
  const hint = 'expected a folder of at least two frames (.png, .jpg, .ppm), consecutive in name order';
  const { files } = await listDir(d, 'image folder', hint);
  const frames = files.filter((f) => IMAGE_RE.test(f)).sort(natural);
  if (frames.length < 2) throw new UserError(`no frame pairs in ${d} (${frames.length} image${frames.length === 1 ? '' : 's'})`, hint);
  const entries: PairEntry[] = [];
  for (let i = 0; i + 1 < frames.length; i++) {
    entries.push({ id: frames[i].replace(IMAGE_RE, ''), img1: join(d, frames[i]), img2: join(d, frames[i + 1]) });
  }
  return new FileDataset(`frames in ${d}`, d, entries);
}

/** One explicit pair (files are checked for existence now, read on load). */
export async function filePair(img1: string, img2: string, flow?: string): Promise<PairDataset> {
  for (const [p, what] of [[img1, 'image'], [img2, 'image'], [flow, '.flo file']] as const) {
    if (p !== undefined && !(await isFile(p))) throw new UserError(`${what} not found: ${p}`, 'check the path');
  }
  const e: PairEntry = { id: basename(img1).replace(IMAGE_RE, ''), img1: resolve(img1), img2: resolve(img2) };
  if (flow) e.flow = resolve(flow);
  return new FileDataset('pair', dirname(resolve(img1)), [e]);
}

export type DatasetKind = 'chairs' | 'sintel' | 'frames';

/** Guess the layout of a folder: FlyingChairs files, a Sintel tree, else a plain frame sequence. */
export async function detectDataset(root: string): Promise<DatasetKind> {
  const d = resolve(root);
  const { files, dirs } = await listDir(d, 'dataset folder', `${CHAIRS_LAYOUT}; or ${SINTEL_LAYOUT}; or a folder of frames`);
  if (files.some((f) => /^\d+_img1\.ppm$/.test(f))) return 'chairs';
  if (dirs.includes('data') && (await readdir(join(d, 'data')).catch(() => [] as string[])).some((f) => /^\d+_img1\.ppm$/.test(f))) {
    return 'chairs';
  }
  if (dirs.includes('training') || dirs.includes('test') || dirs.includes('clean') || dirs.includes('final')) return 'sintel';
  return 'frames';
}

export interface OpenOptions extends ChairsOptions, Omit<SintelOptions, 'split'> {
  kind?: DatasetKind;
  sintelSplit?: SintelOptions['split'];
}

/** Open any supported folder layout (detected unless `kind` is given). */
export async function openDataset(root: string, opts: OpenOptions = {}): Promise<PairDataset> {
  const kind = opts.kind ?? (await detectDataset(root));
  if (kind === 'chairs') return flyingChairs(root, opts);
  if (kind === 'sintel') return mpiSintel(root, { pass: opts.pass, split: opts.sintelSplit, scenes: opts.scenes, masks: opts.masks });
  if (kind === 'frames') return imageSequence(root);
  throw new UserError(`unknown dataset kind "${String(kind)}"`, 'use chairs, sintel or frames');
}
