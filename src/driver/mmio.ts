// Register windows: aligned 32-bit access only (PYNQ mmio semantics, facts.md §2.5); 64-bit = lo word at +0, hi at +4.
import type { Mapping } from '../sys/types.js';

/** What an engine or DMA driver needs from a register block; implemented by hardware windows and simulators alike. */
export interface RegisterIo {
  readonly size: number;
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

export function read64(io: RegisterIo, offset: number): bigint {
  const lo = io.read32(offset);
  const hi = io.read32(offset + 4);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function write64(io: RegisterIo, offset: number, value: bigint): void {
  if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`write64: 0x${value.toString(16)} is not a u64`);
  io.write32(offset, Number(value & 0xffffffffn));
  io.write32(offset + 4, Number(value >> 32n));
}

/** A window [offset, offset+size) of a Mapping, accessed as little-endian u32 words (the CPU's order on every target). */
/** Checks that [offset, offset+size) is a whole-word window inside a mapping (shared by every RegisterIo). */
export function checkWindow(mapping: Mapping, offset: number, size: number, label: string): void {
  if (offset % 4 !== 0 || size % 4 !== 0 || offset < 0 || size <= 0 || offset + size > mapping.length) {
    throw new RangeError(`${label}: window [${offset}, ${offset + size}) does not fit the ${mapping.length}-byte mapping in whole words`);
  }
}

/** Checks one 32-bit access at `offset` of a `size`-byte window; the error texts every RegisterIo shares. */
export function checkAccess(offset: number, size: number, label: string, op: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + 4 > size) {
    throw new RangeError(`${label}: ${op} at 0x${offset.toString(16)} outside the 0x${size.toString(16)}-byte window`);
  }
  if ((offset & 3) !== 0) throw new RangeError(`${label}: unaligned ${op} at 0x${offset.toString(16)} (32-bit aligned access only)`);
}

export class RegisterWindow implements RegisterIo {
  readonly size: number;
  readonly #mapping: Mapping;
  readonly #word0: number;
  #u32: Uint32Array | undefined;

  constructor(
    mapping: Mapping,
    offset = 0,
    size = mapping.length - offset,
    readonly label = 'registers',
  ) {
    checkWindow(mapping, offset, size, label);
    this.#mapping = mapping;
    this.size = size;
    this.#word0 = offset >>> 2;
  }

  #words(): Uint32Array {
    // mapping.buffer() throws once the mapping is closed, so a stale window never touches freed memory.
    if (this.#u32 === undefined || this.#mapping.closed) this.#u32 = new Uint32Array(this.#mapping.buffer());
    return this.#u32;
  }

  #index(offset: number, op: string): number {
    checkAccess(offset, this.size, this.label, op);
    return this.#word0 + (offset >>> 2);
  }

  read32(offset: number): number {
    const i = this.#index(offset, 'read');
    return this.#words()[i]!;
  }

  write32(offset: number, value: number): void {
    const i = this.#index(offset, 'write');
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
      throw new RangeError(`${this.label}: write of ${value} at 0x${offset.toString(16)} is not a 32-bit value`);
    }
    this.#words()[i] = value >>> 0;
  }
}
