// flowToColor's fast path (the wheel position and the varying channel in double, trusted only away from integer
// boundaries; previous-pixel reuse) against the straightforward formula: Middlebury's max-radius normalisation, then
// computeColor() on every pixel.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeColor, flowToColor } from '../src/flow/colorwheel.js';
import { createFlow, UNKNOWN_FLOW_THRESH, type FlowField } from '../src/flow/flo.js';
import { Prng } from '../src/reference/prng.js';
import { tempDir } from './helpers/tmp.js';

const f32 = Math.fround;

/** MotionToColor written out plainly: no memo, no reuse. */
function straightforward(flow: FlowField, maxMotion = 0): { data: Uint8Array; maxRadius: number } {
  const n = flow.width * flow.height;
  const known = (i: number) => Math.abs(flow.u[i]) <= UNKNOWN_FLOW_THRESH && Math.abs(flow.v[i]) <= UNKNOWN_FLOW_THRESH;
  let maxrad = -1;
  for (let i = 0; i < n; i++) {
    if (!known(i)) continue;
    const fx = flow.u[i], fy = flow.v[i];
    maxrad = Math.max(maxrad, f32(Math.sqrt(f32(f32(fx * fx) + f32(fy * fy)))));
  }
  if (maxMotion > 0) maxrad = f32(maxMotion);
  if (maxrad === 0) maxrad = 1;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) if (known(i)) computeColor(flow.u[i] / maxrad, flow.v[i] / maxrad, data, 3 * i);
  return { data, maxRadius: maxrad < 0 ? 0 : maxrad };
}

function fieldOf(values: Array<[number, number]>): FlowField {
  const f = createFlow(values.length, 1);
  values.forEach(([u, v], i) => {
    f.u[i] = u;
    f.v[i] = v;
  });
  return f;
}

function same(t: { equal: (a: unknown, b: unknown, m?: string) => unknown }, flow: FlowField, what: string, maxMotion = 0): void {
  const got = flowToColor(flow, maxMotion ? { maxMotion } : {});
  const want = straightforward(flow, maxMotion);
  t.equal(got.maxRadius, want.maxRadius, `${what}: max radius`);
  const n = flow.width * flow.height;
  let bad = -1;
  for (let i = 0; i < 3 * n && bad < 0; i++) if (got.image.data[i] !== want.data[i]) bad = Math.floor(i / 3);
  t.equal(bad, -1, bad < 0 ? `${what}: ${n} pixels identical` : `${what}: pixel ${bad} (${flow.u[bad]}, ${flow.v[bad]}) differs`);
}

t.test('random vectors of many scales, with collisions in the memo', async (t) => {
  const r = new Prng(7);
  const uni = () => r.u32() / 2 ** 32;
  for (const scale of [1e-30, 1e-3, 1, 37.5, 1e4, 9e8]) {
    const f = createFlow(512, 300); // 153600 mostly distinct vectors: far more than the memo's slots
    for (let i = 0; i < f.u.length; i++) {
      f.u[i] = (uni() * 2 - 1) * scale;
      f.v[i] = (uni() * 2 - 1) * scale;
    }
    same(t, f, `uniform ±${scale}`);
    same(t, f, `uniform ±${scale}, maxMotion`, scale / 3); // darkened out-of-range colours too
  }
});

t.test('a dense sweep of angles at radii around the white/darkened switch: every byte and wheel seam crossed', async (t) => {
  // 2^17 angles per radius: the varying channel passes every byte value many times, so pixels land within the fast
  // path's margin of an integer on both sides, and fk crosses all 54 seams.
  const N = 1 << 17;
  for (const rad of [1e-7, 0.25, 0.5, f32(1 - 2 ** -24), 1, f32(1 + 2 ** -23), 1.5, 40]) {
    const f = createFlow(N, 1);
    for (let i = 0; i < N; i++) {
      const ang = (2 * Math.PI * i) / N + 1e-9 * (i % 7);
      f.u[i] = rad * Math.cos(ang);
      f.v[i] = rad * Math.sin(ang);
    }
    same(t, f, `radius ${rad}, normalised by 1`, 1);
  }
});

