// First-fit sub-allocator over one contiguous region (a u-dma-buf or the virtual board's DDR file).
import { UserError } from '../errors.js';
import { checkAlign } from './types.js';

interface Span {
  off: number;
  size: number;
}

export class Arena {
  /** Free spans sorted by offset, coalesced. */
  #free: Span[];
  readonly #used = new Map<number, number>();

  constructor(
    readonly size: number,
    /** Physical address of offset 0: alignment is of the physical address. */
    readonly physBase: bigint,
    readonly label: string,
  ) {
    this.#free = size > 0 ? [{ off: 0, size }] : [];
  }

  alloc(size: number, align: number): number {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`${this.label}: invalid allocation size ${size}`);
    checkAlign(align);
    const a = BigInt(align);
    for (let i = 0; i < this.#free.length; i++) {
      const s = this.#free[i]!;
      const phys = this.physBase + BigInt(s.off);
      const pad = Number((a - (phys % a)) % a);
      if (pad + size > s.size) continue;
      const off = s.off + pad;
      const rest: Span[] = [];
      if (pad > 0) rest.push({ off: s.off, size: pad });
      if (pad + size < s.size) rest.push({ off: off + size, size: s.size - pad - size });
      this.#free.splice(i, 1, ...rest);
      this.#used.set(off, size);
      return off;
    }
    throw new UserError(
      `${this.label}: cannot allocate ${size} bytes (aligned ${align}); ${this.available()} of ${this.size} bytes free, largest block ${this.largest()}`,
      'make the buffer pool larger (u-dma-buf size / virtual DDR size) or run a smaller input size',
    );
  }

  free(off: number): void {
    const size = this.#used.get(off);
    if (size === undefined) throw new Error(`${this.label}: free of unknown offset ${off}`);
    this.#used.delete(off);
    let i = 0;
    while (i < this.#free.length && this.#free[i]!.off < off) i++;
    this.#free.splice(i, 0, { off, size });
    // Coalesce with neighbours.
    if (i + 1 < this.#free.length && this.#free[i]!.off + this.#free[i]!.size === this.#free[i + 1]!.off) {
      this.#free[i]!.size += this.#free[i + 1]!.size;
      this.#free.splice(i + 1, 1);
    }
    if (i > 0 && this.#free[i - 1]!.off + this.#free[i - 1]!.size === this.#free[i]!.off) {
      this.#free[i - 1]!.size += this.#free[i]!.size;
      this.#free.splice(i, 1);
    }
  }

  available(): number {
    let n = 0;
    for (const s of this.#free) n += s.size;
    return n;
  }

  largest(): number {
    let n = 0;
    for (const s of this.#free) n = Math.max(n, s.size);
    return n;
  }
}
