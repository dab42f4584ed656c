// bench/verify-reads.ts: what `--verify sample` reads back from DDR per frame, full-width FlowNetS-Q at 384x512 on
// each board's plan, and the cache maintenance around those reads on a non-coherent buffer:
//   read         — the executor's contiguous read() per tensor / channel / row (read-cost model);
//   window/cover — strided readWindow, each window invalidated over its covering range (or per plane) and cleaned
//                  afterwards (the former EngineDevice.readWindow);
//   window/walk  — strided readWindow through the production path (src/dma/window.ts readDmaWindow over a
//                  DmaAllocator): a read-only take of exactly the lines of the window's rows in one backend call
//                  that walks the window natively (AArch64 user-space `dc civac`, native/ffcache.c), hand-back
//                  without a clean;
//   view/walk    — the same maintenance, zero-copy (takeDmaWindow: the verifier computes from the DMA buffer's own
//                  view, CommandExecutor.viewWindow); the production path where the executor has it;
//   window/list  — the same lines as a range list built in JS, one call (DmaBackend.syncRangesForCpu);
//   window/perrange — every range a backend call (32-bit ARM libcma / sysfs): planWindowSync's choice.
// ms here: best frame (compute + copies + building the range lists; the maintenance itself is the estimate below).
// Run: node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/verify-reads.ts   (TS_NODE_TRANSPILE_ONLY=1)
import { flownetsQ } from '../src/model/arch.js';
import { BOARDS } from '../src/driver/boards.js';
import { configFromBoard } from '../src/scheduler/config.js';
import { planNetwork } from '../src/scheduler/plan.js';
import { costReport } from '../src/scheduler/cost.js';
import { DmaAllocator } from '../src/dma/allocator.js';
import type { DmaBackend, DmaRegion } from '../src/dma/types.js';
import { SYNC_CALL_BYTES, readDmaWindow, takeDmaWindow, windowLineRanges, windowReadState, windowSyncPerPlane } from '../src/dma/window.js';
import { packWindow } from '../src/scheduler/executor.js';
import { DEFAULT_SAMPLE, checkStep, type CheckStats, type DdrReadWindow, type DdrViews } from '../src/scheduler/verify.js';
import { randomModel } from '../src/reference/random.js';
import { Prng } from '../src/reference/prng.js';

const arch = flownetsQ();
const model = randomModel(arch, 1);
const ms = +(process.env.BENCH_MS ?? 1000);
// EngineDevice.syncCallBytes to model (default SYNC_CALL_BYTES).
const syncCall = +(process.env.SYNC_CALL_BYTES ?? SYNC_CALL_BYTES);
// A53 maintenance cost model (assumed, docs/verification.md): per backend call and per 64-byte line per operation.
const CALL_US = +(process.env.CALL_US ?? 1);
const LINE_NS = +(process.env.LINE_NS ?? 16);

interface Counts { calls: number; copied: number; syncs: number; inval: number; clean: number }

