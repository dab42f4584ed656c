import json
import os
import tempfile
import unittest

import torch

from train import data as D
from train import model as M
from train import train as T

torch.set_num_threads(1)


class TestTrain(unittest.TestCase):
    def test_tiny_model_overfits_fixed_batch(self):
        ds = D.SyntheticChairs(5, config=D.ChairsConfig(height=64, width=64))
        fr, fl = D.batch(ds, range(4))
        for kind in ('qfloat', 'q'):
            torch.manual_seed(0)
            m = M.make_model(kind, 1 / 16, 8)
            opt = torch.optim.Adam(m.parameters(), 3e-3)
            first = M.loss_fn(m, fr, fl).item()
            for _ in range(40):
                loss = M.loss_fn(m, fr, fl)
                opt.zero_grad()
                loss.backward()
                opt.step()
                T.clamp_weights(m)
            last = M.loss_fn(m, fr, fl).item()
            self.assertLess(last, 0.6 * first, kind)

    def test_cli_checkpoint_resume_and_init(self):
        with tempfile.TemporaryDirectory() as d:
            common = ['--width', '0.0625', '--size', '64x64', '--batch', '2', '--val-count', '2', '--threads', '1',
                      '--log-every', '2', '--eval-every', '4', '--pool', '8']
            out = os.path.join(d, 'f')
            T.main(['--model', 'qfloat', '--steps', '4', '--ckpt-every', '2', '--out', out] + common)
            ck = torch.load(os.path.join(out, 'last.pt'))
            self.assertEqual(ck['step'], 4)
            T.main(['--model', 'qfloat', '--steps', '6', '--resume', '--out', out] + common)
            self.assertEqual(torch.load(os.path.join(out, 'last.pt'))['step'], 6)
            with open(os.path.join(out, 'log.txt')) as f:
                log = f.read()
            self.assertIn('resumed', log)
            self.assertIn('ETA', log)
            q = os.path.join(d, 'q')
            T.main(['--model', 'q', '--bits', '4', '--steps', '2', '--init', os.path.join(out, 'last.pt'), '--out', q]
                   + common)
            with open(os.path.join(q, 'result.json')) as f:
                res = json.load(f)
            self.assertEqual(res['step'], 2)
            self.assertGreater(res['val_epe'], 0)
            net, args, _ = T.load_model(os.path.join(q, 'last.pt'))
            self.assertTrue(net.quant)
            self.assertEqual(net.arch.layer('conv3').bits, 4)
            with self.assertRaises(SystemExit):
                T.main(['--model', 'orig', '--steps', '1', '--init', os.path.join(out, 'last.pt'), '--out', q] + common)
            with self.assertRaises(SystemExit):
                T.main(['--size', '60x64', '--out', q])


if __name__ == '__main__':
    unittest.main()


