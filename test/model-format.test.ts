import t from 'tap';
import { writeFileSync } from 'node:fs';
import { tempDir } from './helpers/tmp.js';
import { join } from 'node:path';
import { crc32 } from '../src/crc32.js';
import { flownetsQ } from '../src/model/arch.js';
import { decodeModel, encodeModel, loadModelFile, ModelFormatError } from '../src/model/format.js';
import { resolveModel, listModels, describeModel } from '../src/model/registry.js';
import type { QModel } from '../src/model/types.js';

function tinyModel(bits = 8): QModel {
  const arch = flownetsQ({ width: 1 / 16, bits });
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  const params = arch.layers.map((l) => {
    const n = l.cout * l.cin * l.k * l.k;
    const lim = 2 ** (l.bitsW - 1);
    const weights = Int8Array.from({ length: n }, () => Math.floor(rnd() * 2 * lim) - lim);
    const mult = Int16Array.from({ length: l.cout }, () => Math.floor(rnd() * 65534) - 32767);
    const shift = Uint8Array.from({ length: l.cout }, () => 1 + Math.floor(rnd() * 50));
    const bias = Float64Array.from({ length: l.cout }, (_, c) => (c % 2 ? -1 : 1) * Math.floor(rnd() * 2 ** 50));
    return { weights, mult, shift, bias };
  });
  return { name: 'tiny', arch, nativeSize: [64, 128], params, meta: { epe: 1.5 } };
}

// Re-stamp the CRC so that structural errors are reached past the checksum.
function restamp(b: Buffer): Buffer {
  b.writeUInt32LE(crc32(b.subarray(0, b.length - 4)) >>> 0, b.length - 4);
  return b;
}

function withHeader(b: Buffer, edit: (h: any) => void): Buffer {
  const hlen = b.readUInt32LE(8);
  const h = JSON.parse(b.subarray(12, 12 + hlen).toString('utf8'));
  edit(h);
  const start = 12 + hlen + ((8 - ((12 + hlen) % 8)) % 8);
  const json = Buffer.from(JSON.stringify(h));
  const pre = Buffer.alloc(12);
  b.copy(pre, 0, 0, 12);
  pre.writeUInt32LE(json.length, 8);
  const padded = Buffer.concat([pre, json, Buffer.alloc((8 - ((12 + json.length) % 8)) % 8)]);
  return restamp(Buffer.concat([padded, b.subarray(start)]));
}

t.test('round trip is exact', async (t) => {
  const m = tinyModel();
  const b = encodeModel(m);
  const d = decodeModel(b);
  t.equal(d.name, 'tiny');
  t.same(d.nativeSize, [64, 128]);
  t.same(d.meta, { epe: 1.5 });
  t.equal(d.params.length, m.params.length);
  for (let i = 0; i < m.params.length; i++) {
    t.same(Array.from(d.params[i].weights), Array.from(m.params[i].weights));
    t.same(Array.from(d.params[i].mult), Array.from(m.params[i].mult));
    t.same(Array.from(d.params[i].shift), Array.from(m.params[i].shift));
    t.same(Array.from(d.params[i].bias), Array.from(m.params[i].bias));
  }
  t.same(encodeModel(d), b, 'encode(decode(x)) == x');
});

t.test('every bad file gives its one-line error', async (t) => {
  const good = encodeModel(tinyModel());
  const expectErr = (buf: Buffer, re: RegExp, what: string) => {
    let err: unknown;
    try {
      decodeModel(buf, 'x.ffq');
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ModelFormatError, `${what}: ModelFormatError`);
    t.match((err as Error).message, re, what);
    t.notMatch((err as Error).message, /\n/, `${what}: one line`);
  };
  const c = () => Buffer.from(good);
  let b = c(); b.write('FFQX', 0, 'latin1'); expectErr(b, /^x\.ffq: bad magic/, 'magic');
  expectErr(Buffer.alloc(0), /bad magic/, 'empty file');
  b = c(); b.writeUInt16LE(2, 4); expectErr(b, /unsupported version: format version 2/, 'format version');
  b = c(); b.writeUInt16LE(9, 6); expectErr(b, /unsupported version: contract version 9/, 'contract version');
  expectErr(good.subarray(0, 8), /truncated/, 'short preamble');
  expectErr(good.subarray(0, 100), /truncated/, 'header cut');
  expectErr(good.subarray(0, good.length - 500), /truncated: payload/, 'payload cut');
  b = c(); b[good.length - 40] ^= 0x55; expectErr(b, /checksum mismatch/, 'flipped byte');
  b = c(); b[12] = 0x7d; expectErr(restamp(b), /bad header: header is not valid JSON/, 'json');
  expectErr(withHeader(c(), (h) => { delete h.layers[3].k; }), /bad header: layer conv3_1: "k" must be an integer/, 'missing field');
  expectErr(withHeader(c(), (h) => { h.layers[2].cout = 20; }), /inconsistent|truncated/, 'shape vs arch');
  expectErr(withHeader(c(), (h) => { h.layers[0].bits_w = 9; }), /inconsistent: layer conv1: bits_w 9 out of range/, 'bits range');
  expectErr(withHeader(c(), (h) => { h.layers[1].bits = 6; }), /inconsistent: concatenated layers conv2 \(6 bits\) and deconv2 \(8 bits\)/, 'concat bits');
  expectErr(withHeader(c(), (h) => { h.decoder = 'sideways'; }), /inconsistent: unknown decoder/, 'decoder');
  expectErr(withHeader(c(), (h) => { h.native_size = [100, 128]; }), /native_size 100x128/, 'native size');
  expectErr(withHeader(c(), (h) => { h.layers[0].bits_w = 2; }), /weight \d+ = -?\d+ outside 2-bit range/, 'weights outside bits');
  expectErr(restamp(Buffer.concat([good.subarray(0, good.length - 4), Buffer.alloc(8), Buffer.alloc(4)])), /extra bytes/, 'trailing bytes');
});

