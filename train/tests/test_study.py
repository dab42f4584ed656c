import argparse
import json
import os
import tempfile
import unittest

import torch

from train import study as S

torch.set_num_threads(1)


def _args(**kw):
    a = dict(out='o', init='p.pt', steps=50, minutes=3, lr=2e-4, scratch_lr=1e-3, from_scratch=False, width=0.25,
             size='64x64', batch=2, threads=1, val_count=2, eval_every=10, seed=1)
    a.update(kw)
    return argparse.Namespace(**a)


def _opt(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd else None


class TestStudy(unittest.TestCase):
    def test_equal_budget_protocol(self):
        a = _args()
        ck = dict(step=1000, elapsed=30 * 60.0)
        cmds = {n: S.train_command(a, n, k, b, ck) for n, k, b in S.ROWS}
        q_rows = [n for n in cmds if n != 'orig']
        self.assertEqual(set(q_rows), {'qfloat', 'q8', 'q7', 'q6', 'q5', 'q4', 'q3', 'q2', 'mixed'})
        for n in q_rows:  # every FlowNetS-Q row: same start, steps, schedule and data seed
            c = cmds[n]
            self.assertEqual((_opt(c, '--init'), _opt(c, '--steps'), _opt(c, '--lr'), _opt(c, '--seed')),
                             ('p.pt', '50', '0.0002', '1'), n)
        self.assertEqual(_opt(cmds['qfloat'], '--model'), 'qfloat')
        self.assertEqual(_opt(cmds['q5'], '--bits'), '5')
        o = cmds['orig']  # from scratch for P's budget plus one row's
        self.assertIsNone(_opt(o, '--init'))
        self.assertEqual((_opt(o, '--steps'), _opt(o, '--minutes'), _opt(o, '--lr')), ('1050', '33', '0.001'))
        for n, k, b in S.ROWS:
            c = S.train_command(_args(from_scratch=True), n, k, b, None)
            self.assertIsNone(_opt(c, '--init'), n)
            self.assertEqual((_opt(c, '--steps'), _opt(c, '--lr')), ('50', '0.001'), n)

    def test_mixed_respects_concat_partners(self):
        from train import model as M
        arch = M.build_arch(0.25, 'upsample-conv', S.MIXED)
        bits = {l.name: (l.bits_w, l.bits) for l in arch.layers}
        self.assertEqual(bits['conv1'], (8, 8))
        self.assertEqual(bits['conv2'], bits['deconv2'])
        self.assertEqual(bits['conv6'], (4, 4))
        self.assertEqual(bits['predict_flow2'][0], 8)

    def test_claims(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertTrue(S._claim(d))
            self.assertTrue(S._claim(d))  # our own claim
            with open(os.path.join(d, 'claim'), 'w') as f:
                f.write('1')  # a live process (init)
            self.assertFalse(S._claim(d))
            with open(os.path.join(d, 'claim'), 'w') as f:
                f.write('999999999')  # gone: taken over
            self.assertTrue(S._claim(d))

    def test_tiny_study_end_to_end(self):
        with tempfile.TemporaryDirectory() as d:
            S.main(['--out', d, '--from-scratch', '--width', '0.0625', '--size', '64x64', '--steps', '1',
                    '--batch', '2', '--val-count', '2', '--rows', 'qfloat,q4'])
            with open(os.path.join(d, 'study.json')) as f:
                rows = {r['name']: r for r in json.load(f)['rows']}
            self.assertEqual(rows['q4']['step'], 1)
            self.assertIn('epe_int', rows['q4'])
            self.assertNotIn('epe_int', rows['qfloat'])
            self.assertTrue(os.path.exists(os.path.join(d, 'q4', 'q4.ffq')))
            self.assertTrue(os.path.exists(os.path.join(d, 'study.png')))
            self.assertFalse(os.path.exists(os.path.join(d, 'q4', 'claim')))
            with open(os.path.join(d, 'study.csv')) as f:
                self.assertEqual(len(f.read().strip().split('\n')), 3)


if __name__ == '__main__':
    unittest.main()
