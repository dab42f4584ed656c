// A Xilinx .bit with the real header layout (facts.md §1.1) around a payload, for overlay-loading tests.

function rec(key: number, s: string): Buffer {
  const b = Buffer.from(s + '\0', 'latin1');
  const h = Buffer.alloc(3);
  h[0] = key;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** Dummy words, bus-width detect and the sync word AA995566 (unswapped, as in a .bit). */
export const BIT_PAYLOAD = Buffer.from('ffffffffffffffff000000bb11220044ffffffffaa99556620000000', 'hex');

export function makeBit(payload: Buffer = BIT_PAYLOAD, trailing = 0, part = '7z020clg400'): Buffer {
  const head = Buffer.from([0x00, 0x09, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x00, 0x00, 0x01]);
  const len = Buffer.alloc(5);
  len[0] = 0x65;
  len.writeUInt32BE(payload.length, 1);
  return Buffer.concat([
    head,
    rec(0x61, 'flowfpga_wrapper;UserID=0XFFFFFFFF;Version=2023.2'),
    rec(0x62, part),
    rec(0x63, '2025/01/02'),
    rec(0x64, '03:04:05'),
    len,
    payload,
    Buffer.alloc(trailing),
  ]);
}
