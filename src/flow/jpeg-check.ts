// The frame size of a JPEG from its SOF marker, read before jpeg-js allocates anything (a 10000x10000 header cost
// 11 s and 1 GB before jpeg-js failed), plus the variants jpeg-js cannot decode, named instead of its raw errors.
import { UserError } from '../errors.js';
import { checkPixels } from './limits.js';

export interface JpegHeader {
  width: number;
  height: number;
  /** The SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, 3 lossless, 9+ arithmetic coding. */
  sof: number;
}

/** Walks the marker segments up to the first SOFn; checks the size against `limit`. One UserError per problem. */
export function checkJpeg(buf: Uint8Array, name: string, limit: number): JpegHeader {
  const corrupt = (what: string): never => {
    throw new UserError(`${name}: ${what}`, 'the file is corrupt or was cut short; re-copy it');
  };
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) corrupt('not a JPEG file (no SOI marker)');
  let pos = 2;
  for (;;) {
    if (pos >= buf.length) corrupt('truncated JPEG (no frame header)');
    if (buf[pos] !== 0xff) corrupt(`corrupt JPEG (no marker at byte ${pos})`);
    while (pos < buf.length && buf[pos] === 0xff) pos++; // fill bytes
    if (pos >= buf.length) corrupt('truncated JPEG (no frame header)');
    const m = buf[pos++]!;
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // TEM, RSTn: no length
    if (m === 0xd9 || m === 0xda) corrupt(`corrupt JPEG (${m === 0xd9 ? 'end of image' : 'scan data'} before a frame header)`);
    if (pos + 2 > buf.length) corrupt('truncated JPEG (no frame header)');
    const len = (buf[pos]! << 8) | buf[pos + 1]!;
    if (len < 2 || pos + len > buf.length) corrupt(`truncated JPEG (marker 0xFF${m.toString(16).toUpperCase()} at byte ${pos - 2} runs past the end)`);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (len < 8) corrupt('corrupt JPEG (short frame header)');
      const height = (buf[pos + 3]! << 8) | buf[pos + 4]!;
      const width = (buf[pos + 5]! << 8) | buf[pos + 6]!;
      const sof = m & 0x0f;
      if (width === 0 || height === 0) {
        throw new UserError(`${name}: JPEG without a size in its frame header (${width}x${height})`, 'a DNL-sized or corrupt JPEG; re-encode it (e.g. ffmpeg -i in.jpg out.png)');
      }
      checkPixels(name, 'JPEG', width, height, limit);
      if (sof === 3 || sof >= 5) {
        const kind = sof === 3 || sof === 7 || sof === 11 || sof === 15 ? 'lossless' : sof >= 9 ? 'arithmetic-coded' : 'hierarchical';
        throw new UserError(`${name}: ${kind} JPEG is not supported`, 'supported: baseline and progressive JPEG; re-encode it (e.g. ffmpeg -i in.jpg out.png)');
      }
      // jpeg-js decodes a file cut inside its scan without complaint (grey blocks for the missing part): a complete
      // JPEG ends with EOI, possibly followed by padding (zeros or 0xFF fill, as some encoders and cameras add).
      let end = buf.length;
      while (end > pos && (buf[end - 1] === 0x00 || buf[end - 1] === 0xff)) end--;
      if (end - pos < 2 || buf[end - 2] !== 0xff || buf[end - 1] !== 0xd9) corrupt('truncated JPEG (no end-of-image marker: the file was cut short)');
      return { width, height, sof };
    }
    pos += len;
  }
}
