"""Training data: a synthetic FlyingChairs-style generator, real FlyingChairs / MPI-Sintel loaders, augmentation and
the Middlebury .flo format.

Scene model. Every layer (background first, then the objects, bottom to top) has a pose T1 (layer space -> frame-1
pixels) and a relative motion D (frame-1 pixels -> frame-2 pixels), both affine. Frame t is rendered by inverse
mapping each pixel into every layer's space (u = T_t^-1 x, with T2 = D T1) and compositing the layers whose shape
covers u. The flow of a frame-1 pixel x is D_l(x) - x for the topmost layer l covering x: exact, closed-form and
occlusion-correct (a point hidden in frame 2 still gets the flow of the surface visible in frame 1, as in
FlyingChairs). Pixel (i, j) samples the continuous point (x, y) = (j, i) (pixel centres on integers), which is the
convention flow vectors use.
"""
from __future__ import annotations

import glob
import math
import os
import struct
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

# The original photo set: mate-backgrounds, the only wallpaper package the shipped models were trained with. Limited
# to its folder so that installing other wallpaper packages (some are held-out sources) changes nothing here.
PHOTO_DIRS = ['/usr/share/backgrounds/mate']
PHOTO_MAX_SIDE = 640  # photos are cached downscaled; enough detail for 192x256 .. 384x512 crops

_photo_cache: list[np.ndarray] | None = None


def _load_photos(max_count: int = 64) -> list[np.ndarray]:
    """Freely licensed Debian wallpapers (mate-backgrounds / gnome-backgrounds), HxWx3 uint8; [] when absent."""
    global _photo_cache
    if _photo_cache is not None:
        return _photo_cache
    files: list[str] = []
    env = os.environ.get('FLOWFPGA_PHOTOS')
    dirs = env.split(os.pathsep) if env else PHOTO_DIRS
    for d in dirs:
        for ext in ('jpg', 'jpeg', 'png'):
            files += glob.glob(os.path.join(d, '**', f'*.{ext}'), recursive=True)
    files = sorted(set(files))[:max_count]
    photos: list[np.ndarray] = []
    try:
        from PIL import Image
    except ImportError:  # no PIL: procedural textures only
        files = []
    for f in files:
        try:
            im = Image.open(f).convert('RGB')
        except Exception:  # unreadable/odd files in a wallpaper dir are simply skipped
            continue
        s = PHOTO_MAX_SIDE / max(im.size)
        if s < 1:
            im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
        if a.shape[0] >= 64 and a.shape[1] >= 64 and a.std() > 8:  # skip flat/solid-colour wallpapers
            photos.append(a)
    _photo_cache = photos
    return photos


def photo_count() -> int:
    return len(_load_photos())


# ---------------------------------------------------------------- texture sources by Debian package
# Textures are grouped by the package that ships them, so a held-out set can use sources that training never saw
# (docs/accuracy.md "Independent held-out sets"). A package is read from an extracted tree
# $FLOWFPGA_TEXTURE_ROOT/<package>/ (`apt-get download P && dpkg-deb -x P.deb ROOT/P`, no root needed) or, when it
# is installed, from its dpkg file list.
TRAIN_SOURCES = ('mate-backgrounds', 'ukui-wallpapers', 'gnome-backgrounds', 'desktop-base')
HELDOUT_SOURCES = ('plasma-workspace-wallpapers', 'sway-backgrounds', 'lomiri-wallpapers')
TEXTURE_ROOT = os.environ.get('FLOWFPGA_TEXTURE_ROOT', '/work/textures')
_IMG_EXT = ('.jpg', '.jpeg', '.png', '.webp')
# previews, logos, icons, boot splashes: not photographs of a scene
_SKIP = ('screenshot', 'preview', 'logo', '/icons/', 'emblem', '/grub/', '/plymouth/', 'symbolic')
_source_cache: dict[tuple, list[np.ndarray]] = {}


