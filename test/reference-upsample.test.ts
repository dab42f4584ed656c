import t from 'tap';
import { up2, up4, naiveUpsample, upsampleRegion, Prng } from '../src/reference/index.js';

t.test('up2 of a 1x2 map, worked by hand', async (t) => {
  // Cols: i=0 -> 1·in[0](clamped j−1) + 3·in[0]; i=1 -> 3·in[0] + 1·in[1]; i=2 -> 1·in[0] + 3·in[1]; i=3 -> 3·in[1] + 1·in[1].
  // Rows all sample row 0 (weights sum 4). With in = [0, 4]: (4·{0, 4, 12, 16} + 8) >> 4 = 0, 1, 3, 4.
  t.same(Array.from(up2(Uint8Array.from([0, 4]), 1, 1, 2)), [0, 1, 3, 4, 0, 1, 3, 4]);
  // 2x1 column [10, 20]: rows 10, (3·10 + 20)/4 = 12.5 -> 13 (half up), (10 + 60)/4 = 17.5 -> 18, 20.
  t.same(Array.from(up2(Uint8Array.from([10, 20]), 1, 2, 1)), [10, 10, 13, 13, 18, 18, 20, 20]);
});

t.test('up4 of int16 flow, worked by hand, including arithmetic floor below zero', async (t) => {
  // Weights in eighths per phase r: (3,5) (1,7) (7,1) (5,3); rows contribute a factor 8. in = [0, 8]:
  // i: 0 -> 0; 1 -> 0; 2 -> 8·8 = 64 -> (64+32)>>6 = 1; 3 -> 8·24 -> 3; 4 -> 8·40 -> 5; 5 -> 8·56 -> 7; 6, 7 -> 8.
  t.same(Array.from(up4(Int16Array.from([0, 8]), 1, 1, 2)).slice(0, 8), [0, 0, 1, 3, 5, 7, 8, 8]);
  // in = [−4, 0]: real values −4, −4, −3.5, −2.5, −1.5, −0.5, 0, 0 round half up to −4, −4, −3, −2, −1, 0, 0, 0.
  t.same(Array.from(up4(Int16Array.from([-4, 0]), 1, 1, 2)).slice(0, 8), [-4, -4, -3, -2, -1, 0, 0, 0]);
  // Extremes stay in int16: a constant −32768 map is unchanged.
  t.ok(up4(Int16Array.from([-32768, -32768]), 1, 1, 2).every((v) => v === -32768));
});

t.test('constant maps stay constant', async (t) => {
  for (const v of [0, 1, 77, 255]) t.ok(up2(new Uint8Array(3 * 5 * 4).fill(v), 3, 5, 4).every((x) => x === v), `up2 ${v}`);
  for (const v of [-32768, -5, 0, 3, 32767]) t.ok(up4(new Int16Array(2 * 3 * 7).fill(v), 2, 3, 7).every((x) => x === v), `up4 ${v}`);
});

t.test('up2 and up4 equal the source-coordinate formula on random maps', async (t) => {
  const rng = new Prng(21);
  for (let i = 0; i < 20; i++) {
    const [c, h, w] = [rng.int(1, 3), rng.int(1, 7), rng.int(1, 7)];
    const a = rng.fillInt(new Uint8Array(c * h * w), 0, 255);
    t.same(Array.from(up2(a, c, h, w)), naiveUpsample(2, a, c, h, w), `up2 ${c}x${h}x${w}`);
    const f = rng.fillInt(new Int16Array(c * h * w), -32768, 32767);
    t.same(Array.from(up4(f, c, h, w)), naiveUpsample(4, f, c, h, w), `up4 ${c}x${h}x${w}`);
  }
});

