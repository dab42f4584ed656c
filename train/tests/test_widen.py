import os
import tempfile
import unittest

import torch

from train import export as X
from train import model as M
from train import modelfile as MF
from train import train as T
from train import widen as W

torch.set_num_threads(1)


def trained_like(width: float, quant: bool, seed: int = 5) -> M.FlowNetSQ:
    """A FlowNetS-Q with random weights and BatchNorm statistics (not the identity a fresh BatchNorm is)."""
    torch.manual_seed(seed)
    net = M.make_model('q' if quant else 'qfloat', width, 8)
    with torch.no_grad():
        for conv in net.convs.values():
            if conv.bn is not None:
                conv.bn.running_mean.uniform_(-0.5, 0.5)
                conv.bn.running_var.uniform_(0.5, 2.0)
                conv.bn.weight.uniform_(0.5, 1.5)
                conv.bn.bias.uniform_(-0.2, 0.5)
            else:
                conv.bias.uniform_(-1, 1)
    return net.eval()


class TestWiden(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.frames = torch.randint(0, 256, (2, 6, 64, 64)).float()

    def widened(self, quant: bool):
        """A width-1/16 network, its width-1/8 widening (noise 0), and the flow of each on the same frames."""
        narrow = trained_like(1 / 16, quant=quant)
        wide = M.make_model('q' if quant else 'qfloat', 1 / 8, 8)
        W.widen(narrow, wide, noise=0.0, seed=1)
        wide.eval()
        with torch.no_grad():
            return narrow, wide, narrow(self.frames), wide(self.frames)

    def test_float_function_is_preserved_and_replicas_differ(self):
        narrow, wide, a, b = self.widened(quant=False)
        self.assertGreater(a.abs().max().item(), 0.1)
        self.assertLess((a - b).abs().max().item(), 1e-4 * a.abs().max().item() + 1e-5)
        # conv2's two replicas of conv1 channel 0 split its weights differently; their sum is the narrow weight.
        c1, c2 = narrow.arch.layer('conv1').cout, narrow.arch.layer('conv2').cout
        w2 = wide.convs['conv2'].weight
        self.assertFalse(torch.equal(w2[:, 0], w2[:, c1]))
        torch.testing.assert_close(w2[:c2, 0] + w2[:c2, c1], narrow.convs['conv2'].weight[:, 0])
        # Frames are not widened: conv1's replicas keep the narrow weights exactly (noise 0).
        self.assertTrue(torch.equal(wide.convs['conv1'].weight[c1:], narrow.convs['conv1'].weight))
        self.assertEqual(wide.convs['predict_flow2'].weight.shape[0], 2)

    def test_quantized_widening_stays_close_and_noise_moves_only_the_extra_channels(self):
        narrow, wide, a, b = self.widened(quant=True)
        # Split weights round to other codes; the flow moves by a fraction of its range, not more.
        self.assertLess((a - b).abs().mean().item(), 0.1 * a.abs().mean().item())
        noisy = M.make_model('q', 1 / 8, 8)
        W.widen(narrow, noisy, noise=0.5, seed=1)
        c = narrow.arch.layer('conv3').cout
        w0, w1 = wide.convs['conv3'].weight, noisy.convs['conv3'].weight
        lim = 2.0 ** narrow.arch.layer('conv3').w_exp
        self.assertTrue(torch.equal(w0[:c], w1[:c]))
        self.assertFalse(torch.equal(w0[c:], w1[c:]))
        self.assertLessEqual(w1.abs().max().item(), lim)

    def test_refuses_widths_that_are_not_multiples(self):
        with self.assertRaisesRegex(ValueError, 'not a multiple'):
            W.widen(M.make_model('q', 1 / 16, 8), M.make_model('q', 3 / 32, 8))
        with self.assertRaisesRegex(ValueError, 'differ in layers or decoder'):
            W.widen(M.make_model('q', 1 / 16, 8), M.make_model('q', 1 / 8, 8, decoder='conv-upsample'))

    def test_train_and_reproduce_start_from_the_widened_file(self):
        from train import reproduce as R
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, 'narrow.ffq')
            MF.save(X.export_model(trained_like(1 / 16, quant=True), 'narrow', (64, 64)), src)
            with self.assertRaises(SystemExit):  # --widen without a file to widen
                T.main(['--widen', '--width', '0.125', '--out', os.path.join(d, 'bad')])
            args = ['8bit-w0.5', '--out-dir', d, '--steps', '2,3', '--width', '0.125', '--size', '64x64',
                    '--val-count', '1', '--wide-from', src]
            with self.assertRaisesRegex(SystemExit, 'two positive step counts'):
                R.main([*args[:4], '2', *args[5:]])
            self.assertEqual(R.main(args), 0)
            m = MF.load(os.path.join(d, 'flownets-q-w0.125-8bit.ffq'))
            self.assertEqual(m.name, 'flownets-q-w0.125-8bit')
            self.assertEqual(m.width, 0.125)
            self.assertEqual(m.meta['steps'], 3)  # the robust stage's
            self.assertNotIn('reproduce', m.meta)  # test settings are not the shipped command
            self.assertNotIn('coarse_model', m.meta)  # refined pairs run both passes on the model itself
            base = os.path.join(d, 'flownets-q-w0.125-8bit-base.ffq')
            self.assertEqual(MF.load(base).name, 'flownets-q-w0.125-8bit-base')
            with open(os.path.join(d, 'w0.5-robust', 'log.txt')) as f:
                log = f.read()
            self.assertIn(f'initialised from {base}', log)
            self.assertIn('batch 16x1', log)
            with open(os.path.join(d, 'flownets-q-w0.125-8bit', 'log.txt')) as f:
                self.assertIn(f'initialised from {src} (widened from width 0.0625, noise 0.02;', f.read())
            with self.assertRaises(SystemExit):
                R.main(['8bit', '--wide-from', src, '--dry-run'])


if __name__ == '__main__':
    unittest.main()