t.test('the maximum radius among vectors whose lengths differ by float32 roundings only', async (t) => {
  // Lengths within 2e-6 of each other (a few float32 steps): a cut-off that skips vectors too close to the running
  // maximum, or a maximum taken in double, picks the wrong vector.
  const r = new Prng(5);
  const f = createFlow(50000, 1);
  for (let i = 0; i < f.u.length; i++) {
    const ang = (r.u32() / 2 ** 32) * 2 * Math.PI;
    const len = 5 * (1 + ((r.u32() / 2 ** 32) - 0.5) * 4e-6);
    f.u[i] = len * Math.cos(ang);
    f.v[i] = len * Math.sin(ang);
  }
  same(t, f, 'near-equal lengths');
  for (let i = 0; i < f.u.length; i++) [f.u[i], f.v[i]] = [f.v[i], -f.u[i]];
  same(t, f, 'near-equal lengths, rotated');
});

t.test('engine-grid flow (int16 / 32) with runs and repeats, as the run loop produces', async (t) => {
  const r = new Prng(11);
  const f = createFlow(512, 384);
  for (let y = 0, i = 0; y < 384; y++) for (let x = 0; x < 512; x++, i++) {
    // blocks of 4 equal pixels along a row, a static band (zero flow) and a smooth field with noise
    const bx = x >> 2;
    if (y > 100 && y < 140) continue;
    f.u[i] = Math.round(32 * (3 * Math.sin(bx / 20) + 0.02 * y) + (r.u32() & 3)) / 32;
    f.v[i] = Math.round(32 * (-2 * Math.cos(y / 30) + 0.01 * bx)) / 32;
  }
  same(t, f, 'grid');
  same(t, f, 'grid, maxMotion 2', 2);
  // the same vectors at another maximum: a memo kept across frames would return the previous frame's colours
  for (let i = 0; i < f.u.length; i++) f.u[i] *= 2;
  same(t, f, 'grid, doubled');
});

t.test('one u with many v, one v with many u: keys that share half their bits collide in the memo', async (t) => {
  const f = createFlow(40000, 1);
  for (let i = 0; i < 20000; i++) {
    f.u[2 * i] = 1.5;
    f.v[2 * i] = (i % 2 ? -i : i) / 32;
    f.u[2 * i + 1] = ((i * 7919) % 20000) / 32;
    f.v[2 * i + 1] = -0.25;
  }
  same(t, f, 'shared u / shared v');
});

t.test('edge cases: signed zeros, unknown flow, the thresholds, wheel seams, max radius', async (t) => {
  const T = UNKNOWN_FLOW_THRESH;
  const vals: Array<[number, number]> = [
    [0, 0], [-0, 0], [0, -0], [-0, -0], [1, 0], [1, -0], [-1, 0], [-1, -0], [0, 1], [0, -1],
    [NaN, 0], [0, NaN], [NaN, NaN], [Infinity, 0], [0, -Infinity], [T, 0], [-T, T], [f32(T * 1.0000001), 0], [2e9, 1],
    [5, 0], [-5, 0], [0, 5], [3, 4], [-3, -4], [4, -3], [1e-45, -1e-45], [-1e-45, 1e-45],
    [1, 1], [1, 1], [1, 1], [NaN, 1], [1, 1], // a run broken by an unknown pixel
  ];
  // angles right at the wheel's colour boundaries fk = k (a = 2k/54 - 1) and just either side
  for (let k = 0; k <= 54; k++) {
    const ang = Math.PI * ((2 * k) / 54 - 1);
    for (const e of [-1e-7, 0, 1e-7]) vals.push([-Math.cos(ang + e) * 2.5, -Math.sin(ang + e) * 2.5]);
  }
  const f = fieldOf(vals);
  same(t, f, 'edge cases');
  same(t, f, 'edge cases, maxMotion 1', 1);
  same(t, f, 'edge cases, maxMotion 1e9', 1e9);
  // unknown pixels are black, and the longest known vector (|(3,4)| = 5) is the fully saturated colour
  const m = fieldOf([[1, 1], [NaN, 0], [3, 4], [5, 0], [2e9, 0]]);
  same(t, m, 'max radius');
  const r = flowToColor(m);
  t.equal(r.maxRadius, 5);
  t.same([...r.image.data.subarray(3, 6)], [0, 0, 0], 'NaN pixel is black');
  t.same([...r.image.data.subarray(9, 12)], [255, 0, 0], '(5, 0) at max radius: the pure wheel colour');
  t.same([...r.image.data.subarray(12, 15)], [0, 0, 0], 'unknown (> 1e9) pixel is black');
  // only unknown pixels: radius 0 reported, everything black
  const u = flowToColor(fieldOf([[NaN, 0], [2e9, 0]]));
  t.equal(u.maxRadius, 0);
  t.same([...u.image.data], [0, 0, 0, 0, 0, 0]);
});

