import t from 'tap';
import { conv, convInputWindow, convTile, convTileWindow, convOutSize, naiveConv, Prng } from '../src/reference/index.js';
import type { ConvSpec } from '../src/reference/index.js';
import type { QLayerParams } from '../src/model/types.js';

const params = (weights: number[], mult: number[], shift: number[], bias: number[]): QLayerParams => ({
  weights: Int8Array.from(weights), mult: Int16Array.from(mult), shift: Uint8Array.from(shift), bias: Float64Array.from(bias),
});
const relu = (cin: number, cout: number, k: number, stride: number, bits = 8): ConvSpec => ({ cin, cout, k, stride, mode: 'relu', bits });

t.test('3x3 conv of a 3x3 ramp, worked by hand (zero padding at every border)', async (t) => {
  const input = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Ones kernel: each output is the sum of its in-range 3x3 neighbourhood.
  const sums = [12, 21, 16, 27, 45, 33, 24, 39, 28];
  t.same(Array.from(conv(relu(1, 1, 3, 1), params(Array(9).fill(1), [1], [0], [0]), input, 3, 3)), sums);
  // M = 3, S = 2, B = 2 (the 2^(S-1) rounding constant): q = floor((3·acc + 2)/4), clipped to 5 bits (31).
  // t = [38, 65, 50, 83, 137, 101, 74, 119, 86] -> [9, 16, 12, 20, 34->31, 25, 18, 29, 21]
  t.same(Array.from(conv(relu(1, 1, 3, 1, 5), params(Array(9).fill(1), [3], [2], [2]), input, 3, 3)),
    [9, 16, 12, 20, 31, 25, 18, 29, 21]);
});

t.test('stride 2 picks every other pixel; ReLU clips negatives', async (t) => {
  const input = Uint8Array.from({ length: 16 }, (_, i) => i + 1); // 4x4, 1..16
  const centre = [0, 0, 0, 0, 1, 0, 0, 0, 0];
  // Hout = floor((4 + 2 - 3)/2) + 1 = 2: samples rows/cols 0 and 2 -> 1, 3, 9, 11.
  t.same(Array.from(conv(relu(1, 1, 3, 2), params(centre, [1], [0], [0]), input, 4, 4)), [1, 3, 9, 11]);
  // Weight −1, B = 10: 10 − x -> 9, 7, 1, −1 -> 0.
  t.same(Array.from(conv(relu(1, 1, 3, 2), params(centre.map((v) => -v), [1], [0], [10]), input, 4, 4)), [9, 7, 1, 0]);
});

t.test('the shift floors below zero and the flow head clamps to int16', async (t) => {
  const lin = (cout: number): ConvSpec => ({ cin: 1, cout, k: 1, stride: 1, mode: 'linear', bits: 16 });
  // acc = 3·(−1) = −3; −3 >> 1 = −2 (floor), not −1 (truncation).
  t.same(Array.from(conv(lin(1), params([-1], [1], [1], [0]), Uint8Array.from([3]), 1, 1)), [-2]);
  // acc = 255·127; M = 32767 -> t ≈ 1.06e9 -> 32767; negated -> −32768; small ones pass through.
  const out = conv(lin(3), params([127, -127, 1], [32767, 32767, 1], [0, 0, 0], [0, 0, -5]), Uint8Array.from([255]), 1, 1);
  t.ok(out instanceof Int16Array);
  t.same(Array.from(out), [32767, -32768, 250]);
  // A bias of −2^50 with S = 50 gives exactly −1 (acc = 0).
  t.same(Array.from(conv(lin(1), params([0], [1], [50], [-(2 ** 50)]), Uint8Array.from([9]), 1, 1)), [-1]);
});

t.test('1x1 identity conv round-trips codes at every bit width', async (t) => {
  const rng = new Prng(7);
  for (let bits = 2; bits <= 8; bits++) {
    const c = 3;
    const input = rng.fillInt(new Uint8Array(c * 5 * 6), 0, 2 ** bits - 1);
    const eye = Array.from({ length: c * c }, (_, i) => (i % (c + 1) === 0 ? 1 : 0));
    t.same(conv(relu(c, c, 1, 1, bits), params(eye, [1, 1, 1], [0, 0, 0], [0, 0, 0]), input, 5, 6), input);
    // Same identity with M = 16, S = 4 and the rounding constant 8.
    t.same(conv(relu(c, c, 1, 1, bits), params(eye, [16, 16, 16], [4, 4, 4], [8, 8, 8]), input, 5, 6), input);
  }
});

t.test('zero weights give the offset alone', async (t) => {
  const input = new Prng(3).fillInt(new Uint8Array(2 * 4 * 4), 0, 255);
  // q = B >> S: 100 >> 2 = 25; −7 >> 0 -> clamp 0; 5000 >> 3 = 625 -> clamp 63 (6 bits).
  const out = conv(relu(2, 3, 3, 1, 6), params(Array(3 * 2 * 9).fill(0), [123, -5, 32767], [2, 0, 3], [100, -7, 5000]), input, 4, 4);
  t.same(Array.from(out), [...Array(16).fill(25), ...Array(16).fill(0), ...Array(16).fill(63)]);
});

