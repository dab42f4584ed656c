#!/usr/bin/python3
"""Development golden vectors for the engine testbench, from an independent numpy model of the integer contract
(docs/quantization.md). The committed vectors in test/golden come from the TypeScript reference
(`flowfpga golden`); this script exists so the engine can be checked before/without them, and as a second,
independent implementation. Usage: gen_dev_vectors.py OUTDIR [SEED]"""
import os
import sys

import numpy as np


def conv_acc(x, w, k, s):
    cin, h, wd = x.shape
    cout = w.shape[0]
    p = (k - 1) // 2
    ho, wo = (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1
    xp = np.zeros((cin, h + 2 * p, wd + 2 * p), np.int64)
    xp[:, p:p + h, p:p + wd] = x
    acc = np.zeros((cout, ho, wo), np.int64)
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, ky:ky + s * (ho - 1) + 1:s, kx:kx + s * (wo - 1) + 1:s]  # cin, ho, wo
            acc += np.einsum('oc,cyx->oyx', w[:, :, ky, kx].astype(np.int64), patch)
    assert np.all(np.abs(acc) < 2**31)
    return acc


def requant(acc, M, S, B, bits_out, mode):
    t = acc * M[:, None, None] + B[:, None, None]
    q = t >> S[:, None, None]
    lo, hi = (-32768, 32767) if mode == 1 else (0, (1 << bits_out) - 1)
    return np.clip(q, lo, hi)


def up_axis(L, f):
    """Per output index: (tap0, tap1, w0, w1) with weights in units of 1/(2f)."""
    out = []
    for i in range(L * f):
        pos2f = 2 * i + 1 - f  # source position times 2f
        j0 = pos2f // (2 * f)
        fr = pos2f - j0 * 2 * f
        out.append((min(max(j0, 0), L - 1), min(max(j0 + 1, 0), L - 1), 2 * f - fr, fr))
    return out


def up_ref(x, f):
    c, h, w = x.shape
    ay, ax = up_axis(h, f), up_axis(w, f)
    sh = 2 * (2 if f == 2 else 3)
    out = np.zeros((c, h * f, w * f), np.int64)
    for y, (y0, y1, wy0, wy1) in enumerate(ay):
        for xx, (x0, x1, wx0, wx1) in enumerate(ax):
            s = (wy0 * wx0 * x[:, y0, x0] + wy0 * wx1 * x[:, y0, x1] + wy1 * wx0 * x[:, y1, x0]
                 + wy1 * wx1 * x[:, y1, x1])
            out[:, y, xx] = (s + (1 << (sh - 1))) >> sh
    return out


