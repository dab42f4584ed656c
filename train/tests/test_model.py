import unittest

import numpy as np
import torch

from train import intsim
from train import model as M

torch.set_num_threads(1)


class TestArch(unittest.TestCase):
    def test_matches_arch_ts(self):
        # Numbers pinned by test/arch.test.ts for src/model/arch.ts.
        self.assertEqual(M.total_macs(M.build_arch(1.0), 384, 512), 20_269_498_368)
        self.assertEqual(M.total_macs(M.build_arch(1.0, 'conv-upsample'), 384, 512), 14_154_203_136)
        a = M.build_arch(0.25)
        self.assertEqual([l.cout for l in a.layers][:3], [16, 32, 64])
        self.assertEqual(a.layer('predict_flow2').cin, 48)
        self.assertEqual([l.name for l in a.layers][-5:], ['deconv5', 'deconv4', 'deconv3', 'deconv2', 'predict_flow2'])
        self.assertEqual(M.scale_channels(64, 1 / 128), 1)
        self.assertEqual(M.scale_channels(64, 0.5 / 64 * 3), 2)  # 1.5 rounds half away from zero

    def test_concat_partners_and_bits(self):
        a = M.build_arch(0.25, bits={'w': 5, 'a': 5, 'layers': {'conv2': {'a': 8}}})
        self.assertEqual(a.layer('deconv2').bits, 8)
        self.assertEqual(a.layer('conv3').bits, 5)
        b = M.build_arch(0.25, bits='w4a4,conv1=w8a8,predict_flow2=w8')
        self.assertEqual((b.layer('conv1').bits_w, b.layer('conv1').bits), (8, 8))
        self.assertEqual(b.layer('predict_flow2').bits_w, 8)
        self.assertEqual(b.layer('conv4').bits, 4)
        with self.assertRaises(ValueError):
            M.build_arch(0.25, bits=9)
        with self.assertRaises(ValueError):
            M.parse_bits('x4')


class TestFakeQuant(unittest.TestCase):
    def test_act_rounds_half_up_and_clips(self):
        n = 4
        s = 2.0 ** (2 - n)
        y = torch.tensor([-1.0, 0.5 * s, 1.5 * s, 2.49 * s, 14.5 * s, 100.0], requires_grad=True)
        q = M.fq_act(y, n)
        self.assertEqual((q / s).tolist(), [0, 1, 2, 2, 15, 15])
        q.sum().backward()
        self.assertEqual(y.grad.tolist(), [0, 1, 1, 1, 1, 0])  # clipped STE

    def test_weight_codes(self):
        w = torch.tensor([-1.0, -0.125, 0.0, 0.0624, 0.124, 1.0])
        self.assertEqual(M.weight_codes(w, 4, -3).tolist(), [-8, -8, 0, 4, 7, 7])

    def test_up2_up4_match_intsim(self):
        rng = np.random.default_rng(0)
        for n in (2, 5, 8):
            codes = rng.integers(0, 2 ** n, (3, 5, 7)).astype(np.uint8)
            x = torch.from_numpy(codes.astype(np.float32) * 2.0 ** (2 - n))[None]
            got = (M.up2(x, n)[0] / 2.0 ** (2 - n)).round().numpy().astype(np.int64)
            self.assertTrue(np.array_equal(got, intsim.up2(codes)))
        F = 5
        fl = rng.integers(-32768, 32768, (2, 4, 6)).astype(np.int16)
        fl[0, 0, 0] = -32768
        fl[1, 0, 0] = 32767
        x = torch.from_numpy(fl.astype(np.float32) * 2.0 ** -F)[None]
        got = (M.up4(x, F)[0] * 2 ** F).round().numpy().astype(np.int64)
        self.assertTrue(np.array_equal(got, intsim.up4(fl)))

    def test_float_and_quant_models_run_and_differ(self):
        torch.manual_seed(0)
        arch = M.build_arch(1 / 16, bits=3)
        fr = torch.randint(0, 256, (1, 6, 64, 64), dtype=torch.uint8)
        q = M.FlowNetSQ(arch, quant=True).eval()
        f = M.FlowNetSQ(arch, quant=False).eval()
        f.load_state_dict(q.state_dict())
        oq, of = q(fr), f(fr)
        self.assertEqual(tuple(oq.shape), (1, 2, 64, 64))
        # quantized output lies on the 2^-F grid; the float one does not
        self.assertTrue(torch.equal(oq * 32, torch.round(oq * 32)))
        self.assertFalse(torch.equal(of * 32, torch.round(of * 32)))
        o = M.FlowNetSOrig(1 / 16).eval()
        full, flows = o(fr, scales=True)
        self.assertEqual(tuple(full.shape), (1, 2, 64, 64))
        self.assertEqual([tuple(x.shape[-2:]) for x in flows], [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)])

    def test_both_decoders_train_step(self):
        for dec in M.DECODERS:
            torch.manual_seed(0)
            m = M.make_model('q', 1 / 16, 6, dec)
            fr = torch.randint(0, 256, (2, 6, 64, 64), dtype=torch.uint8)
            gt = torch.randn(2, 2, 64, 64)
            loss = M.loss_fn(m, fr, gt)
            loss.backward()
            g = m.convs['conv1'].weight.grad
            self.assertTrue(g is not None and g.abs().sum() > 0, dec)


if __name__ == '__main__':
    unittest.main()