def source_files(pkg: str, root: str | None = None) -> list[str]:
    """Image files of one package: the largest file per wallpaper folder (KDE ships one image in many sizes)."""
    root = root or os.environ.get('FLOWFPGA_TEXTURE_ROOT', TEXTURE_ROOT)
    tree = os.path.join(root, pkg)
    files: list[str] = []
    if os.path.isdir(tree):
        for d, _, names in os.walk(tree):
            files += [os.path.join(d, n) for n in names]
    else:
        lst = f'/var/lib/dpkg/info/{pkg}.list'
        if os.path.exists(lst):
            with open(lst) as fh:
                files = [l.strip() for l in fh if os.path.isfile(l.strip())]
    files = [f for f in files if f.lower().endswith(_IMG_EXT) and not any(k in f.lower() for k in _SKIP)]
    best: dict[str, str] = {}
    for f in sorted(files):
        key = f.split('/contents/images')[0] + ('dark' if '/images_dark/' in f else '') if '/contents/' in f else f
        if key not in best or os.path.getsize(f) > os.path.getsize(best[key]):
            best[key] = f
    return sorted(best.values())


def _read_photo(f: str) -> np.ndarray | None:
    from PIL import Image
    try:
        im = Image.open(f).convert('RGB')
    except Exception:  # unreadable/odd files are simply skipped
        return None
    s = PHOTO_MAX_SIDE / max(im.size)
    if s < 1:
        im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return a if a.shape[0] >= 64 and a.shape[1] >= 64 and a.std() > 8 else None  # skip flat wallpapers


def load_sources(sources: tuple[str, ...], root: str | None = None) -> list[np.ndarray]:
    """Photos of the given packages (cached); packages that are absent contribute nothing."""
    key = (tuple(sources), root or os.environ.get('FLOWFPGA_TEXTURE_ROOT', TEXTURE_ROOT))
    if key not in _source_cache:
        out = []
        for pkg in sources:
            out += [a for a in map(_read_photo, source_files(pkg, root)) if a is not None]
        _source_cache[key] = out
    return _source_cache[key]


def source_report(sources: tuple[str, ...]) -> dict[str, int]:
    return {p: len(source_files(p)) for p in sources}


