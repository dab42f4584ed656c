// .bit header parsing and .bit → .bin conversion (facts.md §1.1).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';

export interface BitHeader {
  design: string;
  userId: string;
  version: string;
  part: string;
  date: string;
  time: string;
  dataOffset: number;
  dataLength: number;
}

const MAGIC = [0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x00];

/** Parses a Xilinx .bit header; throws a UserError naming what is wrong. */
export function parseBitHeader(buf: Uint8Array, source = '.bit'): BitHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (what: string): never => {
    throw new UserError(`${source}: not a Xilinx .bit file (${what})`, 'pass the .bit written by Vivado (write_bitstream), or a byte-swapped .bin');
  };
  if (buf.length < 13) bad('too short');
  if (dv.getUint16(0) !== 9 || MAGIC.some((b, i) => buf[2 + i] !== b)) bad('bad magic');
  if (dv.getUint16(11) !== 1) bad('bad header');
  let p = 13;
  const strings: Record<number, string> = {};
  for (;;) {
    if (p >= buf.length) bad('no configuration data record');
    const key = buf[p]!;
    if (key === 0x65) {
      if (p + 5 > buf.length) bad('truncated length');
      const dataLength = dv.getUint32(p + 1);
      const dataOffset = p + 5;
      if (dataOffset + dataLength !== buf.length) {
        throw new UserError(
          `${source}: invalid length: header says ${dataLength} bytes of configuration data, file holds ${buf.length - dataOffset}`,
          'the file is truncated or has trailing data; copy it again',
        );
      }
      const d = strings[0x61] ?? '';
      const parts = d.split(';');
      const userId = parts.find((s) => s.startsWith('UserID='))?.slice(7) ?? '';
      return {
        design: parts[0] ?? '',
        userId,
        version: parts.length > 1 ? parts[parts.length - 1]!.replace(/^Version=/, '') : '',
        part: strings[0x62] ?? '',
        date: strings[0x63] ?? '',
        time: strings[0x64] ?? '',
        dataOffset,
        dataLength,
      };
    }
    if (key < 0x61 || key > 0x64) bad(`unknown record 0x${key.toString(16)} at ${p}`);
    if (p + 3 > buf.length) bad('truncated record');
    const len = dv.getUint16(p + 1);
    if (p + 3 + len > buf.length) bad('truncated record');
    let s = Buffer.from(buf.buffer, buf.byteOffset + p + 3, len).toString('latin1');
    if (s.endsWith('\0')) s = s.slice(0, -1);
    strings[key] = s;
    p += 3 + len;
  }
}

/** .bin = the configuration payload with each 32-bit word byte-swapped (PYNQ bit2bin). Returns a new array. */
export function bitToBin(bit: Uint8Array, source = '.bit'): Uint8Array {
  const h = parseBitHeader(bit, source);
  if (h.dataLength % 4 !== 0) throw new UserError(`${source}: configuration data is ${h.dataLength} bytes, not whole 32-bit words`, 'the file is corrupt; rebuild it');
  // A copy: Buffer#slice would alias the caller's bytes and the swap would corrupt them.
  const out = new Uint8Array(bit.subarray(h.dataOffset, h.dataOffset + h.dataLength));
  swap32(out);
  return out;
}

export function swap32(b: Uint8Array): void {
  for (let i = 0; i + 3 < b.length; i += 4) {
    const a0 = b[i]!;
    const a1 = b[i + 1]!;
    b[i] = b[i + 3]!;
    b[i + 1] = b[i + 2]!;
    b[i + 2] = a1;
    b[i + 3] = a0;
  }
}

/** Sync word as the Zynq driver looks for it in a .bin: bytes 66 55 99 AA at a 4-byte-aligned offset. */
export function hasSyncWord(bin: Uint8Array): boolean {
  for (let i = 0; i + 3 < bin.length; i += 4) {
    if (bin[i] === 0x66 && bin[i + 1] === 0x55 && bin[i + 2] === 0x99 && bin[i + 3] === 0xaa) return true;
  }
  return false;
}

/** Same check on unswapped data (AA 99 55 66), to tell "not swapped" apart from "not a bitstream". */
function hasUnswappedSync(b: Uint8Array): boolean {
  for (let i = 0; i + 3 < b.length; i += 4) {
    if (b[i] === 0xaa && b[i + 1] === 0x99 && b[i + 2] === 0x55 && b[i + 3] === 0x66) return true;
  }
  return false;
}

/** Validates a .bin for full configuration; throws the kernel's complaint before the kernel has to. */
export function checkBin(bin: Uint8Array, source = '.bin'): void {
  if (bin.length === 0 || bin.length % 4 !== 0) {
    throw new UserError(`${source}: ${bin.length} bytes is not a whole number of 32-bit words`, 'the file is truncated or not a bitstream');
  }
  if (hasSyncWord(bin)) return;
  if (hasUnswappedSync(bin)) {
    throw new UserError(`${source}: bitstream is not byte-swapped (sync word AA995566 found unswapped)`, 'pass the .bit instead, or convert with bootgen -process_bitstream bin');
  }
  throw new UserError(`${source}: invalid bitstream, no sync word 0xAA995566`, 'this is not a full-configuration bitstream for this device');
}

export interface LoadedBitstream {
  /** Stem used for /lib/firmware/<stem>.bin. */
  stem: string;
  bin: Uint8Array;
  header?: BitHeader;
}

/** Reads a .bit (converted) or .bin (validated) from disk. */
export function readBitstream(file: string): LoadedBitstream {
  let raw: Uint8Array;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read bitstream ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path to the .bit/.bin');
  }
  const stem = path.basename(file).replace(/\.(bit|bin)$/i, '');
  if (/\.bin$/i.test(file)) {
    checkBin(raw, file);
    return { stem, bin: raw };
  }
  const header = parseBitHeader(raw, file);
  const bin = bitToBin(raw, file);
  checkBin(bin, file);
  return { stem, bin, header };
}
