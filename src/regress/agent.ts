// The board side of `flowfpga regress`: answers the host's requests (protocol.ts) by generating the inputs from
// seeds, running them on its engine (a RegressBoard, composed in src/cli), and returning digests and timings. The
// last case's tensors are kept so the host can ask for digests per channel / row and for a tile of a failing one.
import { CONTRACT_VERSION } from '../model/arch.js';
import type { QModel } from '../model/types.js';
import { UserError } from '../errors.js';
import type { GoldenCase, GoldenFile } from '../reference/golden.js';
import { randomFrames } from '../reference/random.js';
import { crc32 } from '../crc32.js';
import {
  PROTOCOL_VERSION, digest, goldenHash, modelHash, sweepModel, tensorBytes,
  type EngineIdentity, type GoldenAnswer, type GoldenRequest, type HelloAnswer, type NetworkAnswer, type NetworkRequest,
  type SumsAnswer, type SumsRequest, type TileAnswer, type TileRequest,
} from './protocol.js';
import { goldenShape } from './cases.js';

/** What the agent needs from a board: its identity, golden cases and whole networks on its engine. */
export interface RegressBoard {
  identity(): EngineIdentity;
  /** The case's output tensor from the engine, or a one-line reason it did not finish. */
  golden(gc: GoldenCase): Promise<Uint8Array | Int16Array | string>;
  /** Runs the network on `frames`; `onLayer` gets every layer's output (and 'output', the up4'd flow) as LE bytes. */
  network(model: QModel, h: number, w: number, frames: Uint8Array, onLayer: (name: string, out: Uint8Array, shape: TensorShape, cycles: number) => void): Promise<{ cycles: number }>;
  close(): Promise<void>;
}

/** A tensor's shape as kept: c × h × w elements of esize bytes (CHW). */
export interface TensorShape {
  c: number;
  h: number;
  w: number;
  esize: number;
}

interface Kept extends TensorShape {
  data: Uint8Array;
}

export interface AgentOptions {
  version: string;
  golden: { files: GoldenFile[]; source: string };
  /** Shipped models by name (loaded lazily by the caller's function). */
  models: Array<{ name: string; load: () => QModel }>;
  log?: (line: string) => void;
}

export class Agent {
  #kept = new Map<string, Kept>();
  #models = new Map<string, { model: QModel; hash: string }>();
  #goldenHash: string | undefined;

  constructor(readonly board: RegressBoard, readonly opts: AgentOptions) {}

