import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/errors.js';
import {
  createFlow, decodeFlo, encodeFlo, flowFromFixed, flowToFixed, isUnknownFlow, knownMask, readFlo, writeFlo,
  UNKNOWN_FLOW,
} from '../src/flow/flo.js';

const dir = mkdtempSync(join(tmpdir(), 'flow-flo-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function sample(w: number, h: number) {
  const f = createFlow(w, h);
  for (let i = 0; i < w * h; i++) {
    f.u[i] = i * 0.25 - 3;
    f.v[i] = -i * 1.5 + 0.125;
  }
  return f;
}

t.test('.flo layout: PIEH, int32 w/h, interleaved float32 LE u,v', async (t) => {
  const f = sample(3, 2);
  const b = encodeFlo(f);
  t.equal(b.length, 12 + 8 * 6);
  t.equal(b.toString('latin1', 0, 4), 'PIEH');
  t.equal(b.readFloatLE(0), 202021.25);
  t.equal(b.readInt32LE(4), 3);
  t.equal(b.readInt32LE(8), 2);
  // pixel (x=1, y=1) is index 4: u at 12 + 8*4, v right after it
  t.equal(b.readFloatLE(12 + 32), 4 * 0.25 - 3);
  t.equal(b.readFloatLE(12 + 36), -4 * 1.5 + 0.125);
});

t.test('round trip through a file keeps values, NaN and the 1e10 unknown marker', async (t) => {
  const f = sample(5, 4);
  f.u[2] = NaN;
  f.v[7] = UNKNOWN_FLOW;
  const p = join(dir, 'a.flo');
  await writeFlo(p, f);
  const g = await readFlo(p);
  t.equal(g.width, 5);
  t.equal(g.height, 4);
  t.ok(Number.isNaN(g.u[2]));
  t.equal(g.v[7], 1e10);
  for (let i = 0; i < 20; i++) if (i !== 2) t.equal(g.u[i], f.u[i]);
  t.same([...knownMask(g)].map((m, i) => (m ? -1 : i)).filter((i) => i >= 0), [2, 7]);
  t.ok(isUnknownFlow(NaN, 0));
  t.ok(isUnknownFlow(0, -2e9));
  t.notOk(isUnknownFlow(1e9, -1e9));
});

t.test('bad files give one-line UserErrors', async (t) => {
  const good = encodeFlo(sample(2, 2));
  t.throws(() => decodeFlo(good.subarray(0, 8), 'x.flo'), { name: 'UserError', message: /x\.flo: not a \.flo file \(8 bytes/ });
  const badMagic = Buffer.from(good);
  badMagic.write('PNG!', 0, 'latin1');
  t.throws(() => decodeFlo(badMagic, 'x.flo'), { message: /bad \.flo magic "PNG!"/ });
  const zero = Buffer.from(good);
  zero.writeInt32LE(0, 4);
  t.throws(() => decodeFlo(zero, 'x.flo'), { message: /bad \.flo size 0x2/ });
  const huge = Buffer.from(good);
  huge.writeInt32LE(100000, 8);
  t.throws(() => decodeFlo(huge, 'x.flo'), { message: /bad \.flo size 2x100000/ });
  t.throws(() => decodeFlo(good.subarray(0, good.length - 1), 'x.flo'), { message: /truncated \.flo \(43 bytes, 2x2 needs 44\)/ });
  // trailing bytes are rejected (issue 13: a header that shrinks the field was otherwise accepted)
  t.throws(() => decodeFlo(Buffer.concat([good, Buffer.alloc(3)])), { name: 'UserError', message: /3 unexpected bytes after the 2x2 \.flo data/ });
  await t.rejects(readFlo(join(dir, 'missing.flo')), { name: 'UserError', message: /\.flo file not found: .*missing\.flo/ });
  await t.rejects(readFlo(dir), { message: /is a directory/ });
  await t.rejects(writeFlo(join(dir, 'no', 'such', 'x.flo'), sample(1, 1)), { message: /directory does not exist/ });
  const e = (() => { try { decodeFlo(zero); } catch (err) { return err; } })() as UserError;
  t.ok(e instanceof UserError && e.hint && !e.message.includes('\n'));
});

t.test('fixed-point flow: codes * 2^-F, planar u then v', async (t) => {
  const codes = Int16Array.from([32, -16, 0, 32767, -32768, 1, 64, -1]);
  const f = flowFromFixed(codes, 2, 2, 5);
  t.same([...f.u], [1, -0.5, 0, 32767 / 32]);
  t.same([...f.v], [-1024, 1 / 32, 2, -1 / 32]);
  t.same([...flowToFixed(f, 5)], [...codes]);
  // offset into a larger engine buffer
  t.same([...flowFromFixed(Int16Array.from([9, 9, 4, 8]), 1, 1, 2, 2).u], [1]);
  t.throws(() => flowFromFixed(codes, 3, 2, 5), /need 2x2x3 = 12/);
  t.throws(() => flowFromFixed(codes, 2, 2, 16), { name: 'UserError' });
  // rounding half up on the grid and int16 saturation
  const g = createFlow(4, 1);
  g.u.set([0.015625, -0.015625, 5000, -5000]);
  t.same([...flowToFixed(g, 5).subarray(0, 4)], [1, 0, 32767, -32768]);
  g.v[1] = NaN;
  t.throws(() => flowToFixed(g, 5), { name: 'UserError', message: /pixel \(1, 0\) is unknown/ });
});

t.test('size checks', async (t) => {
  t.throws(() => createFlow(0, 3), { name: 'UserError' });
  t.throws(() => encodeFlo(createFlow(100000, 1)), { message: /too large/ });
  const f = createFlow(2, 2);
  f.u = new Float32Array(3);
  t.throws(() => encodeFlo(f), /3\/4 values/);
  // what the Middlebury C writer produces for a 1x1 field reads back
  const b = Buffer.alloc(20);
  b.write('PIEH', 0, 'latin1');
  b.writeInt32LE(1, 4);
  b.writeInt32LE(1, 8);
  b.writeFloatLE(-2.5, 12);
  b.writeFloatLE(7, 16);
  const p = join(dir, 'c.flo');
  writeFileSync(p, b);
  const g = await readFlo(p);
  t.same([g.u[0], g.v[0]], [-2.5, 7]);
  t.same(readFileSync(p), encodeFlo(g));
});

t.test('trailing data after the flow field is rejected (a header that shrinks the field)', async (t) => {
  const b = encodeFlo(sample(4, 3));
  t.equal(decodeFlo(b).width, 4);
  const shrunk = Buffer.from(b);
  shrunk.writeInt32LE(2, 8); // claims 4x2: 32 bytes of the real third row are left over
  t.throws(() => decodeFlo(shrunk, 'shrunk.flo'), {
    name: 'UserError', message: 'shrunk.flo: 32 unexpected bytes after the 4x2 .flo data (108 bytes, 76 expected)',
  });
  t.throws(() => decodeFlo(Buffer.concat([b, Buffer.from([0])]), 'x.flo'), { message: /^x\.flo: 1 unexpected bytes after the 4x3 \.flo data/ });
});