function randomCase(rng: Prng, upsample: boolean, mode: 'relu' | 'linear' = 'relu') {
  const k = rng.pick([1, 3, 5, 7]);
  const stride = upsample ? 1 : rng.pick([1, 2]);
  const spec: ConvSpec = { cin: rng.int(1, 4), cout: rng.int(1, 5), k, stride, mode, bits: rng.int(2, 8), upsampleInput: upsample };
  const h = rng.int(1, 9);
  const w = rng.int(1, 9);
  const bitsIn = rng.int(2, 8);
  const bitsW = rng.int(2, 8);
  const input = rng.fillInt(new Uint8Array(spec.cin * h * w), 0, 2 ** bitsIn - 1);
  const weights = rng.fillInt(new Int8Array(spec.cout * spec.cin * k * k), -(2 ** (bitsW - 1)), 2 ** (bitsW - 1) - 1);
  const mult = rng.fillInt(new Int16Array(spec.cout), -32767, 32767);
  const shift = rng.fillInt(new Uint8Array(spec.cout), 10, 24);
  const bias = Float64Array.from({ length: spec.cout }, (_, i) => Math.round((rng.next() - 0.3) * 2 ** shift[i] * 100));
  return { spec, h, w, input, p: { weights, mult, shift, bias } };
}

t.test('conv equals the naive BigInt oracle on random shapes, both modes, with fused up2', async (t) => {
  const rng = new Prng(11);
  for (let i = 0; i < 60; i++) {
    const c = randomCase(rng, i % 3 === 2, i % 4 === 3 ? 'linear' : 'relu');
    const got = conv(c.spec, c.p, c.input, c.h, c.w);
    let input: ArrayLike<number> = c.input;
    let [h, w] = [c.h, c.w];
    if (c.spec.upsampleInput) {
      const { naiveUpsample } = await import('../src/reference/naive.js');
      input = naiveUpsample(2, c.input, c.spec.cin, c.h, c.w);
      [h, w] = [2 * h, 2 * w];
    }
    const want = naiveConv({ input, cin: c.spec.cin, h, w, cout: c.spec.cout, k: c.spec.k, stride: c.spec.stride,
      ...c.p, mode: c.spec.mode, bits: c.spec.bits });
    t.same(Array.from(got), want.out, `case ${i}: k${c.spec.k} s${c.spec.stride} ${c.h}x${c.w} up=${!!c.spec.upsampleInput}`);
  }
});

t.test('tiles (random, and every border row/col) equal the whole layer', async (t) => {
  const rng = new Prng(5);
  for (let i = 0; i < 40; i++) {
    const c = randomCase(rng, i % 2 === 1);
    const [ho, wo] = convOutSize(c.spec, c.h, c.w);
    const whole = conv(c.spec, c.p, c.input, c.h, c.w);
    const tiles: Array<[number, number, number, number]> = [
      [0, 1, 0, wo], [ho - 1, ho, 0, wo], [0, ho, 0, 1], [0, ho, wo - 1, wo], // the four borders
    ];
    for (let j = 0; j < 4; j++) {
      const y0 = rng.int(0, ho - 1);
      const x0 = rng.int(0, wo - 1);
      tiles.push([y0, rng.int(y0 + 1, ho), x0, rng.int(x0 + 1, wo)]);
    }
    for (const [y0, y1, x0, x1] of tiles) {
      const m0 = rng.int(0, c.spec.cout - 1);
      const m1 = rng.int(m0 + 1, c.spec.cout);
      // Into a full-size buffer...
      const full = new Uint8Array(whole.length).fill(77);
      convTile(c.spec, c.p, c.input, c.h, c.w, { y0, y1, x0, x1, m0, m1 }, full);
      // ...and into a tile-local one (origin at the tile, only its channels).
      const th = y1 - y0;
      const tw = x1 - x0;
      const local = new Uint8Array((m1 - m0) * th * tw);
      convTile(c.spec, c.p, c.input, c.h, c.w, { y0, y1, x0, x1, m0, m1 }, local,
        { channelsTotal: m1 - m0, channelOffset: -m0, h: th, w: tw, originY: y0, originX: x0 });
      let bad = 0;
      for (let m = 0; m < c.spec.cout; m++) {
        for (let y = 0; y < ho; y++) {
          for (let x = 0; x < wo; x++) {
            const inside = m >= m0 && m < m1 && y >= y0 && y < y1 && x >= x0 && x < x1;
            const idx = (m * ho + y) * wo + x;
            if (full[idx] !== (inside ? whole[idx] : 77)) bad++;
            if (inside && local[((m - m0) * th + (y - y0)) * tw + (x - x0)] !== whole[idx]) bad++;
          }
        }
      }
      if (bad) t.fail(`case ${i} tile ${y0}..${y1} x ${x0}..${x1} ch ${m0}..${m1}: ${bad} wrong`);
    }
  }
  t.pass('all tiles match');
});

