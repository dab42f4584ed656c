// splitRgb (fit.ts): interleaved RGB to three planes, by 32-bit words where the bytes are aligned and by bytes
// elsewhere — the same planes for every alignment, count and plane stride.
import t from 'tap';
import { splitRgb } from '../src/flow/fit.js';
import { Prng } from '../src/reference/prng.js';

t.test('words and bytes give the same planes: aligned or not, any count', async (t) => {
  const r = new Prng(3);
  const buf = new Uint8Array(4096);
  for (let i = 0; i < buf.length; i++) buf[i] = r.int(0, 255);
  let cases = 0;
  for (const count of [0, 1, 3, 4, 5, 8, 63, 64, 65, 200]) {
    for (const from of [0, 1, 3, 4, 12]) {
      for (const [to, stride] of [[0, 256], [4, 256], [1, 256], [8, 210], [0, count]] as Array<[number, number]>) {
        if (stride < count) continue;
        for (const srcOff of [0, 2]) {
          const src = buf.subarray(srcOff, srcOff + from + 3 * count + 5);
          const want = new Uint8Array(to + 3 * stride + 4).fill(9);
          for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) want[to + c * stride + i] = src[from + 3 * i + c];
          const got = new Uint8Array(want.length).fill(9);
          splitRgb(src, from, got, to, count, stride);
          if (!Buffer.from(got).equals(Buffer.from(want))) t.fail(`count ${count} from ${from} to ${to} stride ${stride} source offset ${srcOff}`);
          cases++;
        }
      }
    }
  }
  t.pass(`${cases} cases agree`);
});