def _procedural_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Multi-octave coloured noise with random stripes/blobs: 3xHxW float32 in [0,1]."""
    tex = np.zeros((3, h, w), np.float32)
    amp = 1.0
    total = 0.0
    base = rng.uniform(0.2, 0.8, size=(3, 1, 1)).astype(np.float32)
    for octave in range(5):
        gh = max(2, int(h / (64 / 2 ** octave)))
        gw = max(2, int(w / (64 / 2 ** octave)))
        g = torch.from_numpy(rng.standard_normal((1, 3, gh, gw)).astype(np.float32))
        up = F.interpolate(g, size=(h, w), mode='bicubic', align_corners=False)[0].numpy()
        tex += amp * up
        total += amp
        amp *= rng.uniform(0.4, 0.8)
    tex = tex / total * rng.uniform(0.15, 0.35)
    if rng.random() < 0.5:  # oriented stripes give strong, unambiguous gradients
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        th = rng.uniform(0, math.pi)
        period = rng.uniform(6, 30)
        s = np.sin((xx * math.cos(th) + yy * math.sin(th)) * 2 * math.pi / period)
        tex += (s * rng.uniform(0.05, 0.2))[None] * rng.uniform(-1, 1, size=(3, 1, 1)).astype(np.float32)
    return np.clip(tex + base, 0, 1).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, photos: list[np.ndarray], photo_prob: float = 0.7) -> torch.Tensor:
    if photos and rng.random() < photo_prob:
        p = photos[rng.integers(len(photos))]
        # Random crop at a random scale, resized to h x w.
        scale = rng.uniform(0.5, 1.5)
        ch = min(p.shape[0], max(8, int(h * scale)))
        cw = min(p.shape[1], max(8, int(w * scale)))
        y0 = rng.integers(0, p.shape[0] - ch + 1)
        x0 = rng.integers(0, p.shape[1] - cw + 1)
        crop = torch.from_numpy(np.ascontiguousarray(p[y0:y0 + ch, x0:x0 + cw])).permute(2, 0, 1).float() / 255
        t = F.interpolate(crop[None], size=(h, w), mode='bilinear', align_corners=False)[0]
        if rng.random() < 0.5:
            t = t.flip(2)
        if rng.random() < 0.3:  # colour shift so a small photo set gives more variety
            t = t * torch.from_numpy(rng.uniform(0.7, 1.3, size=(3, 1, 1)).astype(np.float32))
        return t.clamp(0, 1).contiguous()
    return torch.from_numpy(_procedural_texture(rng, h, w))


def _affine(theta: float, sx: float, sy: float, tx: float, ty: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c * sx, -s * sy, tx], [s * sx, c * sy, ty], [0, 0, 1]], np.float64)


def heavy_translation(rng: np.random.Generator, mean: float, cap: float, tail_uniform: float) -> tuple[float, float]:
    """Translation with a heavy-tailed magnitude: exponential (mean `mean`) or, with probability tail_uniform,
    uniform in [0, cap]; capped at `cap`; direction uniform."""
    if rng.random() < tail_uniform:
        m = rng.uniform(0, cap)
    else:
        m = min(cap, rng.exponential(mean))
    a = rng.uniform(-math.pi, math.pi)
    return m * math.cos(a), m * math.sin(a)


def _motion(rng: np.random.Generator, cx: float, cy: float, rot: float, scl: float, trans: float,
            heavy: tuple[float, float] | None = None) -> np.ndarray:
    """Rotation/scale about (cx, cy) plus translation: frame-1 pixels -> frame-2 pixels.
    heavy = (cap, tail_uniform): heavy-tailed translation (mean `trans`) instead of uniform in +-trans."""
    th = rng.uniform(-rot, rot)
    s = math.exp(rng.uniform(-scl, scl))
    if heavy is None:
        tx, ty = rng.uniform(-trans, trans, size=2)
    else:
        tx, ty = heavy_translation(rng, trans, heavy[0], heavy[1])
    to0 = _affine(0, 1, 1, -cx, -cy)
    back = _affine(0, 1, 1, cx + tx, cy + ty)
    return back @ _affine(th, s, s, 0, 0) @ to0


@dataclass
class Layer:
    T1: np.ndarray  # layer space -> frame-1 pixels (3x3)
    D: np.ndarray  # frame-1 pixels -> frame-2 pixels (3x3)
    tex: torch.Tensor  # 3 x th x tw; layer space point (u, v) samples texel (u + tw/2, v + th/2)
    shape: str = 'full'  # 'full' | 'ellipse' | 'polygon'
    radii: tuple[float, float] = (0.0, 0.0)
    poly: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # star-shaped polygon vertices, by angle


@dataclass
class ChairsConfig:
    height: int = 192
    width: int = 256
    min_objects: int = 3
    max_objects: int = 8
    # Motion ranges at 512 px width; scaled linearly with the width (flow is in pixels).
    bg_trans: float = 10.0
    obj_trans: float = 28.0
    bg_rot: float = math.radians(4)
    obj_rot: float = math.radians(15)
    bg_scale: float = 0.05
    obj_scale: float = 0.12
    noise: float = 0.02  # max std of additive Gaussian noise (on [0,1])
    gain: float = 0.06  # max per-channel multiplicative gain change between frames
    photometric: bool = True
    photos: bool = True
    # None: the original photo set (first 64 files under PHOTO_DIRS); else photos of these packages only.
    sources: tuple | None = None
    photo_prob: float = 0.7  # share of photo textures (the rest procedural)
    # 'uniform': translation uniform in +-trans per axis (the original generator). 'heavy': direction uniform,
    # magnitude exponential with mean trans, capped at trans_cap, plus a uniform-magnitude share (tail_uniform) up to
    # the cap, so small motions dominate but large ones are seen (all at 512 px width, scaled with the width).
    motion: str = 'uniform'
    bg_trans_cap: float = 40.0
    obj_trans_cap: float = 80.0
    tail_uniform: float = 0.3


def _inside(layer: Layer, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    if layer.shape == 'full':
        return torch.ones_like(u, dtype=torch.bool)
    if layer.shape == 'ellipse':
        a, b = layer.radii
        return (u / a) ** 2 + (v / b) ** 2 <= 1
    # Star-shaped polygon (vertices sorted by angle around the origin): find the sector, test the edge side.
    P = torch.from_numpy(layer.poly).float()
    n = P.shape[0]
    ang = torch.atan2(P[:, 1], P[:, 0])
    phi = torch.atan2(v, u)
    idx = torch.searchsorted(ang.contiguous(), phi.contiguous().reshape(-1)).reshape(phi.shape)
    i0 = (idx - 1) % n
    i1 = idx % n
    ax, ay = P[i0, 0], P[i0, 1]
    bx, by = P[i1, 0], P[i1, 1]
    cross = (bx - ax) * (v - ay) - (by - ay) * (u - ax)
    return cross >= 0


def _sample(tex: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    th, tw = tex.shape[1], tex.shape[2]
    # texel centre k sits at normalized ((k + 0.5) / n) * 2 - 1 (align_corners=False)
    gx = (u + tw / 2) / tw * 2 - 1
    gy = (v + th / 2) / th * 2 - 1
    grid = torch.stack([gx, gy], -1)[None].float()
    return F.grid_sample(tex[None], grid, mode='bilinear', padding_mode='reflection', align_corners=False)[0]


def _affine_inv(M: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 affine matrix in closed form (cheaper than a LAPACK call per layer and frame)."""
    a, b, c, d = M[0, 0], M[0, 1], M[1, 0], M[1, 1]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return np.array([[ia, ib, -(ia * M[0, 2] + ib * M[1, 2])], [ic, id_, -(ic * M[0, 2] + id_ * M[1, 2])], [0, 0, 1]])