/** A non-coherent backend over one image: counts what the allocator asks of it (no real maintenance here). */
class CountingBackend implements DmaBackend {
  readonly name = 'counting';
  readonly coherent = false;
  c: Counts = { calls: 0, copied: 0, syncs: 0, inval: 0, clean: 0 };
  /** Off while timing: counting the lines is this bench's work, not the verifier's (on a board the native call walks them). */
  counting = true;
  syncRangesForCpu?: (region: DmaRegion, ranges: Uint32Array, count: number) => void;
  syncWindowForCpu?: (region: DmaRegion, o: number, p: number, ps: number, r: number, rs: number, rb: number) => number;
  readonly #scratch = new Uint32Array(1 << 16);
  constructor(readonly img: Uint8Array, list: boolean, walk = false) {
    if (walk) {
      this.syncWindowForCpu = (_r, o, p, ps, r, rs, rb) => {
        if (!this.counting) return 0;
        this.c.syncs++;
        const n = windowLineRanges(o, p, ps, r, rs, rb, img.length, this.#scratch);
        for (let i = 0; i < n; i++) this.c.inval += this.#scratch[2 * i + 1] / 64;
        return 0;
      };
    }
    if (list) {
      this.syncRangesForCpu = (_r, ranges, count) => {
        if (!this.counting) return;
        this.c.syncs++;
        for (let i = 0; i < count; i++) this.c.inval += lines(ranges[2 * i], ranges[2 * i + 1]);
      };
    }
  }
  alloc(): DmaRegion {
    return { phys: 0n, view: this.img, size: this.img.length };
  }
  free(): void {}
  syncForDevice(_r: DmaRegion, o: number, l: number): void {
    if (!this.counting) return;
    this.c.syncs++;
    this.c.clean += lines(o, l);
  }
  syncForCpu(_r: DmaRegion, o: number, l: number): void {
    if (!this.counting) return;
    this.c.syncs++;
    this.c.inval += lines(o, l);
  }
  available(): number {
    return 0;
  }
  close(): void {}
}

const lines = (o: number, l: number): number => (l === 0 ? 0 : Math.ceil((o + l) / 64) - Math.floor(o / 64));

for (const b of ['pynq-z2', 'ultra96v2', 'zcu104'] as const) {
  const plan = planNetwork(arch, 384, 512, configFromBoard(BOARDS[b]));
  const est = costReport(plan).total.est_ms;
  // One DDR image of random codes (values do not change the cost): static region, input and output regions all
  // based at 0, as the plan's command addresses are.
  const L = plan.layout;
  const size = Math.ceil(Math.max(L.staticBytes, L.inputBytes, L.outputBytes) / 64) * 64;
  const ddr = new Prng(5).fillInt(new Uint8Array(size), 0, 255);
  type Variant = 'read' | 'window/cover' | 'window/walk' | 'view/walk' | 'window/list' | 'window/perrange';
  const make = (v: Variant): { c: Counts; read: (a: number, n: number) => Uint8Array; readWindow?: DdrReadWindow; views?: DdrViews; stopCounting?: () => void } => {
    if (v === 'read' || v === 'window/cover') {
      const c: Counts = { calls: 0, copied: 0, syncs: 0, inval: 0, clean: 0 };
      // read() hands out views (free here; on a board a read-only take + copy of `n` bytes: counted).
      const read = (a: number, n: number): Uint8Array => {
        c.calls++;
        c.copied += n;
        c.syncs += 2;
        c.inval += lines(a, n);
        c.clean += lines(a, n);
        return ddr.subarray(a, a + n);
      };
      if (v === 'read') return { c, read };
      const readWindow: DdrReadWindow = (a, planes, ps, rows, rs, rb, out) => {
        const planeSpan = (rows - 1) * rs + rb;
        c.calls++;
        c.copied += planes * rows * rb;
        if (windowSyncPerPlane(planes, ps, planeSpan, syncCall)) {
          for (let p = 0; p < planes; p++) {
            c.syncs += 2;
            c.inval += lines(a + p * ps, planeSpan);
            c.clean += lines(a + p * ps, planeSpan);
          }
        } else {
          c.syncs += 2;
          const span = (planes - 1) * ps + planeSpan;
          c.inval += lines(a, span);
          c.clean += lines(a, span);
        }
        return packWindow(ddr, a, planes, ps, rows, rs, rb, out);
      };
      return { c, read, readWindow };
    }
    const backend = new CountingBackend(ddr, v === 'window/list', v === 'window/walk' || v === 'view/walk');
    const buf = new DmaAllocator(backend).alloc(size, { label: 'ddr' }).toDevice();
    backend.c.syncs = backend.c.clean = 0; // the one-time hand-over above is not per frame
    const st = windowReadState(syncCall);
    const c = backend.c;
    const read = (a: number, n: number): Uint8Array => ddr.subarray(a, a + n);
    const readWindow: DdrReadWindow = (a, planes, ps, rows, rs, rb, out) => {
      c.calls++;
      c.copied += planes * rows * rb;
      return readDmaWindow(backend, buf, a, planes, ps, rows, rs, rb, out, st);
    };
    const stopCounting = () => void (backend.counting = false);
    if (v === 'view/walk') {
      const views: DdrViews = {
        view: (a, planes, ps, rows, rs, rb) => {
          c.calls++;
          return takeDmaWindow(backend, buf, a, planes, ps, rows, rs, rb, st);
        },
        release: (a, span) => void buf.toDevice(a, span),
      };
      return { c, read, views, stopCounting };
    }
    return { c, read, readWindow, stopCounting };
  };
  const run = (v: Variant) => {
    const { c, read, readWindow, views, stopCounting } = make(v);
    const stats: CheckStats = { regions: 0, elements: 0, macs: 0 };
    const frame = (rng: Prng): void => {
      for (const step of plan.steps) {
        checkStep({ model, plan, step, mode: 'sample', sample: DEFAULT_SAMPLE, rng, read, readWindow, views,
          inAddr: (i) => plan.cmds[i].inAddr, outAddr: (i) => plan.cmds[i].outAddr, stats, lanes: { next: 0 } });
      }
    };
    // Counts: mean over 20 frames (regions are random); time: best frame over `ms`.
    const rng = new Prng(9);
    for (let f = 0; f < 20; f++) frame(rng);
    const n = { ...c };
    stopCounting?.();
    let best = Infinity;
    const t0 = performance.now();
    for (let f = 0; performance.now() - t0 < ms || f < 3; f++) {
      const t = performance.now();
      frame(rng);
      best = Math.min(best, performance.now() - t);
    }
    const per = (x: number) => x / 20;
    const maint = per(n.syncs) * CALL_US / 1000 + per(n.inval + n.clean) * LINE_NS / 1e6;
    return { calls: Math.round(per(n.calls)), copied_kb: +(per(n.copied) / 1024).toFixed(1), syncs: Math.round(per(n.syncs)),
      inval_mb: +(per(n.inval) * 64 / 1048576).toFixed(2), clean_mb: +(per(n.clean) * 64 / 1048576).toFixed(2),
      maint_ms_a53: +maint.toFixed(2), ms_here: best };
  };
  // Interleaved, twice each: this machine is shared.
  const only = process.env.VARIANTS?.split(',') as Variant[] | undefined;
  const vs: Variant[] = only ?? ['read', 'window/cover', 'window/walk', 'view/walk', 'window/list', 'window/perrange'];
  const r1 = vs.map(run), r2 = vs.map(run);
  const out: Record<string, unknown> = { board: b, est_ms: +est.toFixed(1) };
  vs.forEach((v, i) => (out[v] = { ...r1[i], ms_here: +Math.min(r1[i].ms_here, r2[i].ms_here).toFixed(3) }));
  console.log(JSON.stringify(out));
}
