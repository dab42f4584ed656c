"""Issue 14: texture sources by package, heavy-tailed motion, camera and zoom augmentation, .ffq initialisation,
held-out sets."""
import json
import math
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from train import data as D
from train import export as X
from train import ffqinit
from train import heldout as H
from train import intsim
from train import model as M
from train import train as T

torch.set_num_threads(1)


def _write_png(path, seed, size=(96, 80)):
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


class TestSources(unittest.TestCase):
    def test_extracted_tree_largest_per_wallpaper_and_skips(self):
        with tempfile.TemporaryDirectory() as root:
            w = os.path.join(root, 'pkg-a', 'usr/share/wallpapers/Hill/contents')
            _write_png(os.path.join(w, 'images', '640x480.png'), 1, (64, 64))
            _write_png(os.path.join(w, 'images', '1920x1080.png'), 2, (200, 150))
            _write_png(os.path.join(w, 'images_dark', '1920x1080.png'), 3, (200, 150))
            _write_png(os.path.join(w, 'screenshot.png'), 4)
            _write_png(os.path.join(root, 'pkg-a', 'usr/share/backgrounds/a.png'), 5)
            _write_png(os.path.join(root, 'pkg-a', 'usr/share/icons/x/logo.png'), 6)
            files = D.source_files('pkg-a', root)
            self.assertEqual([os.path.relpath(f, root) for f in files], [
                'pkg-a/usr/share/backgrounds/a.png',
                'pkg-a/usr/share/wallpapers/Hill/contents/images/1920x1080.png',
                'pkg-a/usr/share/wallpapers/Hill/contents/images_dark/1920x1080.png'])
            self.assertEqual(D.source_files('absent-package', root), [])
            photos = D.load_sources(('pkg-a', 'absent-package'), root)
            self.assertEqual(len(photos), 3)
            self.assertEqual(photos[0].dtype, np.uint8)

    def test_training_refuses_heldout_sources_and_the_split_is_disjoint(self):
        self.assertFalse(set(D.TRAIN_SOURCES) & set(D.HELDOUT_SOURCES))
        a = T.build_parser().parse_args(['--out', 'x', '--sources', 'mate-backgrounds,' + D.HELDOUT_SOURCES[0]])
        with self.assertRaises(SystemExit):
            T.data_config(a, (64, 64))
        a = T.build_parser().parse_args(['--out', 'x', '--sources', 'train', '--motion', 'heavy'])
        cfg = T.data_config(a, (64, 64))
        self.assertEqual(cfg.sources, D.TRAIN_SOURCES)
        self.assertEqual(cfg.motion, 'heavy')
        # defaults: exactly the original generator (so the original validation set is unchanged)
        self.assertEqual(T.data_config(T.build_parser().parse_args(['--out', 'x']), (64, 64)),
                         D.ChairsConfig(height=64, width=64))


class TestMotion(unittest.TestCase):
    def test_heavy_translation_has_a_tail_and_a_cap(self):
        rng = np.random.default_rng(0)
        m = np.array([math.hypot(*D.heavy_translation(rng, 16, 80, 0.3)) for _ in range(4000)])
        self.assertLessEqual(m.max(), 80 + 1e-9)
        self.assertGreater(np.mean(m > 60), 0.05)  # uniform share reaches the cap region
        self.assertGreater(np.mean(m < 8), 0.25)  # most motions stay small
        self.assertLess(np.median(m), 20)

    def test_heavy_scenes_move_further_and_stay_exact(self):
        cfg_u = D.ChairsConfig(height=64, width=128, photos=False, photometric=False)
        cfg_h = D.ChairsConfig(height=64, width=128, photos=False, photometric=False, motion='heavy',
                               obj_trans=16, bg_trans=6, tail_uniform=1.0)
        mu = np.mean([D.SyntheticChairs(3, config=cfg_u)[i][1].norm(dim=0).max().item() for i in range(6)])
        mh = np.mean([D.SyntheticChairs(3, config=cfg_h)[i][1].norm(dim=0).max().item() for i in range(6)])
        self.assertGreater(mh, mu)
        # the background layer still covers the frame: warping frame 2 by the flow gives frame 1 on background
        ds = D.SyntheticChairs(4, config=D.ChairsConfig(height=64, width=128, photos=False, photometric=False,
                                                        motion='heavy', min_objects=0, max_objects=0))
        layers = ds.scene(0)
        f1, f2, flow, l1, _ = ds.render(layers)
        w = D.warp(f2, flow)
        inside = ((torch.arange(128)[None] + flow[0]).clamp(0, 127) == torch.arange(128)[None] + flow[0]) & \
                 ((torch.arange(64)[:, None] + flow[1]).clamp(0, 63) == torch.arange(64)[:, None] + flow[1])
        self.assertLess((w - f1).abs()[:, inside].mean().item(), 0.02)
        with self.assertRaises(ValueError):
            D.SyntheticChairs(1, config=D.ChairsConfig(height=64, width=64, motion='gaussian')).scene(0)