  #model(name: string): { model: QModel; hash: string } {
    let m = this.#models.get(name);
    if (!m) {
      const entry = this.opts.models.find((x) => x.name === name);
      if (!entry) throw new UserError(`model '${name}' is not installed on the board`, 'install the same flowfpga version on the board');
      const model = entry.load();
      m = { model, hash: modelHash(model) };
      this.#models.set(name, m);
    }
    return m;
  }

  /** Dispatches one request (link.ts Handler). */
  async handle(msg: Record<string, unknown>): Promise<object> {
    this.opts.log?.(`request ${String(msg.op)}${msg.op === 'golden' ? ` ${String(msg.file)}` : ''}`);
    switch (msg.op) {
      case 'hello': return this.hello();
      case 'golden': return this.golden(msg as unknown as GoldenRequest);
      case 'network': return this.network(msg as unknown as NetworkRequest);
      case 'sums': return this.sums(msg as unknown as SumsRequest);
      case 'tile': return this.tile(msg as unknown as TileRequest);
      case 'bye': return {};
      default: throw new Error(`unknown request '${String(msg.op)}'`);
    }
  }

  hello(): HelloAnswer {
    this.#goldenHash ??= goldenHash(this.opts.golden.files);
    return {
      protocol: PROTOCOL_VERSION,
      contract: CONTRACT_VERSION,
      version: this.opts.version,
      engine: this.board.identity(),
      models: this.opts.models.map((e) => {
        const m = this.#model(e.name);
        return { name: e.name, hash: m.hash, size: m.model.nativeSize };
      }),
      golden: {
        hash: this.#goldenHash,
        source: this.opts.golden.source,
        files: this.opts.golden.files.map((f) => ({ op: f.cases[0]?.op ?? '', cases: f.cases.length })),
      },
    };
  }

  async golden(r: GoldenRequest): Promise<GoldenAnswer> {
    const file = this.opts.golden.files.find((f) => f.cases[0]?.op === r.file);
    if (!file) throw new Error(`no golden file for '${r.file}' on the board`);
    this.#kept.clear();
    const t0 = performance.now();
    const results: GoldenAnswer['results'] = [];
    for (const gc of file.cases) {
      const out = await this.board.golden(gc);
      if (typeof out === 'string') {
        results.push({ id: gc.id, error: out });
        continue;
      }
      const [c, h, w] = goldenShape(gc);
      this.#kept.set(gc.id, { data: tensorBytes(out).slice(), c, h, w, esize: out.BYTES_PER_ELEMENT });
      results.push({ id: gc.id, crc: digest(out) });
    }
    return { results, boardMs: performance.now() - t0 };
  }

  async network(r: NetworkRequest): Promise<NetworkAnswer> {
    const t0 = performance.now();
    const { model, hash } = 'shipped' in r.model ? this.#model(r.model.shipped) : (() => {
      const m = sweepModel(r.model.random);
      return { model: m, hash: modelHash(m) };
    })();
    const frames = randomFrames(r.h, r.w, r.seed);
    this.#kept.clear();
    const layers: NetworkAnswer['layers'] = [];
    let tl = performance.now();
    const { cycles } = await this.board.network(model, r.h, r.w, frames, (name, out, shape, cyc) => {
      this.#kept.set(name, { data: out.slice(), ...shape });
      const now = performance.now();
      layers.push({ name, crc: crc32(out), bytes: out.length, cycles: cyc, us: Math.round((now - tl) * 1000) });
      tl = now;
    });
    return { modelHash: hash, layers, boardMs: performance.now() - t0, cycles };
  }

  #get(key: string): Kept {
    const k = this.#kept.get(key);
    if (!k) throw new Error(`no kept tensor '${key}' (only the last case's tensors are kept)`);
    return k;
  }

  sums(r: SumsRequest): SumsAnswer {
    const k = this.#get(r.key);
    const plane = k.h * k.w * k.esize;
    const crcs: number[] = [];
    if (r.c === undefined) {
      for (let c = 0; c < k.c; c++) crcs.push(crc32(k.data.subarray(c * plane, (c + 1) * plane)));
    } else {
      const row = k.w * k.esize;
      for (let y = 0; y < k.h; y++) crcs.push(crc32(k.data.subarray(r.c * plane + y * row, r.c * plane + (y + 1) * row)));
    }
    return { crcs };
  }

  tile(r: TileRequest): TileAnswer {
    const k = this.#get(r.key);
    if (!(r.c >= 0 && r.c < k.c && r.y0 >= 0 && r.y0 < r.y1 && r.y1 <= k.h && r.x0 >= 0 && r.x0 < r.x1 && r.x1 <= k.w)) {
      throw new Error(`tile c${r.c} y${r.y0}..${r.y1} x${r.x0}..${r.x1} outside ${k.c}x${k.h}x${k.w}`);
    }
    const rowBytes = (r.x1 - r.x0) * k.esize;
    const out = new Uint8Array((r.y1 - r.y0) * rowBytes);
    for (let y = r.y0; y < r.y1; y++) {
      const at = ((r.c * k.h + y) * k.w + r.x0) * k.esize;
      out.set(k.data.subarray(at, at + rowBytes), (y - r.y0) * rowBytes);
    }
    return { esize: k.esize, data: Buffer.from(out).toString('base64') };
  }
}
