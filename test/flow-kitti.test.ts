import t from 'tap';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../src/crc32.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlow } from '../src/flow/flo.js';
import { decodeKittiFlowPng, encodeKittiFlowPng, readKittiFlow, writeKittiFlow } from '../src/flow/kitti.js';
import { encodePng, createImage } from '../src/flow/image.js';
import { flowErrors } from '../src/flow/metrics.js';

/** A 16-bit RGB PNG assembled by hand (big-endian samples, filter 0), independent of pngjs' writer. */
function png16(width: number, height: number, words: number[]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16;
  ihdr[9] = 2;
  const raw = Buffer.alloc(height * (1 + width * 6));
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * 3; i++) raw.writeUInt16BE(words[y * width * 3 + i], y * (1 + width * 6) + 1 + 2 * i);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

t.test('KITTI flow PNG: u = (R - 2^15)/64, v = (G - 2^15)/64, B = valid', async (t) => {
  const buf = png16(3, 1, [32768 + 64, 32768 - 32, 1, 0, 65535, 1, 40000, 40000, 0]);
  const { flow, valid } = decodeKittiFlowPng(buf);
  t.same([...valid], [1, 1, 0]);
  t.same([flow.u[0], flow.v[0], flow.u[1], flow.v[1]], [1, -0.5, -512, 32767 / 64]);
  t.ok(Number.isNaN(flow.u[2]) && Number.isNaN(flow.v[2]), 'invalid pixels are unknown flow');
  t.same(encodeKittiFlowPng(flow), encodeKittiFlowPng(decodeKittiFlowPng(encodeKittiFlowPng(flow)).flow));
});

t.test('KITTI round trip and errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flow-kitti-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = createFlow(2, 2);
  f.u.set([1.5, -3.25, 0, NaN]);
  f.v.set([0.015625, 100, -511.984375, 0]);
  const p = join(dir, '000000_10.png');
  await writeKittiFlow(p, f);
  const k = await readKittiFlow(p);
  t.same([...k.valid], [1, 1, 1, 0]);
  t.same([...k.flow.u].slice(0, 3), [1.5, -3.25, 0]);
  t.same([...k.flow.v].slice(0, 3), [0.015625, 100, -511.984375]);
  t.equal(flowErrors(f, k.flow).valid, 3);
  t.throws(() => decodeKittiFlowPng(encodePng(createImage(2, 2)), 'rgb8.png'), { name: 'UserError', message: /rgb8\.png: not a KITTI flow PNG \(8-bit/ });
  t.throws(() => decodeKittiFlowPng(Buffer.from('nope'), 'x.png'), { name: 'UserError', message: /^x\.png: not a PNG file \(bad signature\)$/ });
  await t.rejects(readKittiFlow(join(dir, 'none.png')), { message: /KITTI flow PNG not found/ });
});
