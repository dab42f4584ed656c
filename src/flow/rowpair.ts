// The two source rows a separable bilinear pass blends for one output row, each interpolated horizontally once and
// kept while the next output rows need it (upsampling reads each source row once instead of twice per output row).
// Shared by the flow resize (netinput.ts resizePlane) and the frame fit (fit.ts).

export class RowPair {
  /** Source row `y0` of the last hold(), and row `y1` (the same values when y0 === y1, at the bottom edge). */
  a: Float64Array;
  b: Float64Array;
  #keyA = -1;
  #keyB = -1;

  constructor(length: number) {
    this.a = new Float64Array(length);
    this.b = new Float64Array(length);
  }

  /** Forget the rows held (a new source image). */
  reset(): void {
    this.#keyA = -1;
    this.#keyB = -1;
  }

  /** Make `a` row y0 and `b` row y1, calling fill(key, row) only for rows not already held. */
  hold(y0: number, y1: number, fill: (key: number, row: Float64Array) => void): void {
    if (this.#keyA !== y0) {
      if (this.#keyB === y0) {
        [this.a, this.b] = [this.b, this.a];
        [this.#keyA, this.#keyB] = [this.#keyB, this.#keyA];
      } else {
        fill(y0, this.a);
        this.#keyA = y0;
      }
    }
    if (this.#keyB !== y1) {
      fill(y1, this.b);
      this.#keyB = y1;
    }
  }
}
