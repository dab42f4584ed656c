// Byte-array equality for large buffers: tap's deep compare of a 600 kB typed array takes seconds; this reports
// the first differing index instead.
import type { Test } from 'tap';

export function sameBytes(t: Test, actual: Uint8Array, expected: Uint8Array, msg: string): boolean {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return t.pass(msg);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return t.fail(`${msg}: lengths ${a.length}/${b.length}, first difference at ${i} (${a[i]} vs ${b[i]})`);
}
