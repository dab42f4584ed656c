"""train/stream.py (samples from worker processes into a device ring), train/ckshard.py (checkpoints in size-limited
parts) and train/packtextures.py (texture sources for a machine without the packages)."""
import json
import os
import tempfile
import unittest

import numpy as np
import torch

from train import ckshard as C
from train import data as D
from train import packtextures as P
from train import stream as S
from train import train as T

torch.set_num_threads(1)


def tiny_config():
    return D.ChairsConfig(height=64, width=64, photos=False)


class TestStreamPool(unittest.TestCase):
    def test_batches_come_from_the_workers_and_the_ring_wraps(self):
        pool = S.StreamPool(5, tiny_config(), workers=2, size=6, device='cpu', rng=np.random.default_rng(1),
                            chunk=2, timeout=120)
        try:
            frames, flow = pool.step(3)
            self.assertEqual(tuple(frames.shape), (3, 6, 64, 64))
            self.assertEqual(frames.dtype, torch.uint8)
            self.assertEqual(tuple(flow.shape), (3, 2, 64, 64))
            self.assertTrue(torch.isfinite(flow).all())
            self.assertGreater(float(flow.abs().max()), 0)  # real motion, not an empty ring
            pool.wait_received(13)  # the ring keeps refilling while steps draw from it
            pool.step(2)
            self.assertGreaterEqual(pool.received, 13)
            self.assertEqual(pool.filled, 6)
            self.assertLess(pool.pos, 6)
        finally:
            pool.close()

    def test_a_failing_worker_is_raised_at_the_next_step(self):
        orig = D.SyntheticChairs.__getitem__

        def broken(self, i):
            raise ValueError('render failed on purpose')
        D.SyntheticChairs.__getitem__ = broken  # the forked workers inherit it
        try:
            pool = S.StreamPool(5, tiny_config(), workers=1, size=4, device='cpu', rng=np.random.default_rng(1),
                                timeout=120)
        finally:
            D.SyntheticChairs.__getitem__ = orig
        try:
            with self.assertRaisesRegex(RuntimeError, 'sample worker failed'):
                pool.step(2)
        finally:
            pool.close()

    def test_needs_a_worker(self):
        with self.assertRaises(ValueError):
            S.StreamPool(5, tiny_config(), workers=0, size=4, device='cpu', rng=np.random.default_rng(1))

    def test_training_with_workers(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'w')
            T.main(['--model', 'q', '--width', '0.0625', '--size', '64x64', '--batch', '2', '--val-count', '2',
                    '--threads', '1', '--steps', '3', '--workers', '1', '--pool', '8', '--out', out])
            with open(os.path.join(out, 'result.json')) as f:
                self.assertEqual(json.load(f)['step'], 3)
            with open(os.path.join(out, 'log.txt')) as f:
                self.assertIn('samples', f.read())
            for bad in (['--workers', '-1'], ['--workers', '2', '--data', 'chairs:' + d]):
                with self.assertRaisesRegex(SystemExit, '--workers'):
                    T.main(['--out', os.path.join(d, 'bad'), *bad])


class TestCkShard(unittest.TestCase):
    def test_split_and_join_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'r')
            T.main(['--model', 'q', '--width', '0.0625', '--size', '64x64', '--batch', '2', '--val-count', '2',
                    '--threads', '1', '--steps', '1', '--pool', '4', '--out', out])
            ck = os.path.join(out, 'last.pt')
            parts = C.split(ck, os.path.join(d, 'x'), max_mib=0.25)
            self.assertGreater(len(parts), 2)
            for f in parts:
                self.assertLessEqual(os.path.getsize(f), 0.25 * (1 << 20))
            joined = os.path.join(d, 'j', 'last.pt')
            C.join(list(reversed(parts)), joined)
            a = torch.load(ck, weights_only=False)
            b = torch.load(joined, weights_only=False)
            self.assertEqual(list(a['model']), list(b['model']))
            for k in a['model']:
                self.assertTrue(torch.equal(a['model'][k], b['model'][k]), k)
            self.assertEqual(b['step'], 1)
            self.assertNotIn('opt', b)
            net, args, _ = T.load_model(joined)  # rebuilds like any checkpoint
            self.assertEqual(args.width, 0.0625)
            with self.assertRaisesRegex(SystemExit, 'parts'):
                C.join(parts[1:], os.path.join(d, 'k.pt'))


class TestPackTextures(unittest.TestCase):
    def test_packed_sources_read_back_identically(self):
        from PIL import Image
        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as out:
            rng = np.random.default_rng(3)
            for i, size in enumerate([(900, 700), (300, 200), (120, 90)]):
                p = os.path.join(root, 'pkg-a', 'usr/share/backgrounds', f'{i}.png')
                os.makedirs(os.path.dirname(p), exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(p)
            os.environ['FLOWFPGA_TEXTURE_ROOT'] = root
            try:
                counts = P.pack(('pkg-a',), out)
            finally:
                del os.environ['FLOWFPGA_TEXTURE_ROOT']
            self.assertEqual(counts, {'pkg-a': 3})
            a = D.load_sources(('pkg-a',), root)
            b = D.load_sources(('pkg-a',), out)
            self.assertEqual(len(a), 3)
            self.assertEqual(max(a[0].shape), D.PHOTO_MAX_SIDE)
            for x, y in zip(a, b):
                self.assertTrue(np.array_equal(x, y))


if __name__ == '__main__':
    unittest.main()