class TestAugment(unittest.TestCase):
    def _pair(self):
        return D.SyntheticChairs(7, config=D.ChairsConfig(height=64, width=96, photos=False))[0]

    def test_camera_changes_pixels_consistently_not_flow(self):
        fr, fl = self._pair()
        outs = [D.camera(fr, np.random.default_rng(s)) for s in range(8)]
        for o in outs:
            self.assertEqual(o.shape, fr.shape)
            self.assertEqual(o.dtype, torch.uint8)
        self.assertTrue(any((o.float() - fr.float()).abs().mean() > 3 for o in outs))
        # deterministic for one rng state; strength 0 leaves the pair (up to rounding) alone
        self.assertTrue(torch.equal(D.camera(fr, np.random.default_rng(3)), D.camera(fr, np.random.default_rng(3))))
        self.assertLessEqual((D.camera(fr, np.random.default_rng(1), 0.0).int() - fr.int()).abs().max().item(), 1)

    def test_zoom_scales_flow_with_the_frames(self):
        # pure translation: the zoomed pair's flow is s times the translation everywhere
        h, w = 64, 96
        fr = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (6, h, w), dtype=np.uint8))
        fl = torch.stack([torch.full((h, w), 3.0), torch.full((h, w), -2.0)])
        rng = np.random.default_rng(5)
        zf, zl = D.zoom(fr, fl, rng, 1.6)
        self.assertEqual(zf.shape, fr.shape)
        self.assertEqual(zl.shape, fl.shape)
        s = zl[0].mean().item() / 3.0
        self.assertGreater(s, 1.0)
        self.assertLess(s, 1.6 + 1e-6)
        self.assertTrue(torch.allclose(zl[1], torch.full((h, w), -2.0 * s), atol=0.05))


class TestFfqInit(unittest.TestCase):
    def test_dequantized_model_reproduces_the_integer_file(self):
        torch.manual_seed(0)
        ds = D.SyntheticChairs(9, config=D.ChairsConfig(height=64, width=64, photos=False))
        fr, fl = D.batch(ds, range(4))
        for bits in ('8', 'w4a5,conv1=w8a8,predict_flow2=w8'):
            src = M.make_model('q', 1 / 16, bits)
            opt = torch.optim.Adam(src.parameters(), 3e-3)
            for _ in range(3):  # non-trivial BatchNorm statistics
                loss = M.loss_fn(src, fr, fl)
                opt.zero_grad()
                loss.backward()
                opt.step()
            qm = X.export_model(src, 'tiny', (64, 64))
            dst = ffqinit.model_for(qm)  # bits, width and decoder from the file's header
            self.assertEqual([(l.bits_w, l.bits) for l in dst.arch.layers], [(l.bits_w, l.bits) for l in src.arch.layers])
            ffqinit.load_ffq(dst, qm, fr)
            dst.eval()
            with torch.no_grad():
                got = dst(fr[:1])[0] * 2 ** qm.flow_frac_bits
            ref = torch.from_numpy(intsim.forward(qm, fr[0].numpy()).astype(np.float32))
            self.assertTrue(torch.equal(got, ref), bits)
            # training-mode BatchNorm on the calibration batch is the same function too
            dst.train()
            with torch.no_grad():
                self.assertLess((dst(fr) - dst.eval()(fr)).abs().max().item(), 0.2)
            with self.assertRaises(ValueError):
                ffqinit.load_ffq(M.make_model('q', 1 / 8, bits), qm, fr)

    def test_train_cli_init_ffq(self):
        with tempfile.TemporaryDirectory() as d:
            src = M.make_model('q', 1 / 16, '8')
            qm = X.export_model(src, 'tiny', (64, 64))
            from train import modelfile as MF
            path = os.path.join(d, 'm.ffq')
            MF.save(qm, path)
            out = os.path.join(d, 'run')
            T.main(['--model', 'q', '--bits', '8', '--width', '0.0625', '--size', '64x64', '--batch', '2',
                    '--val-count', '2', '--threads', '1', '--pool', '8', '--steps', '2', '--init-ffq', path,
                    '--motion', 'heavy', '--camera', '1', '--zoom', '1.5', '--zoom-prob', '1', '--out', out])
            with open(os.path.join(out, 'log.txt')) as f:
                self.assertIn('initialised from ' + path, f.read())
            with self.assertRaises(SystemExit):
                T.main(['--init-ffq', os.path.join(d, 'none.ffq'), '--out', out])
            with self.assertRaises(SystemExit):  # width mismatch is one clear line
                T.main(['--model', 'q', '--width', '0.125', '--size', '64x64', '--steps', '1', '--val-count', '1',
                        '--init-ffq', path, '--out', os.path.join(d, 'bad')])