def _layer_coords(M: np.ndarray, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    inv = _affine_inv(M)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing='ij')
    u = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    v = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    return u, v


class SyntheticChairs:
    """Deterministic synthetic FlyingChairs: item i of (seed, config) is always the same pair.

    Returns (frames uint8 6xHxW = R1 G1 B1 R2 G2 B2, flow float32 2xHxW in pixels, u right / v down).
    """

    def __init__(self, seed: int = 0, length: int = 1 << 30, config: ChairsConfig | None = None):
        self.seed = seed
        self.length = length
        self.cfg = config or ChairsConfig()

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> list[Layer]:
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, index, 0x5EED])
        if not cfg.photos:
            photos = []
        elif cfg.sources is None:
            photos = _load_photos()
        else:
            photos = load_sources(tuple(cfg.sources))
        pp = cfg.photo_prob
        h, w = cfg.height, cfg.width
        k = w / 512.0
        heavy = cfg.motion == 'heavy'
        if cfg.motion not in ('uniform', 'heavy'):
            raise ValueError(f'motion {cfg.motion!r}: uniform or heavy')
        layers: list[Layer] = []
        # Background: layer space = frame-1 pixels centred, texture 1.5x larger so motion stays inside it.
        bh, bw = int(h * 1.5), int(w * 1.5)
        T1 = _affine(0, 1, 1, w / 2, h / 2)
        D = _motion(rng, rng.uniform(0, w), rng.uniform(0, h), cfg.bg_rot, cfg.bg_scale, cfg.bg_trans * k,
                    (cfg.bg_trans_cap * k, cfg.tail_uniform) if heavy else None)
        if heavy:  # the background texture must cover its own largest motion
            bh, bw = int(h + 2 * cfg.bg_trans_cap * k + h * 0.3), int(w + 2 * cfg.bg_trans_cap * k + w * 0.3)
        layers.append(Layer(T1, D, _texture(rng, bh, bw, photos, pp)))
        n_obj = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        side = min(h, w)
        for _ in range(n_obj):
            r = side * rng.uniform(0.08, 0.3)
            ar = math.exp(rng.uniform(-0.5, 0.5))
            a, b = r * ar, r / ar
            cx, cy = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(-0.1 * h, 1.1 * h)
            T1 = _affine(rng.uniform(-math.pi, math.pi), 1, 1, cx, cy)
            D = _motion(rng, cx, cy, cfg.obj_rot, cfg.obj_scale, cfg.obj_trans * k,
                        (cfg.obj_trans_cap * k, cfg.tail_uniform) if heavy else None)
            tsz = int(2 * max(a, b)) + 4
            tex = _texture(rng, tsz, tsz, photos, pp)
            if rng.random() < 0.35:
                layers.append(Layer(T1, D, tex, 'ellipse', (a, b)))
            else:
                nv = int(rng.integers(3, 9))
                # keep every sector < pi so the polygon stays star-shaped around the origin
                ang = np.sort((np.arange(nv) + rng.uniform(0.3, 0.7, nv)) / nv * 2 * math.pi - math.pi)
                rad = r * rng.uniform(0.5, 1.0, nv)
                poly = np.stack([rad * np.cos(ang) * ar, rad * np.sin(ang) / ar], 1)
                ang2 = np.arctan2(poly[:, 1], poly[:, 0])
                poly = poly[np.argsort(ang2)]
                layers.append(Layer(T1, D, tex, 'polygon', (a, b), poly))
        return layers

    def render(self, layers: list[Layer]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Clean frames (float 3xHxW each), flow (2xHxW) and per-frame layer-index maps."""
        h, w = self.cfg.height, self.cfg.width
        imgs, labels = [], []
        for t in range(2):
            img = torch.zeros(3, h, w)
            lab = torch.full((h, w), -1, dtype=torch.int64)
            for li, L in enumerate(layers):
                M = L.T1 if t == 0 else L.D @ L.T1
                u, v = _layer_coords(M, h, w)
                m = _inside(L, u, v)
                if not m.any():
                    continue
                col = _sample(L.tex, u, v)
                img = torch.where(m[None], col, img)
                lab = torch.where(m, torch.full_like(lab, li), lab)
            imgs.append(img)
            labels.append(lab)
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing='ij')
        flow = torch.zeros(2, h, w, dtype=torch.float64)
        for li, L in enumerate(layers):
            m = labels[0] == li
            D = L.D
            flow[0] = torch.where(m, D[0, 0] * xx + D[0, 1] * yy + D[0, 2] - xx, flow[0])
            flow[1] = torch.where(m, D[1, 0] * xx + D[1, 1] * yy + D[1, 2] - yy, flow[1])
        return imgs[0], imgs[1], flow.float(), labels[0], labels[1]

    def photometric(self, index: int, f1: torch.Tensor, f2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        if not cfg.photometric:
            return f1, f2
        rng = np.random.default_rng([self.seed, index, 0xC010])
        g = rng.uniform(0.8, 1.2, size=(3, 1, 1)).astype(np.float32)  # global gain, both frames
        out = []
        for f in (f1, f2):
            gi = g * rng.uniform(1 - cfg.gain, 1 + cfg.gain, size=(3, 1, 1)).astype(np.float32)
            bias = np.float32(rng.uniform(-0.05, 0.05))
            sd = rng.uniform(0, cfg.noise)
            noise = torch.from_numpy(rng.standard_normal(f.shape).astype(np.float32) * np.float32(sd))
            out.append(f * torch.from_numpy(gi) + bias + noise)
        return out[0], out[1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        layers = self.scene(index)
        f1, f2, flow, _, _ = self.render(layers)
        f1, f2 = self.photometric(index, f1, f2)
        frames = torch.cat([f1, f2], 0).mul(255).add(0.5).floor().clamp(0, 255).to(torch.uint8)
        return frames, flow


def batch(ds, indices) -> tuple[torch.Tensor, torch.Tensor]:
    items = [ds[int(i)] for i in indices]
    return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])


# ---------------------------------------------------------------- warping (used by tests and the DIS baseline check)

def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(x) = img(x + flow(x)), bilinear, img CxHxW float, flow 2xHxW. Out-of-frame -> border."""
    c, h, w = img.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    gx = (xx + flow[0]) * 2 / max(w - 1, 1) - 1
    gy = (yy + flow[1]) * 2 / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], -1)[None]
    return F.grid_sample(img[None].float(), grid, mode='bilinear', padding_mode='border', align_corners=True)[0]


