import os
import tempfile
import unittest

import torch

from train import data as D
from train import export as X
from train import heldout as H
from train import modelfile as MF
from train import refine as R
from train import refinedata as RD
from train import train as T
from train.tests.test_widen import trained_like

torch.set_num_threads(1)


class TestRefineData(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.first = os.path.join(self.tmp.name, 'first.ffq')
        MF.save(X.export_model(trained_like(1 / 16, quant=True), 'first', (64, 64)), self.first)
        self.frames, self.flow = D.batch(D.SyntheticChairs(3, config=D.ChairsConfig(height=64, width=64)), range(3))

    def tearDown(self):
        self.tmp.cleanup()

    def test_batches_become_the_second_pass_of_the_refined_pair(self):
        rt = RD.RefineTargets(self.first, self.frames)
        frames, target = rt(self.frames, self.flow)
        net, size = H._load_net(self.first, self.frames)
        self.assertEqual(size, (64, 64))
        for i in range(3):
            with torch.no_grad():
                first = net(self.frames[i:i + 1])[0]
            self.assertGreater(first.abs().max().item(), 0.05)  # a flow to warp by, not zeros
            self.assertTrue(torch.equal(frames[i, :3], self.frames[i, :3]))  # frame 1 as it was
            self.assertTrue(torch.equal(frames[i, 3:], R.warp(self.frames[i, 3:], first)))  # frame 2 warped: refine.py's
            torch.testing.assert_close(target[i], self.flow[i] - first)  # the residual
            # A second pass that finds the target exactly gives the ground truth: refined = first + residual.
            torch.testing.assert_close(first + target[i], self.flow[i])
        self.assertEqual(frames.dtype, torch.uint8)
        b_frames, b_target = rt.batched(self.frames, self.flow, batch=2)
        self.assertTrue(torch.equal(b_frames, frames))
        torch.testing.assert_close(b_target, target)

    def test_at_twice_the_first_pass_size_the_first_pass_sees_the_pair_resized_down(self):
        # --refine auto's place: the first pass at its size, its flow scaled up, the warp and residual at the crop's.
        big, flow = D.batch(D.SyntheticChairs(5, config=D.ChairsConfig(height=128, width=128)), range(2))
        frames, target = RD.RefineTargets(self.first, self.frames)(big, flow)
        net, _ = H._load_net(self.first, self.frames)
        for i in range(2):
            with torch.no_grad():
                first = H.flow_to_source(net(H.resize_pair(big[i], 64, 64)[None])[0], 128, 128)
            self.assertEqual(tuple(first.shape), (2, 128, 128))
            self.assertGreater(first.abs().max().item(), 0.05)
            self.assertTrue(torch.equal(frames[i, :3], big[i, :3]))
            self.assertTrue(torch.equal(frames[i, 3:], R.warp(big[i, 3:], first)))
            torch.testing.assert_close(target[i], flow[i] - first)
            # What eval's second pass adds this residual to: the same first flow (heldout.eval_checkpoint).
            torch.testing.assert_close(first + target[i], flow[i])

    def test_the_crop_must_be_the_first_pass_size_or_twice_it(self):
        small, flow = D.batch(D.SyntheticChairs(3, config=D.ChairsConfig(height=64, width=128)), range(1))
        with self.assertRaisesRegex(ValueError, 'first pass runs at 64x64, the training crop is 64x128; .* or twice it'):
            RD.RefineTargets(self.first, self.frames)(small, flow)

    def test_train_refine_of_trains_on_residuals_and_reports_the_refined_epe(self):
        d = self.tmp.name
        common = ['--model', 'q', '--width', '0.0625', '--size', '64x64', '--batch', '2', '--val-count', '2',
                  '--threads', '1', '--log-every', '1', '--eval-every', '2', '--pool', '4', '--steps', '2']
        out = os.path.join(d, 'r')
        T.main([*common, '--refine-of', self.first, '--init-ffq', self.first, '--out', out])
        with open(os.path.join(out, 'log.txt')) as f:
            log = f.read()
        self.assertIn(f'refinement model: first pass {self.first}', log)
        self.assertEqual(torch.load(os.path.join(out, 'last.pt'), weights_only=False)['args']['refine_of'], self.first)
        # Exported, it is the first model's refinement partner, and its meta.epe is the refined pair's.
        models = os.path.join(d, 'models')
        os.makedirs(models)
        os.rename(self.first, os.path.join(models, 'first.ffq'))
        self.first = os.path.join(models, 'first.ffq')
        ck = torch.load(os.path.join(out, 'last.pt'), weights_only=False)
        ck['args']['refine_of'] = self.first
        torch.save(ck, os.path.join(out, 'last.pt'))
        part = os.path.join(models, 'first-refine.ffq')
        qm, rep = X.export_checkpoint(os.path.join(out, 'last.pt'), part, val_count=2)
        self.assertEqual(qm.name, 'first-refine')
        self.assertEqual(MF.load(part).meta['refine_for'], 'first')
        self.assertEqual(H.refine_partner(self.first, models), part)
        self.assertIsNone(H.refine_partner(part, models))
        self.assertIsNone(H.refine_partner(os.path.join(out, 'last.pt'), models))
        # A model may name its partner (meta.refine_model), as registry.ts refinePartner reads it.
        six = MF.load(self.first)
        six.name, six.meta = 'six', {'refine_model': 'first-refine'}
        MF.save(six, os.path.join(models, 'six.ffq'))
        self.assertEqual(H.refine_partner(os.path.join(models, 'six.ffq'), models), part)
        six.name, six.meta = 'gone6', {'refine_model': 'gone'}
        MF.save(six, os.path.join(d, 'gone6.ffq'))
        with self.assertRaisesRegex(SystemExit, 'meta.refine_model gone is not in'):
            H.refine_partner(os.path.join(d, 'gone6.ffq'), models)
        # eval_checkpoint (train.heldout table): every pair gets the refinement at twice the trained size: two
        # passes on the partner, each on frame 2 warped by the flow so far (refine.ts refinePassCount), one on the
        # model itself (second=None).
        frames, flow = self.frames, self.flow
        net1, _ = H._load_net(self.first, frames)
        net2, _ = H._load_net(part, frames)
        refined = lambda net, i, p: R.refined_flow(net, frames[i], p, (128, 128), H.resize_pair, H.flow_to_source)
        with torch.no_grad():
            want, once, same = [], [], []
            for i in range(3):
                p = net1(frames[i:i + 1])[0]
                q = refined(net2, i, p)
                once.append(H.epe_known(q[None], flow[i:i + 1]))
                want.append(H.epe_known(refined(net2, i, q)[None], flow[i:i + 1]))
                same.append(H.epe_known(refined(net1, i, p)[None], flow[i:i + 1]))
            one = [H.epe_known(net1(frames[i:i + 1]), flow[i:i + 1]) for i in range(3)]
        self.assertAlmostEqual(H.eval_checkpoint(self.first, frames, flow, models_dir=models), sum(want) / 3, places=5)
        self.assertAlmostEqual(H.eval_checkpoint(self.first, frames, flow, models_dir=models, passes=1),
                               sum(once) / 3, places=5)
        self.assertNotAlmostEqual(sum(want), sum(once), places=3)
        self.assertAlmostEqual(H.eval_checkpoint(self.first, frames, flow, second=None, models_dir=models),
                               sum(same) / 3, places=5)
        self.assertNotAlmostEqual(sum(want), sum(same), places=3)
        self.assertAlmostEqual(H.eval_checkpoint(self.first, frames, flow, refine='off', models_dir=models),
                               sum(one) / 3, places=5)
        self.assertEqual(qm.meta['first_pass'], 'first')
        other, _ = X.export_checkpoint(os.path.join(out, 'last.pt'), os.path.join(d, 'o.ffq'), val_count=1,
                                       refine_for='main')  # a first pass that is main's coarse-pass partner
        self.assertEqual((other.name, other.meta['refine_for'], other.meta['first_pass']), ('main-refine', 'main', 'first'))
        scoped = os.path.join(d, 's.ffq')
        X.main([os.path.join(out, 'last.pt'), scoped, '--val-count', '1', '--threads', '1', '--refine-scope', 'trained-size'])
        self.assertEqual(MF.load(scoped).meta['refine_scope'], 'trained-size')
        plain = os.path.join(d, 'plain')
        T.main([*common, '--out', plain])
        named = os.path.join(d, 'named.ffq')  # a first pass that ends on another model's partner
        X.main([os.path.join(plain, 'last.pt'), named, '--val-count', '1', '--threads', '1', '--refine-model', 'first-refine'])
        self.assertEqual(MF.load(named).meta['refine_model'], 'first-refine')
        self.assertEqual(H.refine_partner(named, models), part)
        # A checkpoint as the first pass (float studies): trains; nothing to partner, so no export.
        ofpt = os.path.join(d, 'of-pt')
        T.main([*common, '--steps', '1', '--refine-of', os.path.join(plain, 'last.pt'), '--out', ofpt])
        with open(os.path.join(ofpt, 'log.txt')) as f:
            self.assertIn(f'refinement model: first pass {os.path.join(plain, "last.pt")}', f.read())
        with self.assertRaisesRegex(SystemExit, 'a float study'):
            X.export_checkpoint(os.path.join(ofpt, 'last.pt'), os.path.join(d, 'ofpt.ffq'), val_count=1)
        with self.assertRaisesRegex(SystemExit, 'is no refinement model'):
            X.export_checkpoint(os.path.join(plain, 'last.pt'), os.path.join(d, 'p.ffq'), val_count=1, refine_for='x')
        with self.assertRaisesRegex(SystemExit, 'is no refinement model'):
            X.main([os.path.join(plain, 'last.pt'), os.path.join(d, 'p.ffq'), '--val-count', '1', '--refine-scope', 'every'])
        with self.assertRaisesRegex(SystemExit, 'no such model file'):
            T.main([*common, '--refine-of', os.path.join(d, 'none.ffq'), '--out', out])
        with self.assertRaisesRegex(SystemExit, r'training crop is 64x128; .*\(--size 128x128, where --refine auto'):
            T.main([*common, '--size', '64x128', '--refine-of', self.first, '--out', os.path.join(d, 'wide')])
        # At twice the first pass's size it trains, and exports at that size.
        big = os.path.join(d, 'big')
        T.main([*common, '--size', '128x128', '--steps', '1', '--refine-of', self.first, '--out', big])
        qm, _ = X.export_checkpoint(os.path.join(big, 'last.pt'), os.path.join(d, 'big.ffq'), val_count=1)
        self.assertEqual((qm.native_size, qm.meta['refine_for']), ((128, 128), 'first'))

    def test_reproduce_trains_and_exports_the_refinement_partner(self):
        from train import reproduce as RP
        d = self.tmp.name
        args = ['8bit-w0.5-refine', '--out-dir', d, '--steps', '2', '--width', '0.0625', '--size', '64x64',
                '--val-count', '1', '--first-from', self.first]
        with self.assertRaisesRegex(SystemExit, 'one positive step count'):
            RP.main([*args[:4], '2,3', *args[5:]])
        with self.assertRaisesRegex(SystemExit, 'only for refinement targets'):
            RP.main(['8bit', '--first-from', self.first, '--dry-run'])
        self.assertEqual(RP.main(args), 0)
        m = MF.load(os.path.join(d, 'first-refine.ffq'))
        self.assertEqual((m.name, m.meta['refine_for'], m.meta['steps']), ('first-refine', 'first', 2))
        self.assertNotIn('reproduce', m.meta)  # test settings are not the shipped command
        with open(os.path.join(d, 'first-refine', 'log.txt')) as f:
            log = f.read()
        self.assertIn(f'initialised from {self.first}', log)
        self.assertIn(f'refinement model: first pass {self.first}', log)
        self.assertEqual(RP.main(args), 0)  # finished: skipped, exported again
        self.assertEqual(MF.load(os.path.join(d, 'first-refine.ffq')).meta['steps'], 2)
        with self.assertRaisesRegex(SystemExit, '8bit-w0.5-refine has no stage at twice the trained size'):
            RP.main([*args, '--twice-steps', '1'])
        # The width-0.25 partner has a second stage at twice the trained size, from the first stage's export.
        d2 = os.path.join(d, 'x2')
        self.assertEqual(RP.main(['8bit-refine', '--out-dir', d2, '--steps', '2', '--twice-steps', '1', '--width',
                                  '0.0625', '--size', '64x64', '--val-count', '1', '--first-from', self.first]), 0)
        at1 = MF.load(os.path.join(d2, 'first-refine-at-trained-size.ffq'))
        fin = MF.load(os.path.join(d2, 'first-refine.ffq'))
        self.assertEqual((at1.native_size, at1.meta['steps']), ((64, 64), 2))
        self.assertEqual((fin.name, fin.native_size, fin.meta['steps'], fin.meta['refine_for']),
                         ('first-refine', (128, 128), 1, 'first'))
        with open(os.path.join(d2, 'first-refine-x2', 'log.txt')) as f:
            self.assertIn(f'initialised from {os.path.join(d2, "first-refine-at-trained-size.ffq")}', f.read())


if __name__ == '__main__':
    unittest.main()