class TestHeldout(unittest.TestCase):
    def test_build_is_deterministic_and_loadable(self):
        tiny = {'t': (lambda: D.ChairsConfig(height=64, width=64, photos=False), 123, 3, 'no model', False),
                'c': (lambda: D.ChairsConfig(height=64, width=64, photos=False), 123, 3, 'no model', True)}
        with tempfile.TemporaryDirectory() as d, mock.patch.dict(H.SETS, tiny, clear=True):
            a = H.build('t', os.path.join(d, 'a'))
            b = H.build('t', os.path.join(d, 'b'))
            for n in sorted(os.listdir(a)):
                with open(os.path.join(a, n), 'rb') as fa, open(os.path.join(b, n), 'rb') as fb:
                    self.assertEqual(fa.read(), fb.read(), n)
            frames, flow = H.load_set(a)
            ref = D.batch(D.SyntheticChairs(123, config=tiny['t'][0]()), range(3))
            self.assertTrue(torch.equal(frames, ref[0]))
            self.assertTrue(torch.allclose(flow, ref[1]))
            with open(os.path.join(a, 'manifest.json')) as fh:
                man = json.load(fh)
            cam = H.load_set(H.build('c', os.path.join(d, 'a')))  # same scenes through the held-out camera model
            self.assertFalse(torch.equal(cam[0], frames))
            self.assertTrue(torch.equal(cam[1], flow))
            self.assertEqual(man['pairs'], 3)
            self.assertGreater(man['max_flow'], 0)

    def test_heldout_sets_use_only_heldout_sources(self):
        for name, (cfg, seed, n, _, _) in H.SETS.items():
            c = cfg()
            if name.startswith('indep'):
                self.assertEqual(tuple(c.sources), D.HELDOUT_SOURCES)
                self.assertNotIn(seed, (900001,))
        with tempfile.TemporaryDirectory() as root, mock.patch.dict(os.environ, {'FLOWFPGA_TEXTURE_ROOT': root}), \
                mock.patch.object(D, 'source_files', lambda p, r=None: []):
            with self.assertRaises(SystemExit):
                H.build('indep-large-192x256', root, 1)

    def test_resize_mirrors_eval_and_checkpoint_eval(self):
        fl = torch.stack([torch.full((128, 128), 4.0), torch.full((128, 128), -2.0)])
        back = H.flow_to_source(torch.stack([torch.full((64, 64), 2.0), torch.full((64, 64), -1.0)]), 128, 128)
        self.assertTrue(torch.allclose(back, fl))
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'r')
            T.main(['--model', 'q', '--width', '0.0625', '--size', '64x64', '--batch', '2', '--val-count', '1',
                    '--threads', '1', '--pool', '4', '--steps', '1', '--out', out])
            frames = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (2, 6, 128, 128), dtype=np.uint8))
            e = H.eval_checkpoint(os.path.join(out, 'last.pt'), frames, fl[None].repeat(2, 1, 1, 1), (64, 64))
            self.assertTrue(math.isfinite(e) and e > 0)


if __name__ == '__main__':
    unittest.main()
