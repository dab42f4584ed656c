// The run loop over FrameSources (runloop.ts) with an in-test fake source and the reference device: pairing,
// the copy rule (fitPlanes once per frame and pair, release after both pairs), observers, abort, and fitPlanes
// being bit-identical to fitImage + stackPair.
import t from 'tap';
import { flownetsQ } from '../src/model/arch.js';
import { randomModel } from '../src/reference/index.js';
import { RefFlowDevice, type FlowDevice, type InferResult } from '../src/device/index.js';
import { createImage, fitImage, flowFromFixed, flowToSource, planInput, stackPair, prepareInput, type InputMapping, type RgbImage } from '../src/flow/index.js';
import { fitPlanesFromRgb, imageFrame } from '../src/flow/fit.js';
import type { FrameSource, SourceFrame } from '../src/flow/source.js';
import { runLoop, sequenceFeed, type FrameEvent } from '../src/cli/runloop.js';
import { forward } from '../src/reference/forward.js';
import { Prng } from '../src/reference/prng.js';

function noise(w: number, h: number, seed: number): RgbImage {
  const img = createImage(w, h);
  const r = new Prng(seed);
  for (let i = 0; i < img.data.length; i++) img.data[i] = r.int(0, 255);
  return img;
}

t.test('fitPlanes equals fitImage + stackPair for every mode and scale', async (t) => {
  const cases: Array<[number, number, 'resize' | 'pad' | 'crop', number, number]> = [
    [100, 70, 'resize', 64, 128], [640, 480, 'resize', 192, 256], [512, 384, 'resize', 384, 512], [50, 30, 'pad', 64, 64],
    [200, 150, 'crop', 128, 192], [64, 64, 'pad', 64, 64], [33, 97, 'resize', 128, 64], [256, 192, 'resize', 384, 512],
    [37, 23, 'resize', 192, 64], [640, 480, 'resize', 384, 512],
  ];
  for (const [w, h, mode, nh, nw] of cases) {
    const a = noise(w, h, w * 7 + h);
    const b = noise(w, h, w * 11 + h);
    const map = planInput(w, h, { mode, height: nh, width: nw });
    const want = stackPair(fitImage(a, map), fitImage(b, map));
    const got = new Uint8Array(6 * nh * nw).fill(7);
    fitPlanesFromRgb(a, map, got, 0);
    fitPlanesFromRgb(b, map, got, 3 * nh * nw);
    t.same(Buffer.compare(Buffer.from(got), Buffer.from(want)), 0, `${w}x${h} ${mode} -> ${nh}x${nw}`);
    // prepareInput is these two calls (the refinement's second pass and the dataset jobs fit through it).
    const p = prepareInput(a, b, { mode, height: nh, width: nw });
    t.same([Buffer.compare(Buffer.from(p.data), Buffer.from(want)), p.width, p.height], [0, nw, nh], `prepareInput ${w}x${h} ${mode}`);
  }
  t.throws(() => fitPlanesFromRgb(noise(10, 10, 1), planInput(20, 10, { height: 64, width: 64 }), new Uint8Array(6 * 64 * 64), 0), /frame is 10x10, expected 20x10/);
});