def fmt(name, typ, a):
    a = np.asarray(a).reshape(-1)
    return f"tensor {name} {typ} {a.size} " + " ".join(str(int(v)) for v in a) + "\n"


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    os.makedirs(out, exist_ok=True)
    files = {op: open(os.path.join(out, f"{op}.gv"), "w") for op in ("conv", "upconv", "flow", "up2", "up4")}
    for f in files.values():
        f.write("flowfpga-golden 1 1\n# development vectors (hw/hls/tb/gen_dev_vectors.py)\n")
    n = 0

    def conv_case(op, cin, h, w, cout, k, s, bi, bw, bo, mode, extreme=False):
        nonlocal n
        n += 1
        x = rng.integers(0, 1 << bi, (cin, h, w))
        wt = rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), (cout, cin, k, k))
        if extreme:
            x[:] = (1 << bi) - 1
            wt[:] = -(1 << (bw - 1))
            wt[cout // 2:] = (1 << (bw - 1)) - 1
        xin = up_ref(x, 2) if op == "upconv" else x
        acc = conv_acc(xin, wt, k, s)
        M = rng.integers(-32767, 32768, cout)
        if extreme:
            M[0], M[-1] = 32767, -32767
        # Shifts that land most outputs inside the code range (so rounding and clipping both matter), plus a
        # few extremes (0 and 50).
        ob = 16 if mode == 1 else bo
        S = np.zeros(cout, np.int64)
        B = np.zeros(cout, np.int64)
        for c in range(cout):
            span = int(np.max(np.abs(acc[c] * M[c]))) + 1
            S[c] = min(50, max(0, span.bit_length() - ob + int(rng.integers(-1, 2))))
            B[c] = int(rng.integers(-(1 << (S[c] + ob)), 1 << (S[c] + ob))) // 2 + ((1 << S[c]) >> 1)
        if cout > 2 and not extreme:
            S[0], S[1] = 0, 50
            B[1] = int(rng.integers(-(1 << 50), 1 << 50))
        res = requant(acc, M, S, B, bo, mode)
        tot = cout + int(rng.integers(0, 3))
        off = int(rng.integers(0, tot - cout + 1))
        ho, wo = res.shape[1:]
        init = rng.integers(-32768, 32768, (tot, ho, wo)) if mode == 1 else rng.integers(0, 256, (tot, ho, wo))
        exp = init.copy()
        exp[off:off + cout] = res
        ot = "i16" if mode == 1 else "u8"
        f = files[op]
        f.write(f"case {op}{n} {op}\n")
        for kk, v in (("cin", cin), ("h", h), ("w", w), ("cout", cout), ("k", k), ("stride", s), ("bits_in", bi),
                      ("bits_w", bw), ("bits_out", bo), ("mode", mode), ("out_c_total", tot), ("out_c_offset", off)):
            f.write(f"{kk} {v}\n")
        f.write(fmt("input", "u8", x) + fmt("weights", "i8", wt) + fmt("mult", "i16", M) + fmt("shift", "u8", S)
                + fmt("bias", "i64", B) + fmt("out_init", ot, init) + fmt("out", ot, exp) + "end\n")

    for k in (1, 3, 5, 7):
        for s in (1, 2):
            for (h, w) in ((1, 1), (5, 7), (12, 9)):
                b = int(rng.integers(2, 9))
                conv_case("conv", int(rng.integers(1, 20)), h, w, int(rng.integers(1, 20)), k, s, b,
                          int(rng.integers(2, 9)), int(rng.integers(2, 9)), 0)
    for b in range(2, 9):
        conv_case("conv", 9, 6, 5, 3, 3, 1, b, b, b, 0)
    conv_case("conv", 40, 4, 4, 3, 3, 1, 8, 8, 8, 0, extreme=True)
    conv_case("conv", 24, 40, 33, 10, 3, 1, 8, 8, 8, 0)  # larger than one tile with the default buffers
    for (h, w) in ((1, 1), (3, 4), (6, 5)):
        conv_case("upconv", int(rng.integers(1, 12)), h, w, int(rng.integers(1, 12)), 3, 1, int(rng.integers(2, 9)),
                  int(rng.integers(2, 9)), int(rng.integers(2, 9)), 0)
    conv_case("upconv", 10, 17, 20, 5, 3, 1, 8, 8, 8, 0)
    for (h, w) in ((1, 1), (4, 6), (9, 8)):
        conv_case("flow", int(rng.integers(1, 24)), h, w, 2, 3, 1, int(rng.integers(2, 9)), int(rng.integers(2, 9)),
                  8, 1)
    for b in range(2, 9):
        n += 1
        c, h, w = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        x = rng.integers(0, 1 << b, (c, h, w))
        files["up2"].write(f"case up2_{n} up2\nc {c}\nh {h}\nw {w}\nbits {b}\n" + fmt("input", "u8", x)
                           + fmt("out", "u8", up_ref(x, 2)) + "end\n")
    for (h, w) in ((1, 1), (3, 5), (8, 7), (30, 40)):
        n += 1
        x = rng.integers(-32768, 32768, (2, h, w))
        files["up4"].write(f"case up4_{n} up4\nc 2\nh {h}\nw {w}\n" + fmt("input", "i16", x)
                           + fmt("out", "i16", up_ref(x, 4)) + "end\n")
    for f in files.values():
        f.close()
    print(f"{n} cases in {out}")


if __name__ == "__main__":
    main()
