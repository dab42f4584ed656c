"""Real image pairs with ground truth, from Debian packages (issue 14: "any real image pair with ground truth that can
be obtained through the allowed package registries").

Debian 12 ships two rectified Middlebury stereo scenes with ground-truth disparity for the left view:
  * Motorcycle (Middlebury 2014, quarter size 741x500): python3-skimage, skimage/data/motorcycle_{left,right}.png and
    motorcycle_disp.npz (float32 px, inf = unknown);
  * Aloe (Middlebury 2006, full size 1282x1110): opencv-doc, examples/data/aloe{L,R}.jpg and aloeGT.png (8-bit px,
    0 = unknown).
Left pixel (x, y) shows what the right view shows at (x - d, y) (a photometric check confirms the sign and scale:
docs/accuracy.md), so the flow left -> right is (-d, 0). Each scene gives two pairs: left -> right, and both views
mirrored (flow +d at the mirrored pixel), so the motion goes both ways. Real sensors, real parallax and occlusions,
exposure differences between the views; the motion is horizontal only.

Frames: centre crop to the set's aspect ratio, area (box) resize. Ground truth: the disparity at each target pixel's
centre (nearest source pixel, no blending across depth edges), scaled to the target width; unknown pixels are
written as 1e10 (Middlebury's "unknown" convention), which `flowfpga eval` and `train.heldout table` skip.
"""
from __future__ import annotations

import os

import numpy as np

UNKNOWN = 1e10

# scene -> (package, directory inside it, left file, right file, ground-truth file)
SCENES = {
    'motorcycle': ('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data',
                   'motorcycle_left.png', 'motorcycle_right.png', 'motorcycle_disp.npz'),
    'aloe': ('opencv-doc', 'usr/share/doc/opencv-doc/examples/data', 'aloeL.jpg', 'aloeR.jpg', 'aloeGT.png'),
}


def scene_dir(scene: str, root: str | None = None) -> str:
    """The scene's folder: the extracted package under $FLOWFPGA_TEXTURE_ROOT (as for the texture packages), else the
    installed one."""
    pkg, sub, left, _, _ = SCENES[scene]
    root = root or os.environ.get('FLOWFPGA_TEXTURE_ROOT', '/work/textures')
    for d in (os.path.join(root, pkg, sub), os.path.join('/', sub)):
        if os.path.exists(os.path.join(d, left)):
            return d
    raise SystemExit(f'real pairs: {scene} needs Debian package {pkg} (apt-get install {pkg}, or '
                     f'cd $FLOWFPGA_TEXTURE_ROOT && apt-get download {pkg} && dpkg-deb -x {pkg}_*.deb {pkg})')


def available(root: str | None = None) -> bool:
    """Whether every scene's package is there (installed or extracted)."""
    try:
        for scene in SCENES:
            scene_dir(scene, root)
    except SystemExit:
        return False
    return True


def load_scene(scene: str, root: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left HxWx3 uint8, right HxWx3 uint8, disparity HxW float32 with NaN = unknown)."""
    from PIL import Image
    d = scene_dir(scene, root)
    _, _, lf, rf, gf = SCENES[scene]
    left = np.asarray(Image.open(os.path.join(d, lf)).convert('RGB'))
    right = np.asarray(Image.open(os.path.join(d, rf)).convert('RGB'))
    if gf.endswith('.npz'):
        with np.load(os.path.join(d, gf)) as z:
            disp = z[z.files[0]].astype(np.float32)
        disp[~np.isfinite(disp)] = np.nan
    else:
        disp = np.asarray(Image.open(os.path.join(d, gf)).convert('L')).astype(np.float32)
        disp[disp == 0] = np.nan
    return left, right, disp


def crop_box(h: int, w: int, th: int, tw: int) -> tuple[int, int, int, int]:
    """(y0, x0, ch, cw): the centred crop of an h x w frame with the target's aspect ratio."""
    if w * th > h * tw:  # too wide
        cw, ch = round(h * tw / th), h
    else:
        cw, ch = w, round(w * th / tw)
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def stereo_pair(left: np.ndarray, right: np.ndarray, disp: np.ndarray, th: int, tw: int,
                mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(frames 6 x th x tw uint8, flow 2 x th x tw float32 with UNKNOWN where the disparity is unknown)."""
    from PIL import Image
    h, w = disp.shape
    y0, x0, ch, cw = crop_box(h, w, th, tw)
    sx, sy = cw / tw, ch / th

    def frame(img: np.ndarray) -> np.ndarray:
        c = Image.fromarray(np.ascontiguousarray(img[y0:y0 + ch, x0:x0 + cw]))
        return np.asarray(c.resize((tw, th), Image.BOX)).transpose(2, 0, 1)

    # nearest source pixel to each target pixel's centre
    xs = np.clip(np.floor(x0 + (np.arange(tw) + 0.5) * sx).astype(np.int64), 0, w - 1)
    ys = np.clip(np.floor(y0 + (np.arange(th) + 0.5) * sy).astype(np.int64), 0, h - 1)
    d = disp[ys[:, None], xs[None, :]] / sx
    u = np.where(np.isnan(d), UNKNOWN, -d).astype(np.float32)
    v = np.where(np.isnan(d), UNKNOWN, 0).astype(np.float32)
    f1, f2 = frame(left), frame(right)
    if mirror:
        f1, f2 = f1[:, :, ::-1], f2[:, :, ::-1]
        u = np.where(u[:, ::-1] >= UNKNOWN, UNKNOWN, -u[:, ::-1]).astype(np.float32)
        v = v[:, ::-1]
    return np.ascontiguousarray(np.concatenate([f1, f2], 0)), np.ascontiguousarray(np.stack([u, v]))


def pairs(th: int, tw: int, root: str | None = None):
    """Every real pair at th x tw: (id, frames, flow, source note)."""
    for scene in SCENES:
        left, right, disp = load_scene(scene, root)
        for mirror in (False, True):
            frames, flow = stereo_pair(left, right, disp, th, tw, mirror)
            note = f'{SCENES[scene][0]}:{SCENES[scene][2]}' + (' (mirrored)' if mirror else '')
            yield f'{scene}{"-mirrored" if mirror else ""}', frames, flow, note