# ---------------------------------------------------------------- .flo and real data sets

FLO_MAGIC = 202021.25


def read_flo(path: str) -> np.ndarray:
    """Middlebury .flo -> float32 2xHxW."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 12 or struct.unpack('<f', data[:4])[0] != FLO_MAGIC:
        raise ValueError(f'{path}: not a .flo file (bad magic)')
    w, h = struct.unpack('<ii', data[4:12])
    if w <= 0 or h <= 0 or len(data) < 12 + 8 * w * h:
        raise ValueError(f'{path}: truncated .flo file ({w}x{h})')
    a = np.frombuffer(data, '<f4', count=2 * w * h, offset=12).reshape(h, w, 2)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def write_flo(path: str, flow: np.ndarray) -> None:
    flow = np.asarray(flow, np.float32)
    _, h, w = flow.shape
    with open(path, 'wb') as f:
        f.write(struct.pack('<fii', FLO_MAGIC, w, h))
        f.write(np.ascontiguousarray(flow.transpose(1, 2, 0)).astype('<f4').tobytes())


def read_image(path: str) -> np.ndarray:
    """HxWx3 uint8 (PPM/PNG/JPEG through PIL; binary PPM also without PIL)."""
    try:
        from PIL import Image
        return np.asarray(Image.open(path).convert('RGB'), np.uint8)
    except ImportError:
        with open(path, 'rb') as f:
            data = f.read()
        if not data.startswith(b'P6'):
            raise ValueError(f'{path}: only binary PPM can be read without PIL')
        parts = data.split(maxsplit=4)
        w, h, mx = int(parts[1]), int(parts[2]), int(parts[3])
        if mx != 255:
            raise ValueError(f'{path}: 16-bit PPM not supported')
        return np.frombuffer(parts[4][:w * h * 3], np.uint8).reshape(h, w, 3)


def _pair(img1: str, img2: str, flo: str) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = read_image(img1), read_image(img2)
    frames = torch.from_numpy(np.concatenate([a, b], 2).transpose(2, 0, 1).copy())
    return frames, torch.from_numpy(read_flo(flo))


class FlyingChairs:
    """<root>/data/NNNNN_img1.ppm, _img2.ppm, _flow.flo; split from FlyingChairs_train_val.txt (1 = train, 2 = val)."""

    def __init__(self, root: str, split: str = 'train'):
        d = os.path.join(root, 'data') if os.path.isdir(os.path.join(root, 'data')) else root
        self.flows = sorted(glob.glob(os.path.join(d, '*_flow.flo')))
        if not self.flows:
            raise FileNotFoundError(f'{root}: no *_flow.flo files (expected the FlyingChairs_release layout)')
        split_file = os.path.join(root, 'FlyingChairs_train_val.txt')
        if os.path.exists(split_file) and split != 'all':
            tags = np.loadtxt(split_file, dtype=np.int64)
            want = 1 if split == 'train' else 2
            self.flows = [f for f, t in zip(self.flows, tags) if t == want]

    def __len__(self) -> int:
        return len(self.flows)

    def __getitem__(self, i: int):
        f = self.flows[i]
        base = f[:-len('_flow.flo')]
        return _pair(base + '_img1.ppm', base + '_img2.ppm', f)


class Sintel:
    """<root>/training/{clean,final}/<scene>/frame_NNNN.png with <root>/training/flow/<scene>/frame_NNNN.flo."""

    def __init__(self, root: str, pass_name: str = 'clean'):
        base = os.path.join(root, 'training') if os.path.isdir(os.path.join(root, 'training')) else root
        self.items: list[tuple[str, str, str]] = []
        for flo in sorted(glob.glob(os.path.join(base, 'flow', '*', '*.flo'))):
            scene = os.path.basename(os.path.dirname(flo))
            n = int(os.path.basename(flo)[6:10])
            d = os.path.join(base, pass_name, scene)
            self.items.append((os.path.join(d, f'frame_{n:04d}.png'), os.path.join(d, f'frame_{n + 1:04d}.png'), flo))
        if not self.items:
            raise FileNotFoundError(f'{root}: no training/flow/*/*.flo files (expected the MPI-Sintel layout)')

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return _pair(*self.items[i])


# ---------------------------------------------------------------- augmentation

def augment(frames: torch.Tensor, flow: torch.Tensor, rng: np.random.Generator, crop: tuple[int, int] | None = None,
            flips: bool = True, jitter: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crop, flips (flow components change sign) and colour jitter on a uint8 6xHxW pair."""
    _, h, w = frames.shape
    if crop is not None:
        ch, cw = crop
        if ch > h or cw > w:
            raise ValueError(f'crop {ch}x{cw} is larger than the {h}x{w} sample')
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        frames = frames[:, y0:y0 + ch, x0:x0 + cw]
        flow = flow[:, y0:y0 + ch, x0:x0 + cw]
    flow = flow.clone()
    if flips and rng.random() < 0.5:
        frames = frames.flip(2)
        flow = flow.flip(2)
        flow[0] = -flow[0]
    if flips and rng.random() < 0.1:
        frames = frames.flip(1)
        flow = flow.flip(1)
        flow[1] = -flow[1]
    if jitter > 0:
        f = frames.float() / 255
        bright = rng.uniform(-jitter, jitter) * 0.5
        contrast = 1 + rng.uniform(-jitter, jitter)
        sat = 1 + rng.uniform(-jitter, jitter)
        out = []
        for k in range(2):
            x = f[3 * k:3 * k + 3]
            gray = x.mean(0, keepdim=True)
            x = gray + (x - gray) * sat
            x = (x - 0.5) * contrast + 0.5 + bright
            out.append(x)
        frames = torch.cat(out, 0).mul(255).add(0.5).floor().clamp(0, 255).to(torch.uint8)
    return frames.contiguous(), flow.contiguous()


