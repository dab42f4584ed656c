import glob
import os
import unittest

import numpy as np

from train import intsim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.environ.get('FLOWFPGA_GOLDEN_DIR') or os.path.join(ROOT, 'test', 'golden')


def literal_conv(inp, w, M, B, S, stride, lo, hi):
    """The contract's formula written out element by element (slow oracle)."""
    cin, h, wd = inp.shape
    cout, _, k, _ = w.shape
    p = (k - 1) // 2
    ho = (h + 2 * p - k) // stride + 1
    wo = (wd + 2 * p - k) // stride + 1
    out = np.zeros((cout, ho, wo), np.int64)
    for c in range(cout):
        for y in range(ho):
            for x in range(wo):
                acc = 0
                for ci in range(cin):
                    for ky in range(k):
                        for kx in range(k):
                            iy, ix = y * stride + ky - p, x * stride + kx - p
                            if 0 <= iy < h and 0 <= ix < wd:
                                acc += int(inp[ci, iy, ix]) * int(w[c, ci, ky, kx])
                t = acc * int(M[c]) + int(B[c])
                out[c, y, x] = min(max(t >> int(S[c]), lo), hi)
    return out


class TestHandCases(unittest.TestCase):
    def test_up2_hand(self):
        x = np.array([[[0, 16]]], np.uint8)
        self.assertEqual(intsim.up2(x).tolist(), [[[0, 4, 12, 16], [0, 4, 12, 16]]])

    def test_up4_hand_rounds_half_up_below_zero(self):
        x = np.array([[[-32, 32]]], np.int16)
        self.assertEqual(intsim.up4(x)[0, 0].tolist(), [-32, -32, -24, -8, 8, 24, 32, 32])

    def test_conv_matches_literal_formula(self):
        rng = np.random.default_rng(1)
        for k, s, h, w, nb in [(1, 1, 3, 2, 2), (3, 2, 5, 4, 8), (5, 2, 6, 7, 4), (7, 2, 9, 8, 8), (3, 1, 1, 1, 3)]:
            cin, cout = 3, 4
            inp = rng.integers(0, 256, (cin, h, w)).astype(np.uint8)
            wt = rng.integers(-128, 128, (cout, cin, k, k)).astype(np.int8)
            M = rng.integers(-32767, 32768, cout).astype(np.int16)
            S = rng.integers(0, 51, cout).astype(np.uint8)
            B = rng.integers(-2 ** 50, 2 ** 50, cout, dtype=np.int64)
            got = intsim.conv(inp, wt, M, B, S, s, nb)
            self.assertTrue(np.array_equal(got, literal_conv(inp, wt, M, B, S, s, 0, 2 ** nb - 1)), (k, s))
            got = intsim.flow_head(inp, wt, M, B, S) if s == 1 else None
            if got is not None:
                self.assertTrue(np.array_equal(got, literal_conv(inp, wt, M, B, S, 1, -32768, 32767)))

    def test_accumulator_extremes_are_exact(self):
        # All-max inputs and weights near the contract's accumulator bound: float64 summation must stay exact.
        cin, k = 1024, 7
        inp = np.full((cin, 7, 7), 255, np.uint8)
        wt = np.full((1, cin, k, k), -128, np.int8)
        acc = intsim.conv_acc(inp, wt, 1)
        self.assertEqual(int(acc[0, 3, 3]), -255 * 128 * cin * 49)


class TestGolden(unittest.TestCase):
    def test_all_golden_vectors_bit_exact(self):
        files = sorted(glob.glob(os.path.join(GOLDEN, '*.gv')))
        self.assertTrue(files, f'no golden vectors in {GOLDEN} (generate with: flowfpga golden --out test/golden)')
        ops = set()
        n = 0
        for f in files:
            for case in intsim.read_golden(f):
                got = intsim.run_golden_case(case)
                exp = case['tensors']['out']
                self.assertEqual(got.dtype, exp.dtype, f'{os.path.basename(f)} case {case["id"]}')
                self.assertTrue(np.array_equal(got, exp), f'{os.path.basename(f)} case {case["id"]} ({case["op"]})')
                ops.add(case['op'])
                n += 1
        self.assertEqual(ops, {'conv', 'upconv', 'flow', 'up2', 'up4'})
        self.assertGreater(n, 10)

    def test_reader_rejects_bad_files(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'x.gv')
            with open(p, 'w') as f:
                f.write('flowfpga-golden 1 2\n')
            with self.assertRaisesRegex(ValueError, 'unsupported'):
                intsim.read_golden(p)
            with open(p, 'w') as f:
                f.write('flowfpga-golden 1 1\ncase a up2\nc 1\ntensor input u8 3 1 2\nend\n')
            with self.assertRaisesRegex(ValueError, 'declares 3'):
                intsim.read_golden(p)


if __name__ == '__main__':
    unittest.main()
