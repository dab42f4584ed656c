import t from 'tap';
import { crc32 } from '../src/crc32.js';

t.test('crc32 matches the standard check values', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  t.equal(crc32(Buffer.alloc(0)), 0);
  t.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

t.test('crc32 continues across chunks', async (t) => {
  const all = Buffer.from('flowfpga regression link frame');
  t.equal(crc32(all.subarray(7), crc32(all.subarray(0, 7))), crc32(all));
});