def camera(frames: torch.Tensor, rng: np.random.Generator, strength: float = 1.0) -> torch.Tensor:
    """Camera-like photometric augmentation of a uint8 6xHxW pair: exposure (brightness/contrast), gamma, blur
    (defocus, same for both frames), sensor noise (independent per frame) and JPEG compression (per frame).
    The flow is unchanged: every step is per-pixel or spatially symmetric."""
    f = frames.float() / 255
    gain = math.exp(rng.uniform(-0.4, 0.4) * strength)
    contrast = math.exp(rng.uniform(-0.3, 0.3) * strength)
    gamma = math.exp(rng.uniform(-0.35, 0.35) * strength)
    f = ((f * gain - 0.5) * contrast + 0.5).clamp(0, 1) ** gamma
    if rng.random() < 0.3 * strength:
        sigma = rng.uniform(0.4, 1.5)
        r = int(math.ceil(2.5 * sigma))
        x = torch.arange(-r, r + 1, dtype=torch.float32)
        k1 = torch.exp(-x * x / (2 * sigma * sigma))
        k1 = k1 / k1.sum()
        img = f[None]
        img = F.conv2d(F.pad(img, (r, r, 0, 0), mode='replicate'), k1.view(1, 1, 1, -1).repeat(6, 1, 1, 1), groups=6)
        img = F.conv2d(F.pad(img, (0, 0, r, r), mode='replicate'), k1.view(1, 1, -1, 1).repeat(6, 1, 1, 1), groups=6)
        f = img[0]
    sd = rng.uniform(0, 0.03) * strength
    if sd > 0:
        # signal-dependent (shot) plus constant (read) noise, independent per frame
        f = f + torch.from_numpy(rng.standard_normal(f.shape).astype(np.float32)) * (sd * (0.5 + f))
    out = f.mul(255).add(0.5).floor().clamp(0, 255).to(torch.uint8)
    if rng.random() < 0.5 * strength:
        from PIL import Image
        import io
        q = int(rng.integers(25, 96))
        parts = []
        for t in range(2):
            buf = io.BytesIO()
            Image.fromarray(out[3 * t:3 * t + 3].permute(1, 2, 0).numpy()).save(buf, 'JPEG', quality=q)
            buf.seek(0)
            parts.append(torch.from_numpy(np.asarray(Image.open(buf).convert('RGB')).copy()).permute(2, 0, 1))
        out = torch.cat(parts, 0)
    return out.contiguous()


def zoom(frames: torch.Tensor, flow: torch.Tensor, rng: np.random.Generator, max_zoom: float = 1.6
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale augmentation: enlarge the pair by s in [1, max_zoom] (log-uniform; flow scales by s) and crop back to
    the original size at a random position. Bilinear resampling of both frames keeps them consistent."""
    s = math.exp(rng.uniform(0, math.log(max_zoom)))
    _, h, w = frames.shape
    nh, nw = max(h, int(round(h * s))), max(w, int(round(w * s)))
    if nh == h and nw == w:
        return frames, flow
    sy, sx = nh / h, nw / w
    fr = F.interpolate(frames.float()[None], size=(nh, nw), mode='bilinear', align_corners=False)[0]
    fl = F.interpolate(flow[None], size=(nh, nw), mode='bilinear', align_corners=False)[0]
    fl = torch.stack([fl[0] * sx, fl[1] * sy])
    y0 = int(rng.integers(0, nh - h + 1))
    x0 = int(rng.integers(0, nw - w + 1))
    fr = fr[:, y0:y0 + h, x0:x0 + w].add(0.5).floor().clamp(0, 255).to(torch.uint8)
    return fr.contiguous(), fl[:, y0:y0 + h, x0:x0 + w].contiguous()
