import type { Mapping } from './types.js';

/** Shared range checks so every Mapping implementation fails with the same text. */
export function checkRange(m: { length: number; label: string }, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > m.length) {
    throw new RangeError(`${m.label}: range [${offset}, ${offset + length}) outside the ${m.length}-byte mapping`);
  }
}

export function closedError(label: string): Error {
  return new Error(`${label}: mapping used after close`);
}

/** A Mapping over ordinary JS memory: the register file of a simulated device, or a test double. */
export class MemoryMapping implements Mapping {
  readonly addr = 0n;
  readonly length: number;
  readonly label: string;
  #ab: ArrayBuffer | undefined;

  constructor(lengthOrBuffer: number | ArrayBuffer, label = 'memory') {
    this.#ab = typeof lengthOrBuffer === 'number' ? new ArrayBuffer(lengthOrBuffer) : lengthOrBuffer;
    this.length = this.#ab.byteLength;
    this.label = label;
  }

  get closed(): boolean {
    return this.#ab === undefined;
  }

  buffer(): ArrayBuffer {
    if (this.#ab === undefined) throw closedError(this.label);
    return this.#ab;
  }

  bytes(offset = 0, length = this.length - offset): Uint8Array {
    const ab = this.buffer();
    checkRange(this, offset, length);
    return new Uint8Array(ab, offset, length);
  }

  sync(offset = 0, length = this.length - offset): void {
    this.buffer();
    checkRange(this, offset, length);
  }

  close(): void {
    this.#ab = undefined;
  }
}
