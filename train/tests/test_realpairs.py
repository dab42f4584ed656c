"""Issue 14: real stereo pairs with ground truth from Debian packages (train/realpairs.py), and the held-out table's
known-pixel EPE."""
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from train import heldout as H
from train import model as M
from train import realpairs as RP
from train import refine as R

torch.set_num_threads(1)


def _smooth_texture(h, w, seed):
    """A band-limited colour texture: bilinear warps of it are close to exact, as for a real photograph."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 6, w // 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def _synthetic_stereo(h=120, w=200):
    """A rectified pair with a known left-view disparity: near half 20 px, far half 12 px, a strip unknown."""
    right = _smooth_texture(h, w, 1)
    disp = np.where(np.arange(w)[None, :] < w // 2, 12.0, 20.0).repeat(h, 0).astype(np.float32)
    xs = np.arange(w)[None, :] - disp.astype(np.int64)
    left = right[np.arange(h)[:, None], np.clip(xs, 0, w - 1)]
    disp[:, :24] = np.nan  # what the right view does not see is unknown (as in Middlebury's ground truth)
    disp[50:54, :] = np.nan
    return left, right, disp


def _warp_error(frames, flow):
    """Mean |frame 1 - frame 2 warped by flow| over the pixels with ground truth."""
    f = torch.from_numpy(flow).clone()
    k = H.known(f[None])[0]
    f[:, ~k] = 0
    w = R.warp(torch.from_numpy(frames[3:].copy()), f).float()
    d = (w - torch.from_numpy(frames[:3].copy()).float()).abs().mean(0)
    return d[k].mean().item()


class TestStereoPair(unittest.TestCase):
    def test_crop_box_keeps_the_aspect_ratio_centred(self):
        self.assertEqual(RP.crop_box(500, 741, 192, 256), (0, 37, 500, 667))
        self.assertEqual(RP.crop_box(1110, 1282, 384, 512), (74, 0, 962, 1282))
        self.assertEqual(RP.crop_box(384, 512, 192, 256), (0, 0, 384, 512))

    def test_flow_is_minus_disparity_scaled_and_unknown_stays_unknown(self):
        left, right, disp = _synthetic_stereo()
        frames, flow = RP.stereo_pair(left, right, disp, 48, 64)
        self.assertEqual(frames.shape, (6, 48, 64))
        self.assertEqual(frames.dtype, np.uint8)
        self.assertEqual(flow.shape, (2, 48, 64))
        k = H.known(torch.from_numpy(flow)[None])[0].numpy()
        s = 160 / 64  # crop 160 x 120 -> 64 x 48
        np.testing.assert_allclose(sorted(set(flow[0][k].tolist())), [-20 / s, -12 / s], rtol=1e-6)
        self.assertTrue((flow[1][k] == 0).all())
        self.assertTrue((flow[:, ~k] == RP.UNKNOWN).all())
        # nearest source pixel to each target centre: rows 20, 21 fall on the unknown strip (source rows 51, 53), columns
        # 0, 1 on the unknown border (the crop starts at x0 = 20: source columns 21, 23)
        want = np.ones((48, 64), bool)
        want[20:22] = False
        want[:, :2] = False
        np.testing.assert_array_equal(k, want)

    def test_ground_truth_explains_the_frames_both_ways(self):
        left, right, disp = _synthetic_stereo()
        for mirror in (False, True):
            frames, flow = RP.stereo_pair(left, right, disp, 48, 64, mirror)
            zero = np.where(flow >= RP.UNKNOWN, flow, 0).astype(np.float32)
            wrong = np.where(flow >= RP.UNKNOWN, flow, -flow).astype(np.float32)
            e, e0, ew = _warp_error(frames, flow), _warp_error(frames, zero), _warp_error(frames, wrong)
            self.assertLess(e, 4.0, mirror)
            self.assertLess(e * 4, e0, mirror)
            self.assertLess(e * 4, ew, mirror)

    def test_mirrored_pair_is_the_flipped_pair_with_the_flow_negated(self):
        left, right, disp = _synthetic_stereo()
        f, u = RP.stereo_pair(left, right, disp, 48, 64)
        fm, um = RP.stereo_pair(left, right, disp, 48, 64, mirror=True)
        np.testing.assert_array_equal(fm, f[:, :, ::-1])
        k = u[0] < RP.UNKNOWN
        np.testing.assert_array_equal(um[0][:, ::-1][k], -u[0][k])
        np.testing.assert_array_equal(um[0][:, ::-1][~k], u[0][~k])


class TestSceneFiles(unittest.TestCase):
    def _tree(self, root):
        from PIL import Image
        scenes = {'png-gt': ('pkg-png', 'usr/share/x', 'l.png', 'r.png', 'gt.png'),
                  'npz-gt': ('pkg-npz', 'usr/lib/y', 'l.png', 'r.png', 'gt.npz')}
        for name, (pkg, sub, lf, rf, gf) in scenes.items():
            d = os.path.join(root, pkg, sub)
            os.makedirs(d)
            for f in (lf, rf):
                Image.fromarray(_smooth_texture(30, 40, 3)).save(os.path.join(d, f))
            g = np.full((30, 40), 7, np.uint8)
            g[0, :5] = 0
            if gf.endswith('.png'):
                Image.fromarray(g).save(os.path.join(d, gf))
            else:
                gg = g.astype(np.float32)
                gg[0, :5] = np.inf
                np.savez(os.path.join(d, gf), gg)
        return scenes

    def test_both_ground_truth_formats_mark_unknown_as_nan(self):
        with tempfile.TemporaryDirectory() as root:
            scenes = self._tree(root)
            with mock.patch.dict(RP.SCENES, scenes, clear=True):
                for name in scenes:
                    left, right, disp = RP.load_scene(name, root)
                    self.assertEqual(left.shape, (30, 40, 3))
                    self.assertTrue(np.isnan(disp[0, :5]).all(), name)
                    self.assertEqual(np.nanmin(disp), 7, name)
                    self.assertEqual(int(np.isnan(disp).sum()), 5, name)
                got = [(pid, fl.shape) for pid, _, fl, _ in RP.pairs(24, 32, root)]
                self.assertEqual([p for p, _ in got], ['png-gt', 'png-gt-mirrored', 'npz-gt', 'npz-gt-mirrored'])
                self.assertTrue(all(s == (2, 24, 32) for _, s in got))

    def test_missing_package_is_one_line_with_the_install_hint(self):
        with tempfile.TemporaryDirectory() as root, \
                mock.patch.dict(RP.SCENES, {'x': ('no-such-pkg', 'no/such/dir', 'l.png', 'r.png', 'd.npz')}):
            with self.assertRaises(SystemExit) as cm:
                RP.load_scene('x', root)
            msg = str(cm.exception)
            self.assertIn('apt-get install no-such-pkg', msg)
            self.assertNotIn('\n', msg)

    def test_build_real_writes_a_set_eval_reads_with_a_manifest(self):
        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as out:
            scenes = self._tree(root)
            with mock.patch.dict(RP.SCENES, scenes, clear=True), \
                    mock.patch.dict(H.REAL_SETS, {'real-test': (24, 32)}), \
                    mock.patch.dict(os.environ, {'FLOWFPGA_TEXTURE_ROOT': root}):
                d = H.build('real-test', out)
            frames, flow = H.load_set(d)
            self.assertEqual(tuple(frames.shape), (4, 6, 24, 32))
            self.assertGreater(int((~H.known(flow)).sum()), 0)
            import json
            with open(os.path.join(d, 'manifest.json')) as fh:
                man = json.load(fh)
            self.assertEqual(man['pairs'], 4)
            self.assertTrue(man['real'])
            self.assertEqual([it['id'] for it in man['items']][:2], ['png-gt', 'png-gt-mirrored'])
            self.assertAlmostEqual(man['max_flow'], 7 / (40 / 32), places=3)  # no crop (4:3), 40 -> 32 px wide


@unittest.skipUnless(RP.available(), 'needs python3-skimage and opencv-doc (installed, or extracted under '
                     '$FLOWFPGA_TEXTURE_ROOT)')
class TestRealScenes(unittest.TestCase):
    def test_the_shipped_disparity_is_left_view_minus_d(self):
        """The sign and scale docs/accuracy.md states: warping the right view by (-d, 0) explains the left view far
        better than (+d, 0) or a wrong scale."""
        for scene in RP.SCENES:
            frames, flow = RP.stereo_pair(*RP.load_scene(scene), 192, 256)
            e = _warp_error(frames, flow)
            for bad in (-1.0, 0.5, 2.0):
                other = np.where(flow >= RP.UNKNOWN, flow, flow * bad).astype(np.float32)
                self.assertLess(e * 2, _warp_error(frames, other), (scene, bad))


class TestKnownEpe(unittest.TestCase):
    def test_unknown_pixels_are_skipped_and_all_known_equals_plain_epe(self):
        g = torch.randn(1, 2, 8, 8)
        p = torch.randn(1, 2, 8, 8)
        self.assertAlmostEqual(H.epe_known(p, g), M.epe(p, g).item(), places=5)
        g2 = g.clone()
        g2[0, :, :4] = RP.UNKNOWN
        e = torch.sqrt(((p - g) ** 2).sum(1))[0, 4:].mean().item()
        self.assertAlmostEqual(H.epe_known(p, g2), e, places=5)
        g2[0, 1, 4, 4] = float('nan')  # NaN is unknown too
        self.assertTrue(np.isfinite(H.epe_known(p, g2)))


if __name__ == '__main__':
    unittest.main()