t.test('regions of up2 equal the whole, and channel offsets land in a concatenation buffer', async (t) => {
  const rng = new Prng(4);
  const [c, h, w] = [2, 5, 6];
  const a = rng.fillInt(new Uint8Array(c * h * w), 0, 63);
  const whole = up2(a, c, h, w);
  for (let i = 0; i < 20; i++) {
    const r0 = rng.int(0, 2 * h - 1);
    const r1 = rng.int(r0 + 1, 2 * h);
    const q0 = rng.int(0, 2 * w - 1);
    const q1 = rng.int(q0 + 1, 2 * w);
    const out = new Uint8Array(c * (r1 - r0) * (q1 - q0));
    upsampleRegion(2, c, { data: a, base: 0, plane: h * w, row: w, y0: 0, x0: 0, h, w }, r0, r1, q0, q1,
      { data: out, base: 0, plane: (r1 - r0) * (q1 - q0), row: q1 - q0 });
    let bad = 0;
    for (let ch = 0; ch < c; ch++) {
      for (let y = r0; y < r1; y++) {
        for (let x = q0; x < q1; x++) if (out[(ch * (r1 - r0) + y - r0) * (q1 - q0) + x - q0] !== whole[(ch * 2 * h + y) * 2 * w + x]) bad++;
      }
    }
    t.equal(bad, 0, `region ${r0}..${r1} x ${q0}..${q1}`);
  }
  const cat = new Uint8Array(5 * 4 * h * w).fill(9);
  up2(a, c, h, w, cat, 3, 5);
  t.same(cat.subarray(3 * 4 * h * w), whole);
  t.ok(cat.subarray(0, 3 * 4 * h * w).every((v) => v === 9));
  t.throws(() => up2(a, c, h, w, cat, 4, 5), /offset/);
});

t.test('small regions over many channels (per-pixel tap tables) equal the naive formula, u8 and int16, from a patch', async (t) => {
  const rng = new Prng(41);
  let bad = 0;
  for (let i = 0; i < 80; i++) {
    const f = i % 2 === 0 ? 2 : 4;
    const c = rng.int(2, 6), h = rng.int(1, 7), w = rng.int(1, 7);
    const i16 = f === 4;
    const input = i16 ? rng.fillInt(new Int16Array(c * h * w), -32768, 32767) : rng.fillInt(new Uint8Array(c * h * w), 0, 255);
    const want = naiveUpsample(f, input, c, h, w);
    const H = f * h, W = f * w;
    const r0 = rng.int(0, H - 1), q0 = rng.int(0, W - 1);
    const r1 = rng.int(r0 + 1, Math.min(H, r0 + 8)), q1 = rng.int(q0 + 1, Math.min(W, q0 + 8));
    // Source patch: the rows/cols the region's taps read (clamped), as a verifier fetches it.
    const sy0 = Math.max(0, Math.floor(r0 / f) - 1), sy1 = Math.min(h, Math.floor((r1 - 1) / f) + 2);
    const sx0 = Math.max(0, Math.floor(q0 / f) - 1), sx1 = Math.min(w, Math.floor((q1 - 1) / f) + 2);
    const ph = sy1 - sy0, pw = sx1 - sx0;
    const patch = i16 ? new Int16Array(c * ph * pw) : new Uint8Array(c * ph * pw);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) patch[(ch * ph + y) * pw + x] = input[(ch * h + sy0 + y) * w + sx0 + x];
    }
    const nr = r1 - r0, nq = q1 - q0;
    const out = i16 ? new Int16Array(c * nr * nq) : new Uint8Array(c * nr * nq);
    upsampleRegion<Uint8Array | Int16Array>(f, c, { data: patch, base: 0, plane: ph * pw, row: pw, y0: sy0, x0: sx0, h, w },
      r0, r1, q0, q1, { data: out, base: 0, plane: nr * nq, row: nq });
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < nr; y++) {
        for (let x = 0; x < nq; x++) if (out[(ch * nr + y) * nq + x] !== want[(ch * H + r0 + y) * W + q0 + x]) bad++;
      }
    }
  }
  t.equal(bad, 0, 'every element matches');
});