t.test('channel offset writes only the owned channels of a concatenation buffer', async (t) => {
  const c = randomCase(new Prng(9), false);
  const [ho, wo] = convOutSize(c.spec, c.h, c.w);
  const plane = ho * wo;
  const total = c.spec.cout + 3;
  const buf = new Uint8Array(total * plane).fill(0xa5);
  conv(c.spec, c.p, c.input, c.h, c.w, buf, { channelsTotal: total, channelOffset: 2 });
  const alone = conv(c.spec, c.p, c.input, c.h, c.w);
  t.same(buf.subarray(2 * plane, (2 + c.spec.cout) * plane), alone);
  t.ok(buf.subarray(0, 2 * plane).every((v) => v === 0xa5));
  t.ok(buf.subarray((2 + c.spec.cout) * plane).every((v) => v === 0xa5));
});

t.test('bad arguments are rejected with a clear message', async (t) => {
  const p = params(Array(9).fill(1), [1], [0], [0]);
  const input = new Uint8Array(9);
  t.throws(() => conv({ ...relu(1, 1, 3, 1), k: 4 }, p, input, 3, 3), /kernel 4/);
  t.throws(() => conv({ ...relu(1, 1, 3, 1), stride: 3 }, p, input, 3, 3), /stride 3/);
  t.throws(() => conv(relu(2, 1, 3, 1), p, input, 3, 3), /weights have 9 codes/);
  t.throws(() => conv(relu(1, 1, 3, 1), p, new Uint8Array(4), 3, 3), /input has 4 codes/);
  t.throws(() => convTile(relu(1, 1, 3, 1), p, input, 3, 3, { y0: 0, y1: 4, x0: 0, x1: 1, m0: 0, m1: 1 }, new Uint8Array(9)), /outside/);
  t.throws(() => conv(relu(1, 1, 3, 1), p, input, 3, 3, new Int16Array(9)), /Uint8Array/);
  t.throws(() => conv(relu(1, 1, 3, 1), p, input, 3, 3, new Uint8Array(9), { channelsTotal: 1, channelOffset: 1 }), /channels/);
});

t.test('convTileWindow from just the input window convInputWindow names equals convTile', async (t) => {
  const rng = new Prng(23);
  let bad = 0;
  for (let i = 0; i < 60; i++) {
    const c = randomCase(rng, i % 3 === 1, i % 4 === 3 ? 'linear' : 'relu');
    const [ho, wo] = convOutSize(c.spec, c.h, c.w);
    const y0 = rng.int(0, ho - 1), x0 = rng.int(0, wo - 1);
    const tile = { y0, y1: rng.int(y0 + 1, Math.min(ho, y0 + 3)), x0, x1: rng.int(x0 + 1, Math.min(wo, x0 + 5)), m0: 0, m1: c.spec.cout };
    const n = c.spec.cout * ho * wo;
    const want = c.spec.mode === 'linear' ? new Int16Array(n) : new Uint8Array(n);
    convTile(c.spec, c.p, c.input, c.h, c.w, tile, want);
    // The window, copied into a larger buffer at an offset with padded rows/planes (strided access).
    const win = convInputWindow(c.spec, c.h, c.w, tile);
    const wh = win.y1 - win.y0, ww = win.x1 - win.x0, row = ww + 3, plane = wh * row + 5, base = 7;
    const data = new Uint8Array(base + c.spec.cin * plane).fill(201);
    for (let ci = 0; ci < c.spec.cin; ci++) {
      for (let y = 0; y < wh; y++) {
        for (let x = 0; x < ww; x++) data[base + ci * plane + y * row + x] = c.input[(ci * c.h + win.y0 + y) * c.w + win.x0 + x];
      }
    }
    const got = c.spec.mode === 'linear' ? new Int16Array(n) : new Uint8Array(n);
    convTileWindow(c.spec, c.p, { data, base, plane, row, y0: win.y0, x0: win.x0 }, c.h, c.w, tile, got);
    if (!Buffer.from(got.buffer).equals(Buffer.from(want.buffer))) {
      bad++;
      t.fail(`case ${i}: k${c.spec.k} s${c.spec.stride} ${c.h}x${c.w} up=${!!c.spec.upsampleInput} tile ${JSON.stringify(tile)}`);
    }
    if (win.y0 > 0 || win.x0 > 0) {
      t.throws(() => convTileWindow(c.spec, c.p, { data, base, plane, row, y0: win.y0 + 1, x0: win.x0 + 1 }, c.h, c.w, tile, got),
        /window does not hold/, 'a window that misses rows is rejected');
    }
  }
  t.equal(bad, 0, 'every windowed tile matches');
});
