// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) — the checksum of .ffq files and of the regression link's
// frames. Written here because node:zlib's crc32 only exists from Node 20.15 / 22.2, and the armhf Node build the
// npm registry carries for PYNQ-Z2 is 20.11.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data`, continuing from `prev` (the CRC of the bytes before it; 0 to start). Unsigned. */
export function crc32(data: Uint8Array, prev = 0): number {
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
