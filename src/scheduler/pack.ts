// The engine's packed weight layout (FLAG_WPACK, docs/engine.md "Data in DDR"): the contract's [Cout][Cin][k][k]
// regrouped per FF_TN input block as [ci_block][Cout][tn][k][k], tn = min(FF_TN, Cin − ci0). The weights of one
// (output block, input block) step are then one contiguous run the engine reads in a single burst. Same size as
// the contract layout; with Cin ≤ FF_TN the two are identical.

/** Writes `src` ([cout][cin][kk] int8) into `dst` at `off` in the packed layout for an engine with `tn` = FF_TN. */
export function packWeights(src: Int8Array, cout: number, cin: number, kk: number, tn: number, dst: Uint8Array | Int8Array, off = 0): void {
  let o = off;
  for (let ci0 = 0; ci0 < cin; ci0 += tn) {
    const n = Math.min(tn, cin - ci0) * kk;
    for (let co = 0; co < cout; co++) {
      const s = (co * cin + ci0) * kk;
      for (let i = 0; i < n; i++) dst[o + i] = src[s + i];
      o += n;
    }
  }
}

/** Inverse of packWeights: packed `src` (from `off`) back into the contract layout `dst` ([cout][cin][kk]). */
export function unpackWeights(src: Int8Array, cout: number, cin: number, kk: number, tn: number, dst: Int8Array, off = 0): void {
  let o = off;
  for (let ci0 = 0; ci0 < cin; ci0 += tn) {
    const n = Math.min(tn, cin - ci0) * kk;
    for (let co = 0; co < cout; co++) {
      const d = (co * cin + ci0) * kk;
      for (let i = 0; i < n; i++) dst[d + i] = src[o + i];
      o += n;
    }
  }
}