class TestReproduce(unittest.TestCase):
    def test_chain_runs_skips_finished_stages_and_exports(self):
        from train import reproduce as R
        from train import modelfile as MF
        with tempfile.TemporaryDirectory() as d:
            args = ['6bit', '--out-dir', d, '--steps', '2,2,1', '--width', '0.0625', '--size', '64x64',
                    '--val-count', '2']
            self.assertEqual(R.main(args), 0)
            ffq = os.path.join(d, 'flownets-q-w0.0625-6bit.ffq')
            m = MF.load(ffq)
            self.assertEqual({l['name']: l['bits'] for l in m.layers}['conv3'], 6)
            self.assertEqual(m.name, 'flownets-q-w0.0625-6bit')
            for stage, steps in (('float-p', 2), ('float-cont', 2), ('6bit', 1)):
                self.assertTrue(R.finished(os.path.join(d, stage), steps), stage)
            # Continuation was initialised from the pretrain, the QAT stage from the continuation.
            with open(os.path.join(d, '6bit', 'log.txt')) as f:
                self.assertIn('initialised from ' + os.path.join(d, 'float-cont', 'last.pt'), f.read())
            # A second run trains nothing (finished stages are skipped) and exports again.
            mtime = os.path.getmtime(os.path.join(d, 'float-p', 'last.pt'))
            self.assertEqual(R.main(args), 0)
            self.assertEqual(os.path.getmtime(os.path.join(d, 'float-p', 'last.pt')), mtime)

    def test_robust_stage_fine_tunes_the_exported_base(self):
        from train import reproduce as R
        from train import modelfile as MF
        with tempfile.TemporaryDirectory() as d:
            args = ['8bit', '--out-dir', d, '--steps', '1,1,1', '--width', '0.0625', '--size', '64x64',
                    '--val-count', '1', '--robust-steps', '2']
            self.assertEqual(R.main(args), 0)
            base = os.path.join(d, 'flownets-q-w0.0625-8bit-base.ffq')
            final = MF.load(os.path.join(d, 'flownets-q-w0.0625-8bit.ffq'))
            self.assertEqual(MF.load(base).name, final.name)
            self.assertEqual(final.meta['steps'], 2)
            self.assertEqual(tuple(final.native_size), (64, 64))
            self.assertTrue(R.finished(os.path.join(d, '8bit-robust'), 2))
            with open(os.path.join(d, '8bit-robust', 'log.txt')) as f:
                self.assertIn('initialised from ' + base, f.read())

    def test_coarse_targets_fine_tune_the_8bit_export_and_name_their_partner(self):
        from train import reproduce as R
        from train import modelfile as MF
        with tempfile.TemporaryDirectory() as d:
            args = ['8bit-coarse', '--out-dir', d, '--steps', '1,1,1', '--width', '0.0625', '--size', '64x64',
                    '--val-count', '1', '--robust-steps', '2']
            self.assertEqual(R.main(args), 0)
            final = MF.load(os.path.join(d, 'flownets-q-w0.0625-8bit-coarse.ffq'))
            self.assertEqual(final.name, 'flownets-q-w0.0625-8bit-coarse')
            self.assertEqual(final.meta['coarse_for'], 'flownets-q-w0.0625-8bit')
            self.assertEqual(final.meta['steps'], 2)
            base = os.path.join(d, 'flownets-q-w0.0625-8bit.ffq')
            self.assertEqual(MF.load(base).name, 'flownets-q-w0.0625-8bit')
            with open(os.path.join(d, 'coarse-gpu', 'log.txt')) as f:
                log = f.read()
            self.assertIn('initialised from ' + base, log)
            self.assertIn('batch 16x1', log)  # the GPU stage's batch, not the chain's
            # The 6-bit partner reuses the GPU stage (finished: skipped) and adds its 6-bit stage.
            mtime = os.path.getmtime(os.path.join(d, 'coarse-gpu', 'last.pt'))
            self.assertEqual(R.main(['6bit-coarse', *args[1:-1], '2,1']), 0)
            self.assertEqual(os.path.getmtime(os.path.join(d, 'coarse-gpu', 'last.pt')), mtime)
            with open(os.path.join(d, 'coarse-6bit', 'log.txt')) as f:
                log = f.read()
            self.assertIn('initialised from ' + os.path.join(d, 'coarse-gpu', 'last.pt'), log)
            self.assertIn('lr 1.00e-04', log)  # its own learning rate
            six = MF.load(os.path.join(d, 'flownets-q-w0.0625-6bit-coarse.ffq'))
            self.assertEqual(six.meta['coarse_for'], 'flownets-q-w0.0625-6bit')
            self.assertEqual(six.meta['steps'], 1)
            self.assertEqual({l['name']: l['bits'] for l in six.layers}['conv3'], 6)

    def test_dry_run_prints_the_shipped_chain(self):
        import contextlib
        import io
        from train import reproduce as R
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            R.main(['mixed', '--dry-run'])
        lines = buf.getvalue().splitlines()
        self.assertEqual(len(lines), 4 if 'mixed' not in R.ROBUST_STEPS else 6)
        self.assertIn(f'--steps {R.PRETRAIN_STEPS} ', lines[0])
        self.assertIn(f'--steps {R.CONTINUE_STEPS} ', lines[1])
        self.assertIn(f'--bits {R.MIXED_BITS} ', lines[2])
        self.assertTrue(lines[3].startswith('/usr/bin/python3 -m train.export '))
        # mixed's refined pairs end on the 8-bit refinement partner (meta.refine_model); 8-bit has its own partner
        self.assertTrue(lines[3].endswith(' --refine-model flownets-q-w0.25-8bit-refine'))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            R.main(['8bit', '--dry-run'])
        self.assertNotIn('--refine-model', buf.getvalue())
        with self.assertRaises(SystemExit):
            R.main(['8bit', '--steps', '1,2'])
