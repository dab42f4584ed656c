// Seeded PRNG for reproducible test data, random models and golden vectors. mulberry32: tiny, fast, 32-bit state,
// and trivially ported (bench/reference_conv.cpp carries the same function so both benches see identical data).

/** mulberry32 generator. Same seed, same sequence, on every platform. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  }

  /** Uniform double in [0, 1) with 32 random bits. */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [lo, hi] (inclusive). Ranges up to 2^32 values. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Approximately standard normal (sum of 4 uniforms, scaled): enough for test data, no transcendental calls. */
  normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * 1.7320508075688772;
  }

  /** Fills `out` with uniform integers in [lo, hi]. */
  fillInt<T extends Uint8Array | Int8Array | Int16Array | Int32Array>(out: T, lo: number, hi: number): T {
    const span = hi - lo + 1;
    for (let i = 0; i < out.length; i++) out[i] = lo + Math.floor((this.u32() / 4294967296) * span);
    return out;
  }
}