const hasGxx = !spawnSync('g++', ['--version']).error;

t.test('200k vectors against the Middlebury C++ code compiled with g++', { skip: !hasGxx && 'g++ not installed' }, async (t) => {
  const dir = tempDir(t, 'cw-cpp-');
  const exe = join(dir, 'colorcode');
  const src = fileURLToPath(new URL('./middlebury-colorcode.cpp', import.meta.url));
  const cc = spawnSync('g++', ['-O2', '-o', exe, src], { encoding: 'utf8' });
  t.equal(cc.status, 0, cc.stderr);
  const r = new Prng(2026);
  const uni = () => r.u32() / 2 ** 32;
  const f = createFlow(500, 400);
  for (let i = 0; i < f.u.length; i++) {
    const kind = i % 4;
    if (kind === 0) { // engine grid
      f.u[i] = ((r.u32() % 1601) - 800) / 32;
      f.v[i] = ((r.u32() % 1201) - 600) / 32;
    } else if (kind === 1) { // uniform, large
      f.u[i] = (uni() * 2 - 1) * 40;
      f.v[i] = (uni() * 2 - 1) * 40;
    } else if (kind === 2) { // small, around the white centre
      f.u[i] = (uni() * 2 - 1) * 0.01;
      f.v[i] = (uni() * 2 - 1) * 0.01;
    } else { // axis-aligned, zeros, unknown
      const c = r.u32() % 6;
      f.u[i] = c === 0 ? 0 : c === 1 ? -0 : c === 2 ? NaN : c === 3 ? 3e9 : (uni() - 0.5) * 10;
      f.v[i] = c >= 4 ? 0 : (uni() - 0.5) * 10;
    }
  }
  for (const maxMotion of [0, 12]) {
    const n = f.u.length;
    const input = Buffer.alloc(8 + 8 * n);
    input.writeUInt32LE(n, 0);
    input.writeFloatLE(maxMotion, 4);
    for (let i = 0; i < n; i++) {
      input.writeFloatLE(f.u[i], 8 + 8 * i);
      input.writeFloatLE(f.v[i], 12 + 8 * i);
    }
    const run = spawnSync(exe, [], { input, maxBuffer: 16 << 20 });
    t.equal(run.status, 0, `colorcode ran (maxMotion ${maxMotion})`);
    const want = run.stdout as Buffer;
    const got = flowToColor(f, maxMotion ? { maxMotion } : {}).image.data;
    t.equal(want.length, got.length);
    let bad = -1;
    for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== want[i]) bad = Math.floor(i / 3);
    t.equal(bad, -1, bad < 0 ? `${n} pixels identical (maxMotion ${maxMotion})` : `pixel ${bad} (${f.u[bad]}, ${f.v[bad]}): C++ ${[...want.subarray(3 * bad, 3 * bad + 3)]}, TS ${[...got.subarray(3 * bad, 3 * bad + 3)]}`);
  }
});