t.test('accumulator bound holds for every allowed width at 8 bits', async (t) => {
  // The loader checks K*(2^n_in-1)*2^(nw-1) <= 2^31-1 per layer; at the widest allowed multiplier (4) and 8 bits
  // the largest layer still fits, so every model the format admits has an int32-safe accumulator.
  for (const width of [1, 4]) {
    const arch = flownetsQ({ width, bits: 8 });
    const worst = Math.max(...arch.layers.map((l) => l.cin * l.k * l.k * 255 * 128));
    t.ok(worst <= 2 ** 31 - 1, `width ${width}: worst-case |acc| ${worst}`);
  }
  t.equal(Math.max(...flownetsQ().layers.map((l) => l.cin * l.k * l.k)), 9216);
});

t.test('files, registry and descriptions', async (t) => {
  const dir = tempDir(t, 'ffq-');
  writeFileSync(join(dir, 'a.ffq'), encodeModel(tinyModel(6)));
  t.equal(listModels(dir).length, 1);
  const m = resolveModel('a', dir);
  t.equal(describeModel(m).bits, '6');
  t.equal(describeModel(m).epe, 1.5);
  t.throws(() => resolveModel('b', dir), /unknown model 'b'/);
  t.throws(() => loadModelFile(join(dir, 'missing.ffq')), /cannot read model file .*ENOENT/);
  t.equal(loadModelFile(join(dir, 'a.ffq')).arch.layers[0].bits, 6);
});

t.test('padding bytes must be zero (header, weights and requantization padding)', async (t) => {
  const m = tinyModel(6);
  const good = encodeModel(m);
  t.equal(decodeModel(good).name, 'tiny');
  const hlen = good.readUInt32LE(8);
  const start = Math.ceil((12 + hlen) / 8) * 8;
  // Every padding byte of the file, from the layout (docs/model-format.md).
  const pads: Array<{ at: number; what: RegExp }> = [];
  for (let i = 12 + hlen; i < start; i++) pads.push({ at: i, what: /after the header/ });
  let off = start;
  for (const l of m.arch.layers) {
    const w = l.cout * l.cin * l.k * l.k;
    for (let i = w; i % 8; i++) pads.push({ at: off + i, what: new RegExp(`after the weights of ${l.name}`) });
    off += Math.ceil(w / 8) * 8;
    const r = 11 * l.cout;
    for (let i = r; i % 8; i++) pads.push({ at: off + i, what: new RegExp(`after the requantization of ${l.name}`) });
    off += Math.ceil(r / 8) * 8;
  }
  t.equal(off + 4, good.length, 'the layout walk covers the file');
  t.ok(pads.some((p) => /requantization/.test(p.what.source)), 'the model has requantization padding');
  for (const p of pads) t.equal(good[p.at], 0);
  // Each kind once, with the CRC re-stamped so that only the padding is wrong.
  const kinds = new Map<string, { at: number; what: RegExp }>();
  for (const p of pads) kinds.set(p.what.source.replace(/ of .*/, ''), kinds.get(p.what.source.replace(/ of .*/, '')) ?? p);
  for (const p of kinds.values()) {
    const bad = Buffer.from(good);
    bad[p.at] = 0x1b;
    restamp(bad);
    t.throws(() => decodeModel(bad, 'pad.ffq'), { name: 'ModelFormatError', message: new RegExp(`^pad\\.ffq: .*non-zero padding byte 0x1b at offset ${p.at} \\(${p.what.source}`) });
  }
});