/** A frame sequence from memory that records fitPlanes/release calls (what a camera's buffers would see). */
class FakeSource implements FrameSource {
  readonly description = 'fake camera';
  fits: number[] = [];
  released: number[] = [];
  held = new Set<number>();
  maxHeld = 0;
  closed = 0;
  #i = 0;
  constructor(readonly frames: RgbImage[], readonly length?: number, readonly width = frames[0].width, readonly height = frames[0].height) {}
  async next(): Promise<SourceFrame | null> {
    if (this.#i >= this.frames.length) return null;
    const i = this.#i++;
    const inner = imageFrame(this.frames[i], i, i * 33);
    this.held.add(i);
    this.maxHeld = Math.max(this.maxHeld, this.held.size);
    let released = false;
    return {
      index: i, width: inner.width, height: inner.height, timestampMs: inner.timestampMs,
      fitPlanes: (m: InputMapping, d: Uint8Array, o: number) => {
        if (released) throw new Error(`frame ${i} fitted after release`);
        this.fits.push(i);
        inner.fitPlanes(m, d, o);
      },
      rgb: () => inner.rgb(),
      release: () => {
        if (released) return;
        released = true;
        this.released.push(i);
        this.held.delete(i);
        inner.release();
      },
    };
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const model = randomModel(flownetsQ({ width: 1 / 16 }), 5);
model.nativeSize = [64, 64];

t.test('frames are paired consecutively, each fitted twice, released after its second pair; flow = reference', async (t) => {
  const frames = [0, 1, 2, 3, 4].map((i) => noise(80, 60, 100 + i));
  const src = new FakeSource(frames, frames.length);
  const device = new RefFlowDevice();
  const events: Array<{ id: string; i1: number; i2: number; pixels: number; flow: number; files: number }> = [];
  const ends: number[] = [];
  const s = await runLoop(device, model, sequenceFeed(src), {
    fit: 'resize', size: [64, 64], policy: 'log',
    observers: [{
      onFrame: (e: FrameEvent) => {
        events.push({ id: e.id, i1: e.first.index, i2: e.second.index, pixels: e.first.rgb().data.length, flow: e.flow!.width, files: e.files.length });
        // Reference flow for the same pair through the ordinary path.
        const inp = prepareInput(frames[e.first.index], frames[e.second.index], { mode: 'resize', height: 64, width: 64 });
        const ref = forward(model, inp.data, 64, 64);
        t.same(Buffer.compare(Buffer.from(e.infer.flow.buffer), Buffer.from(ref.flow.buffer)), 0, `pair ${e.id} bit-identical`);
        t.ok(e.timings.fps > 0 && e.timings.totalMs >= 0);
      },
      onEnd: (r) => void ends.push(r.pairs),
    }],
  });
  t.same(events.map((e) => [e.i1, e.i2]), [[0, 1], [1, 2], [2, 3], [3, 4]]);
  t.same(events.map((e) => e.id), ['000000', '000001', '000002', '000003']);
  t.equal(events[0].pixels, 80 * 60 * 3, 'rgb() gives the frame at its own size');
  t.equal(events[0].flow, 80, 'flow at the frame resolution');
  t.same(src.fits, [0, 1, 2, 3, 4], 'each frame fitted once: for its second pair its planes move within the input');
  t.same(src.released, [0, 1, 2, 3, 4], 'released in order');
  t.ok(src.maxHeld <= 3, `at most 3 frames held at once (${src.maxHeld}): a camera with 3 buffers suffices`);
  t.ok(src.closed >= 1, 'source closed');
  t.same(ends, [4]);
  t.equal(s.pairs, 4);
  t.equal(s.computed, 4);
});

t.test('maxFrames / maxPairs limit what is taken; an observer error stops the run and still closes the source', async (t) => {
  const frames = [0, 1, 2, 3, 4, 5].map((i) => noise(64, 64, i));
  const a = new FakeSource(frames);
  const fa = sequenceFeed(a, { maxFrames: 3 });
  t.equal(fa.pairs, 2);
  const sa = await runLoop(new RefFlowDevice(), model, fa, { fit: 'resize', size: [64, 64], policy: 'log' });
  t.equal(sa.pairs, 2);
  t.ok(a.fits.every((i) => i < 3), 'no fourth frame fitted');
  const b = new FakeSource(frames);
  const sb = await runLoop(new RefFlowDevice(), model, sequenceFeed(b, { maxPairs: 1 }), { fit: 'resize', size: [64, 64], policy: 'log' });
  t.equal(sb.pairs, 1);
  const c = new FakeSource(frames);
  await t.rejects(runLoop(new RefFlowDevice(), model, sequenceFeed(c), {
    fit: 'resize', size: [64, 64], policy: 'log', observers: [{ onFrame: () => { throw new Error('disk full'); } }],
  }), /disk full/);
  t.ok(c.closed >= 1, 'closed after the error');
  t.same(c.released.sort(), [0, 1], 'the frames of the failed pair are released');
});

t.test('abort: a pending source wait ends, the pair in flight completes, stoppedBy is set', async (t) => {
  const frames = [0, 1, 2].map((i) => noise(64, 64, i));
  const src = new FakeSource(frames);
  // After the frames, next() never resolves (a live camera with no new frame).
  let calls = 0;
  // The pending wait rejects when the source is closed (a camera's poll after close): must not surface.
  let failWait: ((e: Error) => void) | undefined;
  const live: FrameSource = {
    description: 'live', width: 64, height: 64,
    next: () => (calls++ < frames.length ? src.next() : new Promise((_, rej) => (failWait = rej))),
    close: async () => {
      failWait?.(new Error('device closed'));
      await src.close();
    },
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  const ac = new AbortController();
  const s = await runLoop(new RefFlowDevice(), model, sequenceFeed(live), {
    fit: 'resize', size: [64, 64], policy: 'log', signal: ac.signal,
    observers: [{ onFrame: (e) => { if (e.index === 1) setTimeout(() => ac.abort('SIGINT'), 1); } }],
  });
  t.equal(s.pairs, 2);
  t.equal(s.stoppedBy, 'SIGINT');
  t.ok(src.closed >= 1);
  await new Promise((r) => setImmediate(r)); // unhandled rejections are reported after the microtask queue drains
  t.same(unhandled, [], 'the abandoned wait rejecting after close is not an unhandled rejection');
});

/** A device whose verification always fails (as the engine reports it under a policy). */
class FailingDevice implements FlowDevice {
  readonly caps = { kind: 'emu' as const, description: 'always-mismatching engine' };
  #ref = new RefFlowDevice();
  constructor(readonly policy: 'log' | 'drop' | 'rerun') {}
  load(m: typeof model, h: number, w: number) { return this.#ref.load(m, h, w); }
  async infer(f: Uint8Array): Promise<InferResult> {
    const r = await this.#ref.infer(f);
    const wrong = r.flow.slice();
    for (let i = 0; i < wrong.length; i++) wrong[i] ^= 1;
    return { ...r, flow: wrong, verify: { mode: 'sample', regions: 3, macs: 1, ms: 0, mismatches: 2, dropped: this.policy !== 'log', reruns: this.policy === 'rerun' ? 1 : 0 } };
  }
  close() { return this.#ref.close(); }
}

t.test('policies: drop delivers nothing, rerun recomputes on the reference, log keeps the engine output', async (t) => {
  const frames = [0, 1, 2].map((i) => noise(64, 64, 40 + i));
  for (const policy of ['drop', 'rerun', 'log'] as const) {
    const got: FrameEvent[] = [];
    // e.flow is valid during onFrame only (its planes take the next pair's flow): keep a copy
    const copy = (e: FrameEvent): FrameEvent => ({ ...e, flow: e.flow && { ...e.flow, u: e.flow.u.slice(), v: e.flow.v.slice() } });
    const s = await runLoop(new FailingDevice(policy), model, sequenceFeed(new FakeSource(frames)), {
      fit: 'resize', size: [64, 64], policy, observers: [{ onFrame: (e) => void got.push(copy(e)) }],
    });
    t.equal(s.computed, 2, policy);
    t.equal(s.mismatchPairs, 2, policy);
    if (policy === 'drop') {
      t.equal(s.pairs, 0);
      t.equal(s.dropped, 2);
      t.ok(got.every((e) => e.flow === undefined && e.verify.state === 'dropped'));
    } else if (policy === 'rerun') {
      t.equal(s.pairs, 2);
      t.equal(s.recomputed, 2);
      const inp = prepareInput(frames[0], frames[1], { height: 64, width: 64 });
      const ref = forward(model, inp.data, 64, 64);
      const refFlow = (await import('../src/flow/index.js')).flowFromFixed(ref.flow, 64, 64, model.arch.flowFracBits);
      t.same(Array.from(got[0].flow!.u.slice(0, 50)), Array.from(refFlow.u.slice(0, 50)), 'the reference flow, not the engine one');
      t.equal(got[0].verify.state, 'recomputed');
    } else {
      t.equal(s.pairs, 2);
      t.equal(got[0].verify.state, 'mismatch');
    }
  }
});

t.test("e.flow's planes take the next pair's flow once the observers have returned (no fresh planes per pair)", async (t) => {
  const frames = [0, 1, 2, 3].map((i) => noise(80, 60, 300 + i));
  const planes: Float32Array[] = [];
  const s = await runLoop(new RefFlowDevice(), model, sequenceFeed(new FakeSource(frames)), {
    fit: 'resize', size: [64, 64], policy: 'log',
    observers: [{
      onFrame: (e) => {
        planes.push(e.flow!.u);
        // the values are this pair's, whatever the planes held before
        const inp = prepareInput(frames[e.first.index], frames[e.second.index], { mode: 'resize', height: 64, width: 64 });
        const ref = forward(model, inp.data, 64, 64);
        const want = flowToSource(flowFromFixed(ref.flow, 64, 64, model.arch.flowFracBits), planInput(80, 60, { mode: 'resize', height: 64, width: 64 }));
        t.same(Buffer.compare(Buffer.from(e.flow!.u.buffer, e.flow!.u.byteOffset, 4 * 80 * 60), Buffer.from(want.u.buffer, want.u.byteOffset, 4 * 80 * 60)), 0, `pair ${e.id} u`);
        t.same(Buffer.compare(Buffer.from(e.flow!.v.buffer, e.flow!.v.byteOffset, 4 * 80 * 60), Buffer.from(want.v.buffer, want.v.byteOffset, 4 * 80 * 60)), 0, `pair ${e.id} v`);
      },
    }],
  });
  t.equal(s.pairs, 3);
  t.equal(planes[1], planes[0], 'the second pair reuses the first pair\'s planes');
  t.equal(planes[2], planes[0]);
});
